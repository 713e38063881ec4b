"""Finding the configuration that maximizes an acquisition function.

The acquisition is cheap to evaluate but multimodal, so we first score many
quasi-random (Sobol) points of the encoded box [0, 1]^d, then polish the best
few with L-BFGS-B. Integers and categoricals are optimized in their relaxed
encoding (see :meth:`d2lhpo.Space.encode`) and rounded by ``Space.decode``;
rounded points are scored again, since rounding can change the score.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Container

import numpy as np
from scipy.optimize import fmin_l_bfgs_b
from scipy.spatial.distance import cdist
from scipy.stats import qmc

from ..spaces import Categorical, FiniteRange, Float, Integer, Space, config_key


def round_to_space(space: Space, X) -> np.ndarray:
    """Each row of ``X`` moved to the encoding of the configuration it decodes to.

    The same as ``space.encode(space.decode(x))`` for each row, one column
    block at a time with numpy (a loop over a thousand rows takes ~100 ms).
    """
    raw = np.atleast_2d(np.asarray(X, dtype=float))
    X = np.clip(raw, 0.0, 1.0)
    for name, domain in space.domains.items():
        cols = space.slices[name]
        x = X[:, cols.start]
        if isinstance(domain, Integer):
            lo, hi = domain._edges()
            u = lo + x * (hi - lo)
            v = np.clip(np.round(np.exp(u) if domain.log else u), domain.lower, domain.upper)
            X[:, cols.start] = ((np.log(v) if domain.log else v) - lo) / (hi - lo)
        elif isinstance(domain, FiniteRange):
            i = np.minimum(np.floor(x * domain.size), domain.size - 1)
            X[:, cols.start] = (i + 0.5) / domain.size
        elif isinstance(domain, Categorical):
            X[:, cols] = np.eye(domain.dim)[np.argmax(raw[:, cols], axis=1)]
        elif not isinstance(domain, Float):
            X[:, cols] = [domain.encode(domain.decode(row)) for row in raw[:, cols]]
    return X


_SOBOL_BITS = 30


@functools.lru_cache(maxsize=32)
def _sobol_integers(dim: int, n: int) -> np.ndarray:
    """The first ``n`` unscrambled Sobol points in ``dim`` dimensions, as integers
    (coordinates times ``2**30``); computed once, read-only."""
    points = qmc.Sobol(dim, scramble=False, bits=_SOBOL_BITS).random(n)
    integers = np.round(points * 2.0 ** _SOBOL_BITS).astype(np.int64)
    integers.setflags(write=False)
    return integers


def sobol_points(dim: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` Sobol points of [0, 1)^dim, randomized by a random digital shift.

    XOR-ing every point's coordinates with one random string of bits keeps
    the points a (t, m, s)-net (as evenly spread as scrambled Sobol points)
    and costs microseconds, where scipy's scrambling, redone at every
    suggestion, took about 0.4 ms in 6-D.
    """
    shift = rng.integers(0, 2 ** _SOBOL_BITS, size=dim, dtype=np.int64)
    return (_sobol_integers(dim, n) ^ shift) / 2.0 ** _SOBOL_BITS


def local_maxima(score: Callable, X0, maxiter: int = 20, step=None) -> np.ndarray:
    """L-BFGS-B inside [0, 1]^d from each row of ``X0``, all in one run.

    The sum of the scores of the rows is maximized jointly: it is separable, so
    its maximum is made of each row's local maximum, and one run with a few
    points costs about as many score evaluations as one run with one point.
    At most ``maxiter`` iterations: the starts are the best of many Sobol
    points, and after 20 iterations the best point's log EI was within 2e-4
    of the converged one in the median (0.1 at the 10th percentile) on
    Hartmann-6, where convergence takes hundreds; 20 instead of 50 saved
    about a third of a suggestion's time with regret tied, 10 made the
    regret after 30 evaluations worse (``benchmarks/bayesopt.py``, 40 seeds).

    ``step`` (d,) gives the unit in which L-BFGS-B measures each coordinate:
    it works in ``x / step``. Its first step has length one such unit (it
    knows no curvature yet); with the default, 1 (the box), that step is
    far too long, and its line search took 4 to 6 evaluations to find a
    shorter one. Units proportional to the GP's lengthscales also make a
    peak's curvature more alike along every coordinate. Bayesian
    optimization polishes for 15 iterations in units of 0.003 times its
    GP's lengthscales: 16 to 21 evaluations per polish where 20 iterations
    in the box's units took 24 to 29, regret tied (see
    :class:`~d2lhpo.BayesianOptimization`'s ``n_local``).
    """
    X0 = np.atleast_2d(X0)
    unit = np.ones(X0.shape[1]) if step is None else _check_step(step, X0.shape[1])

    minus_unit = -unit

    def negated(flat):
        values, grads = score(flat.reshape(X0.shape) * unit, grad=True)
        grads *= minus_unit
        return -values.sum(), grads.ravel()

    upper = np.tile(1.0 / unit, len(X0))
    # scipy's L-BFGS-B without minimize()'s front end, which standardizes the
    # bounds and looks for fixed variables at every call: the same iterates
    # (byte-identical best-so-far traces on Branin and Hartmann-6), and 7% less
    # time for a polish of 15 iterations from 5 starts in 6-D (1.60 -> 1.48 ms)
    x, _, _ = fmin_l_bfgs_b(negated, (X0 / unit).ravel(),
                            bounds=list(zip(np.zeros(X0.size), upper)), maxiter=maxiter)
    return np.clip(x.reshape(X0.shape) * unit, 0.0, 1.0)


def _check_step(step, dim: int) -> np.ndarray:
    """``step`` as an array of ``dim`` numbers in (0, 1]."""
    unit = np.asarray(step, dtype=float)
    if unit.shape != (dim,) or not np.all((unit > 0) & (unit <= 1)):
        raise ValueError(f"step must hold {dim} numbers in (0, 1] (one per coordinate), "
                         f"got {step!r}")
    return unit


def maximize_acquisition(score: Callable, space: Space, rng: np.random.Generator,
                         exclude: Container = (), starts=None, n_candidates: int = 1024,
                         n_local: int = 5, avoid=None, min_distance: float = 0.0,
                         maxiter: int = 20, step=None) -> dict | None:
    """The best configuration under ``score`` that is not in ``exclude``, or None.

    Args:
        score: ``score(X)`` gives the acquisition (to maximize) at the rows of
            ``X`` (m, d); ``score(X, grad=True)`` also its gradient, shape (m, d).
        space: the search space; points are its encodings.
        rng: numpy Generator for the Sobol candidates' random shift.
        exclude: keys (``config_key``) of configurations not to return:
            those evaluated or pending.
        starts: extra points (k, d) to score and start local searches from
            (e.g. the incumbent).
        n_candidates: Sobol points to score (a power of 2).
        n_local: local searches, from the best-scoring candidates.
        avoid: points (k, d) a suggestion must not come close to (those
            observed or pending, at any level).
        min_distance: the smallest root-mean-square distance to ``avoid``
            (``||x - a|| / sqrt(d)``): near-duplicates of a point tell little
            that it did not, yet an acquisition maximum next to a noisy good
            point attracts them again and again.
        maxiter, step: L-BFGS-B's iterations of the local searches, and the
            unit of each coordinate in them (see :func:`local_maxima`).
    """
    if step is not None:
        step = _check_step(step, space.dim)
    discrete = not all(isinstance(d, Float) for d in space.domains.values())
    X = sobol_points(space.dim, n_candidates, rng)
    if starts is not None and len(starts):
        X = np.vstack([X, starts])
    if discrete:
        X = round_to_space(space, X)
    values = score(X)
    order = np.argsort(-values)
    refined = local_maxima(score, X[order[:n_local]], maxiter, step) if n_local else X[:0]
    if discrete and n_local:
        refined = round_to_space(space, refined)
    # Refined points and candidates ranked together: where the best decode to
    # excluded configurations, the next-best one is used.
    pool = np.vstack([refined, X])
    pool_values = np.concatenate([score(refined) if len(refined) else [], values])
    far = np.ones(len(pool), dtype=bool)
    if min_distance > 0 and avoid is not None and len(avoid):
        far = cdist(pool, np.atleast_2d(avoid)).min(axis=1) / np.sqrt(space.dim) >= min_distance
    for i in np.argsort(-pool_values, kind="stable"):
        if not far[i]:
            continue
        config = space.decode(pool[i])
        if config_key(config) not in exclude:
            return config
    return None


def best_candidate(score: Callable, X, configs, keys, exclude: Container = ()) -> dict | None:
    """The configuration of ``configs`` (encoded as the rows of ``X``, keyed by
    ``keys``) with the best ``score`` that is not in ``exclude``, or None."""
    allowed = np.array([key not in exclude for key in keys])
    if not allowed.any():
        return None
    index = np.flatnonzero(allowed)
    return configs[index[np.argmax(score(X[index]))]]
