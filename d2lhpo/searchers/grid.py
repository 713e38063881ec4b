"""Grid search: the Cartesian product of a few values per hyperparameter.

The grid is never built: configuration ``i`` is decoded from its index, the
last hyperparameter varying fastest (as in ``itertools.product``). A shuffled
grid visits the indices in a seeded random order: a permutation when the grid
is small, an affine bijection ``i -> (a * i + b) mod n`` (``gcd(a, n) = 1``)
over per-axis shuffled values when it is not.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

from ..checks import check_int
from .base import Searcher

PERMUTE_UP_TO = 2**20   # grids up to this size are shuffled by an explicit permutation
MAX_POINTS = 10**6      # values per hyperparameter: each axis is a list of them


class Grid(Sequence):
    """The configurations of a grid, in visiting order, each made on demand.

    Args:
        names: the hyperparameters, in the order of the space.
        axes: name -> the values of that hyperparameter on the grid.
        order: None (in order), a permutation of the indices, or ``(a, b)``
            for the bijection ``i -> (a * i + b) mod size``.

    Example:
        >>> grid = Grid(["x", "c"], {"x": [0.0, 1.0], "c": ["a", "b"]})
        >>> grid.size, grid[1]
        (4, {'x': 0.0, 'c': 'b'})
    """

    def __init__(self, names, axes, order=None):
        self.names = list(names)
        self.axes = {name: list(values) for name, values in axes.items()}
        self.size = math.prod(len(v) for v in self.axes.values())
        self.order = order

    def __len__(self):
        return self.size  # len() raises OverflowError beyond sys.maxsize: use .size

    def __getitem__(self, i):
        i = operator.index(i)
        if i < 0:
            i += self.size
        if not 0 <= i < self.size:
            raise IndexError(f"grid index {i} out of range for {self.size} configurations")
        if isinstance(self.order, tuple):
            a, b = self.order
            i = (a * i + b) % self.size
        elif self.order is not None:
            i = int(self.order[i])
        return self.config(i)

    def config(self, index: int) -> dict:
        """The configuration at position ``index`` of the ordered product (mixed radix)."""
        values = {}
        for name in reversed(self.axes):
            index, digit = divmod(index, len(self.axes[name]))
            values[name] = self.axes[name][digit]
        return {name: values[name] for name in self.names}


class GridSearcher(Searcher):
    """Suggests the points of a grid in order (or shuffled), then None.

    Each numeric domain contributes ``num_points`` evenly spaced values (on
    its own scale, log where the domain is log); integers and finite ranges
    with fewer values contribute all of them; categoricals all their choices.
    Configurations are made one at a time, so a grid of 10^9 points costs no
    memory; ``size`` (and ``len(searcher)``) is the number of grid points.

    Args:
        space, metric, mode, seed, points_to_evaluate: see :class:`Searcher`.
        num_points: values per numeric hyperparameter (an integer from 1 to
            10**6: each hyperparameter's values are kept in a list).
        shuffle: visit the grid in a random order (seeded) instead of in order.

    Example:
        >>> searcher = GridSearcher({"x": uniform(0, 1), "c": choice(["a", "b"])},
        ...                         num_points=3)
        >>> len(searcher), searcher.suggest()
        (6, {'x': 0.0, 'c': 'a'})
    """

    def __init__(self, space, metric=None, mode=None, seed=None, points_to_evaluate=None,
                 num_points: int = 5, shuffle: bool = False):
        super().__init__(space, metric, mode, seed, points_to_evaluate)
        num_points = check_int("num_points", num_points, low=1, high=MAX_POINTS)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ValueError(f"shuffle must be True or False, got {shuffle!r}")
        self.shuffle = bool(shuffle)
        self._axes = {name: domain.grid(num_points)
                      for name, domain in self.space.domains.items()}
        self._axes.update({name: [value] for name, value in self.space.constants.items()})
        self.grid = self._make_grid()
        self._next = 0

    def _make_grid(self) -> Grid:
        grid = Grid(self.space, self._axes)
        if self.shuffle and grid.size > 1:
            if grid.size <= PERMUTE_UP_TO:  # the same order as shuffling a list of the grid
                grid.order = self.rng.permutation(grid.size)
            else:
                for values in grid.axes.values():
                    values[:] = [values[j] for j in self.rng.permutation(len(values))]
                grid.order = (self._unit_mod(grid.size), self._below(grid.size))
        return grid

    def _reseeded(self):
        self.grid = self._make_grid()  # shuffled with the derived seed

    @property
    def size(self) -> int:
        """The number of grid points (points_to_evaluate not counted)."""
        return self.grid.size

    def __len__(self):
        return len(self.grid)

    def __bool__(self):  # a searcher is truthy, even with a grid too big for len()
        return True

    def _below(self, n: int) -> int:
        """A random integer in [0, n), for any n (numpy's integers stop at 2**63)."""
        return int.from_bytes(self.rng.bytes(n.bit_length() // 8 + 8), "little") % n

    def _unit_mod(self, n: int) -> int:
        """A random a in [1, n) with gcd(a, n) = 1, so that i -> a * i mod n is a bijection."""
        while True:
            a = self._below(n)
            if a > 0 and math.gcd(a, n) == 1:
                return a

    def _complete(self, point):
        # A partial point is completed at the grid's middle, not at random.
        config = self.grid[self.grid.size // 2]
        config.update(point)
        return self.space.check(config)

    def _suggest(self):
        if self._next >= self.grid.size:
            return None
        self._next += 1
        return self.grid[self._next - 1]
