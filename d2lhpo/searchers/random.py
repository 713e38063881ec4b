"""Random search: every configuration drawn independently from the space."""

from __future__ import annotations

from ..checks import check_int
from ..spaces import config_key
from .base import Searcher


class RandomSearcher(Searcher):
    """Samples configurations at random, never suggesting one twice.

    In a finite space it returns None once every configuration has been
    suggested (found after ``max_retries`` draws in a row that all repeat).

    Args:
        space, metric, mode, seed, points_to_evaluate: see :class:`Searcher`.
        max_retries: draws in a row that all repeat before a space is considered
            exhausted (an integer >= 1).

    Example:
        >>> searcher = RandomSearcher({"x": uniform(0, 1)}, seed=0)
        >>> config = searcher.suggest()
        >>> searcher.observe(config, {"y": config["x"] ** 2})
    """

    def __init__(self, space, metric=None, mode=None, seed=None, points_to_evaluate=None,
                 max_retries: int = 100):
        super().__init__(space, metric, mode, seed, points_to_evaluate)
        self.max_retries = check_int("max_retries", max_retries, low=1)
        self._seen: set[frozenset] = set()
        self._replayed = 0

    def _complete(self, point):
        config = super()._complete(point)
        self._seen.add(config_key(config))
        return config

    def register_pending(self, config):
        key = config_key(config)
        self.pending[key] = dict(config)
        if key not in self._seen:  # not drawn here: a trial replayed from a journal
            self._seen.add(key)
            self._replayed += 1

    def _suggest(self):
        # A resumed run with the same seed draws its replayed configs again first.
        for _ in range(self.max_retries + self._replayed):
            config = self.space.sample(self.rng)
            key = config_key(config)
            if key not in self._seen:
                self._seen.add(key)
                return config
        return None
