from .base import Decision, Scheduler, Suggestion
from .fifo import FIFOScheduler

__all__ = ["Decision", "Scheduler", "Suggestion", "FIFOScheduler"]
