from .base import Backend, Event
from .local import ProcessBackend, SequentialBackend
from .simulated import SimulatedBackend

__all__ = ["Backend", "DaskBackend", "Event", "ProcessBackend", "SequentialBackend",
           "SimulatedBackend"]


def __getattr__(name):
    if name == "DaskBackend":  # imported on first use: distributed takes a second to import
        from .dask import DaskBackend
        return DaskBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
