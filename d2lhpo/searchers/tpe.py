"""The tree-structured Parzen estimator (TPE): sample where good configurations are dense.

Split the observations at a quantile into good and bad ones, fit a Parzen
(kernel) density to each, l(x) to the good and g(x) to the bad, draw
candidates from l and suggest the one that maximizes l(x) / g(x) (Bergstra et
al. 2011). The defaults are Optuna's (``TPESampler`` of Optuna 4-5, described
in Watanabe 2023, "Tree-structured Parzen estimator: understanding its
algorithm components"): gamma, the kernel weights, the bandwidth rule with its
"magic clip", a prior kernel, and one joint ("multivariate") mixture.

Each hyperparameter gets one kernel per observation (plus the prior's):
a truncated normal (scipy's ``truncnorm``) on its range, in log scale where
the domain is on one; for integers and finite ranges the same normal's mass
on the cell [v - 1/2, v + 1/2] around each value; for a categorical the
Aitchison-Aitken-style kernel Optuna uses (most weight on the observed choice,
the prior's weight spread over all choices).

Example:
    >>> l = parzen_estimator(np.array([[0.1], [0.3]]), [Dim("float", 0.0, 1.0)])
    >>> bool(np.isclose(l.weights.sum(), 1.0))
    True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp
from scipy.stats import truncnorm

from ..checks import check_int, check_number, short_repr
from ..spaces import Categorical, FiniteRange, Float, Integer, config_key
from .base import Searcher

logger = logging.getLogger(__name__)

EPS = 1e-12


def default_gamma(n: int) -> int:
    """How many of ``n`` observations are good: Optuna's ``min(ceil(0.1 n), 25)``."""
    return min(math.ceil(0.1 * n), 25)


def default_weights(n: int) -> np.ndarray:
    """Kernel weights of ``n`` observations in the order they came (Optuna's rule):
    equal up to 25, then the oldest ``n - 25`` ramp down linearly to ``1 / n``."""
    if n < 25:
        return np.ones(n)
    return np.concatenate([np.linspace(1.0 / n, 1.0, num=n - 25), np.ones(25)])


def n_good(n: int, gamma) -> int:
    """The size of the good set among ``n`` observations for ``gamma`` (a function
    of ``n`` returning a count, or a fraction in (0, 1]: ``ceil(gamma * n)``)."""
    count = gamma(n) if callable(gamma) else math.ceil(gamma * n)
    return int(min(max(count, 0), n))


def split_good_bad(values, gamma=default_gamma) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the good and the bad observations (``values`` to minimize).

    The ``n_good(len(values), gamma)`` smallest values are good (ties broken by
    order, as Optuna's stable sort does), the rest bad; each set is returned in
    the original order, so that :func:`default_weights` sees the oldest first.
    """
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="stable")
    k = n_good(len(values), gamma)
    return np.sort(order[:k]), np.sort(order[k:])


def bandwidths(mus, low: float, high: float, consider_endpoints: bool = False,
               magic_clip: bool = True) -> np.ndarray:
    """The kernel widths at centres ``mus`` on [low, high] (Optuna's rule).

    Each width is the larger distance to a neighbouring centre (the bounds
    count as neighbours; without ``consider_endpoints`` the outermost centres
    use their inner neighbour only), clipped to at most ``high - low`` and at
    least ``(high - low) / min(100, n + 2)`` (the "magic clip", n centres plus
    the prior's), so that no kernel collapses on a cluster of observations.
    """
    mus = np.asarray(mus, dtype=float)
    order = np.argsort(mus)
    s = np.concatenate([[low], mus[order], [high]])
    sorted_sigmas = np.maximum(s[1:-1] - s[:-2], s[2:] - s[1:-1])
    if not consider_endpoints and len(s) >= 4:
        sorted_sigmas[0] = s[2] - s[1]
        sorted_sigmas[-1] = s[-2] - s[-3]
    sigmas = np.empty_like(sorted_sigmas)
    sigmas[order] = sorted_sigmas
    minsigma = (high - low) / min(100.0, len(mus) + 2.0) if magic_clip else EPS
    return np.clip(sigmas, minsigma, high - low)


def categorical_kernels(observed, n_choices: int, prior_weight: float = 1.0) -> np.ndarray:
    """One row of choice probabilities per observed choice index, plus the prior's
    (uniform): each row puts ``prior_weight / (n + 1)`` on every choice and 1 more on
    the observed one, then is normalized (Optuna's categorical kernel)."""
    observed = np.asarray(observed, dtype=int)
    w = np.full((len(observed) + 1, n_choices), prior_weight / (len(observed) + 1))
    w[np.arange(len(observed)), observed] += 1.0
    return w / w.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Dim:
    """One modelled hyperparameter, in the estimator's internal scale.

    ``kind`` is ``"float"`` (a value in [low, high], already in log scale for a
    log domain), ``"int"`` (a whole number v in [low, high] owning the cell
    [v - 1/2, v + 1/2], the cell and the kernel in log scale if ``log``), or
    ``"categorical"`` (a choice index below ``n_choices``).
    """

    kind: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    n_choices: int = 0

    @property
    def edges(self) -> tuple[float, float]:
        """The kernels' support in the kernel scale."""
        if self.kind == "int":
            lo, hi = self.low - 0.5, self.high + 0.5
            return (math.log(lo), math.log(hi)) if self.log else (lo, hi)
        return self.low, self.high

    def centre(self, values):
        """Kernel centres for internal values (the log of an integer on a log scale)."""
        values = np.asarray(values, dtype=float)
        return np.log(values) if self.kind == "int" and self.log else values


@dataclass
class ParzenEstimator:
    """A mixture of product kernels: ``weights`` (K,), and per dimension either
    ``(mus, sigmas)`` of truncated normals or a (K, n_choices) table of choice
    probabilities. Component K - 1 is the prior."""

    dims: list
    weights: np.ndarray
    kernels: list
    multivariate: bool = True

    def log_kernels(self, X) -> list[np.ndarray]:
        """Per dimension, the (m, K) log densities (log masses for discrete
        dimensions) of each component at the m rows of ``X`` (internal scale)."""
        X = np.asarray(X, dtype=float)
        out = []
        for j, (dim, kernel) in enumerate(zip(self.dims, self.kernels)):
            x = X[:, j]
            if dim.kind == "categorical":
                with np.errstate(divide="ignore"):
                    out.append(np.log(kernel[:, x.astype(int)].T))
                continue
            mus, sigmas = kernel
            lo, hi = dim.edges
            a, b = (lo - mus) / sigmas, (hi - mus) / sigmas
            if dim.kind == "float":
                out.append(truncnorm.logpdf(x[:, None], a, b, loc=mus, scale=sigmas))
                continue
            f = np.log if dim.log else (lambda v: v)
            left, right = f(x - 0.5)[:, None], f(x + 0.5)[:, None]
            # The mass of a cell: a difference of upper tails right of the centre,
            # of lower ones left of it (a difference of two numbers near 1 loses it).
            upper = left > mus
            mass = np.where(upper,
                            truncnorm.sf(left, a, b, loc=mus, scale=sigmas)
                            - truncnorm.sf(right, a, b, loc=mus, scale=sigmas),
                            truncnorm.cdf(right, a, b, loc=mus, scale=sigmas)
                            - truncnorm.cdf(left, a, b, loc=mus, scale=sigmas))
            with np.errstate(divide="ignore"):
                out.append(np.log(np.maximum(mass, 0.0)))
        return out

    def log_pdf(self, X) -> np.ndarray:
        """The log density of the mixture at the m rows of ``X`` (internal scale)."""
        logw = np.log(self.weights)
        terms = self.log_kernels(X)
        if not terms:
            return np.zeros(len(X))
        if self.multivariate:
            return logsumexp(sum(terms) + logw, axis=1)
        return sum(logsumexp(t + logw, axis=1) for t in terms)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws (internal scale), as an array (size, dims)."""
        K = len(self.weights)
        X = np.empty((size, len(self.dims)))
        active = rng.choice(K, p=self.weights, size=size)
        for j, (dim, kernel) in enumerate(zip(self.dims, self.kernels)):
            if not self.multivariate:   # each dimension draws its own component
                active = rng.choice(K, p=self.weights, size=size)
            if dim.kind == "categorical":
                cum = np.cumsum(kernel[active], axis=1)
                cum[:, -1] = 1.0
                X[:, j] = np.sum(cum < rng.random(size)[:, None], axis=1)
                continue
            mus, sigmas = kernel[0][active], kernel[1][active]
            lo, hi = dim.edges
            x = truncnorm.rvs((lo - mus) / sigmas, (hi - mus) / sigmas, loc=mus, scale=sigmas,
                              random_state=rng)
            if dim.kind == "int":
                x = np.clip(np.round(np.exp(x) if dim.log else x), dim.low, dim.high)
            X[:, j] = x
        return X


def parzen_estimator(X, dims: Sequence[Dim], weights=None, prior_weight: float = 1.0,
                     consider_endpoints: bool = False, magic_clip: bool = True,
                     multivariate: bool = True) -> ParzenEstimator:
    """The Parzen estimator of observations ``X`` (n, dims), internal scale.

    Args:
        X: one row per observation, one column per :class:`Dim`.
        dims: the dimensions.
        weights: the observations' kernel weights (default :func:`default_weights`).
        prior_weight: the weight of the prior kernel (centred, as wide as the range;
            uniform over choices), relative to an observation's.
        consider_endpoints, magic_clip: see :func:`bandwidths`.
        multivariate: one joint mixture (True) or one mixture per dimension.
    """
    X = np.asarray(X, dtype=float).reshape(-1, len(dims))
    n = len(X)
    w = default_weights(n) if weights is None else np.asarray(weights, dtype=float)
    w = np.append(w, prior_weight) if n else np.ones(1)
    kernels = []
    for j, dim in enumerate(dims):
        if dim.kind == "categorical":
            kernels.append(categorical_kernels(X[:, j], dim.n_choices, prior_weight) if n
                           else np.full((1, dim.n_choices), 1.0 / dim.n_choices))
            continue
        lo, hi = dim.edges
        mus = dim.centre(X[:, j])
        sigmas = bandwidths(mus, lo, hi, consider_endpoints, magic_clip)
        kernels.append((np.append(mus, 0.5 * (lo + hi)), np.append(sigmas, hi - lo)))
    return ParzenEstimator(list(dims), w / w.sum(), kernels, multivariate)


def tpe_acquisition(good: ParzenEstimator, bad: ParzenEstimator, X) -> np.ndarray:
    """``log l(x) - log g(x)`` at the rows of ``X``: to maximize."""
    return good.log_pdf(X) - bad.log_pdf(X)


def _dim_of(domain) -> Dim:
    """The :class:`Dim` of a domain of :mod:`d2lhpo.spaces`."""
    if isinstance(domain, Float):
        f = math.log if domain.log else float
        return Dim("float", f(domain.lower), f(domain.upper))
    if isinstance(domain, Integer):
        return Dim("int", domain.lower, domain.upper, domain.log)
    if isinstance(domain, FiniteRange):   # an index, evenly spaced in the range's scale
        return Dim("int", 0, domain.size - 1)
    if isinstance(domain, Categorical):
        return Dim("categorical", n_choices=len(domain.categories))
    raise TypeError(f"TPE cannot model the domain {domain!r}")


class TPE(Searcher):
    """Suggests the candidate, drawn from l(x), that maximizes l(x) / g(x).

    The first ``n_startup`` suggestions are random. Then each suggestion splits
    the observations into the ``gamma`` best (good) and the rest (bad), fits the
    Parzen estimators l and g (:func:`parzen_estimator`, one kernel per
    observation plus a prior), draws ``n_ei_candidates`` configurations from l
    and returns the one with the largest l/g that has not been suggested yet.
    Pending configurations count as bad observations (Optuna's "constant
    liar"): they raise g around themselves, so that parallel workers are sent
    elsewhere, and cost nothing to model (no fantasy values needed).
    Multi-fidelity schedulers report at several resources: one data set per
    resource level, and the model uses the highest level with at least
    ``n_startup`` observations (as BOHB does).

    Args:
        space, metric, mode, seed, points_to_evaluate: see :class:`Searcher`.
        n_startup: random configurations before the model is used (>= 1).
        n_ei_candidates: candidates drawn from l per suggestion (>= 1).
        gamma: the size of the good set: a function of the number of
            observations returning a count (default :func:`default_gamma`), or
            a fraction in (0, 1].
        prior_weight: the prior kernel's weight relative to an observation's (> 0).
        multivariate: one joint mixture over all hyperparameters (Optuna's
            default) or an independent one per hyperparameter (the 2011 TPE).
        constant_liar: count pending configurations as bad observations.
        random_fraction: the share of suggestions after the startup drawn at
            random, in [0, 1): BOHB draws 1/3 at random (Falkner et al. 2018),
            which keeps every region, and every value of a categorical, in
            the data of the high levels; 0 (the default) is Optuna's TPE.

    Example:
        >>> searcher = TPE(branin.space, metric="value", seed=0)
        >>> config = searcher.suggest()
        >>> searcher.observe(config, next(branin(config)))
    """

    def __init__(self, space, metric=None, mode=None, seed=None, points_to_evaluate=None,
                 n_startup: int = 10, n_ei_candidates: int = 24,
                 gamma: Callable[[int], int] | float | None = None, prior_weight: float = 1.0,
                 multivariate: bool = True, constant_liar: bool = True,
                 random_fraction: float = 0.0):
        super().__init__(space, metric, mode, seed, points_to_evaluate)
        self.n_startup = check_int("n_startup", n_startup, low=1)
        self.n_ei_candidates = check_int("n_ei_candidates", n_ei_candidates, low=1)
        if gamma is None:
            gamma = default_gamma
        elif not callable(gamma):
            gamma = check_number("gamma", gamma, low=0, low_open=True, high=1)
        self.gamma = gamma
        self.prior_weight = float(check_number("prior_weight", prior_weight, low=0,
                                               low_open=True))
        for name, flag in (("multivariate", multivariate), ("constant_liar", constant_liar)):
            if not isinstance(flag, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {short_repr(flag)}")
        self.multivariate, self.constant_liar = bool(multivariate), bool(constant_liar)
        self.random_fraction = float(check_number("random_fraction", random_fraction, low=0))
        if self.random_fraction >= 1:
            raise ValueError(f"random_fraction must be in [0, 1), got {random_fraction!r}")
        self.n_random = 0   # suggestions drawn at random by random_fraction
        self.dims = [_dim_of(d) for d in self.space.domains.values()]
        self._data: dict[float, dict[frozenset, tuple]] = {}  # level -> key -> (x, value)
        self._seen: set[frozenset] = set()

    # -- internal representation: one number per hyperparameter -------------
    def to_internal(self, config) -> np.ndarray:
        """``config`` as one number per modelled hyperparameter (see :class:`Dim`)."""
        row = []
        for (name, domain), dim in zip(self.space.domains.items(), self.dims):
            value = config[name]
            if isinstance(domain, FiniteRange):
                row.append(float(domain._index(value)))
            elif isinstance(domain, Categorical):
                row.append(float(domain._index(value)))
            elif dim.kind == "float" and domain.log:
                row.append(math.log(value))
            else:
                row.append(float(value))
        return np.array(row)

    def from_internal(self, x) -> dict:
        """The configuration of an internal row (values clipped to their domains)."""
        config = {}
        for (name, domain), dim, v in zip(self.space.domains.items(), self.dims, x):
            if isinstance(domain, FiniteRange):
                config[name] = domain._value(int(v))
            elif isinstance(domain, Categorical):
                config[name] = domain.categories[int(v)]
            elif isinstance(domain, Integer):
                config[name] = int(v)
            else:
                u = math.exp(v) if domain.log else v
                config[name] = float(min(max(u, domain.lower), domain.upper))
        config.update(self.space.constants)
        return {name: config[name] for name in self.space}

    # -- ask/tell -------------------------------------------------------------
    def suggest(self):
        config = super().suggest()
        if config is not None:
            self._seen.add(config_key(config))
        return config

    def observe(self, config, result):
        if self.metric is None:
            raise ValueError("metric is not set: pass metric= or use the searcher in a scheduler")
        if self.metric not in result:
            raise ValueError(f"result {dict(result)!r} has no metric {self.metric!r}")
        config = self.space.check(config)   # a clear error for a value outside the space
        key = config_key(config)
        self._seen.add(key)
        value = float(result[self.metric])
        if not math.isfinite(value):
            logger.warning("ignoring a result with a non-finite metric: %s", dict(result))
            return
        sign = 1.0 if self.mode != "max" else -1.0
        level = result.get("resource", 0)
        self._data.setdefault(level, {})[key] = (self.to_internal(config), sign * value)

    @property
    def model_level(self):
        """The resource level modelled: the highest with at least ``n_startup``
        observations (None while there is none)."""
        levels = [lv for lv, data in self._data.items() if len(data) >= self.n_startup]
        return max(levels) if levels else None

    def _excluded(self) -> set:
        return self._seen | set(self.pending)

    def _random_config(self, max_retries: int = 100):
        excluded = self._excluded()
        for _ in range(max_retries):
            config = self.space.sample(self.rng)
            if config_key(config) not in excluded:
                return config
        return None

    def estimators(self, level=None) -> tuple[ParzenEstimator, ParzenEstimator]:
        """l and g fitted to the data at ``level`` (default: :attr:`model_level`),
        pending configurations counted as bad if ``constant_liar``."""
        data = self._data[self.model_level if level is None else level]
        X = np.array([x for x, _ in data.values()]).reshape(-1, len(self.dims))
        y = np.array([v for _, v in data.values()])
        good, bad = split_good_bad(y, self.gamma)
        X_bad = X[bad]
        if self.constant_liar:
            pending = [self.to_internal(c) for k, c in self.pending.items() if k not in data]
            if pending:
                X_bad = np.vstack([X_bad, pending])
        fit = dict(prior_weight=self.prior_weight, multivariate=self.multivariate)
        return (parzen_estimator(X[good], self.dims, **fit),
                parzen_estimator(X_bad, self.dims, **fit))

    def _suggest(self):
        if self.model_level is None or not self.dims:
            return self._random_config()
        if self.random_fraction and self.rng.random() < self.random_fraction:
            self.n_random += 1
            return self._random_config()
        l, g = self.estimators()
        excluded = self._excluded()
        for _ in range(10):   # in a small discrete space, the best candidates may repeat
            X = l.sample(self.rng, self.n_ei_candidates)
            scores = tpe_acquisition(l, g, X)
            for i in np.argsort(-scores, kind="stable"):
                config = self.from_internal(X[i])
                if config_key(config) not in excluded:
                    return config
        return self._random_config()

