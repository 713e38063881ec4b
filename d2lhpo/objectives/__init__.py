"""Objectives: analytic test functions now; the CNN, live and replayed, in their own modules."""

from .base import Objective, is_stepwise, run_objective
from .functions import AnalyticFunction, branin, hartmann3, hartmann6

__all__ = ["Objective", "is_stepwise", "run_objective", "AnalyticFunction", "branin",
           "hartmann3", "hartmann6"]
