"""Ctrl-C and kill -9 of a tuning process (tests/interrupt_job.py) on real backends:
Ctrl-C returns every journaled result at once and quietly; kill -9 leaves no process."""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helper_procs import alive, descendants

JOB = Path(__file__).with_name("interrupt_job.py")
BACKENDS = ["process", pytest.param("dask", marks=pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="needs distributed"))]


def _rows(journal: Path) -> int:
    return journal.read_text().count('"row":') if journal.exists() else 0


def _start(backend, tmp_path, n_workers=2, rows=3):
    """Start the job in its own process group; return once ``rows`` results are
    journaled and ``n_workers`` processes train."""
    folder, journal = tmp_path / "pids", tmp_path / "run.jsonl"
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, str(JOB), backend, str(n_workers), str(folder),
                             str(journal)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, text=True)
    deadline = time.monotonic() + 120
    while _rows(journal) < rows or len(list(folder.iterdir())) < n_workers:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the job made no progress: {proc.communicate()}")
        time.sleep(0.02)
    return proc, journal, folder


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("target", ["group", "main"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_returns_every_journaled_result_at_once_and_quietly(backend, target, tmp_path):
    proc, journal, _ = _start(backend, tmp_path)
    family = descendants(proc.pid)
    t = time.monotonic()
    if target == "group":  # Ctrl-C in a terminal: every process of the group gets it
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    elapsed = time.monotonic() - t
    assert proc.returncode == 0, err
    assert int(out) == _rows(journal) > 0  # run() returned what the journal holds
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    # at once: far sooner than the running trials (30 s each) would end; the
    # rest is the backend's shutdown (Dask's took 1.5-2.5 s on an idle 2-core
    # machine, so the former bound of 2 s failed one run in three)
    assert elapsed < 5.0
    time.sleep(0.5)
    assert not alive(family)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_of_the_tuner_leaves_no_process_of_the_run(backend, tmp_path):
    proc, _, folder = _start(backend, tmp_path)
    family = descendants(proc.pid)
    assert len(family) >= 2  # at least the two workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    deadline = time.monotonic() + 5
    while alive(family) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(family)
    # No orphan trains on: no step starts after the kill.
    steps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    time.sleep(0.3)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == steps


def test_a_ctrl_c_while_a_result_is_recorded_waits_for_the_journal():
    # A Ctrl-C between "added to the results" and "written to the journal"
    # returned a result that a resume would not find; inside the block it is
    # held back and raised as KeyboardInterrupt once the block is done.
    from d2lhpo.tuner import _ctrl_c_deferred
    steps = []
    # if an earlier test left Ctrl-C ignored here, the block rightly raises
    # nothing: say so instead of "DID NOT RAISE"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, \
        f"SIGINT's handler is {signal.getsignal(signal.SIGINT)!r} before the block"
    with pytest.raises(KeyboardInterrupt):
        with _ctrl_c_deferred():
            # raise_signal delivers to this (the main) thread before it
            # returns; os.kill(getpid()) lets the kernel pick any of the
            # process's threads. (The test failed twice in full runs on a
            # loaded machine, never alone; the cause was not reproduced.)
            signal.raise_signal(signal.SIGINT)
            time.sleep(0.05)   # the signal arrived, and waits
            steps.append("recorded and journaled")
    assert steps == ["recorded and journaled"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
