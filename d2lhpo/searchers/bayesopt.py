"""Bayesian optimization: a Gaussian process surrogate and (log) expected improvement."""

from __future__ import annotations

import itertools
import logging
import math
import numbers
import warnings
from collections.abc import Mapping

import numpy as np
from scipy.stats import qmc, skew, yeojohnson

from ..schedulers.rungs import MIN_SHARED, rung_agreement
from ..spaces import config_key
from .acquisition import (log_expected_improvement, log_probability_of_feasibility,
                          lower_confidence_bound)
from .acquisition_optimizer import best_candidate, maximize_acquisition
from .base import Searcher, _check_mode
from .gp import FTOL, N_CANDIDATES, GaussianProcess, one_blas_thread

logger = logging.getLogger(__name__)

# What a model can raise on data it cannot fit (a singular matrix, numbers
# that overflow): such a suggestion falls back to a random configuration.
# Anything else (TypeError, IndexError, ...) is a bug and propagates.
NUMERICAL_ERRORS = (np.linalg.LinAlgError, ValueError, ArithmeticError)
OUTPUT_TRANSFORMS = ("auto", "none", "log", "yeo-johnson")
FANTASIES = ("believer", "liar", "sample")
# The acquisition's polish (see n_local): L-BFGS-B's iterations, and its unit
# along each coordinate, a share of the GP's lengthscale there (at most 1).
POLISH_ITERATIONS = 15
POLISH_STEP = 0.003
REFIT_FTOL = 1e-6   # the GP fit's tolerance from 30 observations on (see refit_growth)


def transform_outputs(y, transform: str = "auto") -> tuple[np.ndarray, str]:
    """``y`` (to minimize) through ``transform``, and the name of the one applied.

    ``"auto"`` transforms values with a long right tail only (sample
    skewness > 2, such as log-losses, where a few overconfident models score
    ten times the rest; a smooth bowl's values have skewness below 2): a log
    if they are all positive, else Yeo-Johnson (its exponent fitted by
    ``scipy.stats.yeojohnson``, maximum likelihood); ``"none"`` otherwise.
    Both transforms are increasing, so the best point stays the best. (A
    log on a bowl's values stretches those near its minimum without bound,
    which made a quadratic's minimum harder to find in our tests: hence the
    threshold.)
    """
    y = np.asarray(y, dtype=float)
    if transform == "auto":
        tailed = len(y) >= 3 and np.ptp(y) > 0 and skew(y) > 2.0
        transform = "none" if not tailed else "log" if y.min() > 0 else "yeo-johnson"
    if transform == "log":
        if y.min() <= 0:
            raise ValueError(f"output_transform 'log' needs positive values, "
                             f"got a minimum of {y.min()!r}")
        return np.log(y), transform
    if transform == "yeo-johnson" and np.ptp(y) > 0:
        return yeojohnson(y)[0], transform
    return y, transform


def rank_agreement(low: dict, high: dict) -> tuple[float, int]:
    """Kendall's tau between the values (key -> (x, values), first value) at two
    levels, over the configurations seen at both, and how many those are
    (the schedulers' :func:`~d2lhpo.schedulers.rungs.rung_agreement`)."""
    tau, _, shared = rung_agreement({k: v[1][0] for k, v in low.items()},
                                    {k: v[1][0] for k, v in high.items()})
    return tau, shared


def _check_int(name, value, minimum):
    """``value`` as an int if it is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_number(name, value, minimum):
    """``value`` as a float if it is a finite real number (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return float(value)


# Knowles' choice of s per number of objectives (11, 15 and 20 weight vectors)
_PAREGO_STEPS = {1: 1, 2: 10, 3: 4, 4: 3}


def parego_weights(k: int, s: int | None = None) -> np.ndarray:
    """The evenly spread weight vectors ParEGO draws from (Knowles 2006): every
    ``w`` with components in ``{0, 1/s, ..., 1}`` that sum to 1, shape
    ``(C(s + k - 1, k - 1), k)``.

    By default ``s`` is Knowles' choice, 10, 4 and 3 for 2, 3 and 4 objectives
    (11, 15 and 20 vectors), and 2 for more.
    """
    k = _check_int("k", k, 1)
    s = _check_int("s", _PAREGO_STEPS.get(k, 2) if s is None else s, 1)
    # stars and bars: k - 1 bars among s + k - 1 places split s into k parts
    rows = []
    for bars in itertools.combinations(range(s + k - 1), k - 1):
        edges = (-1,) + bars + (s + k - 1,)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(k)])
    return np.array(rows, dtype=float) / s


def parego_scalarize(Y, weights, rho: float = 0.05) -> np.ndarray:
    """Augmented Chebyshev scalarization of objectives ``Y`` (n, k), all to minimize.

    Each objective is scaled to [0, 1] over the observed values; then
    ``max_i w_i f_i + rho * sum_i w_i f_i`` (ParEGO, Knowles 2006). Minimizing
    it for some weights ``w`` finds a Pareto-optimal point, also on non-convex
    parts of the front; the small linear term breaks ties.
    """
    Y = np.asarray(Y, dtype=float)
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    F = (Y - lo) / np.where(hi > lo, hi - lo, 1.0)
    return np.max(weights * F, axis=1) + rho * F @ weights


class BayesianOptimization(Searcher):
    """Suggests the configuration that maximizes log expected improvement under a GP.

    The first ``num_initial`` suggestions come from a scrambled Sobol design
    (seeded). Then each suggestion fits a GP (:mod:`.gp`) to the encoded
    configurations and their metric, and maximizes log-EI (or minus the lower
    confidence bound) over the space (:mod:`.acquisition_optimizer`). Pending
    configurations (running on other workers) are added to the GP as if they
    had returned its posterior mean, and the incumbent counts these beliefs
    ("kriging believer"): the expected improvement near a pending point
    vanishes, so that asynchronous workers do not get the same point (other
    fantasies: ``fantasy``). With several workers the model starts once half
    of the initial design is back, the rest pending, rather than filling the
    wait with random configurations. It never suggests a configuration
    twice. If the model fails numerically (a singular matrix, say), that
    suggestion is a random configuration: the searcher warns (once) and
    counts these in ``n_fallbacks``.

    Multi-fidelity schedulers report results at several resources (``result
    ["resource"]``). We keep one data set per resource level and model the
    highest level with at least ``num_initial`` observations (as BOHB does):
    it is the most faithful to the final metric among those with enough data
    to fit a GP. With ``level_agreement`` set, unless its ranking disagrees
    with the level above: where at
    least 5 configurations were seen at both and Kendall's tau between them
    is below ``level_agreement``, a low level's winners are not the next
    level's, and the model moves up (it is fitted on the fewer points of the
    level above). Until a level has enough points, suggestions come from the
    Sobol design (then at random). The GP's unit is the spread of every
    level's results where that is larger than the modelled level's own: a
    high level holds the configurations promoted from below, perhaps all of
    one kind (one learner), and a GP standardized on their small spread is
    sure that nothing else is better there, and never tries anything else
    (BO inside Hyperband on the learner choice of ``benchmarks/
    multifidelity.py --robust``, 120 simulated seconds: in 7 of 10 seeds
    every full-fidelity trial was the linear learner before this rule, in 1
    of 10 after it).

    A flat level (every configuration scores the same, up to noise) ranks
    nothing, so its tau with the level above is near 0 and it is not
    modelled either. Two more guards keep a wrong model from taking over a
    run: a share ``random_fraction`` of the suggestions after the design is
    drawn at random (SMAC interleaves random configurations too; counted in
    ``n_random``), so every region keeps being sampled; and a point closer
    than ``min_distance`` (root mean square over the coordinates of the
    unit-box encoding) to one observed or pending is refused.

    Heavy tails: ``output_transform`` maps the metric before the GP sees it
    (:func:`transform_outputs`; with ``"auto"``, a log when the values are
    positive and skewed), so that a few very bad results do not flatten the
    model everywhere else.

    Constraints: one GP per constraint metric (feasible when ``result[c] <=
    0``); the acquisition is EI over the best *feasible* value times the
    probability that all constraints hold (in logs: a sum), and the probability
    alone until a feasible point is found.

    Several objectives: ``metric`` and ``mode`` may be lists. Each suggestion
    then draws one of ParEGO's evenly spread weight vectors at random
    (:func:`parego_weights`) and minimizes the scalarization
    (:func:`parego_scalarize`) of the objectives, each scaled to [0, 1] over
    the observed values, so that successive suggestions spread along the
    Pareto front. An objective that spans decades (a parameter count, a
    latency) is better scaled in logs: name it in ``log_objectives``, and
    measure the front on the same scale. ``self.metric`` is the first
    objective (a scheduler's ``metric``); all of them are read from each result.

    Args:
        space, metric, mode, seed, points_to_evaluate: see :class:`Searcher`;
            ``metric`` and ``mode`` may be lists for several objectives.
        num_initial: size of the initial design (default: dim + 2, at most 10).
        acquisition: ``"ei"`` (log expected improvement) or ``"lcb"``.
        beta: the exploration weight of the lower confidence bound.
        constraints: names of metrics that must be <= 0.
        n_candidates: Sobol points at which the acquisition is scored (a
            power of 2); None (the default): 256 in one or two dimensions
            (a 16 x 16 grid's worth in 2-D, which the local polish refines),
            1024 from three on. On Branin, 256 instead of 1024 saved 10% of
            a suggestion's time at 50 observations (4.9 instead of 5.4 ms),
            regret after 30 and 60 evaluations tied (``benchmarks/
            bayesopt.py``, 40 seeds).
        n_local: L-BFGS-B polishes of the best candidates (0: none), run
            jointly (:func:`~d2lhpo.searchers.acquisition_optimizer.
            local_maxima`) for ``POLISH_ITERATIONS`` (15) iterations in
            units of ``POLISH_STEP`` (0.003) times the GP's lengthscales (at
            most 1) along each coordinate: the first step, which L-BFGS-B
            takes before it knows any curvature, is then a short probe
            instead of a jump across the box that its line search backs off
            from in 3 to 5 more evaluations, and the units even out a peak's
            curvature along coordinates of unequal lengthscales. 15 such
            iterations took 16 to 21 evaluations, 20 in the box's units 24
            to 29, and the regret after 30 and 60 evaluations of
            ``benchmarks/bayesopt.py``'s Branin and Hartmann-6 tied (100
            seeds, paired: Wilcoxon p >= 0.13).
        n_starts: local optimizations in each GP hyperparameter fit (one from
            30 observations on, see ``_fit``).
        refit_growth: from 30 observations on, the GP's hyperparameters are
            re-optimized only once the observations have grown by this share
            (>= 0) since the last fit; in between, the GP is conditioned on
            all the data with the last fit's hyperparameters (a Cholesky
            factorization, under a millisecond at 100 points), which is the
            exact posterior of a GP with those hyperparameters fixed. 0
            re-optimizes at every suggestion. The default 0.1 (a refit every
            5th suggestion at 50 observations, every 10th at 100) cut the
            fits' share of a suggestion from ~40% to ~15%; the regret after
            30 and 60 evaluations of ``benchmarks/bayesopt.py``'s Branin and
            Hartmann-6 tied that of refitting every time (40 seeds). A
            refit starts from the last fit and stops once an iteration
            improves the log posterior by less than ``REFIT_FTOL`` (1e-6)
            of it: 4 to 9 iterations instead of 8 to 11, 2.4 to 3.3 ms at 50
            observations, 4.6 to 6.7 ms at 100 (with the mean profiled out,
            see :func:`~d2lhpo.searchers.gp.profiled_mean`); the refits are
            now 10% to 14% of a suggestion's time.
        candidates: if given, a finite list of configurations to choose from
            (such as the rows of a table of recorded results): the initial
            design draws from them at random and the acquisition is
            maximized over those not yet suggested.
        log_objectives: names of objectives (positive) that the model sees
            as ``log10`` of their values.
        random_fraction: the share of suggestions after the design drawn at
            random, in [0, 1); 0.1 is SMAC's habit, 0 (the default) keeps
            today's runs (0.1 gained nothing on our benchmarks, see
            ``benchmarks/multifidelity.py --robust``).
        min_distance: the smallest root-mean-square distance (in the unit-box
            encoding) of a suggestion to the points observed or pending, >= 0;
            0 (the default) refuses only exact repeats: a radius of 0.01
            kept BO from closing in on a constraint's edge in our tests.
        level_agreement: the smallest Kendall tau (in [-1, 1]) between a
            level's and the next level's values for the model to stay on the
            lower level (0.3, say); None (the default): always the highest
            level with ``num_initial`` points, the rule of BOHB (0.3 gained
            nothing on ``benchmarks/multifidelity.py --robust`` and made
            chapter 5's MOBSTER slower to its target on the LeNet table).
        output_transform: ``"none"`` (the default), ``"auto"``, ``"log"`` or
            ``"yeo-johnson"`` (single objective only; see
            :func:`transform_outputs`).
        fantasy: what the GP believes it saw at pending points: ``"believer"``
            (the default: its posterior mean, kriging believer), ``"liar"``
            (the worst value observed, constant liar CL-max, capped at the
            posterior mean plus one std there) or ``"sample"`` (a joint draw
            from the posterior). With 4 workers, median regret after 40
            evaluations over 20 seeds (``benchmarks/bayesopt.py
            --async-seeds 20``): the believer best or tied on Branin,
            Hartmann-6 and a 7-D problem (see the benchmark's docstring).

    Example:
        >>> searcher = BayesianOptimization(branin.space, metric="value", seed=0)
        >>> config = searcher.suggest()
        >>> searcher.observe(config, next(branin(config)))
    """

    def __init__(self, space, metric=None, mode=None, seed=None, points_to_evaluate=None,
                 num_initial: int | None = None, acquisition: str = "ei", beta: float = 2.0,
                 constraints=(), n_candidates: int | None = None, n_local: int = 5,
                 n_starts: int = 2, refit_growth: float = 0.1, candidates=None,
                 log_objectives=(),
                 random_fraction: float = 0.0, min_distance: float = 0.0,
                 level_agreement: float | None = None, output_transform: str = "none",
                 fantasy: str = "believer"):
        self._objectives = None
        if isinstance(metric, (list, tuple)):
            modes = list(mode) if isinstance(mode, (list, tuple)) else [mode or "min"] * len(metric)
            if len(modes) != len(metric) or not metric:
                raise ValueError(f"mode must be a list as long as metric {metric!r}, "
                                 f"got {mode!r}")
            self._objectives = [(m, _check_mode(md)) for m, md in zip(metric, modes)]
            metric, mode = metric[0], modes[0]
        elif isinstance(mode, (list, tuple)):
            raise ValueError(f"mode is a list {mode!r} but metric is not: {metric!r}")
        super().__init__(space, metric, mode, seed, points_to_evaluate)
        if acquisition not in ("ei", "lcb"):
            raise ValueError(f"acquisition must be 'ei' or 'lcb', got {acquisition!r}")
        names = [constraints] if isinstance(constraints, str) else constraints
        if isinstance(names, Mapping) or not hasattr(names, "__iter__"):
            raise TypeError(f"constraints must be metric names, got {constraints!r}")
        self.constraints = list(names)
        if not all(isinstance(c, str) for c in self.constraints):
            raise TypeError(f"constraints must be metric names, got {constraints!r}")
        if self.constraints and acquisition != "ei":
            raise ValueError(f"constraints need acquisition='ei', got {acquisition!r}")
        if num_initial is None:
            num_initial = max(1, min(self.space.dim + 2, 10))
        self.num_initial = _check_int("num_initial", num_initial, 1)
        self.acquisition, self.beta = acquisition, _check_number("beta", beta, 0.0)
        if n_candidates is None:
            n_candidates = 256 if self.space.dim <= 2 else 1024
        self.n_candidates = _check_int("n_candidates", n_candidates, 1)
        if self.n_candidates & (self.n_candidates - 1):
            raise ValueError(f"n_candidates must be a power of 2 (Sobol points), "
                             f"got {n_candidates!r}")
        self.n_local = _check_int("n_local", n_local, 0)
        self.n_starts = _check_int("n_starts", n_starts, 1)
        self.refit_growth = _check_number("refit_growth", refit_growth, 0.0)
        names = [log_objectives] if isinstance(log_objectives, str) else log_objectives
        if isinstance(names, Mapping) or not hasattr(names, "__iter__"):
            raise TypeError(f"log_objectives must be objective names, got {log_objectives!r}")
        objective_names = [m for m, _ in self.objectives]
        self.log_objectives = list(names)
        unknown = [n for n in self.log_objectives if n not in objective_names]
        if unknown:
            raise ValueError(f"log_objectives must name objectives {objective_names!r}, "
                             f"got {unknown[0]!r}")
        self._log_columns = [objective_names.index(n) for n in self.log_objectives]
        self._weights = parego_weights(len(objective_names))
        self.n_fallbacks = 0   # suggestions made at random because the model failed
        self.random_fraction = _check_number("random_fraction", random_fraction, 0.0)
        if self.random_fraction >= 1:
            raise ValueError(f"random_fraction must be in [0, 1), got {random_fraction!r}")
        self.min_distance = _check_number("min_distance", min_distance, 0.0)
        if level_agreement is not None:
            level_agreement = _check_number("level_agreement", level_agreement, -1.0)
            if level_agreement > 1:
                raise ValueError(f"level_agreement must be in [-1, 1] or None, "
                                 f"got {level_agreement!r}")
        self.level_agreement = level_agreement
        if output_transform not in OUTPUT_TRANSFORMS:
            raise ValueError(f"output_transform must be one of {OUTPUT_TRANSFORMS}, "
                             f"got {output_transform!r}")
        self.output_transform = output_transform
        if fantasy not in FANTASIES:
            raise ValueError(f"fantasy must be one of {FANTASIES}, got {fantasy!r}")
        self.fantasy = fantasy
        self.n_random = 0      # suggestions drawn at random by random_fraction
        self.last_transform = None   # the output transform of the last model fit
        self._candidates = None
        if candidates is not None:
            if isinstance(candidates, (str, Mapping)) or not hasattr(candidates, "__iter__"):
                raise TypeError(f"candidates must be a list of configurations, "
                                f"got {candidates!r}")
            self._candidates = [self.space.check(c) for c in candidates]
            if not self._candidates:
                raise ValueError("candidates must not be empty")
            self._candidate_X = np.array([self.space.encode(c) for c in self._candidates])
            self._candidate_keys = [config_key(c) for c in self._candidates]
        self._reseeded()
        self._data: dict[float, dict[tuple, tuple]] = {}   # level -> key -> (x, values)
        self._seen: set[tuple] = set()
        self._params = {}   # last fitted GP hyperparameters, per modelled metric (warm starts)
        self._fitted_X = {}   # the inputs of that fit, per modelled metric (see _fit)

    def _reseeded(self):
        """Draw the initial design (and the random order of candidates) from ``self.rng``."""
        size = 2 ** math.ceil(math.log2(self.num_initial))  # Sobol points come in powers of 2
        self._design = (qmc.Sobol(self.space.dim, scramble=True, seed=self.rng).random(size)
                        if self.space.dim else np.zeros((1, 0)))
        self._design_next = 0
        if self._candidates is not None:
            self._candidate_order = list(self.rng.permutation(len(self._candidates)))

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """The (metric, mode) pairs optimized."""
        return self._objectives or [(self.metric, self.mode)]

    def suggest(self):
        config = super().suggest()
        if config is not None:
            self._seen.add(config_key(config))
        return config

    def observe(self, config, result):
        names = [m for m, _ in self.objectives] + self.constraints
        if None in names:
            raise ValueError("metric is not set: pass metric= or use the searcher in a scheduler")
        missing = [name for name in names if name not in result]
        if missing:
            raise ValueError(f"result {dict(result)!r} has no metric {missing[0]!r}")
        values = np.array([float(result[name]) for name in names])
        key = config_key(config)
        self._seen.add(key)
        if not np.all(np.isfinite(values)):
            logger.warning("ignoring a result with non-finite metrics: %s", dict(result))
            return
        for j in self._log_columns:
            if values[j] <= 0:
                raise ValueError(f"objective {names[j]!r} is in log_objectives and must be "
                                 f"positive, got {result[names[j]]!r}")
        level = result.get("resource", 0)
        self._data.setdefault(level, {})[key] = (self.space.encode(config), values)

    def _excluded(self) -> set:
        return self._seen | set(self.pending)

    def _random_config(self, max_retries: int = 100):
        excluded = self._excluded()
        if self._candidates is not None:   # the next of a random order
            while self._candidate_order:
                i = self._candidate_order.pop(0)
                if self._candidate_keys[i] not in excluded:
                    return self._candidates[i]
            return None
        for _ in range(max_retries):
            config = self.space.sample(self.rng)
            if config_key(config) not in excluded:
                return config
        return None

    @property
    def model_level(self):
        """The resource level the model is fitted on: the highest one with at least
        ``num_initial`` observations, or a level above it whose ranking that one's
        does not predict (see ``level_agreement``); None while there is none."""
        levels = [lv for lv, data in self._data.items() if len(data) >= self.num_initial]
        if not levels:
            return None
        level = max(levels)
        if self.level_agreement is None:
            return level
        for up in sorted(lv for lv in self._data if lv > level):
            tau, shared = rank_agreement(self._data[level], self._data[up])
            if shared < MIN_SHARED or tau >= self.level_agreement:
                break
            level = up   # also for tau nan: a constant level ranks nothing
        return level

    def _suggest(self):
        level = self.model_level
        if level is None:
            level = self._design_level()
        if level is None or self.space.dim == 0:
            return self._initial_config()
        if self.random_fraction and self.rng.random() < self.random_fraction:
            self.n_random += 1
            return self._random_config()
        try:
            with one_blas_thread():
                config = self._model_suggest(level)
        except NUMERICAL_ERRORS as err:  # a failed fit must not end a tuning run
            self._fall_back(err)
            config = None
        return config if config is not None else self._random_config()

    def _design_level(self):
        """The level to model while part of the initial design is still being
        evaluated: one with at least half of ``num_initial`` observations and
        the rest pending (modelled as fantasies), else None.

        Waiting for all of the design made 4 workers add 3 random
        configurations after it (of 40 evaluations on Hartmann-6); modelling
        the first half and the pending rest instead lowered the median regret
        after 40 from 0.026 to 0.007 (20 seeds). One worker has nothing
        pending: its runs do not change.
        """
        if not self.pending:
            return None
        levels = []
        for level, data in self._data.items():
            n_pending = sum(key not in data for key in self.pending)
            if len(data) >= max(2, self.num_initial // 2) and (
                    len(data) + n_pending >= self.num_initial):
                levels.append(level)
        return max(levels, default=None)

    def _fall_back(self, err):
        self.n_fallbacks += 1
        logger.warning("Bayesian optimization failed (%s: %s); suggesting a random "
                       "configuration instead", type(err).__name__, err)
        if self.n_fallbacks == 1:
            warnings.warn(f"Bayesian optimization failed ({type(err).__name__}: {err}); "
                          f"this suggestion, and any other whose model fails, is a random "
                          f"configuration (counted in the searcher's n_fallbacks)",
                          RuntimeWarning, stacklevel=2)

    def _initial_config(self):
        if self._candidates is not None:
            return self._random_config()
        excluded = self._excluded()
        while self._design_next < len(self._design):
            config = self.space.decode(self._design[self._design_next])
            self._design_next += 1
            if config_key(config) not in excluded:
                return config
        return self._random_config()

    def _targets(self, values) -> np.ndarray:
        """The objectives' columns of result rows ``values``, to minimize (logs taken
        where asked)."""
        Y = values[:, :len(self.objectives)].copy()
        Y[:, self._log_columns] = np.log10(Y[:, self._log_columns])
        return Y * [1.0 if mode == "min" else -1.0 for _, mode in self.objectives]

    def _transformed(self, level, y):
        """The modelled level's targets ``y`` through the output transform, and the
        spread the GP standardizes them by: that of every level's results where
        it is larger (None: their own).

        The configurations at a high level were promoted from the ones below,
        so they may all come from one region (one learner, say) and differ
        little; a GP standardized on their spread alone is sure that the rest
        of the space is no better, and stops exploring it. Every level's
        results, the lowest ones spread over the whole space, tell how much
        the metric varies. The transform is fitted on all of them too. (One
        level, as in single-fidelity runs: the level's own values.)
        """
        others = [v for lv, data in self._data.items() if lv != level
                  for _, v in data.values()]
        if not others:
            y, self.last_transform = transform_outputs(y, self.output_transform)
            return y, None
        pooled = np.concatenate([y, self._targets(np.array(others))[:, 0]])
        pooled, self.last_transform = transform_outputs(pooled, self.output_transform)
        y = pooled[:len(y)]
        spread = float(np.std(pooled))
        return y, (spread if spread > np.std(y) else None)

    def _fit(self, name, X, y, X_pending, scale=None):
        # Restarts pay off while observations are few and the likelihood has
        # several modes; from 30 on, the best screened start (nearly always the
        # last fit) was as good in our runs, at half the cost, and the fit
        # screens only the last fit and the default (8 random starts besides
        # changed no refit's result in 220, and cost a third of the refit).
        # From 30 on, one more point moves the likelihood's optimum little: the last
        # hyperparameters are kept until the data have grown by refit_growth,
        # as long as the data are the old ones plus new points.
        old_X, params = self._fitted_X.get(name), self._params.get(name)
        if (params is not None and len(X) >= 30 and len(old_X) <= len(X)
                < (1 + self.refit_growth) * len(old_X)
                and np.array_equal(old_X, X[:len(old_X)])):
            gp = GaussianProcess(params).fit(X, y, scale=scale)
        else:
            warm = len(X) >= 30   # one start, nearly always the last fit: a looser tolerance
            gp = GaussianProcess(n_starts=1 if warm else self.n_starts, seed=self.rng,
                                 ftol=REFIT_FTOL if warm else FTOL,
                                 n_candidates=0 if warm else N_CANDIDATES)
            gp.fit(X, y, init=params, scale=scale)
            self._params[name], self._fitted_X[name] = gp.params, X
        if name != "objective" or not len(X_pending) or self.fantasy == "believer":
            return gp.fantasize(X_pending)
        if self.fantasy == "liar":
            # The worst value seen, but at most one posterior std above the
            # mean: a lie many stds away, next to an observed point, can only
            # be fitted by bending the mean everywhere (by 4.5 stds of y, in
            # the median, 0.15 away from every pending point of 4-worker runs
            # on Hartmann-6, which ended at a regret of 0.43; capped: 0.07).
            mean, std = gp.predict(X_pending)
            return gp.fantasize(X_pending, np.minimum(np.max(y), mean + std))
        return gp.fantasize(X_pending, gp.sample(X_pending, seed=self.rng)[0])

    def _model_suggest(self, level):
        data = self._data[level]
        X = np.array([x for x, _ in data.values()])
        values = np.array([v for _, v in data.values()])
        k = len(self.objectives)
        Y = self._targets(values)
        scale = None
        if k == 1:
            y, scale = self._transformed(level, Y[:, 0])
        else:
            y = parego_scalarize(Y, self._weights[self.rng.integers(len(self._weights))])
        pending = [self.space.encode(c) for key, c in self.pending.items() if key not in data]
        X_pending = np.array(pending).reshape(-1, self.space.dim)
        gp = self._fit("objective", X, y, X_pending, scale)
        constraint_gps = [self._fit(c, X, values[:, k + j], X_pending)
                          for j, c in enumerate(self.constraints)]
        feasible = np.all(values[:, k:] <= 0, axis=1)
        # The score is a sum of terms acquisition(model's mean, std); with
        # constraints but no feasible point yet, only the feasibility terms.
        terms = [(c_gp, log_probability_of_feasibility) for c_gp in constraint_gps]
        if feasible.any():
            terms.append((gp, self._objective_acquisition(
                self._incumbent(y[feasible].min(), gp, constraint_gps, X_pending))))
        terms += self._extra_terms(level)

        def score(Z, grad=False):
            if not grad:
                return sum(acq(*model.predict(Z)) for model, acq in terms)
            total = total_grad = None
            for model, acq in terms:
                mean, std, dmean, dstd = model.predict(Z, grad=True)
                value, d_mean, d_std = acq(mean, std, grad=True)
                dmean *= d_mean[:, None]
                dstd *= d_std[:, None]
                dmean += dstd
                if total is None:   # one term in most runs: no copies
                    total, total_grad = value, dmean
                else:
                    total = total + value
                    total_grad += dmean
            return total, total_grad

        incumbent = X[feasible][[np.argmin(y[feasible])]] if feasible.any() else None
        if self._candidates is not None:
            return best_candidate(score, self._candidate_X, self._candidates,
                                  self._candidate_keys, self._excluded())
        avoid = None
        if self.min_distance > 0:  # every point observed (at any level) or pending
            avoid = np.array([x for lv in self._data.values() for x, _ in lv.values()]
                             + pending)
        step = POLISH_STEP * np.minimum(gp.params.lengthscales, 1.0)
        return maximize_acquisition(score, self.space, self.rng, self._excluded(), incumbent,
                                    self.n_candidates, self.n_local, avoid=avoid,
                                    min_distance=self.min_distance,
                                    maxiter=POLISH_ITERATIONS, step=step)

    def _extra_terms(self, level) -> list:
        """More (model, acquisition) terms of the score, for subclasses (the cost
        model of :class:`~d2lhpo.searchers.cost_aware.CostAwareBO`)."""
        return []

    @staticmethod
    def _incumbent(best, gp, constraint_gps, X_pending):
        """The best value, counting the fantasies at the pending points (those
        the constraint models expect to be feasible) as observations.

        Without them, a point next to a pending one whose mean is below
        ``best`` would keep an expected improvement of ``best - mean`` even
        with no uncertainty left there, and two workers would get nearly the
        same configuration (the "kriging believer" counts its beliefs).
        """
        if not len(X_pending):
            return best
        ok = np.ones(len(X_pending), dtype=bool)
        for c_gp in constraint_gps:
            ok &= c_gp.predict(X_pending)[0] <= 0
        if not ok.any():
            return best
        return min(best, float(np.min(gp.predict(X_pending[ok])[0])))

    def _objective_acquisition(self, best):
        """acquisition(mean, std, grad=False) of the objective, to maximize."""
        if self.acquisition == "ei":
            return lambda mean, std, grad=False: log_expected_improvement(mean, std, best, grad)

        def negative_lcb(mean, std, grad=False):
            out = lower_confidence_bound(mean, std, self.beta, grad)
            return tuple(-v for v in out) if grad else -out
        return negative_lcb
