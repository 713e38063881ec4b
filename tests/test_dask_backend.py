"""The Dask backend on a local cluster of 2 worker processes (started once per module)."""

import logging
import os
import signal
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

import cloudpickle  # noqa: E402  (a dependency of distributed)

import d2lhpo as hpo  # noqa: E402
from d2lhpo.backends.dask import DaskBackend  # noqa: E402

SPACE = {"x": hpo.uniform(0.0, 1.0)}
# The objectives below are defined here: workers get them by value, not by module name.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=logging.ERROR,
        # No dashboard; the scheduler's HTTP routes on any free port of loopback.
        scheduler_kwargs={"allowed_failures": 1, "dashboard_address": "127.0.0.1:0"})
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def _tuner(objective, client, scheduler=None, max_resource=1, points=None):
    scheduler = scheduler or hpo.FIFOScheduler(
        hpo.RandomSearcher(SPACE, seed=0, points_to_evaluate=points), metric="loss",
        max_resource=max_resource)
    return hpo.Tuner(objective, scheduler, backend=DaskBackend(client), seed=0, progress=False)


def slow_quadratic(config):
    time.sleep(0.2)
    return (config["x"] - 0.3) ** 2


def test_random_search_matches_the_sequential_backend_and_runs_in_parallel(client):
    results = _tuner(slow_quadratic, client).run(max_trials=6)
    reference = _tuner(lambda c: (c["x"] - 0.3) ** 2, client)
    reference.backend = hpo.SequentialBackend()
    expected = reference.run(max_trials=6)
    df = results.df.sort_values("trial_id")
    assert df["status"].tolist() == ["completed"] * 6
    assert df[["trial_id", "config_x", "loss"]].values.tolist() == \
        expected.df[["trial_id", "config_x", "loss"]].values.tolist()
    # Two workers, and their trials overlap in time.
    spans = {w: [(t - d, t) for t, d in zip(g["time"], g["duration"])]
             for w, g in df.groupby("worker")}
    assert len(spans) == 2
    a, b = spans.values()
    assert any(s0 < e1 and s1 < e0 for s0, e0 in a for s1, e1 in b)


def stepwise(config, r0, r1, log):
    for r in range(int(r0) + 1, int(r1) + 1):
        time.sleep(0.1)
        with open(log, "a") as f:
            f.write(f"{config['x']} {r}\n")
        yield {"resource": r, "loss": config["x"] / r}


def test_reports_stream_while_the_trial_waits_for_decisions(client, tmp_path):
    log = str(tmp_path / "steps.txt")
    backend = DaskBackend(client)
    backend.open(lambda config, r0, r1: stepwise(config, r0, r1, log), 1, "loss")
    try:
        assert backend.n_workers == 2
        backend.start(7, {"x": 0.5}, 0, 5, {"seed": 0, "checkpoint": None})
        assert backend.n_free() == 1
        for r in (1, 2):
            [event] = backend.wait()
            assert (event.kind, event.trial_id, event.report) == (
                "result", 7, {"resource": r, "loss": 0.5 / r})
            time.sleep(0.3)  # the trial does not run ahead of the tuner's decision
            assert open(log).read().splitlines() == [f"0.5 {i}" for i in range(1, r + 1)]
            backend.decide(7, go_on=r < 2)
        assert backend.n_free() == 2  # freed at once, not when the task returns
        backend.start(8, {"x": 0.25}, 0, 1, {"seed": 0, "checkpoint": None})
        kinds = []
        while not kinds or kinds[-1] == "result":
            [event] = backend.wait()
            kinds.append(event.kind)
            if event.kind == "result":
                backend.decide(8, True)
        assert kinds == ["result", "done"]
        assert open(log).read().splitlines() == ["0.5 1", "0.5 2", "0.25 1"]
    finally:
        backend.close()


class StopAtFirstResult(hpo.FIFOScheduler):
    def on_result(self, trial_id, result):
        super().on_result(trial_id, result)
        return hpo.Decision.STOP


def test_a_stopped_trial_stops_on_its_worker(client, tmp_path):
    log = str(tmp_path / "steps.txt")
    scheduler = StopAtFirstResult(hpo.RandomSearcher(SPACE, seed=1), metric="loss",
                                  max_resource=5)
    tuner = _tuner(lambda config, r0, r1: stepwise(config, r0, r1, log), client, scheduler)
    results = tuner.run(max_trials=4)
    assert results.df["status"].tolist() == ["stopped"] * 4
    time.sleep(0.3)  # a step that had started would be logged by now
    assert sorted(line.split()[1] for line in open(log)) == ["1"] * 4


def test_an_objective_that_raises_fails_its_trial_only(client):
    def objective(config):
        if config["x"] > 0.5:
            raise ValueError(f"bad x {config['x']}")
        return config["x"]

    results = _tuner(objective, client).run(max_trials=6)
    trials = results.trials()
    failed = trials[trials["status"] == "failed"]
    assert len(trials) == 6 and 0 < len(failed) < 6
    assert (failed["config_x"] > 0.5).all()
    assert failed["error"].str.contains("ValueError: bad x").all()
    assert (trials.loc[trials["status"] != "failed", "status"] == "completed").all()


def victim(config, r0, r1, pids, kills):
    """Step 2 of the config x=0.5 waits to be killed, in its first ``kills`` attempts."""
    for r in range(int(r0) + 1, int(r1) + 1):
        attempts = len(open(pids).read().split()) if os.path.exists(pids) else 0
        if config["x"] == 0.5 and r == 2 and attempts < kills:
            time.sleep(1.0)  # the other trials end first: no one waits for a worker restart
            with open(pids, "a") as f:
                f.write(f"{os.getpid()}\n")
            time.sleep(30)
        yield {"resource": r, "loss": config["x"] + 1 / r}


def _killer(pids, kills):
    """Kill (SIGKILL) the worker processes that write their pid to ``pids``, ``kills`` times."""
    def run():
        killed = set()
        deadline = time.monotonic() + 120
        while len(killed) < kills and time.monotonic() < deadline:
            for pid in map(int, open(pids).read().split() if os.path.exists(pids) else []):
                if pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            time.sleep(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("kills", [1, 2])
def test_a_worker_killed_mid_trial_does_not_stop_the_run(client, tmp_path, kills):
    client.wait_for_workers(2, timeout=120)  # a worker killed before has restarted
    pids = str(tmp_path / "pids.txt")
    killer = _killer(pids, kills)
    tuner = _tuner(lambda config, r0, r1: victim(config, r0, r1, pids, kills), client,
                   max_resource=2, points=[{"x": 0.5}])
    results = tuner.run(max_trials=4)
    killer.join()
    assert len(set(open(pids).read().split())) == kills
    trials = results.trials()
    assert len(trials) == 4 and (trials.loc[1:, "status"] == "completed").all()
    # No result counted twice: one row per (trial, resource), besides a failure's own row.
    assert not results.df.query("status != 'failed'").duplicated(["trial_id", "resource"]).any()
    if kills == 1:  # Dask ran it again on a live worker; the repeated step 1 is not recorded
        assert results.df.query("trial_id == 0")["status"].tolist() == ["running", "completed"]
    else:  # the cluster allows one retry: then the trial fails, saying why
        assert results.df.query("trial_id == 0")["status"].tolist() == ["running", "failed"]
        assert "worker died" in trials.loc[0, "error"]


class Recording(DaskBackend):
    def open(self, *args):
        super().open(*args)
        self.cluster = self.client.cluster


def test_without_a_client_it_starts_and_closes_a_local_cluster(monkeypatch):
    monkeypatch.setitem(hpo.tuner.BACKENDS, "dask", Recording)
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE, seed=0), metric="loss")
    tuner = hpo.Tuner(slow_quadratic, scheduler, backend="dask", n_workers=2, progress=False)
    results = tuner.run(max_trials=2)
    assert results.df["status"].tolist() == ["completed"] * 2
    assert tuner.backend.n_workers == 2
    assert tuner.backend.cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    assert tuner.backend.cluster.status.name == "closed" and tuner.backend.client is None


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="client"):
        DaskBackend("tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="n_workers"):
        DaskBackend(n_workers=0)
