"""d2lhpo: hyperparameter optimization, taught in notebooks.

    import d2lhpo as hpo
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(hpo.objectives.branin.space, seed=0))
    results = hpo.Tuner(hpo.objectives.branin, scheduler, backend="simulated",
                        n_workers=4).run(max_trials=100)
"""

import logging

from . import objectives
from .backends import Backend, Event, ProcessBackend, SequentialBackend, SimulatedBackend
from .plots import (plot_anytime, plot_learning_curves, plot_pareto, plot_timeline, set_style,
                    timeline)
from .results import JournalError, Results, aggregate_anytime, hypervolume_2d, pareto_mask
from .budget import Budget
from .compare import TimeToTarget, speedup_interval, time_to_target
from .importance import importance, plot_importance
from .schedulers import (ASHA, BadReport, Decision, FIFOScheduler, Hyperband, Job, MedianStopping,
                         PromotionASHA, Scheduler, StoppingASHA, SuccessiveHalving, Trial,
                         halving_plan, hyperband_brackets, is_promotable, median_rule,
                         n_promotable, rung_levels)
from .searchers import (BayesianOptimization, GaussianProcess, GPParams, GridSearcher,
                        RandomSearcher, Searcher, TPE)
from .searchers import CostAwareBO, EHVI
from .searchers.ehvi import expected_hypervolume_improvement, hypervolume_improvement_2d
from .searchers.acquisition import (expected_improvement, log_expected_improvement,
                                    lower_confidence_bound, probability_of_feasibility)
from .searchers.gp import condition, log_marginal_likelihood, matern52, posterior
from .spaces import (Categorical, Domain, FiniteRange, Float, Integer, Space, choice, finrange,
                     logfinrange, loguniform, lograndint, randint, uniform)
from .tuner import Tuner

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name):
    if name == "DaskBackend":  # imported on first use: distributed takes a second to import
        from .backends.dask import DaskBackend
        return DaskBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "TimeToTarget", "speedup_interval", "time_to_target",
    "objectives", "Backend", "Event", "ProcessBackend", "SequentialBackend", "SimulatedBackend",
    "plot_anytime", "plot_learning_curves", "plot_pareto", "plot_timeline", "set_style",
    "timeline", "Results", "aggregate_anytime", "hypervolume_2d", "pareto_mask", "Decision",
    "FIFOScheduler", "Scheduler", "Job", "Trial", "BadReport", "Budget", "SuccessiveHalving",
    "Hyperband", "ASHA", "StoppingASHA", "PromotionASHA", "MedianStopping", "halving_plan",
    "hyperband_brackets", "is_promotable", "median_rule", "n_promotable", "rung_levels", "GridSearcher", "RandomSearcher", "Searcher", "TPE", "BayesianOptimization",
    "GaussianProcess", "GPParams", "expected_improvement", "log_expected_improvement",
    "lower_confidence_bound", "probability_of_feasibility", "condition",
    "log_marginal_likelihood", "matern52", "posterior", "JournalError",
    "Categorical", "Domain", "FiniteRange", "Float", "Integer", "Space", "choice", "finrange",
    "logfinrange", "loguniform", "lograndint", "randint", "uniform", "Tuner",
    "DaskBackend", "importance", "plot_importance",
    "CostAwareBO", "EHVI", "expected_hypervolume_improvement", "hypervolume_improvement_2d",
]
