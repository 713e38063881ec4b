"""Resume by replay, for every scheduler: an interrupted run, resumed, loses no result,
re-runs none, and (one worker, deterministic objective) ends as the uninterrupted run."""

import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helper_replay import MAX_TRIALS, Curves, schedulers, tuner

NAMES = list(schedulers())
SCRIPT = Path(__file__).with_name("helper_replay.py")


def table(results):
    return results.df.drop(columns=["duration"]).reset_index(drop=True)


def whole(name, n_workers=1):
    return tuner(name, n_workers=n_workers).run(max_trials=MAX_TRIALS)


@pytest.mark.parametrize("at", [40, 70])  # 70: after max_trials stopped new trials (SH)
@pytest.mark.parametrize("name", NAMES)
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, name, at):
    # a run shorter than 70 reports (BO in ASHA: 68) is interrupted 2 before its end
    at = min(at, len(whole(name)) - 2)
    journal, ckpt = tmp_path / "run.jsonl", tmp_path / "ckpt"
    first = tuner(name, journal, ckpt, objective=Curves(at=at)).run(max_trials=MAX_TRIALS)
    assert 0 < len(first) < len(whole(name))
    resumed = tuner(name, journal, ckpt, resume=True).run(max_trials=MAX_TRIALS)
    pd.testing.assert_frame_equal(table(resumed), table(whole(name)), check_dtype=False)


@pytest.mark.parametrize("name", NAMES)
def test_kill_9_then_resume_loses_nothing_and_reruns_nothing(tmp_path, name):
    journal, ckpt = tmp_path / "run.jsonl", tmp_path / "ckpt"
    proc = subprocess.run([sys.executable, str(SCRIPT), name, str(journal), str(ckpt), "35",
                           "1"], cwd=SCRIPT.parent, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    resumed = tuner(name, journal, ckpt, resume=True).run(max_trials=MAX_TRIALS)
    pd.testing.assert_frame_equal(table(resumed), table(whole(name)), check_dtype=False)


@pytest.mark.parametrize("name", NAMES)
def test_with_several_workers_resume_keeps_every_row_and_repeats_none(tmp_path, name):
    journal, ckpt = tmp_path / "run.jsonl", tmp_path / "ckpt"
    first = tuner(name, journal, ckpt, n_workers=3,
                  objective=Curves(at=50)).run(max_trials=MAX_TRIALS)
    before = table(first)
    resumed = tuner(name, journal, ckpt, n_workers=3, resume=True).run(max_trials=MAX_TRIALS)
    after = table(resumed)
    pd.testing.assert_frame_equal(after.iloc[:len(before)], before, check_dtype=False)
    assert not after.duplicated(["trial_id", "resource"]).any()
    ended = before.groupby("trial_id").tail(1)
    ended = ended[ended.status.isin(["completed", "stopped", "failed"])].trial_id
    assert not after.iloc[len(before):].trial_id.isin(ended).any()
    assert after.trial_id.nunique() == MAX_TRIALS
    last = after.groupby("trial_id").tail(1).status
    assert set(last) <= {"completed", "stopped", "paused", "failed"}
