"""The arithmetic of multi-fidelity scheduling: rung levels, brackets, promotion.

Pure functions shared by successive halving, Hyperband and ASHA. A *rung* is a
resource level (say, an epoch) at which trials are compared; a *bracket* is a
plan ``[(n_0, r_0), (n_1, r_1), ...]``: run ``n_0`` configurations to ``r_0``,
keep the best ``n_1`` of them and run those to ``r_1``, and so on.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy.stats import kendalltau


MAX_RUNGS = 64  # more would put eta**64 configurations in one bracket
MIN_SHARED = 5  # trials seen at a rung and the next before their rankings are compared


def check_resource(name, value, low=0.0) -> None:
    """``value`` must be a finite number > ``low``; the error names ``name``."""
    if not (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value) and value > low):
        raise ValueError(f"{name} must be a number > {low:g}, got {value!r}")


def check_eta(eta) -> None:
    """``eta`` (the reduction factor) must be a number >= 2."""
    if not (isinstance(eta, numbers.Real) and not isinstance(eta, bool)
            and math.isfinite(eta) and eta >= 2):
        raise ValueError(f"eta must be a number >= 2, got {eta!r}")


def check_pvalue(name, value) -> None:
    """``value`` must be None or a significance level in (0, 1); the error names ``name``."""
    if value is not None and not (isinstance(value, numbers.Real)
                                  and not isinstance(value, bool) and 0 < value < 1):
        raise ValueError(f"{name} must be a number in (0, 1) or None, got {value!r}")


def rung_agreement(low: dict, high: dict) -> tuple[float, float, int]:
    """Kendall's tau between two rungs' results (trial id -> score) over the
    trials recorded at both, its one-sided p-value (against no positive
    association: scipy's ``kendalltau(..., alternative="greater")``) and how
    many trials those are. Fewer than 2 trials, or a constant rung: tau nan,
    p-value 1 (a constant rung ranks nothing)."""
    shared = [t for t in low if t in high]
    if len(shared) < 2:
        return math.nan, 1.0, len(shared)
    result = kendalltau([low[t] for t in shared], [high[t] for t in shared],
                        alternative="greater")
    if math.isnan(result.statistic):
        return math.nan, 1.0, len(shared)
    return float(result.statistic), float(result.pvalue), len(shared)


def rung_predicts(low: dict, high: dict, pvalue: float) -> bool:
    """Whether a rung's results ``low`` rank as the next rung's ``high`` do (trial
    id -> score): True until ``MIN_SHARED`` (5) trials were recorded at both, then
    whether Kendall's tau between them is positive at significance level
    ``pvalue`` (one-sided, :func:`rung_agreement`; a constant rung ranks nothing).
    ASHA's and Hyperband's ``rung_pvalue`` rest on it."""
    _, p, shared = rung_agreement(low, high)
    return shared < MIN_SHARED or p <= pvalue


ANCHORS = ("max", "min")


def check_anchor(anchor) -> None:
    """``anchor`` (where the rung grid starts) must be ``"max"`` or ``"min"``."""
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {ANCHORS}, got {anchor!r}")


def rung_levels(min_resource, max_resource, eta, anchor="max") -> list:
    """The resources at which trials are compared, lowest first.

    ``anchor="max"`` (the default, as in the Hyperband paper): ``max_resource *
    eta**-k`` for ``k = 0, 1, ...`` down to ``min_resource``; with integer
    resources (epochs) each level is rounded to the nearest integer.
    ``anchor="min"``: ``min_resource * eta**k`` below ``max_resource``, then
    ``max_resource`` itself. The two agree when ``max_resource = min_resource *
    eta**k``; otherwise the top-anchored grid judges no configuration at a
    resource far below ``max_resource / eta**k``.

    Example: ``rung_levels(1, 81, 3) == [1, 3, 9, 27, 81]``,
    ``rung_levels(1, 52, 3) == [2, 6, 17, 52]`` and
    ``rung_levels(1, 52, 3, anchor="min") == [1, 3, 9, 27, 52]``.

    Args:
        min_resource: the lowest a rung may be (grace period); must be > 0.
        max_resource: full fidelity, the last rung; must exceed ``min_resource``.
        eta: reduction factor, >= 2.
        anchor: ``"max"`` or ``"min"``, the end of the range the grid is a
            geometric sequence from.
    """
    check_eta(eta)
    check_resource("min_resource", min_resource)
    check_resource("max_resource", max_resource)
    check_anchor(anchor)
    if min_resource >= max_resource:
        raise ValueError(f"min_resource must be < max_resource, got min_resource="
                         f"{min_resource!r} and max_resource={max_resource!r}")
    if anchor == "max":
        return _top_anchored(min_resource, max_resource, eta)
    levels, level = [], min_resource
    while level < max_resource:  # repeated products: exact for integers, no overflow
        levels.append(level)
        level = level * eta
        _check_count(levels, min_resource, max_resource, eta)
    return levels + [max_resource]


def _top_anchored(min_resource, max_resource, eta) -> list:
    integral = all(isinstance(v, numbers.Integral) for v in (min_resource, max_resource))
    levels, k = [], 0
    while True:
        # max_resource / eta**k is exact whenever the quotient is an integer
        exact = max_resource / eta**k
        if exact < min_resource * (1 - 1e-12):
            break
        level = max(int(math.floor(exact + 0.5)), min_resource) if integral else exact
        if not levels or level < levels[-1]:
            levels.append(level)
        k += 1
        _check_count(levels, min_resource, max_resource, eta)
    return levels[::-1]


def _check_count(levels, min_resource, max_resource, eta):
    if len(levels) > MAX_RUNGS:
        raise ValueError(f"min_resource={min_resource!r}, max_resource={max_resource!r} "
                         f"and eta={eta!r} make more than {MAX_RUNGS} rungs: raise "
                         f"min_resource or eta")


def halving_plan(n, levels, eta) -> list[tuple[int, float]]:
    """One successive-halving bracket: ``n`` configurations at ``levels[0]``, and
    ``floor(n / eta**i)`` (at least one) at ``levels[i]``.

    Args:
        n: configurations at the lowest rung of the bracket.
        levels: the bracket's rung levels, increasing.
        eta: reduction factor.
    """
    if not (isinstance(n, numbers.Integral) and n >= 1):
        raise ValueError(f"n (configurations at the lowest rung) must be a positive "
                         f"integer, got {n!r}")
    # n / eta**i is exact whenever the quotient is an integer, so floor is safe
    return [(max(1, math.floor(n / eta**i)), r) for i, r in enumerate(levels)]


def hyperband_brackets(max_resource, eta, min_resource=1,
                       anchor="max") -> list[list[tuple[int, float]]]:
    """Hyperband's brackets (Li et al., JMLR 2018, Algorithm 1), most aggressive first.

    Bracket ``s = s_max, ..., 0`` starts ``n = ceil((s_max + 1) / (s + 1) * eta**s)``
    configurations at the rung ``s`` below ``R`` and halves them up to ``R``. The rung
    levels are those of :func:`rung_levels`, so ``s_max + 1`` is their number;
    when ``max_resource = min_resource * eta**k`` this is exactly the paper's.

    Example: ``hyperband_brackets(81, 3)[0] == [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]``.

    Args:
        max_resource, eta, min_resource, anchor: see :func:`rung_levels`.
    """
    levels = rung_levels(min_resource, max_resource, eta, anchor)
    s_max = len(levels) - 1
    brackets = []
    for s in range(s_max, -1, -1):
        # numerator first: (s_max + 1) * eta**s / (s + 1) is exact when it is an integer
        n = math.ceil((s_max + 1) * eta**s / (s + 1))
        brackets.append(halving_plan(n, levels[s_max - s:], eta))
    return brackets


def top_k(values, k, mode="min") -> list[int]:
    """Indices of the ``k`` best ``values`` (ties: the earlier one first), best first."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values if mode == "min" else -values, kind="stable")
    return [int(i) for i in order[:max(0, k)]]


def n_promotable(n_recorded, eta, at_least_one=False) -> int:
    """How many of the ``n_recorded`` results at a rung are in its top ``1/eta``.

    ``at_least_one``: count the best as promotable even when fewer than ``eta``
    results are in (ASHA's stopping variant: stopping is final, so the first
    trials at a rung go on if they are the best so far, as in Optuna).
    """
    n = int(n_recorded // eta)
    return max(n, 1) if at_least_one and n_recorded else n


def is_promotable(value, values, eta, mode="min", at_least_one=False) -> bool:
    """Is ``value`` in the top ``1/eta`` of ``values`` (the results recorded at its
    rung, ``value`` included)? Ties count in its favour.

    Args:
        value: the trial's result at the rung.
        values: every result recorded at the rung so far.
        eta: reduction factor.
        mode: ``"min"`` or ``"max"``.
        at_least_one: see :func:`n_promotable`.
    """
    values = np.asarray(values, dtype=float)
    n_better = np.count_nonzero(values < value if mode == "min" else values > value)
    return rank_promotable(int(n_better), len(values), eta, at_least_one)


def rank_promotable(n_better, n_recorded, eta, at_least_one=False) -> bool:
    """The promotion rule on ranks: a result that ``n_better`` of the ``n_recorded``
    results at its rung beat is in the top ``1/eta`` (see :func:`n_promotable`).
    Schedulers that keep a rung's results sorted call this directly."""
    return n_better < n_promotable(n_recorded, eta, at_least_one)


def skipped_rung(previous, resource, levels):
    """The first rung level strictly between ``previous`` and ``resource``, or None."""
    for level in levels:
        if previous < level < resource:
            return level
    return None


def check_reported(trial_id, previous, resource, levels) -> None:
    """Raise if a trial went from ``previous`` to ``resource`` past a rung without
    reporting there: the scheduler would never see it at that rung."""
    level = skipped_rung(previous, resource, levels)
    if level is not None:
        raise ValueError(
            f"trial {trial_id} reported resource {resource!r} after {previous!r}, skipping "
            f"the rung at resource {level!r} (rung levels {list(levels)}): the objective "
            f"must report a result at every rung level")
