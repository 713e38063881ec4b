"""The tuning loop: the one place where searcher, scheduler and backend meet."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .backends.base import Backend
from .backends.local import ProcessBackend, SequentialBackend
from .backends.simulated import SimulatedBackend
from .objectives.base import bad_metrics
from .results import CONFIG_PREFIX, Journal, Results
from .schedulers.base import Decision, Scheduler

logger = logging.getLogger(__name__)

BACKENDS = {"sequential": SequentialBackend, "process": ProcessBackend,
            "simulated": SimulatedBackend}


class _TimeUp(Exception):
    pass


class Tuner:
    """Runs an objective under a scheduler on a backend, and records every result.

    A trial whose objective raises, or reports a NaN or infinite metric, is
    recorded as failed (with the error text) and tuning goes on. Ctrl-C stops
    the run and returns what was reported so far; so does a budget running out.

    Args:
        objective: a stepwise objective or a plain function (see
            :mod:`d2lhpo.objectives.base`).
        scheduler: decides which trials run and for how long.
        backend: a :class:`Backend`, or ``"sequential"`` (default for one
            worker), ``"process"`` (default for several) or ``"simulated"``.
        n_workers: trials that run at once.
        seed: makes the per-trial seeds given to the objective reproducible.
        metric, mode: override the objective's (the scheduler's win over both).
        constraints: metric names that must be <= 0 for a result to be feasible.
        journal: a ``.jsonl`` path; every row is appended and flushed as it
            arrives, so an interrupted run can be loaded with ``Results.load``.
        checkpoint_dir: where trials keep checkpoints (default: a temporary folder).
        progress: show a ``tqdm`` progress bar.

    Example:
        >>> scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(branin.space, seed=0))
        >>> tuner = hpo.Tuner(branin, scheduler, backend="simulated", n_workers=4)
        >>> results = tuner.run(max_trials=100)
    """

    def __init__(self, objective, scheduler: Scheduler, backend: Backend | str | None = None,
                 n_workers: int = 1, seed: int | None = None, metric: str | None = None,
                 mode: str | None = None, constraints=(), journal=None,
                 checkpoint_dir=None, progress: bool = True):
        if not callable(objective):
            raise ValueError(f"objective must be callable, got {objective!r}")
        if not isinstance(scheduler, Scheduler):
            raise ValueError(f"scheduler must be a d2lhpo Scheduler, got {scheduler!r}")
        if not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
        if backend is None:
            backend = "sequential" if n_workers == 1 else "process"
        if isinstance(backend, str):
            if backend not in BACKENDS:
                raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {backend!r}")
            backend = BACKENDS[backend]()
        self.objective, self.scheduler, self.backend = objective, scheduler, backend
        self.n_workers, self.seed = n_workers, seed
        self.constraints = list(constraints)
        scheduler.bind(metric or getattr(objective, "metric", None),
                       mode or getattr(objective, "mode", None),
                       getattr(objective, "max_resource", None))
        self.metric, self.mode = scheduler.metric, scheduler.mode
        self.journal_path = journal
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.results = Results(self.metric, self.mode, scheduler.max_resource, self.constraints)
        self.trials: dict[int, dict] = {}

    def _trial_seed(self, trial_id):
        entropy = [self.seed, trial_id] if self.seed is not None else None
        return int(np.random.SeedSequence(entropy).generate_state(1)[0])

    def run(self, max_trials: int | None = None, max_time: float | None = None) -> Results:
        """Tune until ``max_trials`` trials were started and have ended, or until the
        backend's clock passes ``max_time`` seconds (whichever comes first).

        Returns:
            The :class:`Results` (also kept as ``self.results``). Calling
            ``run`` again continues the same run with a larger budget.
        """
        if max_trials is None and max_time is None:
            raise ValueError("give a budget: max_trials or max_time")
        if max_trials is not None and (not isinstance(max_trials, int) or max_trials < 1):
            raise ValueError(f"max_trials must be a positive integer, got {max_trials!r}")
        if max_time is not None and not max_time > 0:
            raise ValueError(f"max_time must be positive seconds, got {max_time!r}")
        self.max_trials, self.max_time = max_trials, max_time
        tmp = None
        if self.checkpoint_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="d2lhpo-")
        self._ckpt = Path(self.checkpoint_dir or tmp.name)
        self._ckpt.mkdir(parents=True, exist_ok=True)
        self._journal = Journal(self.journal_path, self.results) if self.journal_path else None
        self._bar = tqdm(total=max_trials if max_time is None else float(max_time),
                         unit="trial" if max_time is None else "s", disable=not self.progress,
                         bar_format=None if max_time is None else "{l_bar}{bar}| {n:.0f}/{total:.0f}s")
        self._running: set[int] = set()
        self.backend.open(self.objective, self.n_workers, self.metric)
        try:
            while True:
                self._fill_workers()
                if not self._running:
                    break
                for event in self.backend.wait():
                    if max_time is not None and event.time > max_time:
                        raise _TimeUp
                    self._handle(event)
                    if max_time is not None:
                        self._bar.update(min(event.time, max_time) - self._bar.n)
        except _TimeUp:
            pass
        except KeyboardInterrupt:
            logger.warning("interrupted: returning the %d results reported so far",
                           len(self.results))
        finally:
            self.backend.close()
            self._bar.close()
            if self._journal:
                self._journal.close()
            if tmp is not None:
                tmp.cleanup()
        return self.results

    def _fill_workers(self):
        while self.backend.n_free() > 0:
            if self.max_trials is not None and len(self.trials) >= self.max_trials:
                return
            if self.max_time is not None and self.backend.now() >= self.max_time:
                return
            trial_id = len(self.trials)
            t0 = time.perf_counter()
            suggestion = self.scheduler.suggest(trial_id)
            decision_time = time.perf_counter() - t0
            if suggestion is None:
                return
            if suggestion.resume:
                trial_id = suggestion.trial_id
                trial = self.trials[trial_id]
                r0 = trial["resource"]
            else:
                trial = self.trials[trial_id] = {"config": suggestion.config, "resource": 0,
                                                 "seed": self._trial_seed(trial_id)}
                r0 = 0
                if self.max_time is None:
                    self._bar.update(1)
            trial["status"] = "running"
            context = {"seed": trial["seed"], "checkpoint": str(self._ckpt / f"trial_{trial_id}")}
            self._running.add(trial_id)
            self.backend.start(trial_id, suggestion.config, r0, suggestion.resource, context,
                               delay=decision_time)

    def _record(self, event, status, report=None, error=None):
        trial = self.trials[event.trial_id]
        trial["status"] = status
        row = {"trial_id": event.trial_id, "status": status,
               "resource": (report or {}).get("resource", trial["resource"]),
               "time": event.time, "duration": event.duration, "worker": event.worker}
        row.update({CONFIG_PREFIX + k: v for k, v in trial["config"].items()})
        row.update({k: v for k, v in (report or {}).items() if k != "resource"})
        if error is not None:
            row["error"] = error
        self.results.append(row)
        if self._journal:
            self._journal.write(row)

    def _handle(self, event):
        trial_id = event.trial_id
        trial = self.trials[trial_id]
        if event.kind == "result":
            report = event.report
            bad = bad_metrics(report, [self.metric, *self.constraints])
            if bad:
                self._fail(event, f"bad metric value: {', '.join(bad)}", report)
                self.backend.decide(trial_id, False)
                return
            trial["resource"] = report["resource"]
            decision = self.scheduler.on_result(trial_id, report)
            status = {Decision.PAUSE: "paused", Decision.STOP: "stopped"}.get(decision)
            if status is None:
                done = report["resource"] >= self.scheduler.max_resource
                status = "completed" if done else "running"
            self._record(event, status, report)
            if status in ("paused", "stopped"):
                self._running.discard(trial_id)
            self.backend.decide(trial_id, decision == Decision.CONTINUE)
        elif event.kind == "done":
            self._running.discard(trial_id)
            if trial["status"] == "running":  # the objective ended before max_resource
                trial["status"] = "completed"
            last = next((r for r in reversed(self.results.rows) if r["trial_id"] == trial_id),
                        None)
            self.scheduler.on_complete(trial_id, last)
        else:
            self._fail(event, event.error, event.report)

    def _fail(self, event, error, report=None):
        logger.warning("trial %d failed: %s", event.trial_id, (error or "").strip()[-300:])
        report = {k: v for k, v in (report or {}).items() if k == "resource"}
        self._record(event, "failed", report, error=error)
        self._running.discard(event.trial_id)
        self.scheduler.on_error(event.trial_id)
