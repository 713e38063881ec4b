"""Acquisition functions: how much a point is worth evaluating, given the GP's belief.

Each takes the posterior ``mean`` and ``std`` of the objective (to be
minimized) at candidate points. With ``grad=True`` a function also returns
its derivatives with respect to ``mean`` and ``std``, which the chain rule
turns into a gradient in the input space.

Expected improvement over the best value ``best`` so far is
``EI = std * h(z)`` with ``z = (best - mean) / std`` and
``h(z) = phi(z) + z Phi(z)``. Where the mean lies many standard deviations
above ``best`` (z << 0), EI's slope (``Phi(z)``) is below any optimizer's
tolerance from z of about -4, long before EI underflows to 0 (below z of
about -38), so we maximize ``log EI`` computed in a stable way (Ament et al.,
"Unexpected improvements to expected improvement for Bayesian
optimization", NeurIPS 2023).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_SQRT_PI_2 = 0.5 * math.log(math.pi / 2)
_Z_ASYMPTOTIC = -1.0 / math.sqrt(np.finfo(float).eps)   # below: h(z) ~ phi(z) / z^2
_SMALL = 64   # log_h computes every branch everywhere for at most this many points


def _log1mexp(a):
    """log(1 - exp(a)) for a < 0, accurate for a near 0 and for a << 0."""
    a = np.asarray(a, dtype=float)
    near = a > -math.log(2)
    if near.all():   # as in log EI's tail: one branch to compute
        return np.log(-np.expm1(np.minimum(a, -1e-300)))
    return np.where(near, np.log(-np.expm1(np.minimum(a, -1e-300))),
                    np.log1p(-np.exp(np.minimum(a, -math.log(2)))))


def log_h(z):
    """log(phi(z) + z Phi(z)), finite for every finite z.

    For z > -1 directly; below, with the scaled complementary error function
    erfcx, h(z) = phi(z) (1 - |z| sqrt(pi/2) erfcx(-z / sqrt 2)); below
    -1/sqrt(eps) the asymptote h(z) ~ phi(z) / z^2.

    An acquisition optimizer calls this hundreds of times per suggestion.
    On many points (the candidates), each branch is computed on its own
    points only: evaluating every branch everywhere took three times as
    long. On a few points (a polish), the first two branches are computed
    everywhere and chosen from, which costs less than the masks (20 instead
    of 30 us for 5 points).
    """
    z = np.asarray(z, dtype=float)
    if z.ndim and 0 < z.size <= _SMALL and z.min() > _Z_ASYMPTOTIC:
        return np.where(z > -1, _log_h_direct(np.maximum(z, -1.0)),
                        _log_h_middle(np.minimum(z, -1.0)))
    direct = z > -1
    if direct.all():
        return _log_h_direct(z)
    out = np.empty(z.shape)
    if direct.any():
        out[direct] = _log_h_direct(z[direct])
    zm = z[~direct]
    far = zm <= _Z_ASYMPTOTIC
    values = np.empty(zm.shape)
    if far.any():
        values[far] = -0.5 * zm[far] ** 2 - _LOG_SQRT_2PI - 2 * np.log(np.abs(zm[far]))
    values[~far] = _log_h_middle(zm[~far])
    out[~direct] = values
    return out


def _log_h_middle(z):
    """log h(z) for -1/sqrt(eps) < z <= -1 (every point), through erfcx; the
    argument of log(1 - exp(a)) lies in (-0.27, 0) there (expm1's branch)."""
    a = np.log(erfcx(-z / math.sqrt(2)) * -z)
    a = np.minimum(a + _LOG_SQRT_PI_2, -1e-300)
    values = z ** 2
    values *= -0.5
    values -= _LOG_SQRT_2PI
    values += np.log(-np.expm1(a))
    return values


def _log_h_direct(z):
    """log h(z) straight from its definition: accurate for z > -1."""
    return np.log(np.maximum(np.exp(-0.5 * z ** 2) / math.sqrt(2 * math.pi) + z * ndtr(z),
                             1e-300))


def expected_improvement(mean, std, best):
    """E[max(best - f, 0)] for f ~ N(mean, std^2) (minimization)."""
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    z = (best - mean) / std
    return std * (np.exp(-0.5 * z ** 2) / math.sqrt(2 * math.pi) + z * ndtr(z))


def log_expected_improvement(mean, std, best, grad: bool = False):
    """log EI = log std + log h(z), z = (best - mean) / std; finite far below ``best``.

    With ``grad``, returns ``(value, d/dmean, d/dstd)``, using h'(z) = Phi(z).
    """
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    z = (best - mean) / std
    lh = log_h(z)
    value = np.log(std) + lh
    if not grad:
        return value
    dz = np.exp(log_ndtr(z) - lh)        # d log h / dz = Phi(z) / h(z)
    d_mean = dz / std
    np.negative(d_mean, out=d_mean)       # -dz / std
    d_std = dz * z
    d_std /= std
    np.subtract(1.0 / std, d_std, out=d_std)   # 1 / std - dz z / std
    return value, d_mean, d_std


def lower_confidence_bound(mean, std, beta: float = 2.0, grad: bool = False):
    """mean - beta * std: optimistic for minimization (smaller is more promising).

    With ``grad``, returns ``(value, d/dmean, d/dstd)``.
    """
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    value = mean - beta * std
    if not grad:
        return value
    return value, np.ones_like(value), np.full_like(value, -beta)


def probability_of_feasibility(mean, std, threshold: float = 0.0):
    """P(c <= threshold) for c ~ N(mean, std^2): the chance a constraint holds."""
    return ndtr((threshold - np.asarray(mean, dtype=float)) / np.asarray(std, dtype=float))


def log_probability_of_feasibility(mean, std, threshold: float = 0.0, grad: bool = False):
    """log P(c <= threshold), finite deep in the infeasible region.

    With ``grad``, returns ``(value, d/dmean, d/dstd)``.
    """
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    z = (threshold - mean) / std
    value = log_ndtr(z)
    if not grad:
        return value
    # d log Phi / dz = phi(z) / Phi(z), in logs so that it stays finite for z << 0
    dz = np.exp(-0.5 * z ** 2 - _LOG_SQRT_2PI - value)
    return value, -dz / std, -dz * z / std
