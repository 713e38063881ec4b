"""Gaussian process regression, the surrogate model of Bayesian optimization.

A GP with a constant mean ``m``, a Matérn-5/2 kernel with one lengthscale per
input dimension (ARD) and signal variance ``s2``, and Gaussian observation
noise (never below a floor, which keeps the Cholesky factorization stable):

    y = f(x) + eps,   f ~ GP(m, s2 * matern52(r)),   eps ~ N(0, noise),
    r = || (x - x') / lengthscales ||.

Targets are standardized (zero mean, unit variance) before fitting, so the
bounds and priors below are in units of the data's spread; inputs are points
of the unit box (see :meth:`d2lhpo.Space.encode`). The hyperparameters are
fitted by maximizing the log marginal likelihood (plus a weak log prior) with
L-BFGS-B and analytic gradients, from a few starting points; the constant mean
is maximized over in closed form (:func:`profiled_mean`).

The algebra is in pure functions: the kernel (:func:`matern52`), the posterior
(:func:`posterior`) and the log marginal likelihood; :class:`GaussianProcess`
holds a fit and calls them.

Example:
    >>> gp = GaussianProcess(seed=0).fit(X, y)
    >>> mean, std = gp.predict(X_test)
"""

from __future__ import annotations

import contextlib
import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, cholesky
from scipy.linalg.lapack import dpotrf, dpotri, dpotrs, dtrtri, dtrtrs
from scipy.optimize import minimize
from scipy.spatial.distance import cdist

from ..checks import check_int, check_number

SQRT5 = math.sqrt(5.0)
MIN_NOISE = 1e-6          # noise floor, relative to the standardized targets' variance
FTOL = 2.220446049250313e-09   # scipy's L-BFGS-B default (factr 1e7)
N_CANDIDATES = 8   # random starting points a fit screens, besides the default and init
BOUNDS = {"mean": (-10.0, 10.0), "variance": (1e-2, 1e2), "lengthscale": (1e-2, 1e2),
          "noise": (MIN_NOISE, 1.0)}
# Weak log-normal priors (in log space: mean, std). Lengthscales a fair part of the
# unit box, the signal variance near that of the standardized data.
PRIOR = {"lengthscale": (math.log(0.5), 1.0), "variance": (0.0, 1.5)}

_threadpools = []   # a threadpoolctl controller, made on first use


def one_blas_thread():
    """A context in which BLAS and LAPACK run on one thread.

    The GP's matrices are small (hundreds of rows): threads gain nothing on
    them, and on a busy machine, threads that spin while waiting for a core
    made suggestions 5 to 10 times slower in our runs. (A no-op without
    threadpoolctl, which scikit-learn installs.)
    """
    if not _threadpools:
        try:
            from threadpoolctl import ThreadpoolController
            _threadpools.append(ThreadpoolController())
        except ImportError:
            _threadpools.append(None)
    if _threadpools[0] is None:
        return contextlib.nullcontext()
    return _threadpools[0].limit(limits=1, user_api="blas")


@dataclass
class GPParams:
    """The hyperparameters of the GP (variances in standardized units).

    ``theta`` is the vector the optimizer sees: the mean, then the logs of the
    signal variance, the lengthscales and the noise variance.
    """

    mean: float
    variance: float
    lengthscales: np.ndarray
    noise: float

    @property
    def theta(self) -> np.ndarray:
        return np.concatenate([[self.mean, math.log(self.variance)],
                               np.log(self.lengthscales), [math.log(self.noise)]])

    @classmethod
    def from_theta(cls, theta) -> GPParams:
        theta = np.asarray(theta, dtype=float)
        return cls(float(theta[0]), float(np.exp(theta[1])), np.exp(theta[2:-1]),
                   float(np.exp(theta[-1])))

    @classmethod
    def default(cls, dim: int) -> GPParams:
        return cls(0.0, 1.0, np.full(dim, 0.5), 1e-3)


def theta_bounds(dim: int, noise: float | None = None) -> list[tuple]:
    """Bounds on ``GPParams.theta`` for L-BFGS-B; a given ``noise`` is fixed
    (equal lower and upper bounds)."""
    def log(b):
        return math.log(b[0]), math.log(b[1])
    noise_bounds = BOUNDS["noise"] if noise is None else (noise, noise)
    return ([BOUNDS["mean"], log(BOUNDS["variance"])] + [log(BOUNDS["lengthscale"])] * dim
            + [log(noise_bounds)])


def _check_ftol(ftol):
    """``ftol`` as a float if it is a number in (0, 1)."""
    if (isinstance(ftol, bool) or not isinstance(ftol, numbers.Real)
            or not 0 < ftol < 1):
        raise ValueError(f"ftol must be a number in (0, 1), got {ftol!r}")
    return float(ftol)


def _check_noise(noise):
    """``noise`` as a float if it is None or a number in ``BOUNDS["noise"]``."""
    if noise is None:
        return None
    lo, hi = BOUNDS["noise"]
    if (isinstance(noise, bool) or not isinstance(noise, numbers.Real)
            or not lo <= noise <= hi):
        raise ValueError(f"noise must be None (fitted) or a variance in [{lo:g}, {hi:g}] "
                         f"(standardized units), got {noise!r}")
    return float(noise)


def matern52_of_distance(r, variance=1.0, grad: bool = False):
    """The Matérn-5/2 kernel as a function of the scaled distance ``r``:
    ``s2 (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)``.

    With ``grad``, also its derivative with respect to ``r**2``,
    ``-5/6 s2 (1 + sqrt5 r) exp(-sqrt5 r)``: through ``r**2 = sum_d (x_d -
    x'_d)**2 / l_d**2`` the chain rule gives the derivatives with respect to
    the inputs and the lengthscales.
    """
    u = r * -SQRT5              # in u = -t: s2 (1 - u + u^2 / 3) exp(u), fewer array passes
    e = np.exp(u)
    e *= variance
    k = u / 3.0
    k -= 1.0
    k *= u
    k += 1.0
    k *= e
    if not grad:
        return k
    d = 1.0 - u
    d *= e
    d *= -5.0 / 6.0
    return k, d


def matern52(X1, X2, lengthscales, variance=1.0) -> np.ndarray:
    """Kernel matrix ``k(X1[i], X2[j])`` of the ARD Matérn-5/2 kernel."""
    return matern52_of_distance(cdist(X1 / lengthscales, X2 / lengthscales), variance)


def condition(X, y, params: GPParams):
    """What the posterior needs from the data, computed once for many predictions:
    the lower Cholesky factor ``L`` of ``K + noise I`` (``K = k(X, X)``) and
    ``alpha = (K + noise I)^-1 (y - m)``."""
    K = matern52(X, X, params.lengthscales, params.variance) + params.noise * np.eye(len(X))
    L = cholesky(K, lower=True)
    return L, cho_solve((L, True), y - params.mean)


def posterior(X, y, params: GPParams, X_test, grad: bool = False, full_cov: bool = False,
              factor=None):
    """Posterior mean and variance of ``f`` at the rows of ``X_test`` given ``y`` at ``X``.

    mean = m + k*^T (K + noise I)^-1 (y - m),  var = s2 - k*^T (K + noise I)^-1 k*,
    with ``k* = k(X, X_test)``; the variance as ``s2 - |w|^2`` with ``w = L^-1 k*``
    (``L L^T = K + noise I``), at least 0. Add ``params.noise`` to the variance
    for that of a new observation.

    Args:
        X, y: the observed inputs (n, d) and targets (n,).
        params: the hyperparameters.
        X_test: where to predict, shape (m, d).
        grad: also return the gradients of the mean and the variance with
            respect to ``X_test``, each of shape (m, d).
        full_cov: return the posterior covariance (m, m) instead of the variances.
        factor: ``condition(X, y, params)``, if already computed (``y`` is
            then not read); with a third element, the inverse of ``L``
            (:func:`inverse_factor`), the triangular solves become matrix
            products, faster for many test points (a GP predicting at a
            thousand candidates, :class:`GaussianProcess` keeps it).
    """
    if grad and full_cov:
        raise ValueError("posterior gives gradients of the variances only: "
                         "pass grad=True or full_cov=True, not both")
    L, alpha, *inverse = condition(X, y, params) if factor is None else factor
    L_inv = inverse[0] if inverse else None
    ls = params.lengthscales
    r = cdist(X_test / ls, X / ls)                                       # (m, n)
    if grad:
        k, dk_dr2 = matern52_of_distance(r, params.variance, grad=True)
    else:
        k = matern52_of_distance(r, params.variance)
    mean = k @ alpha
    mean += params.mean
    w = _solve_lower(L, k.T) if L_inv is None else L_inv @ k.T            # (n, m)
    if full_cov:
        return mean, matern52(X_test, X_test, ls, params.variance) - w.T @ w
    var = params.variance - np.einsum("ij,ij->j", w, w)
    np.maximum(var, 0.0, out=var)
    if not grad:
        return mean, var
    v = _solve_lower(L, w, trans=1) if L_inv is None else L_inv.T @ w    # K^-1 k*
    # dk/dx_d = dk/d(r^2) * 2 (x_d - x'_d) / l_d^2, so a gradient sum_n c_n dk_n/dx
    # is (x sum_n c'_n - sum_n c'_n x'_n) / l^2 with c' = 2 dk/d(r^2) c: two
    # matrix products instead of an (m, n, d) array of differences. The rows
    # of c' are those of the mean, then those of the variance.
    m = len(X_test)
    c = np.empty((2 * m, len(X)))
    np.multiply(dk_dr2, 2.0 * alpha, out=c[:m])
    np.multiply(dk_dr2, -4.0 * v.T, out=c[m:])
    grads = c @ X
    np.subtract(c.sum(axis=1).reshape(2, m, 1) * X_test, grads.reshape(2, m, -1),
                out=grads.reshape(2, m, -1))
    grads /= ls ** 2                                                      # (2m, d)
    return mean, var, grads[:m], grads[m:]


def _solve_lower(L, B, trans: int = 0):
    """``L^-1 B`` (``trans=1``: ``L^-T B``) for a lower triangular ``L``; LAPACK's
    ``trtrs`` called directly, as scipy's ``solve_triangular`` checks its
    arguments for longer than a small solve takes (an acquisition optimizer
    calls it hundreds of times per suggestion)."""
    x, info = dtrtrs(L, B, lower=1, trans=trans)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular factor (LAPACK info {info})")
    return x


def inverse_factor(L) -> np.ndarray:
    """``L^-1`` for a lower triangular ``L`` (LAPACK's ``trtri``).

    ``L^-1 B`` as a matrix product is about twice as fast as a triangular
    solve for a thousand columns (0.44 instead of 0.71 ms at 100 points in
    6-D), and as accurate here: the error of either grows with the condition
    number of ``L``, the square root of that of ``K + noise I``.
    """
    L_inv, info = dtrtri(L, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular factor (LAPACK info {info})")
    return np.tril(L_inv)


def squared_differences(X) -> np.ndarray:
    """All ``(X[i, d] - X[j, d])**2``, shape (n, n, d)."""
    return (X[:, None, :] - X[None, :, :]) ** 2


def _covariance_factor(theta, X, sq_diff, grad: bool):
    """The Cholesky factor of ``K + noise I`` at ``theta`` (and what the gradient needs)."""
    p = GPParams.from_theta(theta)
    r = np.sqrt(sq_diff @ (1.0 / p.lengthscales ** 2))
    if grad:
        K_f, dK_dr2 = matern52_of_distance(r, p.variance, grad=True)
    else:
        K_f, dK_dr2 = matern52_of_distance(r, p.variance), None
    K = K_f.copy() if grad else K_f
    K.flat[::len(K) + 1] += p.noise
    L, info = dpotrf(K, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"the covariance is not positive definite "
                                    f"(LAPACK info {info})")
    return p, L, (K_f if grad else None), dK_dr2


def _cho_solve(L, b):
    """``K^-1 b`` from the lower Cholesky factor ``L`` of K (LAPACK's potrs)."""
    x, info = dpotrs(L, b, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"potrs failed (LAPACK info {info})")
    return x


def _gls_mean(L, y):
    """The constant mean that maximizes the likelihood for a factored covariance:
    the generalized least squares estimate ``1^T K^-1 y / 1^T K^-1 1``, within
    ``BOUNDS["mean"]`` (the likelihood is a concave parabola in the mean)."""
    K_inv_1 = _cho_solve(L, np.ones(len(y)))
    return float(np.clip(K_inv_1 @ y / np.sum(K_inv_1), *BOUNDS["mean"]))


def log_marginal_likelihood(theta, X, y, grad: bool = False, sq_diff=None,
                            profile_mean: bool = False):
    """log p(y | X, theta) of the GP, and its gradient w.r.t. ``theta`` if ``grad``.

    With K the covariance of y and a = K^-1 (y - m):
    log p = -1/2 (y - m)^T a - 1/2 log|K| - n/2 log(2 pi), and
    d log p / d theta_j = 1/2 tr((a a^T - K^-1) dK/dtheta_j)  (Rasmussen & Williams, eq. 5.9).
    ``sq_diff`` (``squared_differences(X)``) saves recomputing it in an optimizer loop.

    With ``profile_mean``, the mean ``theta[0]`` is ignored and replaced by
    the one that maximizes the likelihood given the other hyperparameters
    (:func:`profiled_mean`, in closed form): this is the profile likelihood,
    and its gradient is that of the likelihood at that mean (the derivative
    with respect to the mean is 0 there, or the mean is held at a bound),
    with 0 for ``theta[0]``.
    """
    n = len(X)
    if sq_diff is None:
        sq_diff = squared_differences(X)
    p, L, K_f, dK_dr2 = _covariance_factor(theta, X, sq_diff, grad)
    mean = _gls_mean(L, y) if profile_mean else p.mean
    resid = y - mean
    alpha = _cho_solve(L, resid)
    lml = -0.5 * resid @ alpha - np.sum(np.log(np.diag(L))) - 0.5 * n * math.log(2 * math.pi)
    if not grad:
        return lml
    K_inv, info = dpotri(L, lower=1)   # its lower triangle (the upper one is stale)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular Cholesky factor (LAPACK info {info})")
    # Each term sums W = a a^T - K^-1 times a symmetric dK/dtheta_j: over the
    # lower triangle, with the entries below the diagonal counted twice.
    W = np.outer(alpha, alpha)
    W -= K_inv
    W = np.tril(W)
    W *= 2.0
    W.flat[::n + 1] *= 0.5
    # dK/dlog(l_d) = dK/d(r^2) * d(r^2)/dlog(l_d) = dK/d(r^2) * -2 (x_d - x'_d)^2 / l_d^2
    g_logl = -2.0 * ((W * dK_dr2).ravel() @ sq_diff.reshape(n * n, -1)) / p.lengthscales ** 2
    g = np.concatenate([[0.0 if profile_mean else alpha.sum(), 0.5 * np.sum(W * K_f)],
                        0.5 * g_logl, [0.5 * p.noise * np.trace(W)]])
    return lml, g


def profiled_mean(theta, X, y, sq_diff=None) -> float:
    """The constant mean that maximizes the likelihood of ``y`` given the other
    hyperparameters of ``theta`` (``theta[0]`` is ignored): the generalized
    least squares estimate ``1^T K^-1 y / 1^T K^-1 1``, K the covariance of
    y, clipped to ``BOUNDS["mean"]``. Fitting it this way instead of along
    with the others removes a direction in which the likelihood is nearly
    flat (a high mean with a large signal variance) and along which L-BFGS-B
    crept for most of its iterations."""
    if sq_diff is None:
        sq_diff = squared_differences(X)
    _, L, _, _ = _covariance_factor(theta, X, sq_diff, grad=False)
    return _gls_mean(L, np.asarray(y, dtype=float))


def log_prior(theta, grad: bool = False):
    """The weak log-normal priors of ``PRIOR`` on the lengthscales and the signal
    variance (up to a constant), and the gradient w.r.t. ``theta`` if ``grad``."""
    theta = np.asarray(theta, dtype=float)
    (loc_v, scale_v), (loc_l, scale_l) = PRIOR["variance"], PRIOR["lengthscale"]
    z_v = (theta[1] - loc_v) / scale_v
    z_l = (theta[2:-1] - loc_l) / scale_l
    value = -0.5 * (z_v * z_v + z_l @ z_l)
    if not grad:
        return value
    g = np.zeros(len(theta))
    g[1] = -z_v / scale_v
    g[2:-1] = -z_l / scale_l
    return value, g


def fit_hyperparameters(X, y, init: GPParams | None = None, n_starts: int = 2,
                        n_candidates: int = N_CANDIDATES, seed=None, prior: bool = True,
                        noise: float | None = None, ftol: float = FTOL) -> GPParams:
    """Maximize the log marginal likelihood (plus the log prior) over the hyperparameters.

    Candidate starting points are the default hyperparameters, ``init`` (the last
    fit: a warm start) and ``n_candidates`` random draws from the priors; L-BFGS-B
    runs from the ``n_starts`` best of them and the best optimum wins. The
    constant mean is not searched: for any value of the others, the best mean
    has a closed form (:func:`profiled_mean`), and L-BFGS-B maximizes that
    profile likelihood, whose maximum is the joint one. (Searched along with
    the others, the mean crept along a nearly flat ridge of the likelihood
    on Branin's skewed values, and a warm refit took 17 to 23 iterations
    instead of 8 to 12, ``benchmarks/bayesopt.py``'s timing runs.)

    Args:
        X: inputs, shape (n, d). y: targets, shape (n,) (standardized).
        init: a starting point, typically the previous fit.
        n_starts: local optimizations (restarts) to run.
        n_candidates: random starting points to choose them from.
        seed: int or numpy Generator for the random starting points.
        prior: add the log prior (MAP); False gives maximum likelihood.
        noise: a fixed noise variance (standardized units), for an objective
            known to be deterministic (say ``MIN_NOISE``); None fits it.
        ftol: L-BFGS-B stops when an iteration improves the negative log
            posterior by less than this share of it (scipy's ``ftol``; the
            default is scipy's).
    """
    ftol = _check_ftol(ftol)
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    dim = X.shape[1]
    bounds = np.array(theta_bounds(dim, _check_noise(noise)))[1:]
    rng = np.random.default_rng(seed)
    sq_diff = squared_differences(X)

    # L-BFGS-B sees theta without the mean: the likelihood is maximized over
    # the mean in closed form for each value of the rest (profiled_mean).
    def loss(rest):
        theta = np.concatenate([[0.0], rest])
        try:
            value, g = log_marginal_likelihood(theta, X, y, grad=True, sq_diff=sq_diff,
                                               profile_mean=True)
        except np.linalg.LinAlgError:
            value, g = -1e10, np.zeros_like(theta)
        if prior:
            p_value, p_g = log_prior(theta, grad=True)
            value, g = value + p_value, g + p_g
        return -value, -g[1:]

    def loss_value(rest):
        theta = np.concatenate([[0.0], rest])
        try:
            value = log_marginal_likelihood(theta, X, y, sq_diff=sq_diff, profile_mean=True)
        except np.linalg.LinAlgError:
            return np.inf
        return -value - (log_prior(theta) if prior else 0.0)

    starts = [GPParams.default(dim).theta] + ([init.theta] if init is not None else [])
    for _ in range(n_candidates):
        theta = GPParams.default(dim).theta
        theta[1] = rng.normal(*PRIOR["variance"])
        theta[2:-1] = rng.normal(*PRIOR["lengthscale"], size=dim)
        theta[-1] = rng.uniform(math.log(MIN_NOISE), math.log(0.1))
        starts.append(theta)
    starts = [np.clip(theta[1:], bounds[:, 0], bounds[:, 1]) for theta in starts]
    starts.sort(key=loss_value)
    best = None
    for rest0 in starts[:n_starts]:
        res = minimize(loss, rest0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"ftol": ftol})
        if best is None or res.fun < best.fun:
            best = res
    theta = np.concatenate([[0.0], best.x])
    theta[0] = profiled_mean(theta, X, y, sq_diff)
    return GPParams.from_theta(theta)


class GaussianProcess:
    """A GP fitted to data: standardizes the targets, fits the hyperparameters
    (or keeps fixed ones) and predicts with :func:`posterior` and a cached
    Cholesky factor (:func:`condition`).

    Args:
        params: fixed hyperparameters (standardized units); None fits them.
        n_starts: local optimizations (restarts) in the hyperparameter fit.
        n_candidates: random starting points it chooses them from, besides
            the default hyperparameters and ``init`` (see
            :func:`fit_hyperparameters`). Bayesian optimization's warm refits
            use 0: in 220 of 220 of them (Branin and Hartmann-6, 10 runs of
            100 evaluations each) the fit from the last fit won anyway.
        prior: fit with the weak priors (MAP) or without (maximum likelihood).
        standardize: standardize the targets (subtract the mean, divide by the std).
        seed: int or numpy Generator for the restarts.
        noise: a fixed noise variance (standardized units) while the other
            hyperparameters are fitted, such as ``MIN_NOISE`` for a
            deterministic objective; None fits it too.
        ftol: the relative improvement below which a hyperparameter fit
            stops (see :func:`fit_hyperparameters`); the default is scipy's.
            A warm refit needs less: with 1e-6, Bayesian optimization's
            refits at 50 to 100 points took 4 to 9 iterations instead of 8
            to 11, their log posterior at most 0.004 below the converged one.

    Example:
        >>> gp = GaussianProcess(seed=0).fit(X, y)
        >>> mean, std = gp.predict(X_test)
    """

    def __init__(self, params: GPParams | None = None, n_starts: int = 2, prior: bool = True,
                 standardize: bool = True, seed=None, noise: float | None = None,
                 ftol: float = FTOL, n_candidates: int = N_CANDIDATES):
        if params is not None and not isinstance(params, GPParams):
            raise TypeError(f"params must be GPParams or None, got {params!r}")
        if params is not None and noise is not None:
            raise ValueError(f"noise is fitted only: with fixed params, set params.noise "
                             f"instead of noise={noise!r}")
        self.noise = _check_noise(noise)
        self.ftol = _check_ftol(ftol)
        if isinstance(n_starts, bool) or not isinstance(n_starts, numbers.Integral) or n_starts < 1:
            raise ValueError(f"n_starts must be an integer >= 1, got {n_starts!r}")
        self.n_candidates = check_int("n_candidates", n_candidates, low=0)
        self.params, self.fixed = params, params is not None
        self.n_starts, self.prior, self.standardize = n_starts, prior, standardize
        self.rng = np.random.default_rng(seed)

    def fit(self, X, y, init: GPParams | None = None,
            scale: float | None = None) -> GaussianProcess:
        """Fit to inputs ``X`` (n, d) and targets ``y`` (n,); ``init`` warm-starts the fit.

        ``scale`` (with ``standardize``) divides the centred targets instead of
        their standard deviation: the unit of the priors and bounds, and so
        how far from the data's mean the GP believes unexplored points may lie.
        A larger scale than the data's own spread, such as the spread of
        related results, keeps a GP fitted to a few similar values from being
        sure that nothing elsewhere is better.
        """
        X, y = np.atleast_2d(np.asarray(X, dtype=float)), np.asarray(y, dtype=float)
        if len(X) != len(y) or len(y) == 0:
            raise ValueError(f"X and y must hold the same number (> 0) of points, "
                             f"got {len(X)} and {len(y)}")
        if scale is not None:
            check_number("scale", scale, low=0, low_open=True)
        self.y_mean, self.y_scale = 0.0, 1.0
        if self.standardize:
            self.y_mean = float(np.mean(y))
            if scale is not None:
                self.y_scale = float(scale)
            else:
                spread = float(np.std(y))
                self.y_scale = spread if spread > 1e-12 else 1.0
        z = (y - self.y_mean) / self.y_scale
        with one_blas_thread():
            if not self.fixed:
                self.params = fit_hyperparameters(X, z, init or self.params, self.n_starts,
                                                  self.n_candidates, seed=self.rng,
                                                  prior=self.prior, noise=self.noise,
                                                  ftol=self.ftol)
            self._condition(X, z)
        return self

    def _condition(self, X, z):
        self.X, self.z = X, z
        L, alpha = condition(X, z, self.params)
        self.factor = (L, alpha, inverse_factor(L))

    def fantasize(self, X_new, values=None) -> GaussianProcess:
        """A copy that also believes it saw ``values`` (default: its own posterior
        mean) at ``X_new``, with the same hyperparameters: with the mean, the mean
        is unchanged and the uncertainty there shrinks."""
        X_new = np.atleast_2d(np.asarray(X_new, dtype=float))
        other = GaussianProcess(self.params, standardize=self.standardize)
        other.y_mean, other.y_scale = self.y_mean, self.y_scale
        if len(X_new) == 0:   # the same data: the same factor
            other.X, other.z, other.factor = self.X, self.z, self.factor
            return other
        mean = self.predict(X_new)[0] if values is None else np.asarray(values, dtype=float)
        z_new = (mean - self.y_mean) / self.y_scale
        other._condition(np.vstack([self.X, X_new]), np.concatenate([self.z, z_new]))
        return other

    def sample(self, X, n_samples: int = 1, seed=None) -> np.ndarray:
        """Functions drawn from the posterior, evaluated at the rows of ``X``:
        an array of shape (n_samples, m), in the units of y (without noise)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        mean, cov = posterior(self.X, self.z, self.params, X, full_cov=True, factor=self.factor)
        # cov = L L^T via eigenvectors: Cholesky fails where X is dense (the
        # covariance is singular up to rounding), an eigendecomposition does not.
        with one_blas_thread():
            eigenvalues, vectors = np.linalg.eigh(cov)
        L = vectors * np.sqrt(np.maximum(eigenvalues, 0.0))
        z = np.random.default_rng(seed).standard_normal((len(X), n_samples))
        return self.y_mean + self.y_scale * (mean + (L @ z).T)

    def predict(self, X, grad: bool = False):
        """Posterior mean and standard deviation of f at ``X`` (m, d), in the units
        of y; with ``grad``, also their gradients w.r.t. ``X``, each of shape (m, d)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = posterior(self.X, self.z, self.params, X, grad=grad, factor=self.factor)
        mean, var = out[0], out[1]
        std = np.sqrt(np.maximum(var, 1e-12 * self.params.variance))
        if not grad:
            return self.y_mean + self.y_scale * mean, self.y_scale * std
        dmean, dvar = out[2], out[3]
        dmean *= self.y_scale
        dvar *= (0.5 * self.y_scale / std)[:, None]    # d std = d var / (2 std)
        return self.y_mean + self.y_scale * mean, self.y_scale * std, dmean, dvar
