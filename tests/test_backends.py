"""Backends: the simulated clock, the in-process loop and a real process pool."""

import os
import sys
import time

import pytest

import d2lhpo as hpo
from helper_objectives import steps


def costly(config, r0, r1):
    """Steps of ``config["cost"]`` simulated seconds each; ``log`` records its closing."""
    try:
        for r in range(int(r0) + 1, int(r1) + 1):
            yield {"resource": r, "loss": 1.0 / r, "cost": config["cost"]}
    finally:
        config.get("log", []).append("closed")


def drive(backend, go_on=True):
    """Wait for every event until no trial runs, deciding ``go_on`` after each result."""
    events = []
    while backend.n_free() < backend.n_workers:
        for event in backend.wait():
            events.append(event)
            if event.kind == "result":
                backend.decide(event.trial_id, go_on)
    return events


def brief(events):
    return [(e.kind, e.trial_id, e.time, e.worker) for e in events]


# -- simulated -----------------------------------------------------------------
def test_simulated_events_come_in_time_order():
    backend = hpo.SimulatedBackend()
    backend.open(costly, 3, "loss")
    for trial_id, cost in enumerate([3.0, 1.0, 2.0]):
        backend.start(trial_id, {"cost": cost}, 0, 1, {})
    assert backend.n_free() == 0
    assert brief(drive(backend)) == [("result", 1, 1.0, 1), ("done", 1, 1.0, 1),
                                     ("result", 2, 2.0, 2), ("done", 2, 2.0, 2),
                                     ("result", 0, 3.0, 0), ("done", 0, 3.0, 0)]
    assert backend.n_free() == 3 and backend.now() == 3.0


def test_simulated_steps_add_up_and_carry_the_report():
    backend = hpo.SimulatedBackend()
    backend.open(costly, 1, "loss")
    backend.start(0, {"cost": 5.0}, 0, 3, {})
    results = [e for e in drive(backend) if e.kind == "result"]
    assert [e.time for e in results] == [5.0, 10.0, 15.0]
    assert [e.report for e in results] == [{"resource": r, "loss": 1.0 / r} for r in (1, 2, 3)]
    assert all(e.duration == 5.0 for e in results)


def test_simulated_resume_from_r0():
    backend = hpo.SimulatedBackend()
    backend.open(costly, 1, "loss")
    backend.start(0, {"cost": 1.0}, 2, 4, {})
    assert [e.report["resource"] for e in drive(backend) if e.kind == "result"] == [3, 4]


def test_simulated_is_deterministic():
    def run():
        backend = hpo.SimulatedBackend()
        backend.open(costly, 2, "loss")
        for trial_id, cost in enumerate([2.0, 2.0, 1.0]):
            if backend.n_free() == 0:
                events = drive(backend)
            backend.start(trial_id, {"cost": cost}, 0, 2, {})
        return brief(events + drive(backend))
    assert run() == run()


def test_simulated_workers_run_in_parallel():
    """4 workers x equal costs finish in a quarter of the time one worker takes."""
    def plain(config):
        return {"loss": config["x"], "cost": 10.0}
    ends = {}
    for n_workers in (1, 4):
        scheduler = hpo.FIFOScheduler(hpo.RandomSearcher({"x": hpo.uniform(0, 1)}, seed=0))
        results = hpo.Tuner(plain, scheduler, backend="simulated", n_workers=n_workers,
                            metric="loss", progress=False).run(max_trials=8)
        ends[n_workers] = results.df["time"].max()
        assert sorted(results.df["worker"].unique()) == list(range(n_workers))
    assert ends == {1: 80.0, 4: 20.0}
    timeline = hpo.timeline(results)
    assert (timeline["start"] == 0).sum() == 4  # all four busy from the start


def test_simulated_stop_frees_the_worker_and_closes_the_trial():
    log = []
    backend = hpo.SimulatedBackend()
    backend.open(costly, 2, "loss")
    backend.start(0, {"cost": 1.0, "log": log}, 0, 5, {})
    event, = backend.wait()
    assert event.kind == "result" and backend.n_free() == 1
    backend.decide(0, False)
    assert backend.n_free() == 2 and log == ["closed"]


def test_simulated_close_closes_running_trials():
    log = []
    backend = hpo.SimulatedBackend()
    backend.open(costly, 1, "loss")
    backend.start(0, {"cost": 1.0, "log": log}, 0, 5, {})
    backend.close()
    assert log == ["closed"]


def test_simulated_charges_decisions_only_when_asked():
    for charge, expected in [(False, 2.0), (True, 2.5)]:
        backend = hpo.SimulatedBackend(charge_decisions=charge)
        backend.open(costly, 1, "loss")
        backend.start(0, {"cost": 2.0}, 0, 1, {}, delay=0.5)
        assert backend.wait()[0].time == expected


@pytest.mark.parametrize("cost", [None, -1.0, float("nan")])
def test_simulated_needs_a_cost(cost):
    def objective(config, r0, r1):
        report = {"resource": 1, "loss": 0.5}
        if cost is not None:
            report["cost"] = cost
        yield report
    backend = hpo.SimulatedBackend()
    backend.open(objective, 1, "loss")
    backend.start(0, {}, 0, 1, {})
    event, = backend.wait()
    assert event.kind == "failed" and "'cost'" in event.error and backend.n_free() == 1


def test_simulated_reports_a_raising_objective():
    def objective(config, r0, r1):
        yield {"resource": 1, "loss": 0.5, "cost": 1.0}
        raise RuntimeError("diverged")
    backend = hpo.SimulatedBackend()
    backend.open(objective, 1, "loss")
    backend.start(0, {}, 0, 2, {})
    events = drive(backend)
    assert [e.kind for e in events] == ["result", "failed"]
    assert "RuntimeError: diverged" in events[-1].error and events[-1].time == 1.0


# -- sequential ------------------------------------------------------------------
def test_sequential_runs_one_trial_at_a_time():
    backend = hpo.SequentialBackend()
    with pytest.raises(ValueError, match="n_workers=2"):
        backend.open(costly, 2, "loss")
    backend.open(costly, 1, "loss")
    backend.start(0, {"cost": 0.0}, 0, 3, {})
    assert backend.n_free() == 0
    events = drive(backend)
    assert [(e.kind, e.report.get("resource")) for e in events] == [
        ("result", 1), ("result", 2), ("result", 3), ("done", None)]
    times = [e.time for e in events]
    assert times == sorted(times) and all(e.duration >= 0 for e in events)
    assert backend.n_free() == 1


def test_sequential_passes_the_context_it_names():
    seen = []

    def objective(config, r0, r1, seed=None):
        seen.append(seed)
        yield {"resource": 1, "loss": 0.0}

    backend = hpo.SequentialBackend()
    backend.open(objective, 1, "loss")
    backend.start(0, {}, 0, 1, {"seed": 42, "checkpoint": "/nowhere"})
    drive(backend)
    assert seen == [42]


def test_sequential_stop_and_failure():
    log = []
    backend = hpo.SequentialBackend()
    backend.open(costly, 1, "loss")
    backend.start(0, {"cost": 0.0, "log": log}, 0, 3, {})
    assert [e.kind for e in drive(backend, go_on=False)] == ["result"]
    assert log == ["closed"] and backend.n_free() == 1

    def broken(config):
        raise ZeroDivisionError("no data")
    backend.open(broken, 1, "loss")
    backend.start(1, {}, 0, 1, {})
    event, = drive(backend)
    assert event.kind == "failed" and "ZeroDivisionError: no data" in event.error


# -- processes -------------------------------------------------------------------
@pytest.fixture(scope="module")
def pool():
    """One real pool of 2 spawned workers for the module (starting one takes seconds)."""
    backend = hpo.ProcessBackend()
    backend.open(steps, 2, "loss")
    yield backend
    backend.close()


_unread = []  # events a wait() returned along with the one a test waited for


def wait_for(backend, kind, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _unread:
            _unread.extend(backend.wait(timeout=1.0))
        if _unread:
            event = _unread.pop(0)
            if event.kind == kind:
                return event
            raise AssertionError(f"expected a {kind!r} event, got {event}")
    raise AssertionError(f"no {kind!r} event in {timeout} s")


def test_process_trials_run_in_other_processes_at_once(pool):
    pool.start(0, {"id": 0, "x": 1.0}, 0, 1, {})
    pool.start(1, {"id": 1, "x": 2.0}, 0, 1, {})
    # Both report before either is told to go on: they run in parallel.
    first = [wait_for(pool, "result"), wait_for(pool, "result")]
    assert {e.trial_id for e in first} == {0, 1}
    pids = {e.report["pid"] for e in first}
    assert len(pids) == 2 and os.getpid() not in pids
    assert {e.worker for e in first} == {0, 1}
    for event in first:
        pool.decide(event.trial_id, True)
    assert {wait_for(pool, "done").trial_id, wait_for(pool, "done").trial_id} == {0, 1}


def test_process_results_stream_per_step_and_stop_ends_the_trial(pool, tmp_path):
    pool.start(2, {"id": 2, "x": 1.0, "dir": str(tmp_path)}, 0, 3, {})
    event = wait_for(pool, "result")
    assert event.report["resource"] == 1
    time.sleep(0.3)  # the trial waits for a decision: no second step yet
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2_step1"]
    pool.decide(2, True)
    assert wait_for(pool, "result").report["resource"] == 2
    pool.decide(2, False)
    deadline = time.monotonic() + 30
    while pool.n_free() < 2 and time.monotonic() < deadline:
        assert pool.wait() == []  # a stopped trial sends nothing more
    time.sleep(0.3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2_step1", "2_step2"]
    assert pool.n_free() == 2


def test_process_failure_is_reported(pool):
    pool.start(3, {"id": 3, "x": 1.0, "fail_at": 1}, 0, 2, {})
    event = wait_for(pool, "failed")
    assert event.trial_id == 3 and "RuntimeError: boom at step 1" in event.error


def test_process_backend_under_the_tuner():
    space = {"x": hpo.uniform(0, 1), "id": 0, "sleep": 0.05}
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(space, seed=0), max_resource=2)
    results = hpo.Tuner(steps, scheduler, backend="process", n_workers=2, metric="loss",
                        progress=False).run(max_trials=4)
    df = results.df
    assert len(df) == 8 and set(df.groupby("trial_id")["resource"].max()) == {2}
    assert (df.loc[df["resource"] == 2, "status"] == "completed").all()
    assert os.getpid() not in set(df["pid"]) and set(df["worker"]) <= {0, 1}


# -- bad reports and timeouts ------------------------------------------------------
BAD_REPORTS = [("cost", v) for v in ["1.5", float("inf"), float("nan"), -1.0, True, None]] + \
    [("resource", v) for v in ["3", float("nan"), float("inf"), -1, True, None]]


@pytest.mark.parametrize("key, value", BAD_REPORTS)
def test_a_bad_report_fails_its_trial_and_the_run_goes_on(key, value):
    """Before: cost="1.5" raised TypeError out of run(), cost=inf sent the clock to inf,
    resource "3" raised in the tuner, a negative or NaN resource was accepted."""
    def objective(config):
        report = {"loss": config["x"], "cost": 1.0}
        if config["x"] == 0.9:
            report[key] = value
        return report

    points = [{"x": 0.9}, {"x": 0.1}, {"x": 0.2}]
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher({"x": hpo.uniform(0, 1)}, seed=0,
                                                     points_to_evaluate=points))
    results = hpo.Tuner(objective, scheduler, backend="simulated", metric="loss",
                        progress=False).run(max_trials=3)
    trials = results.trials()
    assert trials["status"].tolist() == ["failed", "completed", "completed"]
    assert f"'{key}'" in trials.loc[0, "error"] and repr(value) in trials.loc[0, "error"]
    assert results.df["time"].max() == 2.0  # two steps of 1 s; the bad one cost nothing


def test_simulated_timeout_applies_to_the_simulated_cost():
    backend = hpo.SimulatedBackend()
    backend.open(costly, 2, "loss", timeout=2.0)
    backend.start(0, {"cost": 5.0}, 0, 1, {})
    backend.start(1, {"cost": 1.0}, 0, 2, {})
    events = drive(backend)
    assert brief(events) == [("result", 1, 1.0, 1), ("failed", 0, 2.0, 0),
                             ("result", 1, 2.0, 1), ("done", 1, 2.0, 1)]
    assert "timed out after 2 s" in events[1].error


def test_simulated_wait_timeout_counts_simulated_seconds():
    backend = hpo.SimulatedBackend()
    backend.open(costly, 1, "loss")
    assert backend.wait(timeout=1.0) == []  # nothing runs
    backend.start(0, {"cost": 5.0}, 0, 1, {})
    assert backend.wait(timeout=3.0) == [] and backend.now() == 3.0
    [event] = backend.wait(timeout=3.0)
    assert (event.kind, event.time) == ("result", 5.0)


def test_step_helper_classifies_what_an_objective_does():
    from d2lhpo.backends.base import step

    def objective(kind):
        yield {"resource": 1}
        if kind == "exit":
            sys.exit(3)
        if kind == "raise":
            raise ValueError("no")
        if kind == "interrupt":
            raise KeyboardInterrupt

    for kind, expected in [("return", "done"), ("exit", "failed"), ("raise", "failed")]:
        it = objective(kind)
        assert step(it) == ("result", {"resource": 1}, None)
        got, report, error = step(it)
        assert (got, report) == (expected, None)
        assert (error is None) == (expected == "done")
    it = objective("interrupt")
    step(it)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C is the tuner's to handle
        step(it)
