"""Time to target and speed-up intervals over seeds (d2lhpo/compare.py)."""

import math

import numpy as np
import pytest
from scipy import stats

import d2lhpo as hpo
from d2lhpo.compare import TimeToTarget, speedup_interval, time_to_target


def run(values, mode="min", step=10.0):
    """A run whose full-fidelity results ``values`` come at times step, 2 step, ..."""
    rows = [{"trial_id": i, "status": "completed", "resource": 1, "time": step * (i + 1),
             "duration": step, "worker": 0, "config_x": float(i), "error": v}
            for i, v in enumerate(values)]
    return hpo.Results("error", mode, 1, rows=rows)


def test_time_to_target_is_the_first_time_the_best_so_far_reaches_it():
    runs = [run([0.5, 0.3, 0.1]), run([0.05, 0.9]), run([0.5, 0.4])]
    assert time_to_target(runs, 0.3).tolist() == [20.0, 10.0, math.inf]
    assert time_to_target(runs, 0.3, x="n").tolist() == [2.0, 1.0, math.inf]
    assert time_to_target([run([0.1, 0.7], mode="max")], 0.6).tolist() == [20.0]


def test_the_median_counts_misses_as_never_reached():
    # 7 of 10 reached: the median is a number (np.median of a list with NaN was nan)
    times = [1, 2, 3, 4, 5, 6, 7, math.inf, math.inf, math.inf]
    summary = TimeToTarget.of(times)
    assert (summary.n_reached, summary.fraction, summary.median) == (7, 0.7, 5.5)
    assert "7 of 10" in str(summary)
    half = TimeToTarget.of([1, 2, math.inf, math.inf])
    assert math.isinf(half.median) and "not reached" in str(half)


def test_speedup_interval_is_scipys_bootstrap_of_the_ratio_of_medians():
    rng = np.random.default_rng(0)
    slow, fast = rng.lognormal(3, 0.3, 20), rng.lognormal(2, 0.3, 20)
    ratio, low, high = speedup_interval(slow, fast, seed=1)
    assert ratio == pytest.approx(np.median(slow) / np.median(fast))
    ref = stats.bootstrap((slow, fast), lambda a, b, axis=-1: np.median(a, axis=axis)
                          / np.median(b, axis=axis), paired=False, vectorized=True,
                          n_resamples=2000, method="percentile",
                          random_state=np.random.default_rng(1)).confidence_interval
    assert (low, high) == pytest.approx((ref.low, ref.high))
    assert 1 < low < ratio < high  # e**1 apart with this spread: not a tie


def test_overlapping_samples_give_an_interval_containing_one():
    rng = np.random.default_rng(2)
    a, b = rng.lognormal(3, 0.5, 10), rng.lognormal(3, 0.5, 10)
    _, low, high = speedup_interval(a, b)
    assert low < 1 < high


@pytest.mark.parametrize("args, match", [
    (("x", 0.1), "runs must be a list"), (([run([0.1])], float("nan")), "target"),
    (([run([0.1])], 0.1, "epochs"), "x must be")])
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        time_to_target(*args)


def test_bad_summaries_and_intervals():
    with pytest.raises(ValueError, match="times"):
        TimeToTarget.of([])
    with pytest.raises(ValueError, match="at least 2"):
        speedup_interval([1.0], [2.0, 3.0])


def test_an_interval_with_misses_warns_about_nothing():
    # inf (not reached) in both samples: some resampled ratios are inf, and scipy's
    # standard error of them is inf - inf; the percentile interval is still defined
    import warnings
    baseline = [10.0, 12.0, np.inf, 11.0, np.inf, 13.0]
    method = [5.0, np.inf, 6.0, 4.0, 7.0, np.inf]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ratio, low, high = hpo.speedup_interval(baseline, method, seed=0)
    assert low <= ratio <= high
