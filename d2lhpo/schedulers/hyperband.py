"""Hyperband (Li et al., JMLR 2018): successive halving over several brackets."""

from __future__ import annotations

import numpy as np

from .rungs import check_pvalue, hyperband_brackets, rung_predicts
from .successive_halving import SuccessiveHalving

MIN_MEASURED = 3  # new trials' evaluations at a resource before its cost is trusted


class Hyperband(SuccessiveHalving):
    """Cycles through successive-halving brackets that trade many cheap trials for
    few long ones: bracket ``s = s_max, ..., 0`` starts ``ceil((s_max + 1) / (s + 1)
    * eta**s)`` configurations at ``max_resource * eta**-s`` (see
    :func:`~d2lhpo.schedulers.rungs.hyperband_brackets`); after bracket ``s = 0``
    the cycle starts again.

    The plan prices a configuration at resource ``r`` at ``r / max_resource``
    of a full evaluation. A fit that starts up before it trains (loads the
    data, builds the model, scores it) costs more than that at low
    resources, and a bracket that starts there buys many poor results at
    nearly the price of good ones. With ``cost_aware=True`` the cycle starts
    at its last bracket (``s = 0``: a few full evaluations), so that what a
    full evaluation costs is measured early, and goes on as the paper's.
    The seconds new trials take to reach each resource in their first job
    (:attr:`~d2lhpo.schedulers.base.Scheduler.first_seconds`, which the
    tuner passes) price the rungs, and a bracket whose configurations at
    its first rung cost more than the plan sets aside for one at the rung
    above (that rung's share of a full evaluation; see :meth:`too_dear`)
    starts no more of them: it is skipped, or goes on with the trials it
    has (counted in ``n_skipped``). Until 3 configurations were measured at
    both the first rung and ``max_resource``, a bracket runs. With 4
    workers and 5 seeds each: on ``benchmarks/multifidelity.py
    --robust``'s learner choice with a 1 s start-up (a fit on 1/27 of the
    data costs about a quarter of a full one), the bracket that starts at
    1/27 stopped after 5 trials in every seed (and the one at 1/9 in one
    seed); with a 0.1 s start-up, one seed skipped a bracket; on the LeNet
    table (epochs cost about the same from the first on), none did. The
    price is the cycle's first bracket: where a full evaluation is long
    against the budget, its few random full evaluations take a large share
    of it (on the same benchmark's flat first rung, 400 simulated seconds
    of 2-6 s epochs, a quarter), and model-free Hyperband ended worse than
    random search's median in 5 of 10 seeds instead of 2. Hence off by
    default; the benchmark's "cost-aware" rows give the rest.

    A rung whose ranking does not predict the next rung's (the ranking of
    which learner is best reverses as the training set grows, say) promotes
    the wrong trials, and every bracket that passes through it spends its
    budget on them. With ``rung_pvalue`` set, Hyperband keeps each trial's
    result at each rung its bracket runs it to, and a bracket starts no
    more trials (it is skipped, or goes on with the trials it has; counted
    in ``n_skipped`` too) once one of its rungs below ``max_resource`` does
    not predict the next (:meth:`predicts`: Kendall's tau between the two
    rungs' results, over the trials seen at both, not positive at that
    significance level, one-sided, once there are 5 such trials). The
    bracket that starts at ``max_resource`` has no such rung and always
    runs. In its next turn a skipped bracket starts one trial, which, alone,
    goes through every rung, and is judged again: the trials seen at a rung
    and the next come only from the brackets that run, so a verdict reached
    on a few of them would otherwise be final. On ``benchmarks/
    multifidelity.py --robust`` (4 workers, 10 seeds, BO inside), with 0.16
    the learner choice with a 0.1 s start-up ended worse than random
    search's median in 4 seeds instead of 5 (worst 0.165 instead of 0.218),
    with a 1 s start-up in 8 instead of 9; on the flat first rung and the
    log-loss, the counts tied (0 and 7). Paired over 20 more seeds (better
    with it / worse), on the 0.1 s learner choice BO-in-Hyperband 12 / 8
    (worst seed 0.171 instead of 0.223), BOHB 12 / 2; with a 1 s start-up
    5 / 0 and 3 / 0; on the log-loss 8 / 0 and 5 / 0; on the flat first
    rung 1 / 0 each. On the LeNet table, whose rungs rank well, it cost a
    tenth of random Hyperband's speed-up (1.7x instead of 1.9x over random
    search): a tau measured on promoted trials only is small and noisy, and
    a rung that ranks well is sometimes judged not to. Hence off by default.

    Each bracket runs as synchronous successive halving, and its trials first
    report at the bracket's own lowest rung. With ``overlap=True``
    (the default) a worker that would wait for a rung starts the next bracket,
    as practical implementations do; ``overlap=False`` runs one bracket after
    the other, as the paper's pseudocode reads.

    Args:
        searcher, eta, min_resource, max_resource, overlap, metric, mode, seed, anchor: see
            :class:`~d2lhpo.schedulers.successive_halving.SuccessiveHalving`.
        cost_aware: skip the brackets whose first rung costs too much for
            what it tells (see above); False (the default): the paper's cycle.
        rung_pvalue: None (the default: every bracket runs) or a significance
            level in (0, 1): skip the brackets with a rung whose ranking does
            not predict the next rung's (see above).

    Example:
        >>> hb = Hyperband(RandomSearcher(space, seed=0), eta=3, metric="error",
        ...                mode="min", max_resource=81)
        >>> hb.brackets[1]
        [(34, 3), (11, 9), (3, 27), (1, 81)]
    """

    def __init__(self, searcher, eta=3, min_resource=1, max_resource=None, overlap=True,
                 metric=None, mode=None, seed=None, anchor="max", cost_aware=False,
                 rung_pvalue=None):
        if not isinstance(cost_aware, bool):
            raise ValueError(f"cost_aware must be True or False, got {cost_aware!r}")
        check_pvalue("rung_pvalue", rung_pvalue)
        self.cost_aware, self.rung_pvalue = cost_aware, rung_pvalue
        self.brackets: list | None = None
        self.n_skipped = 0     # brackets skipped or cut short (cost_aware, rung_pvalue)
        # with rung_pvalue: rung level -> trial id -> its result there (see predicts)
        self.rung_results: dict[float, dict[int, float]] = {}
        self._unpredictive: set = set()   # plans skipped by rung_pvalue in their last turn
        self._verdicts: dict = {}   # level -> ((results there, at the next), predicts)
        super().__init__(searcher, eta, min_resource, max_resource, overlap=overlap,
                         metric=metric, mode=mode, seed=seed, anchor=anchor)

    def _setup(self):
        super()._setup()
        self.brackets = hyperband_brackets(self.max_resource, self.eta, self.min_resource,
                                           self.anchor)

    def bracket_plan(self, index):
        """The plan of the ``index``-th bracket: most aggressive first, or
        (``cost_aware``) the same cycle started at its last bracket."""
        shift = len(self.brackets) - 1 if self.cost_aware else 0
        return self.brackets[(index + shift) % len(self.brackets)]

    def _cut_short(self, b):
        if self.cost_aware and self.too_dear(b.plan):
            self.n_skipped += 1
            return True
        if self.rung_pvalue is None or all(self.predicts(r) for _, r in b.plan[:-1]):
            return False
        # Skipped in its last turn: it starts one trial now (the next check cuts
        # it short again), which, alone in its bracket, goes through every rung
        # and adds to the evidence: a verdict on a few trials is not final.
        key = tuple(b.plan)
        if key in self._unpredictive:
            self._unpredictive.discard(key)
            return False
        self._unpredictive.add(key)
        self.n_skipped += 1
        return True

    def on_result(self, trial, report):
        decision = super().on_result(trial, report)
        if self.rung_pvalue is not None and report["resource"] >= trial.target:
            # at the rung its bracket ran it to
            results = self.rung_results.setdefault(report["resource"], {})
            results[trial.trial_id] = float(report[self.metric])
        return decision

    def predicts(self, level) -> bool:
        """Whether the rung at ``level`` ranks as the next rung does
        (:func:`~d2lhpo.schedulers.rungs.rung_predicts` at ``rung_pvalue``;
        True for the last rung, and without ``rung_pvalue``). The trials seen
        at the next rung are the ones this rung promoted, so an informative
        rung's tau is measured on its best trials, as in ASHA's
        :meth:`~d2lhpo.schedulers.asha.ASHA.judges`."""
        i = self.levels.index(level)
        if self.rung_pvalue is None or i + 1 == len(self.levels):
            return True
        low = self.rung_results.get(level, {})
        high = self.rung_results.get(self.levels[i + 1], {})
        sizes = (len(low), len(high))   # results are only added: same sizes, same data
        if self._verdicts.get(level, (None,))[0] != sizes:
            self._verdicts[level] = sizes, rung_predicts(low, high, self.rung_pvalue)
        return self._verdicts[level][1]

    def seconds_at(self, resource, q=0.5) -> float | None:
        """The ``q``-quantile of the seconds new configurations took to reach
        ``resource`` (:attr:`first_seconds`); None until ``MIN_MEASURED`` (3)
        were measured there."""
        seconds = self.first_seconds.get(resource, ())
        return float(np.quantile(seconds, q)) if len(seconds) >= MIN_MEASURED else None

    def too_dear(self, plan) -> bool:
        """Whether a bracket with ``plan`` costs more than it tells: even the
        cheaper configurations at its first rung (the lower quartile of their
        seconds) take longer than the plan sets aside for one at the rung above
        (that rung's share of a full evaluation, priced by the upper quartile
        of the full evaluations' seconds). Configurations differ in cost (a
        linear model fits faster than boosted trees), and the quartiles keep
        that difference from passing for a start-up."""
        if len(plan) < 2:
            return False
        first, above = plan[0][1], plan[1][1]
        cost = self.seconds_at(first, 0.25)
        full = self.seconds_at(self.max_resource, 0.75)
        if cost is None or full is None:
            return False
        return cost > full * above / self.max_resource
