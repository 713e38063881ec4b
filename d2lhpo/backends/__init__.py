from .base import Backend, Event
from .local import ProcessBackend, SequentialBackend
from .simulated import SimulatedBackend

__all__ = ["Backend", "Event", "ProcessBackend", "SequentialBackend", "SimulatedBackend"]
