"""Real backends on this machine: in-process (sequential) and local processes."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import queue
import time
import traceback

from ..objectives.base import run_objective
from .base import Backend, Event


class SequentialBackend(Backend):
    """Runs one trial at a time in this process, on the wall clock.

    The simplest backend: objectives defined in a notebook work as they are,
    and a debugger or ``print`` inside the objective behaves as usual.
    """

    def open(self, objective, n_workers, metric):
        if n_workers != 1:
            raise ValueError(f"SequentialBackend runs one trial at a time, n_workers={n_workers}")
        super().open(objective, 1, metric)
        self._t0 = time.perf_counter()
        self._trial = None  # (trial_id, iterator)

    def start(self, trial_id, config, r0, r1, context, delay=0.0):
        self._trial = (trial_id, run_objective(self.objective, config, r0, r1, self.metric,
                                               self.spec, **context))

    def n_free(self):
        return 0 if self._trial else 1

    def wait(self, timeout=None):
        trial_id, it = self._trial
        t = time.perf_counter()
        try:
            report = next(it)
        except StopIteration:
            self._trial = None
            return [Event("done", trial_id, self.now(), 0)]
        except Exception:
            self._trial = None
            return [Event("failed", trial_id, self.now(), 0,
                          error=traceback.format_exc(limit=-3))]
        return [Event("result", trial_id, self.now(), 0, report, time.perf_counter() - t)]

    def decide(self, trial_id, go_on):
        if not go_on:
            self._trial[1].close()
            self._trial = None

    def now(self):
        return time.perf_counter() - self._t0

    def close(self):
        if self._trial:
            self._trial[1].close()
            self._trial = None


def _init_worker(threads: int):
    # Keep n workers x threads within the machine's cores (torch reads these on import).
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


def _run_trial(objective, spec, trial_id, config, r0, r1, metric, context, events, decisions):
    """Runs in a worker process: one report at a time, waiting for the decision."""
    worker = os.getpid()
    try:
        it = run_objective(objective, config, r0, r1, metric, spec, **context)
        while True:
            t = time.perf_counter()
            try:
                report = next(it)
            except StopIteration:
                events.put(("done", trial_id, worker, {}, 0.0, None))
                return
            events.put(("result", trial_id, worker, report, time.perf_counter() - t, None))
            if not decisions.get():
                it.close()
                return
    except Exception:
        events.put(("failed", trial_id, worker, {}, 0.0, traceback.format_exc(limit=-3)))


class ProcessBackend(Backend):
    """Runs trials in a pool of worker processes on this machine.

    Each trial runs in a process of a ``concurrent.futures.ProcessPoolExecutor``
    and streams every report back; after each report it waits for the
    scheduler's decision, so a stopped trial does not start another epoch.
    Objectives must be picklable (defined in a module, not in a notebook cell,
    with the default ``"spawn"`` start method).

    Args:
        start_method: ``"spawn"`` (safe with torch), ``"forkserver"`` or ``"fork"``.
        threads_per_worker: threads each worker's math libraries may use
            (default: cores // workers, at least 1).
    """

    def __init__(self, start_method: str = "spawn", threads_per_worker: int | None = None):
        self.start_method = start_method
        self.threads_per_worker = threads_per_worker

    def open(self, objective, n_workers, metric):
        super().open(objective, n_workers, metric)
        ctx = mp.get_context(self.start_method)
        self._threads = self.threads_per_worker or max(1, (os.cpu_count() or 1) // n_workers)
        self._manager = ctx.Manager()
        self._events = self._manager.Queue()
        self._pool = self._new_pool()
        self._futures: dict[int, cf.Future] = {}
        self._decisions: dict[int, object] = {}
        self._workers: dict[int, int] = {}  # pid -> worker index
        self._t0 = time.perf_counter()

    def start(self, trial_id, config, r0, r1, context, delay=0.0):
        decisions = self._manager.Queue()
        self._decisions[trial_id] = decisions
        self._futures[trial_id] = self._pool.submit(
            _run_trial, self.objective, self.spec, trial_id, config, r0, r1, self.metric, context,
            self._events, decisions)

    def n_free(self):
        return self.n_workers - sum(not f.done() for f in self._futures.values())

    def wait(self, timeout=None):
        events = []
        while not events:
            try:
                item = self._events.get(timeout=0.02)
            except queue.Empty:
                item = None
            if item is not None:
                kind, trial_id, pid, report, duration, error = item
                worker = self._workers.setdefault(pid, len(self._workers))
                events.append(Event(kind, trial_id, self.now(), worker, report, duration, error))
            events += self._crashed()
            if not events and self._reap():
                break
        return events

    def _crashed(self):
        """Trials whose process died without reporting (e.g. killed, or not picklable)."""
        events = []
        for trial_id, fut in list(self._futures.items()):
            if fut.done() and fut.exception() is not None:
                del self._futures[trial_id]
                self._decisions.pop(trial_id, None)
                events.append(Event("failed", trial_id, self.now(), -1,
                                    error=f"worker process failed: {fut.exception()!r}"))
        if any("BrokenProcessPool" in (e.error or "") for e in events):
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
        return events

    def _new_pool(self):
        return cf.ProcessPoolExecutor(self.n_workers, mp_context=mp.get_context(self.start_method),
                                      initializer=_init_worker, initargs=(self._threads,))

    def _reap(self) -> bool:
        """Forget finished trials; True if a worker became free."""
        done = [t for t, f in self._futures.items() if f.done() and f.exception() is None]
        for trial_id in done:
            del self._futures[trial_id]
            self._decisions.pop(trial_id, None)
        return bool(done)

    def decide(self, trial_id, go_on):
        if trial_id in self._decisions:
            self._decisions[trial_id].put(bool(go_on))

    def now(self):
        return time.perf_counter() - self._t0

    def close(self):
        for decisions in self._decisions.values():
            decisions.put(False)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._manager.shutdown()
