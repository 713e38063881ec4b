from .asha import ASHA, PromotionASHA, StoppingASHA
from .base import BadReport, Decision, Job, Scheduler, Trial
from .fifo import FIFOScheduler
from .hyperband import Hyperband
from .median_stopping import MedianStopping, median_rule
from .pbt import PBT
from .rungs import halving_plan, hyperband_brackets, is_promotable, n_promotable, rung_levels
from .successive_halving import SuccessiveHalving

__all__ = ["BadReport", "Decision", "Job", "Scheduler", "Trial", "FIFOScheduler",
           "SuccessiveHalving", "Hyperband", "ASHA", "StoppingASHA", "PromotionASHA",
           "MedianStopping", "median_rule", "PBT", "halving_plan", "hyperband_brackets",
           "is_promotable", "n_promotable", "rung_levels"]
