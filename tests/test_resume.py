"""Resuming a tuning run from its journal (Tuner(..., journal=path, resume=True))."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import d2lhpo as hpo

JOB = Path(__file__).with_name("resume_job.py")


def _load_job():
    spec = importlib.util.spec_from_file_location("resume_job", JOB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(path):
    """The rows of the whole lines of a journal (a kill may have cut the last one)."""
    with open(path) as f:
        lines = [json.loads(line) for line in f.readlines() if line.endswith("\n")]
    return [line["row"] for line in lines if "row" in line]


def _by_trial(rows):
    trials = {}
    for row in rows:
        trials.setdefault(row["trial_id"], []).append(row)
    return trials


@pytest.mark.parametrize("backend", [[], ["process"]], ids=["sequential", "process"])
def test_killed_run_resumes_without_losing_or_repeating_trials(tmp_path, backend):
    # process: the killed run's worker process dies with it, so the checkpoint of the
    # trial it trained matches the journaled resource (the objective asserts it)
    journal, ckpt, ledger = tmp_path / "run.jsonl", tmp_path / "ckpt", tmp_path / "calls.jsonl"
    max_trials = 8
    proc = subprocess.Popen([sys.executable, str(JOB), str(journal), str(ckpt), str(ledger),
                             str(max_trials), "4", *backend], stderr=subprocess.PIPE)
    # The 4th trial hangs in its 2nd epoch: kill the run there, with SIGKILL (no clean-up).
    deadline = time.monotonic() + 120
    while not (ledger.exists() and '"hang"' in ledger.read_text()):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the tuning run made no progress"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    before = _rows(journal)
    trials_before = _by_trial(before)
    done_before = {t for t, rows in trials_before.items() if rows[-1]["status"] == "completed"}
    cut = {t: rows[-1]["resource"] for t, rows in trials_before.items()
           if rows[-1]["status"] == "running"}
    assert len(done_before) == 3 and cut == {3: 1}

    results = _load_job().main(journal, ckpt, ledger, max_trials)

    # Nothing journaled before the kill is lost or changed, in the file or the results.
    assert _rows(journal)[:len(before)] == before
    assert results.rows[:len(before)] == before
    assert hpo.Results.load(journal).rows == results.rows
    # Every trial completed once, each epoch recorded once; as many trials as asked.
    trials = _by_trial(results.rows)
    for rows in trials.values():
        assert [r["resource"] for r in rows] == [1, 2, 3]
        assert [r["status"] for r in rows] == ["running", "running", "completed"]
    assert len(trials) == max_trials
    assert min(set(trials) - set(trials_before)) == max(trials_before) + 1
    # No completed trial ran again; the interrupted one went on from its checkpoint.
    calls = [json.loads(line) for line in ledger.read_text().splitlines()]
    again = [c for c in calls if c != "hang" and c["pid"] == os.getpid()]
    x_done = {trials_before[t][0]["config_x"] for t in done_before}
    assert not x_done & {c["x"] for c in again}
    for t, resource in cut.items():
        x = trials_before[t][0]["config_x"]
        assert [c["r0"] for c in again if c["x"] == x] == [resource]
    # The searcher (same seed) did not propose a journaled configuration again.
    assert len({rows[0]["config_x"] for rows in trials.values()}) == max_trials


def _stepwise(config, r0, r1):
    for r in range(int(r0) + 1, int(r1) + 1):
        yield {"resource": r, "loss": config["x"] + 1 / r}


def _tuner(journal, metric="loss", **kwargs):
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher({"x": hpo.uniform(0, 1)}, seed=0),
                                  metric=metric, max_resource=3)
    return hpo.Tuner(_stepwise, scheduler, seed=0, journal=journal, progress=False, **kwargs)


def test_existing_journal_needs_resume(tmp_path):
    journal = tmp_path / "run.jsonl"
    _tuner(journal).run(max_trials=2)
    with pytest.raises(ValueError, match="run.jsonl"):
        _tuner(journal)
    assert len(hpo.Results.load(journal)) == 6  # untouched


def test_resume_without_a_journal_starts_a_new_run(tmp_path):
    results = _tuner(tmp_path / "new.jsonl", resume=True).run(max_trials=2)
    assert len(results.trials()) == 2


def test_resume_twice_continues_ids_and_time(tmp_path):
    journal = tmp_path / "run.jsonl"
    first = _tuner(journal).run(max_trials=2)
    results = _tuner(journal, resume=True).run(max_trials=4)
    assert sorted(results.trials().index) == [0, 1, 2, 3]
    times = results.df["time"].to_numpy()
    assert (times[len(first):] >= times[len(first) - 1]).all()
    assert results.df.groupby("trial_id").size().tolist() == [3, 3, 3, 3]


def test_cut_last_line_is_dropped_and_unfinished_trial_reruns_from_scratch(tmp_path):
    journal = tmp_path / "run.jsonl"
    _tuner(journal).run(max_trials=2)
    lines = journal.read_text().splitlines(keepends=True)
    # As if killed while trial 1 was at epoch 1, in the middle of writing a row.
    journal.write_text("".join(lines[:5]) + lines[5][:20])
    results = _tuner(journal, resume=True).run(max_trials=2)  # no checkpoint_dir: from 0
    assert [(r["trial_id"], r["resource"]) for r in results.rows] == [
        (0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
    assert hpo.Results.load(journal).rows == results.rows


def test_resume_other_metric_raises(tmp_path):
    journal = tmp_path / "run.jsonl"
    _tuner(journal).run(max_trials=1)
    with pytest.raises(ValueError, match="'loss' \\(min\\), not 'other'"):
        _tuner(journal, resume=True, metric="other")


def test_scheduler_restore_replays_into_the_searcher():
    searcher = hpo.RandomSearcher({"x": hpo.uniform(0, 1)}, metric="loss", seed=0)
    seen = []
    searcher.observe = lambda config, result: seen.append((config, result))
    scheduler = hpo.FIFOScheduler(searcher, max_resource=2)
    same = hpo.RandomSearcher({"x": hpo.uniform(0, 1)}, seed=0)
    a, b = same.suggest(), same.suggest()
    row = {"time": 1.0, "duration": 1.0, "worker": 0}
    log = [("job", {"trial_id": 0, "r0": 0, "r1": 2, "config": a}),
           ("job", {"trial_id": 1, "r0": 0, "r1": 2, "config": b}),
           ("row", {**row, "trial_id": 0, "status": "running", "resource": 1, "loss": 2}),
           ("row", {**row, "trial_id": 0, "status": "completed", "resource": 2, "loss": 1}),
           ("row", {**row, "trial_id": 1, "status": "running", "resource": 1, "loss": 3})]
    assert scheduler.restore(log) == [1]  # trial 1 was left running
    assert seen == [(a, {"resource": 2, "loss": 1})]
    assert list(searcher.pending.values()) == [b]
    assert [(t.trial_id, t.status, t.resource) for t in scheduler.trials.values()] == [
        (0, "completed", 2), (1, "running", 1)]


def test_a_trial_that_ends_early_is_journaled_as_completed_and_not_rerun(tmp_path):
    calls = []

    def short(config, r0, r1):  # stops at resource 2 of 3
        calls.append(config["x"])
        for r in range(int(r0) + 1, 3):
            yield {"resource": r, "loss": config["x"] + 1 / r}

    def tuner(resume=False):
        scheduler = hpo.FIFOScheduler(hpo.RandomSearcher({"x": hpo.uniform(0, 1)}, seed=0),
                                      metric="loss", max_resource=3)
        return hpo.Tuner(short, scheduler, seed=0, journal=tmp_path / "run.jsonl",
                         resume=resume, progress=False)

    results = tuner().run(max_trials=3)
    assert results.trials().status.tolist() == ["completed"] * 3
    assert hpo.Results.load(tmp_path / "run.jsonl").trials().status.tolist() == [
        "completed"] * 3
    assert results.trials().resource.tolist() == [2, 2, 2]
    del calls[:]
    again = tuner(resume=True).run(max_trials=3)
    assert calls == [] and len(again) == len(results)
