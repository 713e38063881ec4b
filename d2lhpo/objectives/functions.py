"""Analytic test functions with known optima, and a synthetic cost per evaluation.

The optima are from the literature (Dixon & Szegő 1978; the values as tabulated
in Surjanovic & Bingham's Virtual Library of Simulation Experiments). Each
evaluation reports a synthetic ``cost`` in seconds that depends on the point,
so that trials take different times and asynchronous workers matter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..spaces import Float, Space, uniform
from .base import Objective


@dataclass
class AnalyticFunction(Objective):
    """A function of a box, evaluated in one step, with a known minimum.

    Args:
        name: for plots and tables.
        fn: maps a vector (in the order of ``space``) to a float.
        space: the box, as a dict of ``uniform`` domains.
        optimum: the known minimum value.
        argmin: one point where it is reached.
        cost_range: the synthetic cost in seconds of one evaluation ranges over
            this interval, as a smooth function of the point.
        noise: standard deviation of Gaussian noise added to each evaluation
            (seeded by the trial's seed).

    Example:
        >>> next(branin({"x1": math.pi, "x2": 2.275}, r0=0, r1=1))["value"]
        0.39788...
    """

    name: str
    fn: Callable[[np.ndarray], float]
    space: dict
    optimum: float
    argmin: tuple
    cost_range: tuple = (30.0, 90.0)
    noise: float = 0.0
    metric: str = "value"
    mode: str = "min"
    max_resource: float = 1
    _space: Space = field(init=False, repr=False)

    def __post_init__(self):
        self._space = Space(self.space)
        for name, domain in self._space.items():
            if not (isinstance(domain, Float) and not domain.log):
                raise ValueError(f"AnalyticFunction {self.name!r} needs a box of uniform "
                                 f"domains, hyperparameter {name!r} is {domain!r}")
        # Each side of the box, to map a point to [0, 1]^d (as Space.encode does).
        self._sides = [(k, float(d.lower), float(d.upper - d.lower))
                       for k, d in self._space.items()]

    def __call__(self, config, r0=0, r1=1, seed=None):
        x = np.array([config[k] for k in self.space], dtype=float)
        value = float(self.fn(x))
        if self.noise:
            value += self.noise * float(np.random.default_rng(seed).standard_normal())
        # In plain floats: numpy's overhead on a few numbers costs more than the function.
        u = sum((config[k] - lower) / width for k, lower, width in self._sides)
        lo, hi = self.cost_range
        cost = lo + (hi - lo) * 0.5 * (1 + math.sin(2 * math.pi * u))
        yield {"resource": 1, self.metric: value, "cost": cost}

    def regret(self, value: float) -> float:
        """Simple regret: how far ``value`` is above the optimum."""
        return value - self.optimum


def _branin(x):
    x1, x2 = float(x[0]), float(x[1])  # Python floats: numpy scalars are 10x slower here
    b, c = 5.1 / (4 * math.pi ** 2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470],
                         [1091, 8732, 5547], [381, 5743, 8828]])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886],
                         [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650],
                         [4047, 8828, 8732, 5743, 1091, 381]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann(a, p):
    def fn(x):
        return float(-np.sum(_ALPHA * np.exp(-np.sum(a * (x - p) ** 2, axis=1))))
    return fn


branin = AnalyticFunction(
    "Branin", _branin, {"x1": uniform(-5.0, 10.0), "x2": uniform(0.0, 15.0)},
    optimum=0.397887, argmin=(math.pi, 2.275))

hartmann3 = AnalyticFunction(
    "Hartmann-3", _hartmann(_H3_A, _H3_P), {f"x{i}": uniform(0.0, 1.0) for i in range(1, 4)},
    optimum=-3.86278, argmin=(0.114614, 0.555649, 0.852547))

hartmann6 = AnalyticFunction(
    "Hartmann-6", _hartmann(_H6_A, _H6_P), {f"x{i}": uniform(0.0, 1.0) for i in range(1, 7)},
    optimum=-3.32237, argmin=(0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573))
