"""The tuning loop: the one place where scheduler and backend meet."""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .backends.base import Backend, check_timeout
from .backends.local import ProcessBackend, SequentialBackend
from .backends.simulated import SimulatedBackend
from .budget import Budget
from .checks import check_seed
from .objectives.base import bad_metrics
from .results import CONFIG_PREFIX, Journal, Results
from .schedulers.base import BadReport, Decision, Job, Scheduler

logger = logging.getLogger(__name__)


def _dask_backend():
    from .backends.dask import DaskBackend  # distributed takes a second to import
    return DaskBackend()


BACKENDS = {"sequential": SequentialBackend, "process": ProcessBackend,
            "simulated": SimulatedBackend, "dask": _dask_backend}

_SEED_BLOCK = 1024


class Tuner:
    """Runs an objective under a scheduler on a backend, and records every result.

    The tuner is the scheduler's ask/tell loop: for each free worker it asks
    the scheduler for a job and starts it on the backend; each result goes to
    ``scheduler.tell``, whose decision goes back to the backend. A trial whose
    objective raises, or reports a NaN or infinite metric, is recorded as
    failed (with the error text) and tuning goes on. Ctrl-C stops the run and
    returns what was reported so far; so does a budget running out.

    Args:
        objective: a stepwise objective or a plain function (see
            :mod:`d2lhpo.objectives.base`).
        scheduler: decides which trials run and for how long.
        backend: a :class:`Backend`, or ``"sequential"`` (default for one
            worker), ``"process"`` (default for several), ``"simulated"`` or
            ``"dask"`` (a local Dask cluster of ``n_workers`` processes).
        n_workers: trials that run at once.
        seed: the master seed: per-trial seeds given to the objective, and the
            searcher's and scheduler's seeds where they were not given.
        metric, mode: the metric to tune and its direction; a scheduler (or
            searcher) that has another raises ValueError. Default: the
            scheduler's, else the objective's.
        constraints: metric names that must be <= 0 for a result to be feasible.
        journal: a ``.jsonl`` path; every job and row is appended and flushed
            as it happens, so an interrupted run can be loaded with
            ``Results.load`` or resumed. A journal that already holds rows
            raises ValueError unless ``resume`` is True.
        checkpoint_dir: where trials keep checkpoints (default: a temporary
            folder). Give one to resume interrupted trials from their checkpoints.
        resume: continue the run in ``journal`` (if it exists): its rows come
            back into the results and the scheduler replays them
            (:meth:`Scheduler.restore`); trials it left running start again
            first, from their checkpoint if there is one, else from scratch
            (results already journaled are not recorded twice).
        trial_timeout: wall-clock seconds one step of a trial may take on a
            real backend before the trial fails (None: no limit).
        progress: show a ``tqdm`` progress bar.

    Example:
        >>> scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(branin.space, seed=0))
        >>> tuner = hpo.Tuner(branin, scheduler, backend="simulated", n_workers=4)
        >>> results = tuner.run(max_trials=100)
    """

    def __init__(self, objective, scheduler: Scheduler, backend: Backend | str | None = None,
                 n_workers: int = 1, seed: int | None = None, metric: str | None = None,
                 mode: str | None = None, constraints=(), journal=None,
                 checkpoint_dir=None, progress: bool = True, resume: bool = False,
                 trial_timeout: float | None = None):
        if not callable(objective):
            raise ValueError(f"objective must be callable, got {objective!r}")
        if not isinstance(scheduler, Scheduler):
            raise ValueError(f"scheduler must be a d2lhpo Scheduler, got {scheduler!r}")
        if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
        if (isinstance(constraints, str) or not hasattr(constraints, "__iter__")
                or not all(isinstance(c, str) for c in constraints)):
            raise ValueError(f"constraints must be a list of metric names, got {constraints!r}")
        check_timeout(trial_timeout, "trial_timeout")
        if seed is not None:
            check_seed(seed)
        if checkpoint_dir is not None and not isinstance(checkpoint_dir, (str, os.PathLike)):
            raise ValueError(f"checkpoint_dir must be a folder path, got {checkpoint_dir!r}")
        if backend is None:
            backend = "sequential" if n_workers == 1 else "process"
        if isinstance(backend, str):
            if backend not in BACKENDS:
                raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {backend!r}")
            backend = BACKENDS[backend]()
        if not isinstance(backend, Backend):
            raise ValueError(f"backend must be a d2lhpo Backend or one of {sorted(BACKENDS)}, "
                             f"got {backend!r}")
        if isinstance(backend, SequentialBackend) and n_workers != 1:
            raise ValueError(f"the sequential backend runs one trial at a time, got "
                             f"n_workers={n_workers}: use backend='process' or 'dask'")
        self.objective, self.scheduler, self.backend = objective, scheduler, backend
        self.n_workers, self.seed, self.trial_timeout = n_workers, seed, trial_timeout
        self.constraints = list(constraints)
        scheduler.bind(metric, mode)  # given here: must agree with the scheduler's
        scheduler.bind(getattr(objective, "metric", None), getattr(objective, "mode", None),
                       getattr(objective, "max_resource", None), defaults=True)
        scheduler.ready()
        if seed is not None and not scheduler.trials:
            scheduler.seed_from(seed)
        self.metric, self.mode = scheduler.metric, scheduler.mode
        self._checked_metrics = (self.metric, *self.constraints)
        self.journal_path = journal
        if journal is not None:
            journal = Journal.check_path(journal)
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.results = Results(self.metric, self.mode, scheduler.max_resource, self.constraints,
                               settings={"space": repr(scheduler.searcher.space),
                                         "scheduler": type(scheduler).__name__})
        self._seed_blocks: dict[int, list[int]] = {}
        self._restart: list[int] = []     # trials an interrupted run left running
        self._replayed: dict[int, float] = {}  # trial -> resource journaled before a resume
        self._columns: dict[int, dict] = {}    # trial -> its config columns, made once
        self._seen_metric = False  # a report has held every metric named (so none is misspelt)
        if journal is not None and os.path.exists(journal) and os.path.getsize(journal) > 0:
            if not resume:
                raise ValueError(f"journal {str(journal)!r} already holds a run: pass "
                                 f"resume=True to continue it, or give another path")
            self._resume(Path(journal))

    @property
    def trials(self):
        """The scheduler's record of each trial (id -> :class:`~d2lhpo.schedulers.Trial`)."""
        return self.scheduler.trials

    def _resume(self, path: Path):
        """Load the journaled run at ``path`` and replay it through the scheduler."""
        old = Journal.for_resume(path)
        if old is None:
            return
        if (old.metric, old.mode) != (self.metric, self.mode):
            raise ValueError(f"journal {str(path)!r} tuned {old.metric!r} ({old.mode}), "
                             f"not {self.metric!r} ({self.mode})")
        if old.max_resource != self.scheduler.max_resource:
            raise ValueError(f"journal {str(path)!r} ran to max_resource {old.max_resource!r}, "
                             f"this tuner to {self.scheduler.max_resource!r}")
        for name, value in self.results.settings.items():
            if name in old.settings and old.settings[name] != value:
                raise ValueError(f"journal {str(path)!r} tuned with {name} "
                                 f"{old.settings[name]}, this tuner with {value}: resume "
                                 f"with the settings of the run that wrote it")
        for row in old.rows:
            self.results.append(row)
        self.results.jobs.extend(old.jobs)
        self._restart = self.scheduler.restore(old.history())
        for trial_id in self._restart:
            self._replayed[trial_id] = self.scheduler.trials[trial_id].resource
        logger.info("resuming %s: %d trials, %d to restart", path, len(self.scheduler.trials),
                    len(self._restart))

    def _trial_seed(self, trial_id):
        # A SeedSequence costs more than a simulated trial: draw seeds 1024 at a time,
        # each block a function of (seed, block), so trial i's seed depends on i only.
        block, i = divmod(trial_id, _SEED_BLOCK)
        if block not in self._seed_blocks:
            entropy = [self.seed, block] if self.seed is not None else None
            state = np.random.SeedSequence(entropy).generate_state(_SEED_BLOCK)
            self._seed_blocks[block] = state.tolist()
        return self._seed_blocks[block][i]

    def run(self, max_trials: int | None = None, max_time: float | None = None,
            target: float | None = None, budget: Budget | None = None) -> Results:
        """Tune until the budget is spent (see :class:`~d2lhpo.budget.Budget`):
        ``max_trials`` trials were started and have ended, the backend's clock
        passes ``max_time`` seconds, or a full-fidelity result reaches
        ``target``, whichever comes first.

        Returns:
            The :class:`Results` (also kept as ``self.results``). Calling
            ``run`` again continues the same run with a larger budget.
        """
        if budget is None:
            budget = Budget(max_trials, max_time, target)
        elif not isinstance(budget, Budget) or (max_trials, max_time, target) != (None,) * 3:
            raise ValueError(f"give either budget (a Budget) or max_trials/max_time/target, "
                             f"got budget={budget!r}")
        self.budget = budget
        if budget.max_trials is None or len(self.scheduler.trials) < budget.max_trials:
            self.scheduler.allow_new_trials()
        tmp = None
        if self.checkpoint_dir is None:
            # A file system error in removing scratch files must not lose the results.
            tmp = tempfile.TemporaryDirectory(prefix="d2lhpo-", ignore_cleanup_errors=True)
        self._ckpt = Path(self.checkpoint_dir or tmp.name)
        self._ckpt.mkdir(parents=True, exist_ok=True)
        self._ckpt_prefix = os.path.join(self._ckpt, "trial_")  # joined once: it is slow
        self._journal = Journal(self.journal_path, self.results) if self.journal_path else None
        timed = budget.max_time is not None
        self._bar = tqdm(total=budget.max_trials if not timed else float(budget.max_time),
                         unit="trial" if not timed else "s", disable=not self.progress,
                         bar_format=None if not timed else "{l_bar}{bar}| {n:.0f}/{total:.0f}s")
        self._running: set[int] = set()
        self._done = False
        # The backend's clock starts at 0; a continued run's clock goes on from its last row.
        self._t0 = max((row["time"] for row in self.results.rows), default=0.0)
        self._real = not isinstance(self.backend, SimulatedBackend)
        self.backend.open(self.objective, self.n_workers, self.metric, timeout=self.trial_timeout)
        try:
            while not self._done:
                self._fill_workers()
                if not self._running:
                    break
                for event in self._wait():
                    event.time += self._t0
                    if timed and event.time > budget.max_time:
                        self._done = True
                        break
                    self._handle(event)
                    if timed and self.progress:
                        self._bar.update(min(event.time, budget.max_time) - self._bar.n)
                    if self._done:
                        break
                if timed and self._t0 + self.backend.now() > budget.max_time:
                    break
        except KeyboardInterrupt:
            self.backend.interrupted = True  # close() then waits for no running step
            logger.warning("interrupted: returning the %d results reported so far",
                           len(self.results))
        finally:
            try:
                self.backend.close()
            finally:
                self._bar.close()
                if self._journal:
                    self._journal.close()
                if tmp is not None:
                    tmp.cleanup()
        return self.results

    def _wait(self):
        if not self._real or self.budget.max_time is None:
            return self.backend.wait()
        left = self.budget.time_left(self._t0 + self.backend.now())
        return self.backend.wait(timeout=max(left, 0.0) + 0.01)

    def _fill_workers(self):
        budget = self.budget
        while self.backend.n_free() > 0:
            if budget.max_time is not None and self._t0 + self.backend.now() >= budget.max_time:
                return
            if self._restart:  # left running by an interrupted run
                trial = self.scheduler.trials[self._restart.pop(0)]
                resumable = trial.resource > 0 and os.path.exists(self._checkpoint(trial.trial_id))
                r0 = trial.resource if resumable else 0
                levels = self.scheduler.job_levels(trial, r0, trial.target)
                self._launch(Job(trial.trial_id, trial.config, r0, trial.target, levels), 0.0)
                continue
            if (budget.max_trials is not None and self.scheduler.new_trials
                    and len(self.scheduler.trials) >= budget.max_trials):
                self.scheduler.stop_new_trials()
            n_trials = len(self.scheduler.trials)
            # the CPU seconds of the deciding thread: what the decision costs, not
            # what other processes on a busy machine make its wall time look like
            t0 = time.thread_time()
            job = self.scheduler.ask()
            decision_time = time.thread_time() - t0
            if job is None:
                return
            if len(self.scheduler.trials) > n_trials and budget.max_time is None:
                self._bar.update(1)
            self._launch(job, decision_time)

    def _checkpoint(self, trial_id):
        return f"{self._ckpt_prefix}{trial_id}"

    def _launch(self, job: Job, delay):
        trial = self.scheduler.trials[job.trial_id]
        if trial.seed is None:
            trial.seed = self._trial_seed(job.trial_id)
        trial.checkpoint = self._checkpoint(job.trial_id)
        if job.checkpoint_from is not None:  # PBT's exploit: start from another's weights
            _copy_checkpoint(self.scheduler.trials[job.checkpoint_from],
                             self._checkpoint(job.checkpoint_from), trial.checkpoint)
        if self._journal:  # what a resumed run replays (kept only with a journal)
            self._journal.write_job(self.results.append_job(
                {"trial_id": job.trial_id, "r0": job.r0, "r1": job.r1, "config": job.config,
                 **({} if job.checkpoint_from is None else
                    {"checkpoint_from": job.checkpoint_from})}))
        self._running.add(job.trial_id)
        context = {"seed": trial.seed, "checkpoint": trial.checkpoint, "levels": job.levels}
        self.backend.start(job.trial_id, job.config, job.r0, job.r1, context, delay=delay)

    def _record(self, event, report=None, error=None):
        trial = self.scheduler.trials[event.trial_id]
        row = {"trial_id": event.trial_id, "status": trial.status,
               "resource": (report or {}).get("resource", trial.resource),
               "time": event.time, "duration": event.duration, "worker": event.worker}
        config, columns = self._columns.get(event.trial_id, (None, None))
        if config is not trial.config:  # made once per config (PBT changes a trial's)
            columns = {CONFIG_PREFIX + k: v for k, v in trial.config.items()}
            self._columns[event.trial_id] = (trial.config, columns)
        row.update(columns)
        row.update({k: v for k, v in (report or {}).items() if k != "resource"})
        if error is not None:
            row["error"] = error
        with _ctrl_c_deferred():   # in the results and in the journal, or in neither
            self.results.append(row)
            if self._journal:
                self._journal.write(row)

    def _end(self, trial_id, go_on=False):
        """The trial leaves its worker (unless it goes on)."""
        self.backend.decide(trial_id, go_on)
        if not go_on:
            self._running.discard(trial_id)

    def _handle(self, event):
        trial_id = event.trial_id
        trial = self.scheduler.trials[trial_id]
        if event.kind == "result":
            report = event.report
            if trial.status != "running":  # ended here already: nothing more to hear
                self._end(trial_id)
                return
            resource = report.get("resource")
            if trial_id in self._replayed and _le(resource, self._replayed[trial_id]):
                self.backend.decide(trial_id, True)  # journaled before the resume
                return
            if not self._seen_metric:
                self._check_metric_names(report)
            bad = bad_metrics(report, self._checked_metrics)
            if bad:
                self._fail(event, f"bad metric value: {', '.join(bad)}", report)
                self._end(trial_id)
                return
            try:
                decision = self.scheduler.tell(trial_id, report, event.duration)
            except BadReport as err:
                self._record(event, _resource_only(report, trial), error=str(err))
                logger.warning("%s", err)
                self._end(trial_id)
                return
            self._record(event, report)
            self._end(trial_id, decision == Decision.CONTINUE and trial.status == "running")
            if (trial.status == "completed" and self.budget.target is not None
                    and self._feasible(report)
                    and self.budget.reached(float(report[self.metric]), self.mode)):
                self._done = True
        elif event.kind == "done":
            self._running.discard(trial_id)
            if trial.status == "running":  # the objective ended before its job's r1
                self.scheduler.end(trial_id)
                self._record(event)
        else:
            self._running.discard(trial_id)
            if trial.status in ("running", "paused"):
                self._fail(event, event.error, event.report)

    def _check_metric_names(self, report):
        """The first report of a run must name the tuned metric and the constraints: a
        misspelt name would fail every trial, so it stops the run with a clear error."""
        missing = [m for m in self._checked_metrics if m not in report]
        if missing and not any(r.get("status") != "failed" for r in self.results.rows):
            names = sorted(k for k in report if k not in ("resource", "cost"))
            raise ValueError(f"the objective reports {names}, not {missing[0]!r}: check "
                             f"metric= (or constraints=) of the tuner and scheduler")
        self._seen_metric = not missing

    def _feasible(self, report):
        return all(report.get(c, 1) <= 0 for c in self.constraints)

    def _fail(self, event, error, report=None):
        logger.warning("trial %d failed: %s", event.trial_id, (error or "").strip()[-300:])
        self.scheduler.fail(event.trial_id, error)
        self._record(event, _resource_only(report, self.scheduler.trials[event.trial_id]),
                     error=error)


def _copy_checkpoint(source, checkpoint, path):
    """Put a copy of paused trial ``source``'s ``checkpoint`` (a file or a folder) at
    ``path``, in place of what is there and beside it (``path.*``: an older epoch)."""
    if source.status == "running":
        raise ValueError(f"a job may start from the checkpoint of a paused trial, not of "
                         f"trial {source.trial_id} ({source.status})")
    for old in glob.glob(glob.escape(path) + ".*") + [path]:
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old)
        elif os.path.lexists(old):
            os.remove(old)
    if os.path.isdir(checkpoint):
        shutil.copytree(checkpoint, path)
    elif os.path.exists(checkpoint):
        shutil.copy2(checkpoint, path + ".copy")
        os.replace(path + ".copy", path)  # a copy cut short is never taken for a checkpoint
    else:
        logger.warning("trial %d has no checkpoint at %s to copy", source.trial_id,
                       checkpoint)


def _resource_only(report, trial):
    resource = (report or {}).get("resource")
    ok = isinstance(resource, (int, float)) and not isinstance(resource, bool)
    return {"resource": resource if ok and np.isfinite(resource) else trial.resource}


def _le(a, b):
    try:
        return a <= b
    except TypeError:
        return False


@contextlib.contextmanager
def _ctrl_c_deferred():
    """Ctrl-C (SIGINT) waits until the block is done, then interrupts as usual.

    A Ctrl-C between adding a result to the returned results and writing it
    to the journal returned a result that a resume would not find (4 results
    returned, 3 journaled, in one run of tests/test_interrupts.py). Python
    handles signals in the main thread only, so there the block's Ctrl-C is
    noted and handed to the previous handler at its end; in another thread
    nothing is deferred (no KeyboardInterrupt is raised there either).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(signal.SIGINT, caught[0])
            elif previous == signal.SIG_DFL:
                signal.raise_signal(signal.SIGINT)
