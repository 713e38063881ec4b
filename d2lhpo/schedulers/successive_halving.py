"""Synchronous successive halving (Jamieson & Talwalkar, AISTATS 2016)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from .base import Decision, Scheduler, Suggestion
from .rungs import (check_eta, check_reported, check_resource, halving_plan, rung_levels,
                    top_k)


@dataclass
class _Bracket:
    """Where one bracket stands: its plan, the rung being run and who is in it."""

    plan: list                                  # [(n_i, r_i), ...]
    rung: int = 0
    n_new: int = 0                              # new configurations still to start
    todo: list = field(default_factory=list)    # paused trial ids to resume to this rung
    running: set = field(default_factory=set)
    values: dict = field(default_factory=dict)  # trial id -> result here (None: none came)
    done: bool = False
    short: bool = False     # no new trials may join: promote 1/eta of those it has


class SuccessiveHalving(Scheduler):
    """Runs ``n`` configurations to the lowest rung, then the best ``1/eta`` of them
    to the next rung, and so on up to ``max_resource``; then starts over.

    Synchronous: a rung's survivors are promoted only once *every* trial of the
    rung has reported there, so with several workers some sit idle while the
    last trials of a rung finish (:meth:`suggest` returns None meanwhile).
    Promoted trials resume from their checkpoint at the rung they reached.
    Rung levels are ``min_resource * eta**k`` below ``max_resource``, then
    ``max_resource``; the objective must report a result at each of them.
    With ``max_trials``, once that many trials were started the current
    bracket is finished with the trials it has: each rung promotes the best
    ``1/eta`` of them (at least one), and no new bracket begins.

    Args:
        searcher: where new configurations come from.
        eta: reduction factor (>= 2): one in ``eta`` trials goes on to the next rung.
        min_resource: the lowest rung (e.g. 1 epoch).
        max_resource: full fidelity, the last rung (taken from the objective when None).
        n_configs: configurations per bracket at the lowest rung (default:
            ``eta**(number of rungs - 1)``, so that one reaches ``max_resource``).
        metric, mode: see :class:`Scheduler`.
        seed: breaks ties between equal results at random (int or Generator).

    Example:
        >>> scheduler = SuccessiveHalving(RandomSearcher(space, seed=0), eta=3,
        ...                               min_resource=1, max_resource=27, seed=0)
        >>> tuner = Tuner(objective, scheduler, backend="simulated", n_workers=4)
        >>> results = tuner.run(max_time=3600)
    """

    def __init__(self, searcher, eta=3, min_resource=1, max_resource=None,
                 n_configs: int | None = None, metric=None, mode=None, seed=None):
        super().__init__(searcher, metric, mode, max_resource)
        check_eta(eta)
        check_resource("min_resource", min_resource)
        if max_resource is not None:
            rung_levels(min_resource, max_resource, eta)  # validates them together
        if n_configs is not None and not (isinstance(n_configs, numbers.Integral)
                                          and n_configs >= 1):
            raise ValueError(f"n_configs must be a positive integer, got {n_configs!r}")
        self.eta, self.min_resource, self.n_configs = eta, min_resource, n_configs
        self.rng = np.random.default_rng(seed)
        self.levels: list | None = None
        self.n_brackets = 0          # brackets started so far
        self._bracket: _Bracket | None = None
        self._target: dict[int, tuple[_Bracket, float]] = {}  # running trial -> its rung
        self._reached: dict[int, float] = {}  # trial -> last resource reported
        self._exhausted = False      # the searcher has no more configurations

    def bind(self, metric, mode, max_resource):
        super().bind(metric, mode, max_resource)
        self.levels = rung_levels(self.min_resource, self.max_resource, self.eta)

    def bracket_plan(self, index: int) -> list[tuple[int, float]]:
        """The plan ``[(n_i, r_i), ...]`` of the ``index``-th bracket (all alike here)."""
        n = self.n_configs or int(round(self.eta ** (len(self.levels) - 1)))
        return halving_plan(n, self.levels, self.eta)

    def suggest(self, trial_id):
        while True:
            b = self._bracket
            if b is None or b.done:
                if self._exhausted:
                    return None
                plan = self.bracket_plan(self.n_brackets)
                b = self._bracket = _Bracket(plan, n_new=plan[0][0])
                self.n_brackets += 1
            resource = b.plan[b.rung][1]
            if b.n_new:
                config = self._new_config(trial_id)
                if config is None:
                    self._exhausted, b.n_new = True, 0
                    continue
                b.n_new -= 1
                return self._run(b, trial_id, resource, resume=False)
            if b.todo:
                return self._resume_next(b)
            if b.running:
                return None  # synchronous: wait until the whole rung has reported
            self._promote(b)

    def suggest_resume(self):
        """Finish the current bracket without new trials (see the class docstring)."""
        b = self._bracket
        if b is None:
            return None
        if b.n_new:
            b.n_new, b.short = 0, True
        while not b.done:
            if b.todo:
                return self._resume_next(b)
            if b.running:
                return None
            self._promote(b)
        return None

    def _resume_next(self, b):
        """Resume the next trial promoted to the bracket's current rung."""
        trial_id = b.todo.pop(0)
        self.searcher.register_pending(self.configs[trial_id])
        return self._run(b, trial_id, b.plan[b.rung][1], resume=True)

    def _run(self, b, trial_id, resource, resume):
        b.running.add(trial_id)
        self._target[trial_id] = (b, resource)
        return Suggestion(self.configs[trial_id], resource, trial_id if resume else None)

    def _promote(self, b):
        """The rung is complete: its best ``n_{i+1}`` trials make up the next rung."""
        if b.rung + 1 == len(b.plan):
            b.done = True
            return
        entries = [(t, v) for t, v in b.values.items() if v is not None]
        entries = [entries[i] for i in self.rng.permutation(len(entries))]  # random ties
        k = b.plan[b.rung + 1][0]
        if b.short:
            k = min(k, max(1, len(entries) // self.eta))
        best = top_k([v for _, v in entries], k, self.mode)
        b.todo = [entries[i][0] for i in best]
        b.rung, b.values = b.rung + 1, {}

    def on_result(self, trial_id, result):
        resource = result["resource"]
        check_reported(trial_id, self._reached.get(trial_id, 0), resource, self.levels)
        self._reached[trial_id] = resource
        b, target = self._target.get(trial_id, (None, None))
        if b is None or resource < target:
            return Decision.CONTINUE
        del self._target[trial_id]
        config = self.configs[trial_id]
        self.searcher.remove_pending(config)
        self.searcher.observe(config, result)
        b.running.discard(trial_id)
        b.values[trial_id] = float(result[self.metric])
        return Decision.CONTINUE if resource >= self.max_resource else Decision.PAUSE

    def restore(self, trial_id, config, rows):
        raise ValueError(
            f"{type(self).__name__} cannot resume a journaled run: its brackets wait for "
            f"trials of the interrupted run. Resume with ASHA or FIFOScheduler, or start a "
            f"new journal")

    def on_complete(self, trial_id, result):
        super().on_complete(trial_id, result)
        if trial_id in self._target:  # its rung would wait for it forever
            _, target = self._target.pop(trial_id)
            raise ValueError(
                f"trial {trial_id} ended at resource {self._reached.get(trial_id, 0)!r} before "
                f"reporting at the rung at resource {target!r} (rung levels {self.levels}): "
                f"the objective must run up to r1 and report a result there")

    def on_error(self, trial_id):
        super().on_error(trial_id)
        if trial_id in self._target:  # a failed trial is done at its rung, with no result
            b, _ = self._target.pop(trial_id)
            b.running.discard(trial_id)
            b.values[trial_id] = None
