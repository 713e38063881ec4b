"""Asynchronous successive halving, ASHA (Li et al., MLSys 2020)."""

from __future__ import annotations

import bisect
import heapq

import numpy as np

from .base import Decision, Scheduler, Suggestion, report_of
from .rungs import check_eta, check_reported, check_resource, n_promotable, rung_levels

TYPES = ("stopping", "promotion")


class _Rung:
    """The results recorded at one rung, kept sorted (smaller score is better) so that
    a trial's rank is a binary search; plus, for promotion, the paused trials here."""

    def __init__(self):
        self.scores: list[float] = []
        self.paused: list[tuple] = []  # heap of (score, tie, trial id) not yet promoted

    def add(self, score) -> int:
        """Record a score; the number of recorded scores strictly better than it."""
        bisect.insort(self.scores, score)
        return bisect.bisect_left(self.scores, score)


class ASHA(Scheduler):
    """Successive halving without waiting: a trial is judged against the results
    recorded at its rung *so far*, so no worker ever waits for a rung to fill.

    ``type="stopping"``: every trial is started towards ``max_resource``; when it
    reaches a rung it goes on only if it is in the top ``1/eta`` of the results
    recorded there so far (the best so far always goes on), else it is stopped.
    ``type="promotion"``: every trial pauses at each rung; a free worker resumes
    the best paused trial that is in the top ``1/eta`` of its rung and was not
    promoted yet (highest rung first), else starts a new configuration at the
    lowest rung. Rung levels are ``min_resource * eta**k`` below ``max_resource``,
    then ``max_resource``; the objective must report a result at each of them.
    With ``"promotion"`` and ``max_trials``, the tuner starts that many new
    trials and then goes on promoting the trials that earn it (no new ones)
    until nothing is left to promote.

    Args:
        searcher: where new configurations come from.
        type: ``"stopping"`` or ``"promotion"``.
        eta: reduction factor (>= 2).
        min_resource: the lowest rung (grace period).
        max_resource: full fidelity (taken from the objective when None).
        metric, mode: see :class:`Scheduler`.
        seed: breaks ties between equal results at random (int or Generator).

    Example:
        >>> scheduler = ASHA(RandomSearcher(space, seed=0), type="promotion", eta=3,
        ...                  min_resource=1, max_resource=27, seed=0)
        >>> tuner = Tuner(objective, scheduler, backend="simulated", n_workers=4)
        >>> results = tuner.run(max_time=3600)
    """

    def __init__(self, searcher, type="stopping", eta=3, min_resource=1, max_resource=None,
                 metric=None, mode=None, seed=None):
        super().__init__(searcher, metric, mode, max_resource)
        if type not in TYPES:
            raise ValueError(f"type must be one of {TYPES}, got {type!r}")
        check_eta(eta)
        check_resource("min_resource", min_resource)
        if max_resource is not None:
            rung_levels(min_resource, max_resource, eta)  # validates them together
        self.type, self.eta, self.min_resource = type, eta, min_resource
        self.rng = np.random.default_rng(seed)
        self.levels: list | None = None
        self._rungs: dict[float, _Rung] = {}
        self._reached: dict[int, float] = {}  # trial -> last resource reported
        self._target: dict[int, float] = {}   # running trial -> resource it runs to

    def bind(self, metric, mode, max_resource):
        super().bind(metric, mode, max_resource)
        self.levels = rung_levels(self.min_resource, self.max_resource, self.eta)
        self._rungs = {level: _Rung() for level in self.levels}

    def _score(self, value):
        return float(value) if self.mode == "min" else -float(value)

    def suggest(self, trial_id):
        promotion = self.suggest_resume()
        if promotion is not None:
            return promotion
        config = self._new_config(trial_id)
        if config is None:
            return None
        first = self.levels[0] if self.type == "promotion" else self.max_resource
        self._target[trial_id] = first
        return Suggestion(config, first)

    def suggest_resume(self):
        """Promotion: the best paused trial in the top ``1/eta`` of its rung, if any
        (highest rung first)."""
        if self.type != "promotion":
            return None
        for level, above in reversed(list(zip(self.levels[:-1], self.levels[1:]))):
            rung = self._rungs[level]
            # the best paused trial is the only one that can be in the top 1/eta
            if rung.paused and (bisect.bisect_left(rung.scores, rung.paused[0][0])
                                < n_promotable(len(rung.scores), self.eta)):
                _, _, promoted = heapq.heappop(rung.paused)
                self.searcher.register_pending(self.configs[promoted])
                self._target[promoted] = above
                return Suggestion(self.configs[promoted], above, trial_id=promoted)
        return None

    def on_result(self, trial_id, result):
        resource = result["resource"]
        check_reported(trial_id, self._reached.get(trial_id, 0), resource, self.levels)
        self._reached[trial_id] = resource
        rung = self._rungs.get(resource)
        if rung is None:
            return Decision.CONTINUE  # between rungs: nothing to decide
        config = self.configs[trial_id]
        self.searcher.observe(config, result)
        score = self._score(result[self.metric])
        n_better = rung.add(score)
        if resource >= self.max_resource:
            return Decision.CONTINUE
        if self.type == "stopping":
            if n_better < n_promotable(len(rung.scores), self.eta, at_least_one=True):
                return Decision.CONTINUE
            self.searcher.remove_pending(config)
            self._target.pop(trial_id, None)
            return Decision.STOP
        heapq.heappush(rung.paused, (score, self.rng.random(), trial_id))
        self.searcher.remove_pending(config)
        self._target.pop(trial_id, None)
        return Decision.PAUSE

    def restore(self, trial_id, config, rows):
        """Rebuild the rungs from a journaled trial: its results at each rung, and,
        if it was paused, its place among the trials waiting for promotion."""
        self.configs[trial_id] = config
        self.searcher.register_pending(config)
        score = None
        for row in rows:
            if row["status"] != "failed" and row["resource"] in self._rungs:
                self._reached[trial_id] = row["resource"]
                self.searcher.observe(config, report_of(row))
                score = self._score(row[self.metric])
                self._rungs[row["resource"]].add(score)
        status, reached = rows[-1]["status"], self._reached.get(trial_id, 0)
        if status == "running":  # the tuner restarts it: it runs on to its next rung
            above = [level for level in self.levels if level > reached]
            self._target[trial_id] = (above[0] if self.type == "promotion"
                                      else self.max_resource)
        elif status == "failed":
            self.searcher.evaluation_failed(config)
        else:
            self.searcher.remove_pending(config)
            if status == "paused" and score is not None:
                heapq.heappush(self._rungs[reached].paused,
                               (score, self.rng.random(), trial_id))

    def on_error(self, trial_id):
        super().on_error(trial_id)
        self._target.pop(trial_id, None)

    def on_complete(self, trial_id, result):
        super().on_complete(trial_id, result)
        target, reached = self._target.pop(trial_id, None), self._reached.get(trial_id, 0)
        if self.type == "promotion" and target is not None and reached < target:
            raise ValueError(
                f"trial {trial_id} ended at resource {reached!r} before reporting at the "
                f"rung at resource {target!r} (rung levels {self.levels}): the objective "
                f"must run up to r1 and report a result there")
