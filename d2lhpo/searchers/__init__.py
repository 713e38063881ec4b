from .base import Searcher
from .bayesopt import BayesianOptimization
from .cost_aware import CostAwareBO
from .ehvi import EHVI
from .gp import GaussianProcess, GPParams
from .grid import GridSearcher
from .random import RandomSearcher
from .tpe import TPE

__all__ = ["Searcher", "GridSearcher", "RandomSearcher", "BayesianOptimization", "GaussianProcess",
           "GPParams", "TPE", "CostAwareBO", "EHVI"]
