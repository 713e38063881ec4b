"""Shared by the notebook and book tests: every chapter executed once per mode.

Default mode is what readers run, with the budgets the text describes and the
``check`` cells that assert its claims; the book and the slides are built from
the same executed copies. Quick mode (``D2LHPO_QUICK=1``) is tested too.

Executing the notebooks is most of the suite's time, and a notebook waits on
one core while most unit tests use the other one little. So the executions the
tests ask for run in the background, one at a time, each in its own process
(``tools/run_notebooks.py``), and the tests that read them run last. The tests
that start clusters and processes (``MACHINE_TESTS``) run first, alone; the
background starts with the first test after them, and the other unit tests
run meanwhile. A test that asks for a notebook
nobody queued executes it on the spot. ``D2LHPO_TEST_PREFETCH=0`` turns the
background off (every notebook then runs when a test first asks for it). The
executed copies are removed at the end unless one of them failed; the summary
then says where they are.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import run_notebooks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))  # not scratch copies
# seconds per cell (a busy CI machine runs them slower); quick mode is quick
TIMEOUTS = {"default": 900, "quick": 300}
MODES = tuple(TIMEOUTS)
# tests that read executed notebooks, through these fixtures
FIXTURE_MODES = {"default_runs": "default", "quick_runs": "quick"}
# tests that start Dask clusters and processes and wait for their restarts:
# they run first, before the notebooks start (a notebook beside them slowed a
# worker's restart past Dask's patience in one CI run: its nanny closed)
MACHINE_TESTS = {"test_backends.py", "test_dask_backend.py", "test_interrupts.py",
                 "test_pbt.py", "test_process_backend.py", "test_reliability.py",
                 "test_replay.py", "test_resume.py"}


def mode_env(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "D2LHPO_QUICK"}
    if mode == "quick":
        env["D2LHPO_QUICK"] = "1"
    return env


class Background:
    """Runs queued ``(mode, path)`` executions in order, in a thread that waits
    on one child process at a time; ``result`` waits for one of them."""

    def __init__(self, jobs):
        self.root = Path(tempfile.mkdtemp(prefix="d2lhpo-executed-"))
        self.folders = {mode: self.root / mode for mode in MODES}
        for folder in self.folders.values():
            folder.mkdir()
        self._done = {job: threading.Event() for job in jobs}
        self._results: dict = {}
        self._child = None
        self._stopped = False
        self._thread = threading.Thread(target=self._work, args=(list(jobs),),
                                        daemon=True)

    def start(self):
        if not self._thread.is_alive() and not self._stopped:
            self._thread.start()

    def has(self, mode, path) -> bool:
        return (mode, path) in self._done

    def result(self, mode, path):
        self.start()
        self._done[mode, path].wait()
        return self._results[mode, path]

    def _work(self, jobs):
        for mode, path in jobs:
            try:
                self._results[mode, path] = self._execute(mode, path)
            except Exception as e:  # reported by the test that reads it
                self._results[mode, path] = (nbformat.v4.new_notebook(), 0.0,
                                             f"{type(e).__name__}: {e}"[:120])
            self._done[mode, path].set()

    def _execute(self, mode, path):
        folder = self.folders[mode]
        status = folder / f"{path.stem}.status.json"
        if self._stopped:
            raise RuntimeError("the test session ended first")
        self._child = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "run_notebooks.py"), str(path),
             "--out", str(folder), "--status", str(status),
             "--timeout", str(TIMEOUTS[mode])],
            env=mode_env(mode), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)  # its kernel in its group, for stop()
        self._child.wait()
        if not status.exists():
            raise RuntimeError(f"run_notebooks.py ended ({self._child.returncode}) "
                               f"before it wrote {status.name}")
        [entry] = json.loads(status.read_text())
        return (nbformat.read(folder / path.name, as_version=4), entry["seconds"],
                entry["error"])

    def stop(self):
        """End the running execution, if any, and remove the executed copies."""
        self._stopped = True
        child = self._child
        if child is not None and child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if self.all_clean():
            shutil.rmtree(self.root, ignore_errors=True)

    def all_clean(self) -> bool:
        """Whether every execution ended, without an error or a warning."""
        return all(job in self._results and self._results[job][2] is None
                   and not run_notebooks.problems(self._results[job][0])
                   for job in self._done)


class Executed:
    """Notebooks executed in one mode, each once: ``run(path)`` returns
    ``(notebook, seconds, error or None)``; ``folder`` holds the executed copies."""

    def __init__(self, folder: Path, mode: str = "default", background=None):
        self.folder, self.mode, self.background = folder, mode, background
        self._done: dict[Path, tuple] = {}

    def run(self, path: Path):
        if path not in self._done:
            if self.background is not None and self.background.has(self.mode, path):
                self._done[path] = self.background.result(self.mode, path)
            else:
                nb, seconds, error = run_notebooks.execute(
                    path, timeout=TIMEOUTS[self.mode], env=mode_env(self.mode))
                nbformat.write(nb, self.folder / path.name)
                self._done[path] = nb, seconds, error
        return self._done[path]


def _modes_of(item) -> set:
    return {FIXTURE_MODES[f] for f in getattr(item, "fixturenames", ())
            if f in FIXTURE_MODES}


def _notebook_of(item):
    path = getattr(item, "callspec", None) and item.callspec.params.get("path")
    return path if path in NOTEBOOKS else None


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected
def pytest_collection_modifyitems(session, config, items):
    readers = [item for item in items if _modes_of(item)]
    if not readers:
        return
    # first the tests that start clusters and processes (they time their
    # restarts and need the machine to themselves), then the other unit
    # tests, while the notebooks execute, and last the tests that read them
    others = [item for item in items if not _modes_of(item)]
    items[:] = ([item for item in others if _owns_the_machine(item)]
                + [item for item in others if not _owns_the_machine(item)]
                + readers)
    if (config.option.collectonly
            or os.environ.get("D2LHPO_TEST_PREFETCH", "1") == "0"):
        return
    wanted = set()
    for item in readers:
        path = _notebook_of(item)
        for mode in _modes_of(item):
            # a test of no single notebook (the book) reads them all
            wanted |= {(mode, path)} if path else {(mode, p) for p in NOTEBOOKS}
    jobs = [(mode, p) for mode in MODES for p in NOTEBOOKS if (mode, p) in wanted]
    config.stash[BACKGROUND] = Background(jobs)


BACKGROUND = pytest.StashKey[Background]()


def _owns_the_machine(item) -> bool:
    return item.path.name in MACHINE_TESTS


def pytest_runtest_setup(item):
    background = item.config.stash.get(BACKGROUND, None)
    if background is not None and not _owns_the_machine(item):
        background.start()


def pytest_sessionfinish(session):
    background = session.config.stash.get(BACKGROUND, None)
    if background is not None:
        background.stop()


def pytest_terminal_summary(terminalreporter, config):
    background = config.stash.get(BACKGROUND, None)
    if background is not None and background.root.exists():
        terminalreporter.write_line(
            f"executed notebooks (one failed or did not run): {background.root}")


def _executed(request, tmp_path_factory, mode) -> Executed:
    background = request.config.stash.get(BACKGROUND, None)
    if background is not None:
        return Executed(background.folders[mode], mode, background)
    return Executed(tmp_path_factory.mktemp(f"executed_{mode}"), mode)


@pytest.fixture(scope="session")
def default_runs(request, tmp_path_factory) -> Executed:
    return _executed(request, tmp_path_factory, "default")


@pytest.fixture(scope="session")
def quick_runs(request, tmp_path_factory) -> Executed:
    return _executed(request, tmp_path_factory, "quick")
