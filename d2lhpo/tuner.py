"""The tuning loop: the one place where searcher, scheduler and backend meet."""

from __future__ import annotations

import logging
import numbers
import os
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


def _dask_backend():
    from .backends.dask import DaskBackend  # distributed takes a second to import
    return DaskBackend()


BACKENDS = {"sequential": SequentialBackend, "process": ProcessBackend,
            "simulated": SimulatedBackend, "dask": _dask_backend}


_SEED_BLOCK = 1024
_STATUS_AFTER = {Decision.PAUSE: "paused", Decision.STOP: "stopped"}  # else by resource


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
            worker), ``"process"`` (default for several), ``"simulated"`` or
            ``"dask"`` (a local Dask cluster of ``n_workers`` processes).
        n_workers: trials that run at once.
        seed: makes the per-trial seeds given to the objective reproducible.
        metric, mode: override the objective's (the scheduler's win over both).
        constraints: metric names that must be <= 0 for a result to be feasible.
        journal: a ``.jsonl`` path; every row is appended and flushed as it
            arrives, so an interrupted run can be loaded with ``Results.load``
            or resumed. A journal that already holds rows raises ValueError
            unless ``resume`` is True.
        checkpoint_dir: where trials keep checkpoints (default: a temporary
            folder). Give one to resume interrupted trials from their checkpoints.
        resume: continue the run in ``journal`` (if it exists): its rows come
            back into the results, the scheduler replays them (see
            :meth:`Scheduler.restore`), new trial ids follow the highest one,
            ``max_trials`` and ``max_time`` count the whole run, and trials it
            left running start again first, from their checkpoint if there is
            one, else from scratch (results already journaled are not recorded
            twice).
        progress: show a ``tqdm`` progress bar.

    Example:
        >>> scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(branin.space, seed=0))
        >>> tuner = hpo.Tuner(branin, scheduler, backend="simulated", n_workers=4)
        >>> results = tuner.run(max_trials=100)
    """

    def __init__(self, objective, scheduler: Scheduler, backend: Backend | str | None = None,
                 n_workers: int = 1, seed: int | None = None, metric: str | None = None,
                 mode: str | None = None, constraints=(), journal=None,
                 checkpoint_dir=None, progress: bool = True, resume: bool = False):
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
        self._checked_metrics = (self.metric, *self.constraints)
        self.journal_path = journal
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.results = Results(self.metric, self.mode, scheduler.max_resource, self.constraints)
        self.trials: dict[int, dict] = {}
        self._seed_blocks: dict[int, list[int]] = {}
        self._next_id = 0
        self._unfinished: list[int] = []  # trials a resumed run restarts first
        if journal is not None and os.path.exists(journal) and os.path.getsize(journal) > 0:
            if not resume:
                raise ValueError(f"journal {str(journal)!r} already holds a run: pass "
                                 f"resume=True to continue it, or give another path")
            self._resume(Path(journal))

    def _resume(self, path: Path):
        """Load the journaled run at ``path`` and replay it into the scheduler."""
        data = path.read_bytes()
        whole = data.rfind(b"\n") + 1
        if whole < len(data):  # the interruption cut the last line: appending would bury it
            with path.open("r+b") as f:
                f.truncate(whole)
        if whole == 0:
            return
        old = Results.load(path)
        if (old.metric, old.mode) != (self.metric, self.mode):
            raise ValueError(f"journal {str(path)!r} tuned {old.metric!r} ({old.mode}), "
                             f"not {self.metric!r} ({self.mode})")
        rows: dict[int, list[dict]] = {}
        for row in old.rows:
            self.results.append(row)
            rows.setdefault(row["trial_id"], []).append(row)
        for trial_id, trial_rows in sorted(rows.items()):
            last = trial_rows[-1]
            config = {k[len(CONFIG_PREFIX):]: v for k, v in last.items()
                      if k.startswith(CONFIG_PREFIX)}
            self.trials[trial_id] = {"config": config, "resource": last["resource"],
                                     "status": last["status"],
                                     "seed": self._trial_seed(trial_id)}
            self.scheduler.restore(trial_id, config, trial_rows)
            if last["status"] == "running":
                self._unfinished.append(trial_id)
        self._next_id = max(rows, default=-1) + 1
        logger.info("resuming %s: %d trials, %d to restart", path, len(rows),
                    len(self._unfinished))

    def _trial_seed(self, trial_id):
        # A SeedSequence costs more than a simulated trial: draw seeds 1024 at a time,
        # each block a function of (seed, block), so trial i's seed depends on i only.
        block, i = divmod(trial_id, _SEED_BLOCK)
        if block not in self._seed_blocks:
            entropy = [self.seed, block] if self.seed is not None else None
            state = np.random.SeedSequence(entropy).generate_state(_SEED_BLOCK)
            self._seed_blocks[block] = state.tolist()
        return self._seed_blocks[block][i]

    def run(self, max_trials: int | None = None, max_time: float | None = None) -> Results:
        """Tune until ``max_trials`` trials were started and have ended, or until the
        backend's clock passes ``max_time`` seconds (whichever comes first).

        ``max_trials`` counts new configurations: once that many were started,
        a scheduler that pauses trials may still resume them (its
        ``suggest_resume``), so ASHA or successive halving finish the rungs
        those trials earn.

        Returns:
            The :class:`Results` (also kept as ``self.results``). Calling
            ``run`` again continues the same run with a larger budget.
        """
        if max_trials is None and max_time is None:
            raise ValueError("give a budget: max_trials or max_time")
        if max_trials is not None and (not isinstance(max_trials, int)
                                       or isinstance(max_trials, bool) or max_trials < 1):
            raise ValueError(f"max_trials must be a positive integer, got {max_trials!r}")
        if max_time is not None and not (isinstance(max_time, numbers.Real) and max_time > 0):
            raise ValueError(f"max_time must be positive seconds, got {max_time!r}")
        self.max_trials, self.max_time = max_trials, max_time
        tmp = None
        if self.checkpoint_dir is None:
            # A file system error in removing scratch files must not lose the results.
            tmp = tempfile.TemporaryDirectory(prefix="d2lhpo-", ignore_cleanup_errors=True)
        self._ckpt = Path(self.checkpoint_dir or tmp.name)
        self._ckpt.mkdir(parents=True, exist_ok=True)
        self._ckpt_prefix = os.path.join(self._ckpt, "trial_")  # joined once: it is slow
        self._journal = Journal(self.journal_path, self.results) if self.journal_path else None
        self._bar = tqdm(total=max_trials if max_time is None else float(max_time),
                         unit="trial" if max_time is None else "s", disable=not self.progress,
                         bar_format=None if max_time is None else "{l_bar}{bar}| {n:.0f}/{total:.0f}s")
        self._running: set[int] = set()
        # The backend's clock starts at 0; a continued run's clock goes on from its last row.
        self._t0 = max((row["time"] for row in self.results.rows), default=0.0)
        self.backend.open(self.objective, self.n_workers, self.metric)
        try:
            while True:
                self._fill_workers()
                if not self._running:
                    break
                for event in self.backend.wait():
                    event.time += self._t0
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
            if self.max_time is not None and self._t0 + self.backend.now() >= self.max_time:
                return
            if self._unfinished:  # left running by an interrupted run (counted already)
                trial_id = self._unfinished.pop(0)
                trial = self.trials[trial_id]
                trial["replayed"] = trial["resource"]
                r0 = trial["resource"] if os.path.exists(self._checkpoint(trial_id)) else 0
                self._launch(trial_id, trial["config"], r0, self.scheduler.max_resource, 0.0)
                continue
            trial_id = self._next_id
            t0 = time.perf_counter()
            if self.max_trials is not None and len(self.trials) >= self.max_trials:
                suggestion = self.scheduler.suggest_resume()  # no new trials now
            else:
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
                self._next_id += 1
                if self.max_time is None and self.progress:
                    self._bar.update(1)
            self._launch(trial_id, suggestion.config, r0, suggestion.resource, decision_time)

    def _checkpoint(self, trial_id):
        return f"{self._ckpt_prefix}{trial_id}"

    def _launch(self, trial_id, config, r0, r1, delay):
        trial = self.trials[trial_id]
        trial["status"] = "running"
        context = {"seed": trial["seed"], "checkpoint": self._checkpoint(trial_id)}
        self._running.add(trial_id)
        self.backend.start(trial_id, config, r0, r1, context, delay=delay)

    def _record(self, event, status, report=None, error=None):
        trial = self.trials[event.trial_id]
        trial["status"] = status
        row = {"trial_id": event.trial_id, "status": status,
               "resource": (report or {}).get("resource", trial["resource"]),
               "time": event.time, "duration": event.duration, "worker": event.worker}
        if "columns" not in trial:  # the config's columns, made once per trial
            trial["columns"] = {CONFIG_PREFIX + k: v for k, v in trial["config"].items()}
        row.update(trial["columns"])
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
            if report["resource"] <= trial.get("replayed", -1):  # journaled before a resume
                self.backend.decide(trial_id, True)
                return
            bad = bad_metrics(report, self._checked_metrics)
            if bad:
                self._fail(event, f"bad metric value: {', '.join(bad)}", report)
                self.backend.decide(trial_id, False)
                return
            trial["resource"] = report["resource"]
            decision = self.scheduler.on_result(trial_id, report)
            status = _STATUS_AFTER.get(decision)
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
