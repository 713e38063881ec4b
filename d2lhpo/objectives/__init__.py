"""Objectives: analytic test functions now; the CNN, live and replayed, in their own modules."""

from .base import Objective, run_objective
from .cnn_space import cnn_space
from .functions import AnalyticFunction, branin, hartmann3, hartmann6
from .tabular import TabularObjective, lenet_digits

__all__ = ["Objective", "run_objective", "AnalyticFunction", "branin",
           "hartmann3", "hartmann6", "CNNObjective", "cnn_space", "TabularObjective",
           "lenet_digits", "kfold_splits", "train_on", "cross_validate",
           "with_label_noise"]


def __getattr__(name):
    # The live CNN and its cross-validation need torch and d2l (seconds to
    # import); load them on first use only.
    if name == "CNNObjective":
        from .cnn import CNNObjective
        return CNNObjective
    if name in ("kfold_splits", "train_on", "cross_validate", "with_label_noise"):
        from . import cv
        return getattr(cv, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
