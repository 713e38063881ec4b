"""Comparing methods over seeds: one definition of time to target, with intervals."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .results import Results


def time_to_target(runs: Sequence[Results], target: float, x: str = "time") -> np.ndarray:
    """For each run, the first ``x`` (``"time"``, or ``"n"``: evaluations) at which its
    best full-fidelity result so far reaches ``target`` (``<=`` for mode ``"min"``,
    ``>=`` for ``"max"``); ``inf`` for a run that never does.

    Args:
        runs: the :class:`~d2lhpo.results.Results` of one method, one per seed.
        target: a value of the tuned metric.
        x: ``"time"`` (the backend's clock) or ``"n"`` (finished evaluations).

    Example:
        >>> times = time_to_target([tuner(seed).run(max_time=600) for seed in range(10)], 0.02)
        >>> TimeToTarget.of(times)
    """
    if isinstance(runs, Results) or not all(isinstance(r, Results) for r in runs):
        raise ValueError(f"runs must be a list of Results (one per seed), got {runs!r}")
    if not (isinstance(target, numbers.Real) and not isinstance(target, bool)
            and math.isfinite(target)):
        raise ValueError(f"target must be a finite number, got {target!r}")
    if x not in ("time", "n"):
        raise ValueError(f"x must be 'time' or 'n', got {x!r}")
    out = np.full(len(runs), np.inf)
    for i, results in enumerate(runs):
        curve = results.anytime()
        best = curve["best"].to_numpy(dtype=float)
        hit = best <= target if results.mode == "min" else best >= target
        if hit.any():
            out[i] = float(curve[x].to_numpy(dtype=float)[np.argmax(hit)])
    return out


@dataclass(frozen=True)
class TimeToTarget:
    """What the runs of one method say about reaching a target.

    ``median`` is over all runs, misses counted as ``inf``: it is ``inf``
    ("not reached") when half of the runs or more missed.
    """

    n_runs: int
    n_reached: int
    median: float

    @classmethod
    def of(cls, times) -> "TimeToTarget":
        times = np.asarray(times, dtype=float)
        if times.ndim != 1 or len(times) == 0 or np.isnan(times).any():
            raise ValueError(f"times must be a non-empty list of seconds (inf: not reached), "
                             f"got {times.tolist()!r}")
        return cls(len(times), int(np.isfinite(times).sum()), float(np.median(times)))

    @property
    def fraction(self) -> float:
        return self.n_reached / self.n_runs

    def __str__(self):
        median = "not reached" if math.isinf(self.median) else f"{self.median:.3g}"
        return f"median {median} ({self.n_reached} of {self.n_runs} runs reached it)"


def speedup_interval(baseline, method, confidence: float = 0.95, n_resamples: int = 2000,
                     seed=0) -> tuple[float, float, float]:
    """The speed-up of ``method`` over ``baseline`` (median time of the baseline over
    median time of the method) and a bootstrap confidence interval over seeds
    (``scipy.stats.bootstrap``, percentile method, the two samples resampled
    independently). Misses count as ``inf``: a method whose median is ``inf`` has a
    speed-up of 0. An interval that contains 1 is a tie.

    Returns:
        ``(speed_up, low, high)``.
    """
    a, b = np.asarray(baseline, dtype=float), np.asarray(method, dtype=float)
    if a.ndim != 1 or b.ndim != 1 or len(a) < 2 or len(b) < 2:
        raise ValueError("baseline and method need at least 2 runs each")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")

    def ratio(x, y, axis=-1):
        mx, my = np.median(x, axis=axis), np.median(y, axis=axis)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(np.isinf(my), 0.0, mx / my)
        return np.where(np.isinf(mx) & np.isfinite(my), np.inf, r)

    # scipy also computes the standard error of the resampled ratios, which is
    # undefined (inf - inf) when misses make some of them inf: not needed here
    with np.errstate(invalid="ignore"):
        res = stats.bootstrap((a, b), ratio, n_resamples=n_resamples, paired=False,
                              vectorized=True, confidence_level=confidence,
                              method="percentile", random_state=np.random.default_rng(seed))
    return float(ratio(a, b)), float(res.confidence_interval.low), float(
        res.confidence_interval.high)
