"""Random search: every configuration drawn independently from the space."""

from __future__ import annotations

from ..spaces import config_key
from .base import Searcher


class RandomSearcher(Searcher):
    """Samples configurations at random, never suggesting one twice.

    In a finite space it returns None once every configuration has been
    suggested (found after ``max_retries`` draws in a row that all repeat).

    Args:
        space, metric, mode, seed, points_to_evaluate: see :class:`Searcher`.
        max_retries: draws before a space is considered exhausted.

    Example:
        >>> searcher = RandomSearcher({"x": uniform(0, 1)}, seed=0)
        >>> config = searcher.suggest()
        >>> searcher.observe(config, {"y": config["x"] ** 2})
    """

    def __init__(self, space, metric=None, mode="min", seed=None, points_to_evaluate=None,
                 max_retries: int = 100):
        super().__init__(space, metric, mode, seed, points_to_evaluate)
        self.max_retries = max_retries
        self._seen: set[tuple] = set()

    def suggest(self):
        config = super().suggest()
        if config is not None:
            self._seen.add(config_key(config))
        return config

    def _suggest(self):
        for _ in range(self.max_retries):
            config = self.space.sample(self.rng)
            if config_key(config) not in self._seen:
                return config
        return None
