"""The process backend under the public Tuner: every trial it was asked for runs, whatever
the objectives do (return, raise, exit, segfault, hang), and bad arguments are refused."""

import time

import pytest

import d2lhpo as hpo
from helper_objectives import misbehaving, steps

KINDS = ["ok", "raise", "segv", "ok", "exit", "sys.exit", "ok"]
ERRORS = {"raise": "ValueError: bad config", "segv": "killed by SIGSEGV",
          "exit": "exit code 3", "sys.exit": "SystemExit: 2",
          "hang": "timed out after 1 s"}


def _tuner(kinds, backend, n_workers, sleep=0.2):
    """Trials of the given kinds, in this order; the "ok" ones sleep ``sleep`` s, so that
    a crash happens while a healthy trial runs on another worker."""
    space = {"x": hpo.uniform(0, 1), "kind": hpo.choice(sorted(set(kinds))), "sleep": sleep}
    points = [{"x": i / 10, "kind": kind} for i, kind in enumerate(kinds)]
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(space, seed=0, points_to_evaluate=points))
    return hpo.Tuner(misbehaving, scheduler, backend=backend, n_workers=n_workers,
                     metric="loss", progress=False)


def _check(results, kinds):
    trials = results.trials()
    assert trials["config_kind"].tolist() == kinds  # every trial asked for ran, once
    for kind, (_, trial) in zip(kinds, trials.iterrows()):
        if kind == "ok":
            assert trial["status"] == "completed" and trial["loss"] == trial["config_x"]
        else:
            assert trial["status"] == "failed" and ERRORS[kind] in trial["error"], trial


def test_max_trials_is_reached_with_plain_objectives():
    """Defect: the run ended after 1 of 10 trials (a finished trial still held its worker)."""
    results = _tuner(["ok"] * 10, "process", 1, sleep=0.0).run(max_trials=10)
    _check(results, ["ok"] * 10)


@pytest.mark.parametrize("n_workers", [1, 2, 4])
def test_a_raising_or_crashing_objective_fails_its_own_trial_only(n_workers):
    results = _tuner(KINDS, "process", n_workers).run(max_trials=len(KINDS))
    _check(results, KINDS)


class TimedProcesses(hpo.ProcessBackend):
    """A process backend whose steps time out after 1 s."""

    def open(self, objective, n_workers, metric, timeout=None):
        super().open(objective, n_workers, metric, timeout=1)


class TimedSequential(hpo.SequentialBackend):
    def open(self, objective, n_workers, metric, timeout=None):
        super().open(objective, n_workers, metric, timeout=1)


@pytest.mark.parametrize("backend, n_workers", [(TimedProcesses, 2), (TimedSequential, 1)])
def test_a_step_past_the_timeout_fails_and_the_run_goes_on(backend, n_workers):
    kinds = ["hang", "ok", "ok", "hang", "ok"]
    t = time.monotonic()
    results = _tuner(kinds, backend(), n_workers, sleep=0.1).run(max_trials=len(kinds))
    _check(results, kinds)
    assert time.monotonic() - t < 30


def test_sequential_backend_fails_a_trial_that_calls_sys_exit():
    results = _tuner(["sys.exit", "ok"], "sequential", 1, sleep=0.0).run(max_trials=2)
    _check(results, ["sys.exit", "ok"])


def test_wait_returns_nothing_when_nothing_happens_in_time(caplog):
    for backend in [hpo.ProcessBackend(close_timeout=0.5), hpo.SequentialBackend()]:
        backend.open(misbehaving, 1, "loss")
        try:
            assert backend.wait(timeout=0.1) == []  # no trial runs
            backend.start(0, {"kind": "hang"}, 0, 1, {})
            t = time.monotonic()
            assert backend.wait(timeout=0.5) == []
            assert 0.5 <= time.monotonic() - t < 5
        finally:
            t = time.monotonic()
            backend.close()
            assert time.monotonic() - t < 5  # close_timeout, then the step is killed
    assert "1 trial step(s) still running 0.5 s after the run ended: killed" in caplog.text
    # The sequential backend ran that step in this thread: the cut step fails its trial.
    backend = hpo.SequentialBackend()
    backend.open(misbehaving, 1, "loss")
    backend.start(0, {"kind": "hang"}, 0, 1, {})
    assert backend.wait(timeout=0.2) == []
    [event] = backend.wait()
    assert event.kind == "failed" and "wait(timeout=0.2)" in event.error
    assert backend.n_free() == 1


def test_a_worker_is_free_as_soon_as_its_trial_ended():
    """n_free() counts a trial's worker free once its "done" event is returned or it is
    told to stop, though its process may still be finishing the step's bookkeeping."""
    backend = hpo.ProcessBackend()
    backend.open(steps, 2, "loss")
    try:
        backend.start(0, {"x": 1.0}, 0, 1, {})  # one step, then its objective returns
        backend.start(1, {"x": 2.0}, 0, 3, {})  # stopped after its first step
        running = {0, 1}
        while running:
            for event in backend.wait():
                if event.kind == "result":
                    backend.decide(event.trial_id, event.trial_id == 0)
                    if event.trial_id == 1:
                        running.discard(1)
                else:
                    assert (event.kind, event.trial_id) == ("done", 0)
                    running.discard(0)
                assert backend.n_free() == 2 - len(running)
    finally:
        backend.close()


@pytest.mark.parametrize("kwargs, name", [
    ({"start_method": "x"}, "start_method"), ({"threads_per_worker": 0}, "threads_per_worker"),
    ({"threads_per_worker": 1.5}, "threads_per_worker"),
    ({"threads_per_worker": True}, "threads_per_worker"),
    ({"close_timeout": float("nan")}, "close_timeout"), ({"close_timeout": -1}, "close_timeout")])
def test_bad_arguments_are_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        hpo.ProcessBackend(**kwargs)


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "1", True])
def test_bad_timeouts_are_refused(timeout):
    with pytest.raises(ValueError, match="timeout"):
        hpo.SimulatedBackend().open(steps, 1, "loss", timeout=timeout)


def test_an_objective_that_does_not_pickle_is_refused_when_the_run_opens():
    backend = hpo.ProcessBackend()
    with pytest.raises(TypeError, match="does not pickle"):
        backend.open(lambda config: 0.0, 1, "loss")
