"""The scheduler interface: which trial runs next, and for how long (ask/tell).

A scheduler hands out *jobs* (``ask``) and hears what happened (``tell``,
``end``, ``fail``). It owns the one record of each trial (:class:`Trial`), so a
notebook cell can drive it by hand exactly as the tuner does::

    asha = ASHA(RandomSearcher(space, seed=0), metric="error", mode="min",
                max_resource=27, eta=3)
    job = asha.ask()                      # Job(trial_id, config, r0, r1), or None
    asha.tell(job.trial_id, {"resource": 1, "error": 0.4})   # CONTINUE, PAUSE or STOP

Subclasses decide budgets only (``next_job`` and ``on_result``); the searcher
bookkeeping (pending configurations, results observed at rungs and at full
fidelity) is done here, once.
"""

from __future__ import annotations

import enum
import logging
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks import check_mode, check_seed
from ..results import BASE_COLUMNS, CONFIG_PREFIX
from ..searchers.base import Searcher
from .rungs import skipped_rung

logger = logging.getLogger(__name__)


def report_of(row: dict) -> dict:
    """The objective's report inside a journaled row (its resource and metrics)."""
    failed = row.get("status") == "failed"  # then "error" is the error's text
    return {k: v for k, v in row.items() if k == "resource" or (
        k not in BASE_COLUMNS and not (failed and k == "error")
        and not k.startswith(CONFIG_PREFIX))}


class Decision(str, enum.Enum):
    """A scheduler's answer to a reported result."""

    CONTINUE = "continue"   # keep training
    PAUSE = "pause"         # stop for now; the scheduler may resume it later
    STOP = "stop"           # stop for good


@dataclass(slots=True)
class Job:
    """Run trial ``trial_id`` with ``config`` from resource ``r0`` to ``r1``.

    A new trial starts at ``r0 = 0``; a resumed one at the resource it reached.
    ``levels`` is the job's report grid: the resources in ``(r0, r1]`` at which
    the objective must report a result, ending with ``r1`` (an objective that
    takes ``levels`` gets it, so that a non-resumable one trains only there).
    Reports between them are allowed.
    ``checkpoint_from``: start from a copy of that (paused) trial's checkpoint,
    which the tuner puts in place of this trial's (PBT's exploit step).
    """

    trial_id: int
    config: dict[str, Any]
    r0: float
    r1: float
    levels: tuple = field(default=())
    checkpoint_from: int | None = None

    def __post_init__(self):
        if not self.levels:
            self.levels = (self.r1,)

    @property
    def resume(self) -> bool:
        return self.r0 > 0


@dataclass(slots=True)
class Trial:
    """The one record of a trial: what it is, how far it got, and its state.

    ``status`` is ``"running"`` while a job of it is out, then ``"paused"``,
    ``"stopped"``, ``"completed"`` or ``"failed"``. ``start`` and ``target``
    are the resources its current job runs from and to, and ``levels`` the
    resources it must report at on the way (the job's report grid);
    ``seconds``, what its reported steps took (when told, see
    :meth:`Scheduler.tell`). ``seed`` and ``checkpoint`` are filled in by
    whoever runs it (the tuner).
    """

    trial_id: int
    config: dict[str, Any]
    seed: int | None = None
    resource: float = 0
    status: str = "running"
    checkpoint: str | None = None
    start: float = 0
    target: float = 0
    levels: tuple = ()
    seconds: float = 0.0


class BadReport(ValueError):
    """A report a scheduler cannot accept; the trial it came from has failed."""


class Scheduler:
    """Decides which trial a free worker runs and whether a trial goes on.

    ``ask()`` returns the next :class:`Job` (a new trial, or a paused one to
    resume) or None when nothing should start now; ``tell(trial_id, report)``
    takes each reported result and answers with a :class:`Decision`;
    ``end(trial_id)`` says the objective returned, ``fail(trial_id, error)``
    that it raised. ``stop_new_trials()`` (called when the searcher runs out,
    or by the tuner when ``max_trials`` were started) makes ``ask`` start no
    new trial: multi-fidelity schedulers then finish what they have.

    Args:
        searcher: where new configurations come from.
        metric: the metric to optimize (default: the searcher's; else filled
            in by :meth:`bind` from the objective).
        mode: ``"min"`` or ``"max"`` (same defaults).
        max_resource: the largest resource (e.g. epochs) a trial may use.
        seed: an int or ``numpy.random.Generator`` for the scheduler's own
            random choices (ties); None: derived from the tuner's seed.
    """

    def __init__(self, searcher: Searcher, metric: str | None = None, mode: str | None = None,
                 max_resource: float | None = None, seed=None):
        if not isinstance(searcher, Searcher):
            raise ValueError(f"searcher must be a d2lhpo Searcher, got {searcher!r}")
        if metric is not None and not isinstance(metric, str):
            raise ValueError(f"metric must be a string, got {metric!r}")
        if mode is not None:
            check_mode(mode)
        if max_resource is not None:
            _check_max_resource(max_resource)
        self.searcher = searcher
        self.metric = metric
        self.mode = mode
        self.max_resource = max_resource
        self.seed_given = seed is not None
        self.rng = check_seed(seed)
        self.trials: dict[int, Trial] = {}
        self.first_seconds: dict[float, list[float]] = {}  # see tell
        self.new_trials = True
        self._replaying: dict | None = None
        self._diverged = False  # a replay used journaled configs the searcher did not suggest
        self._set_up = False
        self.bind(defaults=True)

    # -- settings -----------------------------------------------------------
    def bind(self, metric: str | None = None, mode: str | None = None,
             max_resource: float | None = None, *, defaults: bool = False) -> None:
        """Fill in the settings that were not given.

        A setting the scheduler (or its searcher) has already is kept; a
        different one raises ValueError instead of being silently overwritten,
        unless ``defaults`` is True (the tuner passes the objective's own
        settings that way: the scheduler's win).
        """
        have = {"metric": self.metric or self.searcher.metric,
                "mode": self.mode or self.searcher.mode,
                "max_resource": self.max_resource}
        if not defaults:
            for name, theirs in (("metric", metric), ("mode", mode),
                                 ("max_resource", max_resource)):
                if have[name] is not None and theirs is not None and have[name] != theirs:
                    raise ValueError(f"the scheduler's {name} is {have[name]!r}; "
                                     f"{name}={theirs!r} conflicts with it")
        self.metric = have["metric"] or metric
        self.mode = have["mode"] or (check_mode(mode) if mode is not None else None)
        if self.max_resource is None and max_resource is not None:
            self.max_resource = _check_max_resource(max_resource)
        if self.metric is not None:
            self.searcher.bind(self.metric, self.mode)

    def ready(self) -> None:
        """Complete the settings on first use (defaults: metric "objective", mode
        "min", max_resource 1), then let the subclass build what needs them."""
        if self._set_up:
            return
        self.bind(self.metric or "objective", self.mode or "min", self.max_resource or 1,
                  defaults=True)
        self._setup()
        self._set_up = True

    def _setup(self) -> None:
        """Called once the settings are complete (subclasses build rungs here)."""

    @property
    def levels(self) -> list:
        """Resources at which this scheduler compares trials (the searcher sees them)."""
        return []

    def report_levels(self, trial: Trial) -> list:
        """The rung levels ``trial`` must report at on the way to its job's ``r1``
        (default: all of :attr:`levels`; successive halving's jobs end at the
        next rung of their bracket, so none lies between)."""
        return self.levels

    def job_levels(self, trial: Trial, r0: float, r1: float) -> tuple:
        """The report grid of a job of ``trial`` from ``r0`` to ``r1``."""
        levels = self.report_levels(trial)
        if not levels:  # FIFO, successive halving: no rung inside a job (one per trial)
            return (r1,)
        return tuple(lv for lv in levels if r0 < lv < r1) + (r1,)

    # -- ask ----------------------------------------------------------------
    def ask(self) -> Job | None:
        """The job a free worker should run now, or None (nothing to start now)."""
        self.ready()
        return self.next_job()

    def next_job(self) -> Job | None:
        """Subclasses: return ``self.new_job(r1)``, ``self.resume_job(id, r1)`` or None."""
        raise NotImplementedError

    def new_job(self, r1: float) -> Job | None:
        """A new trial to ``r1``: its configuration from the searcher (None if it ran out)."""
        if not self.new_trials:
            return None
        trial_id = len(self.trials)
        replay = self._replaying
        if replay is not None and replay["trial_id"] != trial_id:
            raise _Diverged("new")  # before the searcher is asked: its state stays as it was
        config = self.searcher.suggest()
        if replay is not None and not _same_config(config, replay["config"]):
            if not self._diverged:
                logger.warning("replaying the journal: the searcher suggests other "
                               "configurations than the journaled ones (was it seeded?); "
                               "going on with the journaled ones")
            self._diverged = True
            config = dict(replay["config"])
        if config is None:
            self.stop_new_trials()
            return None
        trial = self.trials[trial_id] = Trial(trial_id, config)
        return self._job(trial, r1)

    def resume_job(self, trial_id: int, r1: float) -> Job:
        """Resume paused trial ``trial_id`` from where it got to, up to ``r1``."""
        if self._replaying is not None and self._replaying["trial_id"] != trial_id:
            raise _Diverged("resume")
        return self._job(self.trials[trial_id], r1)

    def _job(self, trial, r1):
        trial.status, trial.start = "running", trial.resource
        trial.target = min(r1, self.max_resource)
        trial.levels = self.job_levels(trial, trial.resource, trial.target)
        self.searcher.register_pending(trial.config)
        return Job(trial.trial_id, trial.config, trial.resource, trial.target, trial.levels)

    def stop_new_trials(self) -> None:
        """Start no new trials (the searcher ran out, or the budget of trials is spent);
        trials started so far may still be resumed. It may change only what
        ``ask`` does next, so that a journaled run replays the same."""
        self.new_trials = False

    def allow_new_trials(self) -> None:
        """Undo :meth:`stop_new_trials` (a run continued with a larger budget)."""
        self.new_trials = True

    # -- tell ---------------------------------------------------------------
    def tell(self, trial_id: int, report: dict, duration: float | None = None) -> Decision:
        """A result of a running trial: ``report`` has ``"resource"`` and the metric.

        Returns CONTINUE, PAUSE (stop for now) or STOP. A report that the
        scheduler cannot accept (no progress, past the job's ``r1``, no finite
        metric) fails the trial and raises :class:`BadReport`.

        ``duration``: the seconds the step that produced this report took (the
        tuner passes the backend's, and a resumed run the journaled ones). The
        reports of a new trial's first job then tell what evaluating a
        configuration from scratch at each resource costs: the seconds from
        the trial's start to each report are kept in :attr:`first_seconds`
        (resource -> list), for schedulers that weigh the cost of their rungs
        (:class:`~d2lhpo.schedulers.hyperband.Hyperband` with
        ``cost_aware=True``). None (the default): not recorded.
        """
        self.ready()
        trial = self.trials.get(trial_id)
        if trial is None or trial.status != "running":
            state = "unknown" if trial is None else trial.status
            raise ValueError(f"trial {trial_id} is not running (it is {state})")
        problem = self._check_report(trial, report)
        if problem:
            self.fail(trial_id, problem)
            raise BadReport(f"trial {trial_id}: {problem}")
        if _finite(duration) and duration >= 0:
            trial.seconds += float(duration)
            if trial.start == 0:   # its first job: the cost from scratch
                self.first_seconds.setdefault(report["resource"], []).append(trial.seconds)
        trial.resource = report["resource"]
        if trial.resource in self.levels or trial.resource >= self.max_resource:
            self.searcher.observe(trial.config, report)
        decision = self.on_result(trial, report)
        if trial.resource >= self.max_resource:
            decision, trial.status = Decision.CONTINUE, "completed"
        elif decision == Decision.CONTINUE and trial.resource >= trial.target:
            decision = Decision.PAUSE   # the job is over: it can only be resumed later
        if decision != Decision.CONTINUE:
            trial.status = "paused" if decision == Decision.PAUSE else "stopped"
        if trial.status != "running":
            self.searcher.remove_pending(trial.config)
        return decision

    def _check_report(self, trial, report) -> str | None:
        if not isinstance(report, dict):
            return f"a report must be a dict, got {report!r}"
        resource = report.get("resource")
        if not (_finite(resource)):
            return f"the report's resource must be a finite number, got {resource!r}"
        if resource <= trial.resource:
            return (f"reported resource {resource!r} after {trial.resource!r}: each report "
                    f"must make progress")
        if resource > trial.target:
            return (f"reported resource {resource!r} beyond the job's r1 = {trial.target!r} "
                    f"(max_resource {self.max_resource!r})")
        skipped = skipped_rung(trial.resource, resource, trial.levels)
        if skipped is not None:
            return (f"reported resource {resource!r} after {trial.resource!r}, skipping the "
                    f"rung at resource {skipped!r} (the job's report grid "
                    f"{list(trial.levels)}): the objective must report a result at each "
                    f"resource of its job's levels")
        if not _finite(report.get(self.metric)):
            return (f"the report has no finite {self.metric!r}: {report!r}")
        return None

    def on_result(self, trial: Trial, report: dict) -> Decision:
        """Subclasses: the decision for ``trial``, which just reported ``report``."""
        return Decision.CONTINUE

    def end(self, trial_id: int) -> None:
        """The objective of ``trial_id`` returned. A trial still running (it ended
        before its job's ``r1``) is completed where it got to."""
        trial = self.trials[trial_id]
        if trial.status != "running":
            return
        trial.status = "completed"
        self.searcher.remove_pending(trial.config)
        self.on_end(trial)

    def on_end(self, trial: Trial) -> None:
        """Subclasses: ``trial`` ended before its job's ``r1``."""

    def fail(self, trial_id: int, error: str | None = None) -> None:
        """The objective of ``trial_id`` raised (or reported something unusable)."""
        trial = self.trials[trial_id]
        if trial.status == "failed":
            return
        trial.status = "failed"
        self.searcher.evaluation_failed(trial.config)
        self.on_fail(trial)

    def on_fail(self, trial: Trial) -> None:
        """Subclasses: ``trial`` failed."""

    # -- resume -------------------------------------------------------------
    def restore(self, log) -> list[int]:
        """Rebuild the scheduler's state from a journaled run, by replay.

        ``log`` is the run's history in order: ``("job", job)`` for each job
        handed out (``trial_id``, ``r0``, ``r1``, ``config``) and ``("row", row)``
        for each journaled row. Jobs go through :meth:`ask` again (with the
        journaled configurations instead of the searcher's), results through
        :meth:`tell`, ends and failures through :meth:`end` and :meth:`fail`:
        the same path as the first time, for every scheduler. A replay that
        does not reproduce the journal (another scheduler, seed or budget)
        raises ValueError.

        Returns:
            The ids of the trials that were running when the run stopped.
        """
        self.ready()
        for kind, item in log:
            if kind == "job":
                self._replay_job(item)
            else:
                self._replay_row(item)
        return [t.trial_id for t in self.trials.values() if t.status == "running"]

    def _replay_job(self, item):
        trial = self.trials.get(item["trial_id"])
        if trial is not None and trial.status == "running":
            return  # a restart of a trial an earlier interruption left running
        self._replaying = item
        try:
            for attempt in range(3):
                try:
                    job = self.next_job()
                except _Diverged as diverged:
                    job = None
                    # the run had stopped (or allowed again) new trials at this point
                    if str(diverged) == "new" and self.new_trials:
                        self.stop_new_trials()
                        continue
                    raise self._mismatch(item) from None
                if job is None and not self.new_trials and item["trial_id"] == len(self.trials):
                    self.allow_new_trials()
                    continue
                break
        finally:
            self._replaying = None
        if job is None or job.trial_id != item["trial_id"] or job.r1 != item["r1"]:
            raise self._mismatch(item, job)

    def _replay_row(self, row):
        trial = self.trials.get(row["trial_id"])
        if trial is None:
            raise ValueError(f"journaled row of trial {row['trial_id']} comes before any job "
                             f"of it: the journal is not a d2lhpo run's")
        if row["status"] == "failed":
            self.fail(trial.trial_id, row.get("error"))
        elif self.metric not in row or _missing(row[self.metric]):
            if row["status"] == "completed":
                self.end(trial.trial_id)
        elif trial.status == "running" and row["resource"] > trial.resource:
            self.tell(trial.trial_id, report_of(row), row.get("duration"))
            if trial.status != row["status"]:
                raise ValueError(
                    f"replaying the journal, trial {trial.trial_id} at resource "
                    f"{row['resource']!r} is {trial.status}, but the journal says "
                    f"{row['status']}: resume with the scheduler (and seed) that wrote it")

    def _mismatch(self, item, job=None):
        got = "nothing" if job is None else (f"trial {job.trial_id} from {job.r0!r} to "
                                              f"{job.r1!r}")
        return ValueError(
            f"replaying the journal: it started trial {item['trial_id']} from "
            f"{item['r0']!r} to {item['r1']!r}, this scheduler would start {got}; resume "
            f"with the scheduler settings and seed of the run that wrote it")

    # -- seeds --------------------------------------------------------------
    def seed_from(self, seed) -> None:
        """Derive the scheduler's and its searcher's seeds from a master ``seed``,
        where none was given explicitly."""
        if not self.seed_given:
            self.rng = np.random.default_rng([int(seed), 2])
        if hasattr(self.searcher, "seed_from"):
            self.searcher.seed_from(seed)


def _finite(value) -> bool:
    """A finite real number, not a bool (floats and ints first: this runs per report)."""
    if type(value) is float or type(value) is int:
        return math.isfinite(value)
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _same_config(a, b) -> bool:
    """Equal configurations, as far as a JSON round trip can tell (tuples are lists)."""
    def plain(v):
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v.item() if isinstance(v, np.generic) else v
    return a is not None and b is not None and set(a) == set(b) and all(
        plain(a[k]) == plain(b[k]) for k in a)


class _Diverged(Exception):
    """Replay: the scheduler wanted another kind of job than the journal's."""


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check_max_resource(value):
    if not (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0):
        raise ValueError(f"max_resource must be a finite number > 0, got {value!r}")
    return value
