from .base import Searcher
from .grid import GridSearcher
from .random import RandomSearcher

__all__ = ["Searcher", "GridSearcher", "RandomSearcher"]
