"""Grid search: the Cartesian product of a few values per hyperparameter."""

from __future__ import annotations

import numbers

from .base import Searcher


class GridSearcher(Searcher):
    """Suggests the points of a grid in order (or shuffled), then None.

    Each numeric domain contributes ``num_points`` evenly spaced values (on
    its own scale, log where the domain is log); integers and finite ranges
    with fewer values contribute all of them; categoricals all their choices.

    Args:
        space, metric, mode, seed, points_to_evaluate: see :class:`Searcher`.
        num_points: values per numeric hyperparameter.
        shuffle: visit the grid in a random order (seeded) instead of in order.

    Example:
        >>> searcher = GridSearcher({"x": uniform(0, 1), "c": choice(["a", "b"])},
        ...                         num_points=3)
        >>> len(searcher.grid)
        6
    """

    def __init__(self, space, metric=None, mode=None, seed=None, points_to_evaluate=None,
                 num_points: int = 5, shuffle: bool = False):
        super().__init__(space, metric, mode, seed, points_to_evaluate)
        if not isinstance(num_points, numbers.Integral) or num_points < 1:
            raise ValueError(f"num_points must be a positive integer, got {num_points!r}")
        self.grid = self.space.grid(num_points)
        if shuffle:
            self.grid = [self.grid[i] for i in self.rng.permutation(len(self.grid))]
        self._next = 0

    def _complete(self, point):
        # A partial point is completed at the grid's middle, not at random.
        config = dict(self.grid[len(self.grid) // 2])
        config.update(point)
        return self.space.check(config)

    def _suggest(self):
        if self._next >= len(self.grid):
            return None
        self._next += 1
        return dict(self.grid[self._next - 1])
