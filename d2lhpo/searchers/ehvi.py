"""Expected hypervolume improvement (EHVI) for two objectives, both minimized.

The points that a front does not dominate, below the reference point ``r``,
form a staircase. Cut it into vertical strips at the front's first
coordinates ``a_1 < ... < a_k``: strip ``j`` spans ``[e_j, e_{j+1})`` (with
``e_0 = -inf`` and ``e_{k+1} = r_1``) and is free below height ``h_j``
(``h_0 = r_2``, then the second coordinates of the front). A new point ``y``
adds, in each strip, a rectangle of width ``(min(e_{j+1}, r_1) - max(e_j,
y_1))^+`` and height ``(h_j - y_2)^+``:

    HVI(y) = sum_j (u_j - max(l_j, y_1))^+ (h_j - y_2)^+,   l_j = e_j, u_j = min(e_{j+1}, r_1).

With two independent Gaussian posteriors the expectation of each product is
the product of expectations, and both are expected improvements:
``E[(u - max(l, y_1))^+] = EI(u) - EI(l)`` and ``E[(h - y_2)^+] = EI(h)``.
So in two dimensions EHVI has a closed form (the cell decomposition of
Emmerich et al., 2011) and no Monte Carlo is needed.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import logsumexp

from ..results import pareto_mask
from .acquisition import _log1mexp, expected_improvement, log_expected_improvement
from .acquisition_optimizer import best_candidate, maximize_acquisition
from .bayesopt import BayesianOptimization


def _strips(front, reference):
    """Lower and upper edges and free heights (k + 1 each) of the staircase."""
    reference = np.asarray(reference, dtype=float)
    front = np.asarray(front, dtype=float).reshape(-1, 2)
    front = front[np.all(front < reference, axis=1)]
    if len(front):
        front = np.unique(front[pareto_mask(front)], axis=0)   # sorted by f1, f2 falls
    lower = np.concatenate([[-np.inf], front[:, 0]])
    upper = np.concatenate([front[:, 0], [reference[0]]])
    height = np.concatenate([[reference[1]], front[:, 1]])
    return lower, upper, height


def hypervolume_improvement_2d(points, front, reference) -> np.ndarray:
    """How much area each row of ``points`` (m, 2) would add to the area that
    ``front`` (n, 2) dominates below ``reference``; all coordinates minimized."""
    points = np.atleast_2d(np.asarray(points, dtype=float))
    lower, upper, height = _strips(front, reference)
    width = np.clip(upper - np.maximum(lower, points[:, :1]), 0.0, None)
    return np.sum(width * np.clip(height - points[:, 1:], 0.0, None), axis=1)


def expected_hypervolume_improvement(mean, std, front, reference) -> np.ndarray:
    """E[HVI(y)] for y ~ N(mean, diag(std^2)), rows of ``mean`` and ``std`` (m, 2)."""
    mean, std = np.atleast_2d(mean).astype(float), np.atleast_2d(std).astype(float)
    lower, upper, height = _strips(front, reference)
    m1, s1, m2, s2 = mean[:, :1], std[:, :1], mean[:, 1:], std[:, 1:]
    finite = np.isfinite(lower)   # EI over -inf is 0
    width = (expected_improvement(m1, s1, upper)
             - np.where(finite, expected_improvement(m1, s1, np.where(finite, lower, 0.0)), 0.0))
    return np.sum(width * expected_improvement(m2, s2, height), axis=1)


def log_expected_hypervolume_improvement(mean, std, front, reference) -> np.ndarray:
    """log EHVI, finite far from the front, where EHVI itself underflows to 0."""
    mean, std = np.atleast_2d(mean).astype(float), np.atleast_2d(std).astype(float)
    lower, upper, height = _strips(front, reference)
    m1, s1, m2, s2 = mean[:, :1], std[:, :1], mean[:, 1:], std[:, 1:]
    log_upper = log_expected_improvement(m1, s1, upper)
    # log(EI(u) - EI(l)) = log EI(u) + log(1 - EI(l) / EI(u)); EI(l) < EI(u) as l < u
    finite = np.isfinite(lower)
    log_lower = log_expected_improvement(m1, s1, np.where(finite, lower, 0.0))
    ratio = np.where(finite, np.minimum(log_lower - log_upper, -1e-300), -np.inf)
    log_width = log_upper + np.where(finite, _log1mexp(ratio), 0.0)
    return logsumexp(log_width + log_expected_improvement(m2, s2, height), axis=1)


class EHVI(BayesianOptimization):
    """Bayesian optimization of two objectives by expected hypervolume improvement.

    One GP per objective (independent), fitted to the observations of the
    modelled level; the next configuration maximizes the closed-form log
    EHVI (:func:`log_expected_hypervolume_improvement`) over the front of the
    observations, with the reference point ``reference``. Pending
    configurations join the front at their posterior means (the "kriging
    believer" of :class:`BayesianOptimization`). EHVI scores candidates
    without a local polish: at ``n_candidates`` Sobol points, or at the given
    ``candidates``. Unlike ParEGO it needs no random weights: it aims at
    whatever part of the front it can push out the most, in the units of the
    objectives (so they should be in the scale the hypervolume is measured in).

    Args:
        space, seed, points_to_evaluate: see :class:`Searcher`.
        metric: the two objectives' names; mode: their modes (a list, or one
            for both; default "min").
        reference: the reference point, in the objectives' units (for a
            "max" objective, a value below every one of interest). Default:
            each objective's worst observed value plus 10% of its range.
        **kwargs: ``num_initial``, ``n_candidates``, ``n_starts``,
            ``candidates`` of :class:`BayesianOptimization`.

    Example:
        >>> searcher = EHVI(space, metric=["error", "log10_params"], reference=[0.9, 5], seed=0)
        >>> config = searcher.suggest()
        >>> searcher.observe(config, {"error": 0.1, "log10_params": 4.2})
    """

    def __init__(self, space, metric=None, mode=None, seed=None, points_to_evaluate=None,
                 reference=None, **kwargs):
        if not isinstance(metric, (list, tuple)) or len(metric) != 2:
            raise ValueError(f"metric must be a list of two objectives, got {metric!r}")
        for name in ("acquisition", "constraints", "beta", "n_local"):
            if name in kwargs:
                raise TypeError(f"EHVI takes no argument {name}={kwargs[name]!r}")
        if mode is None or isinstance(mode, str):
            mode = [mode or "min"] * 2
        super().__init__(space, list(metric), mode, seed, points_to_evaluate,
                         n_local=0, **kwargs)
        self._signs = np.array([1.0 if md == "min" else -1.0 for _, md in self.objectives])
        self.reference = None
        if reference is not None:
            ok = (isinstance(reference, (list, tuple, np.ndarray)) and len(reference) == 2
                  and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                          and np.isfinite(v) for v in reference))
            if not ok:
                raise ValueError(f"reference must be 2 finite numbers, got {reference!r}")
            self.reference = np.array(reference, dtype=float)

    def _reference(self, Y):
        """The reference point in minimized units (objectives times their signs)."""
        if self.reference is not None:
            return self.reference * self._signs
        worst, best = Y.max(axis=0), Y.min(axis=0)
        return worst + 0.1 * np.where(worst > best, worst - best, 1.0)

    def _model_suggest(self, level):
        data = self._data[level]
        X = np.array([x for x, _ in data.values()])
        Y = np.array([v[:2] for _, v in data.values()]) * self._signs
        X_pending = np.array([self.space.encode(c) for key, c in self.pending.items()
                              if key not in data]).reshape(-1, self.space.dim)
        gps = [self._fit(f"objective {i}", X, Y[:, i], X_pending) for i in range(2)]
        front = Y
        if len(X_pending):   # the pending points at their believed values
            front = np.vstack([Y, np.column_stack([gp.predict(X_pending)[0] for gp in gps])])
        reference = self._reference(Y)

        def score(Z, grad=False):
            predictions = [gp.predict(Z) for gp in gps]
            mean = np.column_stack([p[0] for p in predictions])
            std = np.column_stack([p[1] for p in predictions])
            return log_expected_hypervolume_improvement(mean, std, front, reference)

        if self._candidates is not None:
            return best_candidate(score, self._candidate_X, self._candidates,
                                  self._candidate_keys, self._excluded())
        return maximize_acquisition(score, self.space, self.rng, self._excluded(), None,
                                    self.n_candidates, n_local=0)
