"""Real backends on this machine: in-process (sequential) and local processes."""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing as mp
import multiprocessing.util
import numbers
import os
import pickle
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing import connection

from ..objectives.base import run_objective
from .base import Backend, Event, StepTimedOut, close_steps, step, timeout_error

logger = logging.getLogger(__name__)


class SequentialBackend(Backend):
    """Runs one trial at a time in this process, on the wall clock.

    The simplest backend: objectives defined in a notebook work as they are,
    and a debugger or ``print`` inside the objective behaves as usual. A
    ``timeout`` (and ``wait(timeout)``) is enforced with ``SIGALRM`` in the
    main thread: the step gets an exception at its next Python instruction
    (a call that blocks in C without checking signals ends first). Elsewhere
    than in the main thread of a Unix process, neither is enforced. A
    ``wait(timeout)`` that runs out mid-step ends that step (it runs in the
    caller's thread): the trial fails at the next ``wait``.
    """

    def open(self, objective, n_workers, metric, timeout=None):
        if n_workers != 1:
            raise ValueError(f"SequentialBackend runs one trial at a time, n_workers={n_workers}")
        super().open(objective, 1, metric, timeout)
        self._t0 = time.perf_counter()
        self._trial = None  # (trial_id, iterator)
        self._cut = None  # why the trial's step ended before it reported (a wait timed out)

    def start(self, trial_id, config, r0, r1, context, delay=0.0):
        self._trial = (trial_id, run_objective(self.objective, config, r0, r1, self.metric,
                                               self.spec, **context))
        self._cut = None

    def n_free(self):
        return 0 if self._trial else 1

    def wait(self, timeout=None):
        if self._trial is None:
            return []
        trial_id, it = self._trial
        if self._cut is not None:
            kind, report, error = "failed", None, self._cut
        else:
            limit, why = self.timeout, self.timeout and timeout_error(self.timeout)
            if timeout is not None and (limit is None or timeout < limit):
                limit, why = timeout, _CUT
            kind, report, error = "failed", None, why  # if it rings as the step ends
            t = time.perf_counter()
            with _alarm(limit, why):
                kind, report, error = step(it)
            if kind == "failed" and error == _CUT:
                self._cut = (f"the step was cut when wait(timeout={timeout:g}) ran out: the "
                             f"sequential backend runs steps in the tuner's thread")
                return []
        if kind != "result":
            self._trial = None
            return [Event(kind, trial_id, self.now(), 0, error=error)]
        return [Event("result", trial_id, self.now(), 0, report, time.perf_counter() - t)]

    def decide(self, trial_id, go_on):
        if not go_on:
            close_steps(self._trial[1])
            self._trial = None

    def now(self):
        return time.perf_counter() - self._t0

    def close(self):
        if self._trial:
            close_steps(self._trial[1])
            self._trial = None


_CUT = "cut by wait(timeout)"
_warned_alarm = False


@contextlib.contextmanager
def _alarm(seconds, message):
    """Raise StepTimedOut(message) in this thread after ``seconds`` (None: never)."""
    global _warned_alarm
    if seconds is None:
        yield
        return
    in_main = threading.current_thread() is threading.main_thread()
    if not hasattr(signal, "setitimer") or not in_main:
        if not _warned_alarm:
            logger.warning("the sequential backend enforces timeouts only in the main thread "
                           "of a Unix process; this step runs without one")
            _warned_alarm = True
        yield
        return

    def ring(signum, frame):
        raise StepTimedOut(message)

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-6))
    try:
        yield
    except StepTimedOut:  # it rang just after the step ended: the step ran out all the same
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# -- worker processes ------------------------------------------------------------------
def _watch_parent(lifeline, parent_pid):
    """In a worker: end the process as soon as the tuner's process is gone (even killed
    with -9), so no orphan goes on training and overwriting checkpoints."""
    while not lifeline.poll(1.0):  # readable only at EOF: the tuner never writes to it
        if parent_pid is not None and os.getppid() != parent_pid:
            break
    os._exit(1)


def _worker(conn, lifeline, parent_pid, payload, threads, inherited):
    """A worker process: run the trials the tuner sends, one report at a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the tuner's to handle
    if inherited is not None:  # "fork": this process holds the tuner's end of the lifeline
        inherited.close()
    parent_pid = parent_pid if os.getppid() == parent_pid else None  # not so under forkserver
    threading.Thread(target=_watch_parent, args=(lifeline, parent_pid), daemon=True).start()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)  # before the objective imports torch or numpy
    objective = spec = metric = broken = None
    try:
        objective, spec, metric = pickle.loads(payload)
    except BaseException:  # noqa: BLE001 - each trial then fails with this text
        broken = "the worker could not load the objective:\n" + traceback.format_exc(limit=-3)
    try:
        _serve(conn, objective, spec, metric, broken)
    except (EOFError, OSError):  # the tuner is gone; the lifeline ends this process too
        pass


def _serve(conn, objective, spec, metric, broken):
    conn.send(("ready",))
    while True:
        task = conn.recv()
        if task is None:
            return
        if broken:
            conn.send(("failed", None, 0.0, broken))
            continue
        config, r0, r1, context = task
        it = run_objective(objective, config, r0, r1, metric, spec, **context)
        while True:
            t = time.perf_counter()
            kind, report, error = step(it)
            try:
                conn.send((kind, report, time.perf_counter() - t, error))
            except Exception as e:  # noqa: BLE001 - a report that does not pickle
                close_steps(it)
                kind = "failed"
                conn.send((kind, None, 0.0, f"the report could not be sent: {e!r}"))
            if kind != "result":
                break
            go_on = conn.recv()
            if not go_on:
                close_steps(it)
                if go_on is None:
                    return
                break


@contextlib.contextmanager
def _sigint_ignored_by_children():
    """Start processes that ignore SIGINT from birth (Ctrl-C reaches a whole process
    group; a worker still importing would print a traceback). A Ctrl-C meanwhile is held
    back, not lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


@dataclass
class _Slot:
    """One worker process and the trial it holds (None: free)."""

    index: int
    process: mp.process.BaseProcess
    conn: connection.Connection
    ready: bool = False  # it has loaded the objective
    dead: bool = False  # its process ended; a fresh one takes its place at the next start
    trial: int | None = None
    waits: bool = False  # it reported and waits for a decision
    deadline: float | None = None  # monotonic time its step times out


def _kill(processes):
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(5)


def _died(exitcode) -> str:
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


class ProcessBackend(Backend):
    """Runs trials in worker processes on this machine.

    Each worker runs one trial at a time and streams every report back; after
    each report it waits for the scheduler's decision, so a stopped trial does
    not start another epoch. A worker that crashes (a segfault, ``os._exit``)
    or runs past ``timeout`` fails its trial only and is replaced. Workers end
    with the tuner's process, even one killed with ``kill -9``; they ignore
    Ctrl-C (the tuner handles it and stops them at once). Objectives must be
    picklable (defined in a module, not in a notebook cell, with the default
    ``"spawn"`` start method).

    Args:
        start_method: ``"spawn"`` (safe with torch), ``"forkserver"`` or ``"fork"``.
        threads_per_worker: threads each worker's math libraries may use
            (default: cores // workers, at least 1).
        close_timeout: when a run ends, seconds to wait for the steps still
            running to reach their next report (so none writes a checkpoint into
            a removed folder); slower ones are killed. After Ctrl-C, none waits.

    Example:
        >>> tuner = hpo.Tuner(objective, scheduler, backend=hpo.ProcessBackend(),
        ...                   n_workers=4)
    """

    def __init__(self, start_method: str = "spawn", threads_per_worker: int | None = None,
                 close_timeout: float = 60.0):
        methods = mp.get_all_start_methods()
        if start_method not in methods:
            raise ValueError(f"start_method must be one of {methods}, got {start_method!r}")
        if threads_per_worker is not None and (
                isinstance(threads_per_worker, bool) or not isinstance(threads_per_worker, int)
                or threads_per_worker < 1):
            raise ValueError(f"threads_per_worker must be a positive integer (or None), "
                             f"got {threads_per_worker!r}")
        if (isinstance(close_timeout, bool) or not isinstance(close_timeout, numbers.Real)
                or not 0 <= close_timeout < math.inf):
            raise ValueError(f"close_timeout must be finite seconds >= 0, got {close_timeout!r}")
        self.start_method = start_method
        self.threads_per_worker = threads_per_worker
        self.close_timeout = float(close_timeout)

    def open(self, objective, n_workers, metric, timeout=None):
        super().open(objective, n_workers, metric, timeout)
        try:
            self._payload = pickle.dumps((objective, self.spec, metric))
        except Exception as e:
            raise TypeError(f"the process backend sends the objective to worker processes, "
                            f"and {objective!r} does not pickle ({e}): define it in a module "
                            f"(not a notebook cell), or use backend='sequential'") from e
        self._ctx = mp.get_context(self.start_method)
        self._threads = self.threads_per_worker or max(1, (os.cpu_count() or 1) // n_workers)
        # The workers' lifeline: they exit when its write end, held here only, closes.
        self._lifeline, self._lifeline_end = self._ctx.Pipe(duplex=False)
        self.interrupted = False
        self._processes: list = []  # killed at interpreter exit if close() is not called
        multiprocessing.util.Finalize(self, _kill, args=(self._processes,), exitpriority=10)
        self._slots = [self._spawn(i) for i in range(n_workers)]
        self._t0 = time.perf_counter()

    def _spawn(self, index) -> _Slot:
        ours, theirs = self._ctx.Pipe()
        inherited = self._lifeline_end if self.start_method == "fork" else None
        process = self._ctx.Process(
            target=_worker, name=f"d2lhpo-worker-{index}",
            args=(theirs, self._lifeline, os.getpid(), self._payload, self._threads, inherited))
        with _sigint_ignored_by_children():
            process.start()
        theirs.close()
        self._processes.append(process)
        return _Slot(index, process, ours)

    def _end(self, slot):
        """``slot``'s process ended (or was killed): its trial no longer holds it."""
        slot.dead, slot.trial, slot.waits, slot.deadline = True, None, False, None

    def _replace(self, slot):
        """Kill ``slot``'s process (if it still runs) and start a fresh one in its place."""
        _kill([slot.process])
        slot.conn.close()
        self._processes.remove(slot.process)
        self._slots[slot.index] = self._spawn(slot.index)

    def start(self, trial_id, config, r0, r1, context, delay=0.0):
        # A live worker that is ready first; a dead one is replaced now.
        slot = min((s for s in self._slots if s.trial is None), key=lambda s: (s.dead, not s.ready))
        if slot.dead:
            self._replace(slot)
            slot = self._slots[slot.index]
        slot.trial, slot.waits = trial_id, False
        if slot.ready and self.timeout is not None:
            slot.deadline = time.monotonic() + self.timeout
        try:
            slot.conn.send((config, r0, r1, context))
        except OSError:  # it died since its last trial, unnoticed yet
            self._replace(slot)
            self.start(trial_id, config, r0, r1, context)

    def n_free(self):
        return sum(slot.trial is None for slot in self._slots)

    def wait(self, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        try:
            while any(slot.trial is not None for slot in self._slots):
                wake = [s.deadline for s in self._slots if s.deadline is not None]
                wake = min(wake + ([end] if end is not None else []), default=None)
                live = [s for s in self._slots if not s.dead]
                ready = connection.wait(
                    [s.conn for s in live] + [s.process.sentinel for s in live],
                    None if wake is None else max(0.0, wake - time.monotonic()))
                events = []
                for slot in live:
                    if slot.conn in ready or slot.process.sentinel in ready:
                        events += self._receive(slot)
                now = time.monotonic()
                for slot in self._slots:
                    if slot.deadline is not None and now >= slot.deadline:
                        trial_id = slot.trial
                        _kill([slot.process])
                        self._end(slot)
                        events.append(Event("failed", trial_id, self.now(), slot.index,
                                            duration=self.timeout,
                                            error=timeout_error(self.timeout)))
                if events:
                    return events
                if end is not None and now >= end:
                    break
            return []
        except KeyboardInterrupt:
            self.interrupted = True  # close() then stops every worker at once
            raise

    def _receive(self, slot) -> list[Event]:
        events = []
        try:
            while slot.conn.poll():
                events += self._on_message(slot, slot.conn.recv())
        except (EOFError, OSError):
            pass
        if not slot.process.is_alive():
            how = _died(slot.process.exitcode)
            trial_id = slot.trial
            self._end(slot)
            if trial_id is None:
                logger.warning("worker %d died between trials (%s)", slot.index, how)
            else:
                events.append(Event("failed", trial_id, self.now(), slot.index,
                                    error=f"the worker process died ({how})"))
        return events

    def _on_message(self, slot, message) -> list[Event]:
        if message[0] == "ready":
            slot.ready = True
            if slot.trial is not None and self.timeout is not None:
                slot.deadline = time.monotonic() + self.timeout
            return []
        kind, report, duration, error = message
        trial_id = slot.trial
        slot.deadline = None
        if kind == "result":
            slot.waits = True
        else:
            slot.trial, slot.waits = None, False
        return [Event(kind, trial_id, self.now(), slot.index, report or {}, duration, error)]

    def decide(self, trial_id, go_on):
        slot = next((s for s in self._slots if s.trial == trial_id and s.waits), None)
        if slot is None:
            return
        slot.waits = False
        with contextlib.suppress(OSError):  # a dead worker shows up in the next wait()
            slot.conn.send(bool(go_on))
        if not go_on:
            slot.trial = None
        elif self.timeout is not None:
            slot.deadline = time.monotonic() + self.timeout

    def now(self):
        return time.perf_counter() - self._t0

    def close(self):
        slots, self._slots = getattr(self, "_slots", []), []
        for slot in slots:
            with contextlib.suppress(OSError):
                slot.conn.send(None)  # stop: at once if idle or waiting, else at the next report
        grace = 0.0 if self.interrupted else self.close_timeout
        end = time.monotonic() + grace
        # Workers still loading the objective run no trial: no need to wait for them.
        alive = [s for s in slots if s.ready or s.trial is not None]
        try:
            while alive and time.monotonic() < end:
                connection.wait([s.conn for s in alive] + [s.process.sentinel for s in alive],
                                max(0.0, end - time.monotonic()))
                for slot in alive:
                    with contextlib.suppress(EOFError, OSError):
                        while slot.conn.poll():
                            slot.conn.recv()  # a late report: drained, so the worker ends
                alive = [s for s in alive if s.process.is_alive()]
        except KeyboardInterrupt:
            _kill([s.process for s in slots])
            raise
        finally:
            late = [s for s in alive if s.trial is not None and not s.waits]
            if late and not self.interrupted:
                logger.warning("%d trial step(s) still running %g s after the run ended: "
                               "killed", len(late), self.close_timeout)
            _kill([s.process for s in slots])
            for slot in slots:
                slot.conn.close()
                self._processes.remove(slot.process)
            self._lifeline.close()
            self._lifeline_end.close()
