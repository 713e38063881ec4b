"""Asynchronous successive halving, ASHA (Li et al., MLSys 2020)."""

from __future__ import annotations

import bisect
import heapq

from .base import Decision, Scheduler
from .rungs import (check_anchor, check_eta, check_pvalue, check_resource, rank_promotable,
                    rung_levels, rung_predicts)

TYPES = ("stopping", "promotion")


class _Rung:
    """The results recorded at one rung, kept sorted (smaller score is better) so that
    a trial's rank is a binary search; plus, for promotion, the paused trials here."""

    def __init__(self):
        self.scores: list[float] = []
        self.paused: list[tuple] = []  # heap of (score, tie, trial id) not yet promoted
        self.by_trial: dict[int, float] = {}

    def add(self, score, trial_id) -> int:
        """Record trial ``trial_id``'s score; the number of recorded scores strictly
        better than it."""
        bisect.insort(self.scores, score)
        self.by_trial[trial_id] = score
        return bisect.bisect_left(self.scores, score)


class ASHA(Scheduler):
    """Successive halving without waiting: a trial is judged against the results
    recorded at its rung *so far*, so no worker ever waits for a rung to fill.

    ``ASHA(..., type="stopping")`` is a :class:`StoppingASHA`, ``type="promotion"``
    a :class:`PromotionASHA`. Rung levels are ``max_resource * eta**-k`` down to
    ``min_resource`` (see ``anchor``); the objective must report a result at
    each of them (each job's ``levels`` says where).

    Args:
        searcher: where new configurations come from.
        type: ``"stopping"`` or ``"promotion"``.
        eta: reduction factor (>= 2).
        min_resource: the lowest rung (grace period).
        max_resource: full fidelity (taken from the objective when None).
        anchor: ``"max"`` (default) or ``"min"``: which end the geometric grid of
            rungs starts from (:func:`~d2lhpo.schedulers.rungs.rung_levels`).
        rung_pvalue: None (the default: every rung judges) or a significance
            level in (0, 1): once 5 trials were recorded at a rung and the
            next, the rung judges only while its ranking predicts the next
            one's (Kendall's tau > 0 at that level, one-sided); otherwise (a
            first epoch that scores every configuration the same, up to
            noise) it stops nobody (stopping type) or promotes every trial
            that pauses there (promotion type), and the next rung judges. See
            :meth:`judges`. With 0.16 (about one standard error), BO inside
            ASHA on ``benchmarks/multifidelity.py --robust``'s flat first rung
            (30 seeds, 400 simulated seconds) ended worse than random search's
            median in 2 seeds (stopping type) and 1 (promotion) instead of 3
            and 2, its median error 0.084 and 0.083 instead of 0.095 and
            0.097; with random search inside, a tie. On first rungs that rank
            well (the LeNet table, the synthetic curves of the same
            benchmark) it cost up to a tenth of ASHA's speed-up over random
            search (promotion type on the table: 3.8x instead of 4.3x): hence
            off by default.
        metric, mode, seed: see :class:`Scheduler` (``seed`` breaks ties).

    Example:
        >>> asha = ASHA(RandomSearcher(space, seed=0), type="promotion", metric="error",
        ...             mode="min", max_resource=27, eta=3)
        >>> job = asha.ask()
        >>> asha.tell(job.trial_id, {"resource": 1, "error": 0.4})
    """

    def __new__(cls, *args, type="stopping", **kwargs):
        if cls is ASHA:
            if type not in TYPES:
                raise ValueError(f"type must be one of {TYPES}, got {type!r}")
            cls = StoppingASHA if type == "stopping" else PromotionASHA
        return super().__new__(cls)

    def __init__(self, searcher, type="stopping", eta=3, min_resource=1, max_resource=None,
                 metric=None, mode=None, seed=None, anchor="max", rung_pvalue=None):
        super().__init__(searcher, metric, mode, max_resource, seed)
        check_eta(eta)
        check_resource("min_resource", min_resource)
        check_anchor(anchor)
        check_pvalue("rung_pvalue", rung_pvalue)
        self.type, self.eta, self.min_resource, self.anchor = type, eta, min_resource, anchor
        self.rung_pvalue = rung_pvalue
        self._levels: list = []
        self._rungs: dict[float, _Rung] = {}
        if max_resource is not None:
            self._setup()

    def _setup(self):
        self._levels = rung_levels(self.min_resource, self.max_resource, self.eta, self.anchor)
        self._rungs = {level: _Rung() for level in self._levels}

    @property
    def levels(self):
        return self._levels

    def _score(self, value):
        return float(value) if self.mode == "min" else -float(value)

    def judges(self, level) -> bool:
        """Whether the rung at ``level`` stops (or holds back) trials: always,
        unless ``rung_pvalue`` is set, at least 5 trials were recorded at this
        rung and the next, and Kendall's tau between their results there is not
        positive at that significance level (:func:`.rungs.rung_predicts`; a
        constant rung ranks nothing: p-value 1).

        Only the trials that passed a rung are seen at the next, so the tau of
        an informative rung is measured on its best trials; a rung that judges
        nobody lets every trial through, and the next rung's results keep
        telling whether it should judge again.
        """
        if self.rung_pvalue is None:
            return True
        i = self._levels.index(level)
        if i + 1 >= len(self._levels):
            return True
        return rung_predicts(self._rungs[level].by_trial,
                             self._rungs[self._levels[i + 1]].by_trial, self.rung_pvalue)


class StoppingASHA(ASHA):
    """ASHA, stopping variant (as in Ray Tune and Syne Tune): every trial is started
    towards ``max_resource``; at each rung it goes on only if it is in the top
    ``1/eta`` of the results recorded there so far (the first results at a rung
    go on while they are the best), else it is stopped for good.

    Args: see :class:`ASHA`.
    """

    def __init__(self, searcher, type="stopping", **kwargs):
        super().__init__(searcher, "stopping", **kwargs)

    def next_job(self):
        return self.new_job(self.max_resource)

    def on_result(self, trial, report):
        resource = report["resource"]
        rung = self._rungs.get(resource)
        if rung is None or resource >= self.max_resource:
            return Decision.CONTINUE  # between rungs, or done: nothing to decide
        n_better = rung.add(self._score(report[self.metric]), trial.trial_id)
        if (rank_promotable(n_better, len(rung.scores), self.eta, at_least_one=True)
                or not self.judges(resource)):
            return Decision.CONTINUE
        return Decision.STOP


class PromotionASHA(ASHA):
    """ASHA, promotion variant (Li et al. 2020, Algorithm 2): every trial pauses at
    each rung; a free worker resumes the best paused trial that is in the top
    ``1/eta`` of its rung (highest rung first), else starts a new configuration
    at the lowest rung. Once no new trials may start, it goes on promoting the
    trials that earn it until nothing is left to promote.

    Args: see :class:`ASHA`.
    """

    def __init__(self, searcher, type="promotion", **kwargs):
        super().__init__(searcher, "promotion", **kwargs)

    def next_job(self):
        for level, above in reversed(list(zip(self._levels[:-1], self._levels[1:]))):
            rung = self._rungs[level]
            # the best paused trial is the only one that can be in the top 1/eta
            if rung.paused and (rank_promotable(
                    bisect.bisect_left(rung.scores, rung.paused[0][0]), len(rung.scores),
                    self.eta) or not self.judges(level)):
                trial_id = rung.paused[0][2]
                job = self.resume_job(trial_id, above)  # raises first if replay differs
                heapq.heappop(rung.paused)
                return job
        return self.new_job(self._levels[0])

    def on_result(self, trial, report):
        resource = report["resource"]
        rung = self._rungs.get(resource)
        if rung is None or resource >= self.max_resource:
            return Decision.CONTINUE
        score = self._score(report[self.metric])
        rung.add(score, trial.trial_id)
        heapq.heappush(rung.paused, (score, self.rng.random(), trial.trial_id))
        return Decision.PAUSE
