"""Synchronous successive halving (Karnin et al. 2013; for HPO: Jamieson & Talwalkar 2016)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

from .base import Decision, Scheduler, _Diverged
from .rungs import check_anchor, check_eta, check_resource, halving_plan, rung_levels, top_k


@dataclass
class _Bracket:
    """Where one bracket stands: its plan, the rung being run and who is in it."""

    plan: list                                  # [(n_i, r_i), ...]
    n_new: int                                  # new configurations still to start
    rung: int = 0
    todo: list = field(default_factory=list)    # trial ids promoted to this rung, to resume
    running: set = field(default_factory=set)
    values: dict = field(default_factory=dict)  # trial id -> result here (None: none came)
    done: bool = False


class SuccessiveHalving(Scheduler):
    """Runs ``n`` configurations to the lowest rung, then the best ``1/eta`` of them
    to the next rung, and so on up to ``max_resource`` (a *bracket*).

    Synchronous: a rung's survivors are promoted only once *every* trial of the
    rung has reported there. With ``overlap=True`` (the default, as in practical
    implementations such as BOHB's and SMAC's), a worker that would wait for a
    rung to finish starts the next bracket instead; ``overlap=False`` runs one
    bracket at a time and leaves such workers idle (``ask`` returns None).
    Promoted trials resume from their checkpoint at the rung they reached;
    each job runs to the next rung of its bracket and reports there (a
    bracket that starts higher up asks for no results below its first rung,
    which matters when each report is a training from scratch). A
    rung promotes the best ``1/eta`` of the results it has (at least one), also
    when it has fewer than planned: failed trials, or no new trials could start
    (the searcher ran out, or ``max_trials`` was reached; then no new bracket
    begins either).

    Args:
        searcher: where new configurations come from.
        eta: reduction factor (>= 2): one in ``eta`` trials goes on to the next rung.
        min_resource: the lowest rung (e.g. 1 epoch).
        max_resource: full fidelity, the last rung (taken from the objective when None).
        anchor: ``"max"`` (default): rungs at ``max_resource * eta**-k``, rounded
            for integer resources; ``"min"``: at ``min_resource * eta**k`` (see
            :func:`~d2lhpo.schedulers.rungs.rung_levels`).
        n_configs: configurations per bracket at the lowest rung (default:
            ``eta**(number of rungs - 1)``, so that one reaches ``max_resource``).
        overlap: start the next bracket on a worker that would otherwise wait.
        metric, mode, seed: see :class:`Scheduler` (``seed`` breaks ties).

    Example:
        >>> sh = SuccessiveHalving(RandomSearcher(space, seed=0), eta=3, metric="error",
        ...                        mode="min", max_resource=27)
        >>> job = sh.ask()
        >>> sh.tell(job.trial_id, {"resource": 1, "error": 0.4})
    """

    def __init__(self, searcher, eta=3, min_resource=1, max_resource=None,
                 n_configs: int | None = None, overlap: bool = True, metric=None, mode=None,
                 seed=None, anchor: str = "max"):
        super().__init__(searcher, metric, mode, max_resource, seed)
        check_eta(eta)
        check_resource("min_resource", min_resource)
        check_anchor(anchor)
        if n_configs is not None and not (isinstance(n_configs, numbers.Integral)
                                          and not isinstance(n_configs, bool) and n_configs >= 1):
            raise ValueError(f"n_configs must be a positive integer, got {n_configs!r}")
        if not isinstance(overlap, bool):
            raise ValueError(f"overlap must be True or False, got {overlap!r}")
        self.eta, self.min_resource, self.n_configs = eta, min_resource, n_configs
        self.overlap, self.anchor = overlap, anchor
        self._levels: list = []
        self.n_brackets = 0                 # brackets started (or skipped: Hyperband) so far
        self._brackets: list[_Bracket] = []            # started and not done, oldest first
        self._bracket_of: dict[int, _Bracket] = {}     # trial -> the bracket it is in
        if max_resource is not None:
            self._setup()

    def _setup(self):
        self._levels = rung_levels(self.min_resource, self.max_resource, self.eta, self.anchor)

    @property
    def levels(self):
        return self._levels

    def report_levels(self, trial):
        return ()  # a job ends at the next rung of its bracket: none lies between

    def bracket_plan(self, index: int) -> list[tuple[int, float]]:
        """The plan ``[(n_i, r_i), ...]`` of the ``index``-th bracket (all alike here)."""
        n = self.n_configs or int(round(self.eta ** (len(self._levels) - 1)))
        return halving_plan(n, self._levels, self.eta)

    def _cut_short(self, b) -> bool:
        """Whether bracket ``b`` should start no more new trials (Hyperband's
        cost-aware one may say so, also before the first: the bracket is skipped)."""
        return False

    def next_job(self):
        for b in list(self._brackets):
            job = self._job_in(b)
            if job is not None:
                return job
        while self.new_trials and (self.overlap or not self._brackets):
            if self._replaying is not None and self._replaying["trial_id"] != len(self.trials):
                raise _Diverged("new")  # the journal resumes a trial: open no bracket
            plan = self.bracket_plan(self.n_brackets)
            b = _Bracket(plan, n_new=plan[0][0])
            self.n_brackets += 1
            self._brackets.append(b)
            job = self._job_in(b)
            if job is not None or (not self.overlap and b in self._brackets):
                return job
        return None

    def _job_in(self, b: _Bracket):
        """The next job of bracket ``b``, or None if it waits for its rung (or is done)."""
        while not b.done:
            resource = b.plan[b.rung][1]
            if b.n_new and self.new_trials and self._cut_short(b):
                b.n_new = 0   # goes on with the trials it has
            if b.n_new and self.new_trials:
                job = self.new_job(resource)
                if job is not None:
                    b.n_new -= 1
                    return self._enter(b, job)
                continue  # the searcher ran out: stop_new_trials() emptied n_new
            if b.todo:
                job = self.resume_job(b.todo[0], resource)  # raises first if replay differs
                b.todo.pop(0)
                return self._enter(b, job)
            if b.running:
                return None  # synchronous: the rung is not complete yet
            self._promote(b)
        self._brackets.remove(b)
        return None

    def _enter(self, b, job):
        b.running.add(job.trial_id)
        self._bracket_of[job.trial_id] = b
        return job

    def _promote(self, b):
        """The rung is complete: the best ``1/eta`` of its results (at most as many as
        planned, at least one) make up the next rung."""
        entries = [(t, v) for t, v in b.values.items() if v is not None]
        if b.rung + 1 == len(b.plan) or not entries:
            b.done = True
            return
        entries = [entries[i] for i in self.rng.permutation(len(entries))]  # random ties
        k = min(b.plan[b.rung + 1][0], max(1, len(entries) // self.eta))
        best = top_k([v for _, v in entries], k, self.mode)
        b.todo = [entries[i][0] for i in best]
        b.rung, b.values = b.rung + 1, {}

    def stop_new_trials(self):
        super().stop_new_trials()
        for b in self._brackets:  # each bracket goes on with the trials it has
            b.n_new = 0

    def on_result(self, trial, report):
        if report["resource"] < trial.target:
            return Decision.CONTINUE
        b = self._bracket_of[trial.trial_id]
        b.running.discard(trial.trial_id)
        b.values[trial.trial_id] = float(report[self.metric])
        return Decision.PAUSE

    def on_end(self, trial):  # ended before its rung: no result there
        self._drop(trial)

    def on_fail(self, trial):
        self._drop(trial)

    def _drop(self, trial):
        b = self._bracket_of.get(trial.trial_id)
        if b is not None and trial.trial_id in b.running:
            b.running.discard(trial.trial_id)
            b.values[trial.trial_id] = None
