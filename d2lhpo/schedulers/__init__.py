from .asha import ASHA
from .base import Decision, Scheduler, Suggestion
from .fifo import FIFOScheduler
from .hyperband import Hyperband
from .median_stopping import MedianStopping
from .successive_halving import SuccessiveHalving

__all__ = ["Decision", "Scheduler", "Suggestion", "FIFOScheduler", "SuccessiveHalving",
           "Hyperband", "ASHA", "MedianStopping"]
