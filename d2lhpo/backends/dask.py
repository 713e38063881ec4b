"""Trials on a Dask cluster: a laptop's cores or many machines, the same code."""

from __future__ import annotations

import collections
import contextlib
import importlib
import itertools
import logging
import math
import numbers
import os
import pickle
import queue
import signal
import socket
import threading
import time
import traceback
import uuid
from collections import deque

import distributed

from ..objectives.base import run_objective
from .base import Backend, Event, close_steps, step, timeout_error
from .local import _sigint_ignored_by_children

logger = logging.getLogger(__name__)


# A worker waiting for a decision looks this often whether the tuner is still there
# (a Queue.get that times out logs an error on the scheduler, dask/distributed#2855,
# so the tuner itself never polls).
_ABANDON_CHECK = 60.0
_ALL = "*"  # a decision for every attempt of a run: the tuner closed


def _abandoned() -> bool:
    """True when the client no longer wants this task (it closed, or the run ended)."""
    worker = distributed.get_worker()
    ts = worker.state.tasks.get(worker.get_current_task())
    return ts is None or ts.state == "cancelled"


def _decision(decisions, attempt: str) -> bool:
    """Wait on a worker for the tuner's answer to this attempt's last report."""
    while True:
        try:
            target, go_on = decisions.get(timeout=_ABANDON_CHECK)
        except TimeoutError:
            if _abandoned():
                return False
            continue
        if target in (attempt, _ALL):  # others answered an attempt whose worker died
            return bool(go_on)


@contextlib.contextmanager
def _silenced(root: str, level: int):
    """Drop the records below ``level`` that reach the handlers of logger ``root``,
    for the block.

    A ``LocalCluster(silence_logs=...)`` lowers its handlers' levels only until
    its own close restores them, while the cluster's event loop still runs:
    about once in 20 Ctrl-C runs the scheduler's stream to the closed client
    then logged "Batched Comm Closed" with a traceback. A filter does not
    change levels, so nothing undoes it inside the block, and after
    ``cluster.close()`` the cluster's loop has stopped.
    """
    def keep(record: logging.LogRecord) -> bool:
        return record.levelno >= level

    handlers = list(logging.getLogger(root).handlers)
    for handler in handlers:
        handler.addFilter(keep)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(keep)


class _SyncCancelRace(logging.Filter):
    """Drops one record of distributed's own: a Ctrl-C that lands in
    ``distributed.utils.sync`` before its coroutine has started makes the
    ``cancel`` callback it schedules read ``future`` before it is assigned, and
    tornado logs that NameError with its traceback (seen once in a CI run of
    ``tests/test_interrupts.py``, distributed 2025). The run was interrupted
    as asked and nothing was lost; every other record passes. :meth:`DaskBackend.open`
    adds it to the ``tornado.application`` logger and it stays there: the
    callback runs on the event loop's thread, possibly after the backend closed."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, NameError) or "future" not in str(error):
            return True
        frames = traceback.extract_tb(error.__traceback__)
        last = frames[-1] if frames else None
        return not (last is not None and last.name == "cancel"
                    and last.filename.replace(os.sep, "/").endswith("distributed/utils.py"))


_SYNC_CANCEL_RACE = _SyncCancelRace()


def _ready(objective) -> None:
    """Nothing: unpickling the objective on a worker imports what it needs (torch...)."""


class _IgnoreCtrlC(distributed.WorkerPlugin):
    """On the workers of the cluster the backend starts (and those the nanny restarts):
    Ctrl-C, which reaches the whole process group, is the tuner's to handle."""

    def setup(self, worker):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


_queues: dict = {}  # this worker process's handles on the tuners' event queues
_queues_lock = threading.Lock()


def _events_queue(name: str):
    """This worker's handle on a run's event queue, made once per run: making one costs
    a round trip to the scheduler. The handle of an earlier run is let go."""
    with _queues_lock:
        queue = _queues.get(name)
        if queue is None:
            for old in _queues.values():
                old.close()
            _queues.clear()
            queue = _queues[name] = distributed.Queue(name)
        return queue


def _starting_point(checkpoint, r0):
    """Keep the checkpoint a resumed step starts from, as a hard link beside it; or, if
    the link is there already, this step is running again (its first worker died,
    maybe after saving later epochs): put that checkpoint back. The link, or None."""
    if not checkpoint or r0 <= 0:
        return None
    kept = f"{checkpoint}.at{r0:g}"
    try:
        if os.path.isfile(kept):
            fresh = f"{checkpoint}.{uuid.uuid4().hex[:8]}"
            os.link(kept, fresh)
            os.replace(fresh, checkpoint)
        elif os.path.isfile(checkpoint):
            os.link(checkpoint, kept)
        else:
            return None
    except OSError:  # no hard links on this file system: a retry starts as it finds it
        return None
    return kept


def _run_trial(objective, spec, run, config, r0, r1, metric, context, events_name,
               decisions_name, timed=False):
    """Runs on a Dask worker: one report at a time, waiting for the decision after each
    but the last. At ``r1`` there is nothing left to stop: no round trip to pay, and
    the last report travels with the news that the objective returned."""
    worker = distributed.get_worker()
    attempt = uuid.uuid4().hex  # the scheduler re-runs this task if its worker dies
    events, decisions = _events_queue(events_name), None
    held = []  # the last report, until we know what came after it
    kept = _starting_point(context.get("checkpoint"), r0)

    def send(kind, report=None, duration=0.0, error=None, waits=False):
        held.append((kind, run, attempt, worker.name, report, duration, error, waits))
        if kind != "result" or waits:
            # Pickled: reports may hold numpy numbers, which msgpack cannot encode.
            events.put(pickle.dumps(held))
            held.clear()

    try:
        if timed:  # the tuner times the step from now, not from when the task was queued
            where = {"address": worker.address, "pid": os.getpid(), "host": socket.gethostname()}
            events.put(pickle.dumps([("started", run, attempt, worker.name, where, 0.0, None,
                                      False)]))
        it = run_objective(objective, config, r0, r1, metric, spec, **context)
        while True:
            t = time.perf_counter()
            kind, report, error = step(it)
            if kind != "result":
                send(kind, error=error)
                return
            if held:  # a report beyond r1: the one before goes first
                events.put(pickle.dumps(held))
                held.clear()
            waits = report["resource"] < r1
            send("result", report, time.perf_counter() - t, waits=waits)
            if waits:
                if _abandoned():  # the tuner closed while this step ran
                    close_steps(it)
                    return
                decisions = decisions or distributed.Queue(decisions_name)
                if not _decision(decisions, attempt):
                    close_steps(it)
                    return
    except Exception:  # noqa: BLE001 - e.g. a report that does not pickle
        held.clear()
        send("failed", error=traceback.format_exc(limit=-3))
    finally:
        if decisions is not None:
            decisions.close()
        if kept is not None:
            with contextlib.suppress(OSError):
                os.unlink(kept)


class DaskBackend(Backend):
    """Runs trials on a Dask ``distributed`` cluster, one trial per worker thread.

    Each trial is one Dask task. It streams every report to the tuner through a
    ``distributed.Queue`` and then waits on a second, per-trial queue for the
    scheduler's decision (except after its last report, at ``r1``), so a trial
    that ASHA stops does not start another epoch and its worker takes the next
    trial at once. Queues (not Pub/Sub, which drops messages nobody listens to
    yet, nor a ``Variable``, which keeps only the last value, nor an ``Event``,
    a mere flag) live on the scheduler and hand each message over once, in
    order, even when the worker that sent it has died since. The last report
    travels in one message with the news that the objective returned, and each
    worker process opens a run's event queue once: a trivial trial costs less
    than a bare Dask task submitted and waited for. When the tuner closes, it
    waits for each step still running to end at its next report (at most
    ``close_timeout`` seconds; after Ctrl-C, not at all: those steps are
    cancelled); a trial whose tuner went away
    without closing (its process was killed) ends within a minute of its next
    report. The cluster this backend starts ignores Ctrl-C (the tuner handles
    it) and its workers end with the tuner's process, even one killed with
    ``kill -9`` (Dask's nanny-started workers watch their parent). A step that
    runs past the ``timeout`` given to ``open`` fails its trial; its task is
    cancelled and its worker restarted through its nanny (a worker without one
    keeps running that step in its thread until it returns).

    If a worker dies mid-trial, Dask's scheduler runs the task again on another
    worker (up to its ``allowed-failures`` setting; ``worker_retries`` for the
    cluster this backend starts). The new attempt starts the trial over from
    ``r0``; the reports it repeats are answered "continue" without reaching the
    tuner, so no result is counted twice. Once the retries are used up, the
    trial fails with the error ``"worker died: ..."`` and tuning goes on. A
    retried step that resumed a paused trial starts from the checkpoint it
    started from the first time: the backend keeps that one as a hard link
    (``<checkpoint>.at<r0>``), which works if the objective saves a checkpoint
    by writing a new file and renaming it over the old one, as
    :class:`~d2lhpo.objectives.cnn.CNNObjective` does, and not if it writes
    into the old file.

    Checkpoints: the tuner gives each trial a file path under its
    ``checkpoint_dir``. On a local cluster every worker sees that path; on a
    real cluster pass ``Tuner(..., checkpoint_dir=...)`` a folder on a
    filesystem all workers share (NFS, Lustre, a mounted bucket), or a paused
    trial cannot be resumed on another machine.

    Args:
        client: a ``distributed.Client``; the tuner uses all its workers' threads
            (``n_workers`` of the tuner is then ignored). None: start a
            ``LocalCluster`` on this machine, bound to 127.0.0.1, and close it
            at the end of the run.
        n_workers: worker processes of that local cluster (one thread each;
            default: the tuner's ``n_workers``).
        worker_retries: times the local cluster re-runs a trial whose worker died.
        dashboard_port: serve the local cluster's dashboard on 127.0.0.1 at this
            port (default: no dashboard).
        close_timeout: when a run ends, seconds to wait for the steps still
            running to reach their next report and stop; steps slower than
            that are cancelled and left to stop by themselves.

    After ``open``, ``worker_names[i]`` is the Dask name of the worker that the
    results call worker ``i`` (a worker that restarts keeps its name).

    Example:
        >>> client = distributed.Client("tcp://scheduler:8786")
        >>> tuner = hpo.Tuner(objective, hpo.ASHA(searcher), backend=DaskBackend(client),
        ...                   checkpoint_dir="/shared/ckpt")
    """

    def __init__(self, client: distributed.Client | None = None, n_workers: int | None = None,
                 worker_retries: int = 1, dashboard_port: int | None = None,
                 close_timeout: float = 60.0):
        if client is not None and not isinstance(client, distributed.Client):
            raise ValueError(f"client must be a distributed.Client, got {client!r}")
        if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int)
                                      or n_workers < 1):
            raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
        if (isinstance(worker_retries, bool) or not isinstance(worker_retries, int)
                or worker_retries < 0):
            raise ValueError(f"worker_retries must be an integer >= 0, got {worker_retries!r}")
        if dashboard_port is not None and (
                isinstance(dashboard_port, bool) or not isinstance(dashboard_port, int)
                or not 0 <= dashboard_port <= 65535):
            raise ValueError(f"dashboard_port must be a port number in 0..65535 (0: any free "
                             f"port) or None, got {dashboard_port!r}")
        if (isinstance(close_timeout, bool) or not isinstance(close_timeout, numbers.Real)
                or not 0 <= close_timeout < math.inf):
            raise ValueError(f"close_timeout must be finite seconds >= 0, got {close_timeout!r}")
        self.client, self._own = client, client is None
        self.local_workers, self.worker_retries = n_workers, worker_retries
        self.dashboard_port, self.close_timeout = dashboard_port, float(close_timeout)

    def open(self, objective, n_workers, metric, timeout=None):
        logging.getLogger("tornado.application").addFilter(_SYNC_CANCEL_RACE)
        if self._own:
            # The scheduler serves HTTP (health checks; the dashboard if asked) on loopback.
            http = {"dashboard": self.dashboard_port is not None,
                    "dashboard_address": f"127.0.0.1:{self.dashboard_port or 0}"}
            with _sigint_ignored_by_children():  # workers born deaf to Ctrl-C
                cluster = distributed.LocalCluster(
                    n_workers=self.local_workers or n_workers, threads_per_worker=1,
                    processes=True, host="127.0.0.1", silence_logs=logging.ERROR,
                    scheduler_kwargs={"allowed_failures": self.worker_retries, **http})
            self.client = distributed.Client(cluster, set_as_default=False)
            self.client.register_plugin(_IgnoreCtrlC(), name="d2lhpo-ignore-ctrl-c")
        super().open(objective, sum(self.client.nthreads().values()), metric, timeout)
        # Import this module and the objective's on every worker now, not in the first
        # trials (and their times).
        self.client.run(importlib.import_module, __name__)
        self.client.run(_ready, objective)
        self._name = f"d2lhpo-{uuid.uuid4().hex[:8]}"
        self._events = distributed.Queue(f"{self._name}-events", client=self.client)
        # A thread hands the event queue's messages over, so that wait() can time out
        # (a distributed Queue.get that times out logs an error, dask/distributed#2855)
        # and Ctrl-C interrupts it at once.
        self._received: queue.SimpleQueue = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, name="d2lhpo-dask-events",
                                        daemon=True)
        self._reader.start()
        self._seq = itertools.count()
        self._runs: dict[int, dict] = {}    # run (one start call) -> its task and state
        self._active: dict[int, int] = {}   # trial_id -> run, while the trial holds a worker
        self._workers: dict = {}            # worker name -> index (kept across restarts)
        self.worker_names: list = []        # index -> the Dask worker's name
        self._inbox: deque = deque()      # messages received, not handled yet
        # Workers that have imported the objective, and warm-up tasks on those that
        # have not yet (a worker the nanny restarted): trials go to ready workers
        self._ready_workers = set(self.client.scheduler_info()["workers"])
        self._warming: dict = {}          # worker address -> its warm-up future
        self._closing = self.interrupted = False
        self._t0 = time.perf_counter()

    def _read(self):
        """In a thread: pass each message of the event queue on, until the backend closes."""
        with contextlib.suppress(BaseException):  # the client closed under it
            while True:
                message = self._events.get()
                self._received.put(message)
                if message is None:
                    return

    def start(self, trial_id, config, r0, r1, context, delay=0.0):
        run = next(self._seq)
        name = f"{self._name}-run{run}"
        worker = self._free_worker()
        where = {} if worker is None else {"workers": [worker], "allow_other_workers": True}
        future = self.client.submit(
            _run_trial, self.objective, self.spec, run, config, r0, r1, self.metric, context,
            self._events.name, name, self.timeout is not None, key=f"{name}-trial{trial_id}",
            pure=False, **where)
        self._runs[run] = {"trial_id": trial_id, "future": future, "name": name,
                           "decisions": None, "attempt": None, "waits": False, "old": set(),
                           "reports": 0, "replay": 0, "deadline": None, "where": None,
                           "worker": worker}
        self._active[trial_id] = run
        future.add_done_callback(lambda f: self._on_task_end(run, f))

    def _free_worker(self):
        """The address of the ready worker whose threads our trials hold least (one
        with a thread free if there is one), or None when no worker is ready (then
        Dask decides). Without this, Dask hands a trial to a worker the nanny just
        restarted, where it waits while that worker imports the objective's modules
        (torch: seconds), and a ready worker may sit idle. A trial queued behind
        another on a ready worker may still move (the placement is loose: Dask's
        work stealing may hand it to a worker that falls idle)."""
        workers = self.client.scheduler_info()["workers"]
        for address in workers:
            if address not in self._ready_workers and address not in self._warming:
                self._warming[address] = self.client.submit(
                    _ready, self.objective, workers=[address], allow_other_workers=False,
                    pure=False, key=f"{self._name}-ready-{uuid.uuid4().hex[:8]}")
        for address, future in list(self._warming.items()):
            if future.done() or address not in workers:
                del self._warming[address]
                if future.status == "finished":
                    self._ready_workers.add(address)
        held = collections.Counter(self._runs[run]["worker"] for run in self._active.values()
                                   if run in self._runs)
        ready = [(held[a] / w["nthreads"], a) for a, w in workers.items()
                 if a in self._ready_workers]
        return min(ready)[1] if ready else None

    def _on_task_end(self, run, future):
        """In a client thread: a task that erred (its workers died) or was cancelled
        cannot say so itself."""
        if future.status == "finished" or self._closing or self.client.status != "running":
            return
        exc = future.exception() if future.status == "error" else None
        if isinstance(exc, distributed.KilledWorker):
            error = f"worker died: {exc}"
        elif exc is not None:
            error = f"the Dask task failed: {exc!r}"
        else:
            error = f"the Dask task was {future.status}"
        self._events.put(pickle.dumps([("crashed", run, None, None, None, 0.0, error, False)]))

    def n_free(self):
        return self.n_workers - len(self._active)

    def wait(self, timeout=None):
        # One event per call: the tuner decides on a result before it hears that the
        # trial's objective returned (both may come in one message).
        end = None if timeout is None else time.monotonic() + timeout
        try:
            while self._inbox or self._active:
                if not self._inbox:
                    deadlines = [self._runs[run]["deadline"] for run in self._active.values()]
                    wake = min([d for d in deadlines if d is not None]
                               + ([end] if end is not None else []), default=None)
                    try:
                        message = self._received.get(
                            timeout=None if wake is None else max(0.0, wake - time.monotonic()))
                        self._inbox.extend(pickle.loads(message))
                    except queue.Empty:
                        pass
                event = self._on_message(*self._inbox.popleft()) if self._inbox else None
                event = event or self._timed_out()
                self._forget_finished()
                if event is not None:
                    return [event]
                if end is not None and time.monotonic() >= end:
                    break
            return []
        except KeyboardInterrupt:
            self.interrupted = True  # close() then waits for no step
            raise

    def _timed_out(self):
        """A failed event for a step that ran past the timeout, whose task is cancelled
        and whose worker restarted; or None."""
        now = time.monotonic()
        for trial_id, run in list(self._active.items()):
            info = self._runs[run]
            if info["deadline"] is not None and now >= info["deadline"]:
                del self._active[trial_id]
                self.client.cancel([info["future"]], force=True)
                self._restart(info["where"])
                return Event("failed", trial_id, self.now(), -1, duration=self.timeout,
                             error=timeout_error(self.timeout))
        return None

    def _restart(self, where):
        """End the worker process where a step is stuck; its nanny starts it again (a
        graceful restart would wait for that step). A worker without a nanny cannot be
        restarted: it keeps running the step."""
        address = where["address"]
        worker = self.client.scheduler_info()["workers"].get(address, {})
        if not worker.get("nanny"):
            logger.warning("the Dask worker %s has no nanny to restart it: the step that "
                           "timed out keeps its thread until it returns", address)
            return
        if self._own and where["host"] == socket.gethostname():  # a child of this process
            with contextlib.suppress(OSError):
                os.kill(where["pid"], signal.SIGKILL)
            return

        def end():  # in a thread: the call gets no answer, only a closed connection
            with contextlib.suppress(Exception):
                self.client.run(os._exit, 1, workers=[address], on_error="ignore")

        threading.Thread(target=end, name="d2lhpo-dask-restart", daemon=True).start()

    def _on_message(self, kind, run, attempt, worker, report, duration, error, waits):
        info = self._runs.get(run)
        if info is None:
            return None
        trial_id = info["trial_id"]
        live = self._active.get(trial_id) == run
        if kind == "crashed":
            if not live:
                return None
            del self._active[trial_id]
            return Event("failed", trial_id, self.now(), -1, error=error)
        if attempt != info["attempt"]:
            if attempt in info["old"]:  # a worker thought dead spoke up: let it end
                return self._answer(info, attempt, waits, False)
            if info["attempt"] is not None:  # Dask re-ran the task: its worker died
                if live:
                    logger.warning("trial %d: its worker died; retrying it on worker %d",
                                   trial_id, self._index(worker))
                info["old"].add(info["attempt"])
                info["replay"] = info["reports"]
            info["attempt"] = attempt
        if not live:  # the trial ended already (a retry of a stopped trial)
            return self._answer(info, attempt, waits, False)
        if kind == "started":
            info["where"] = report
            info["deadline"] = time.monotonic() + self.timeout
            return None
        if kind == "result" and info["replay"] > 0:  # the dead attempt reported it already
            info["replay"] -= 1
            if self.timeout is not None:
                info["deadline"] = time.monotonic() + self.timeout
            return self._answer(info, attempt, waits, True)
        info["waits"] = waits
        info["deadline"] = None
        if kind == "result":
            info["reports"] += 1
        else:
            del self._active[trial_id]
        return Event(kind, trial_id, self.now(), self._index(worker), report or {}, duration,
                     error)

    def _index(self, worker) -> int:
        """The index of the Dask worker named ``worker`` in this run's results."""
        index = self._workers.get(worker)
        if index is None:
            index = self._workers[worker] = len(self.worker_names)
            self.worker_names.append(worker)
        return index

    def _answer(self, info, attempt, waits, go_on):
        """Tell ``attempt`` to go on or not, if it waits for an answer."""
        if waits:
            if info["decisions"] is None:
                info["decisions"] = distributed.Queue(info["name"], client=self.client)
            info["decisions"].put([attempt, go_on])

    def _forget_finished(self):
        for run, info in list(self._runs.items()):
            if info["future"].done() and self._active.get(info["trial_id"]) != run:
                if info["decisions"] is not None:
                    info["decisions"].close()
                del self._runs[run]

    def decide(self, trial_id, go_on):
        run = self._active.get(trial_id)
        if run is None:
            return
        info = self._runs[run]
        self._answer(info, info["attempt"], info["waits"], bool(go_on))
        info["waits"] = False
        if not go_on:
            del self._active[trial_id]
        elif self.timeout is not None:
            info["deadline"] = time.monotonic() + self.timeout

    def now(self):
        return time.perf_counter() - self._t0

    def close(self):
        self._closing = True
        # Every step still running (waiting for a decision or not) stops at its next
        # report. Wait for that, as an executor's shutdown does: a step left running would
        # write checkpoints into a folder the tuner removes next, and keep its worker busy.
        # After Ctrl-C, wait for none: the user wants the results now.
        running = [info for info in self._runs.values() if not info["future"].done()]
        for info in running:
            self._answer(info, _ALL, True, False)
        try:
            if running and not self.interrupted:
                with self.client.as_current():  # wait() looks for the default client
                    distributed.wait([info["future"] for info in running],
                                     timeout=self.close_timeout)
        except TimeoutError:
            logger.warning("%d trial step(s) still running %g s after the run ended; "
                           "cancelled, they stop at their next report",
                           sum(not info["future"].done() for info in running),
                           self.close_timeout)
        except KeyboardInterrupt:
            self.interrupted = True
        late = [info["future"] for info in running if not info["future"].done()]
        if late:
            self.client.cancel(late, force=True)
        for info in self._runs.values():
            if info["decisions"] is not None:
                info["decisions"].close()
        self._runs.clear()
        self._events.put(None)  # the reader thread ends
        self._reader.join(5)
        self._events.close()
        if self._own:
            cluster = self.client.cluster
            # No step of ours runs there now (or none we wait for): kill its workers rather
            # than wait seconds for each to shut down.
            for nanny in list(cluster.workers.values()):
                with contextlib.suppress(Exception):
                    os.kill(nanny.process.process.pid, signal.SIGKILL)
            with _silenced("distributed", logging.ERROR):
                self.client.close()
                cluster.close()
            self.client = None
