"""Cost-aware Bayesian optimization: expected improvement per second.

Snoek et al. (2012, "Practical Bayesian optimization of machine learning
algorithms") divide EI by the predicted cost of the evaluation, with a second
GP fitted to the log of the observed costs: the acquisition prefers a cheap
configuration to an expensive one that promises the same improvement. We use
``EI(x) / c(x) ** alpha`` with ``c(x) = exp(mean of the log-cost GP at x)``
(the posterior median of the cost), maximized in logs:
``log EI(x) - alpha * mean_log_cost(x)``. ``alpha = 0`` is plain EI.
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_number
from ..spaces import config_key
from .acquisition import expected_improvement, log_expected_improvement
from .bayesopt import BayesianOptimization


def expected_improvement_per_second(mean, std, best, cost, exponent: float = 1.0):
    """EI(mean, std, best) / cost ** exponent, for costs > 0 (in seconds)."""
    return expected_improvement(mean, std, best) / np.asarray(cost, dtype=float) ** exponent


def log_expected_improvement_per_second(mean, std, best, log_cost, exponent: float = 1.0,
                                        grad: bool = False):
    """log EI - exponent * log_cost: the log of EI per second, finite where EI underflows.

    With ``grad``, returns ``(value, d/dmean, d/dstd)`` (of the objective's
    posterior; the log cost is a separate input).
    """
    out = log_expected_improvement(mean, std, best, grad)
    value = (out[0] if grad else out) - exponent * np.asarray(log_cost, dtype=float)
    return (value, out[1], out[2]) if grad else value


class CostAwareBO(BayesianOptimization):
    """Bayesian optimization that maximizes expected improvement per second.

    Everything is as in :class:`BayesianOptimization` (initial design,
    pending points, candidates, constraints), plus a second GP on the log of
    each observation's cost, read from the result's ``cost`` metric: the
    seconds the trial has taken up to that result (for FIFO, its whole
    training). The score is ``log EI(x) - cost_exponent * mean_log_cost(x)``.
    While every observed cost is the same, the cost term is left out: the
    searcher is then plain BO. One objective, acquisition EI only.

    Args:
        space, metric, mode, seed, points_to_evaluate: see :class:`Searcher`.
        cost: name of the result's metric with the seconds the trial has
            cost so far (> 0), e.g. ``"train_s"``.
        cost_exponent: ``alpha`` in EI / cost^alpha (>= 0; 0 is plain EI).
        **kwargs: the other arguments of :class:`BayesianOptimization`.

    Example:
        >>> searcher = CostAwareBO(space, metric="error", cost="train_s", seed=0)
        >>> config = searcher.suggest()
        >>> searcher.observe(config, {"error": 0.1, "train_s": 2.5})
    """

    def __init__(self, space, metric=None, mode=None, seed=None, points_to_evaluate=None, *,
                 cost: str, cost_exponent: float = 1.0, **kwargs):
        if isinstance(metric, (list, tuple)):
            raise ValueError(f"CostAwareBO optimizes one metric, got metric={metric!r}")
        if kwargs.get("acquisition", "ei") != "ei":
            raise ValueError(f"CostAwareBO needs acquisition='ei', got "
                             f"{kwargs['acquisition']!r}")
        if not isinstance(cost, str) or not cost:
            raise TypeError(f"cost must be the name of a metric, got {cost!r}")
        check_number("cost_exponent", cost_exponent, 0)
        super().__init__(space, metric, mode, seed, points_to_evaluate, **kwargs)
        if cost == self.metric or cost in self.constraints:
            raise ValueError(f"cost must be another metric than {self.metric!r} and the "
                             f"constraints, got {cost!r}")
        self.cost, self.cost_exponent = cost, float(cost_exponent)
        self._costs: dict[float, dict[tuple, float]] = {}   # level -> key -> log cost

    def observe(self, config, result):
        if self.cost not in result:
            raise ValueError(f"result {dict(result)!r} has no cost metric {self.cost!r}")
        seconds = float(result[self.cost])
        if not seconds > 0 or not math.isfinite(seconds):
            raise ValueError(f"the cost {self.cost!r} must be finite seconds > 0, got "
                             f"{result[self.cost]!r}")
        super().observe(config, result)
        key = config_key(config)
        level = result.get("resource", 0)
        if key in self._data.get(level, {}):   # BO kept it (finite metrics)
            self._costs.setdefault(level, {})[key] = math.log(seconds)

    def _extra_terms(self, level):
        data, costs = self._data[level], self._costs.get(level, {})
        keys = [k for k in data if k in costs]
        log_cost = np.array([costs[k] for k in keys])
        if self.cost_exponent == 0 or len(keys) < 2 or np.ptp(log_cost) < 1e-12:
            return []   # no cost model, or a constant cost: plain EI
        X = np.array([data[k][0] for k in keys])
        cost_gp = self._fit("log cost", X, log_cost, X[:0])
        alpha = self.cost_exponent

        def minus_log_cost(mean, std, grad=False):
            if not grad:
                return -alpha * mean
            return -alpha * mean, np.full_like(mean, -alpha), np.zeros_like(std)
        return [(cost_gp, minus_log_cost)]
