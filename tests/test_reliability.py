"""benchmarks/reliability.py: its classifier sorts outcomes as its definitions say, and
its tables have their structure, on a small subset (a smoke test: the script's point is
to count failures, so none of these asserts that there are none)."""

import importlib.util
import sys
import time
from pathlib import Path

import pytest

import d2lhpo as hpo

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "reliability.py"
_spec = importlib.util.spec_from_file_location("reliability", SCRIPT)
rel = sys.modules["reliability"] = importlib.util.module_from_spec(_spec)  # dataclasses need it
_spec.loader.exec_module(rel)

ISSUE_10_VARIANTS = 18


def _case(make, use=None, names=("seed",), values=("-1",), **kw):
    return rel.Case("test", "a case", make, names, values, use, **kw)


def _raise(exc):
    def go(*args):
        raise exc
    return go


def _results(*failed):
    """A run of trials 0, 1, 2: each completed, or failed with the text given."""
    texts = dict(failed)
    rows = [{"trial_id": t, "status": "failed" if t in texts else "completed",
             "resource": 1, "time": float(t), "duration": 1.0, "worker": 0,
             **({"error": texts[t]} if t in texts else {"loss": 0.5})} for t in range(3)]
    return hpo.Results("loss", "min", 1, rows=rows)


@pytest.mark.parametrize("case, category", [
    (_case(_raise(ValueError("seed must be >= 0, got -1"))), "clear"),
    (_case(_raise(TypeError("seed must be an int, got -1"))), "clear"),
    (_case(_raise(ValueError("expected non-negative integer"))), "unclear"),
    (_case(_raise(ValueError("SeedSequence wants entropy >= 0, not -1"))), "unclear"),
    (_case(_raise(ValueError("seed must be >= 0, got -10"))), "unclear"),
    (_case(_raise(KeyError("seed -1"))), "crashed"),
    (_case(lambda: 1), "silently accepted"),
    (_case(lambda: 1, use=lambda obj: None), "silently accepted"),
    (_case(lambda: 1, use=lambda obj: "sampled nan"), "silently accepted"),
    (_case(lambda: 1, use=_raise(ValueError("seed -1 is refused"))), "late"),
    (_case(lambda: 1, use=_raise(ValueError("seed -1 is refused")), late_ok=True), "clear"),
    (_case(lambda: 1, use=_raise(ValueError("high is out of bounds"))), "crashed"),
    (_case(lambda: 1, use=_raise(ZeroDivisionError("seed -1"))), "crashed"),
    (_case(lambda: (_results((0, "cost '1.5' is bad")), 0), names=("cost",),
           values=("'1.5'",), report=True), "clear"),
    (_case(lambda: (_results((0, "TypeError")), 0), names=("cost",), values=("'1.5'",),
           report=True), "unclear"),
    (_case(lambda: (_results(), 0), report=True), "silently accepted"),
    (_case(lambda: (_results((0, "seed -1")), "all"), report=True), "clear"),
    (_case(lambda: (_results((0, "seed -1"), (1, "seed -1")), 0), report=True), "crashed"),
    (_case(_raise(SystemExit(2)), report=True), "crashed"),
    (_case(lambda: (_results(), 0), report=True, returns=True), "clear"),
])
def test_classify_follows_the_definitions(case, category):
    assert rel.classify(case).category == category


def test_a_case_that_hangs_is_counted_as_crashed_not_waited_for():
    t = time.monotonic()
    outcome = rel.classify(_case(lambda: time.sleep(60), isolate=1.0))
    assert outcome.category == "crashed" and "hung" in outcome.what
    assert time.monotonic() - t < 10


def test_an_isolated_case_reports_back_from_its_process():
    outcome = rel.classify(_case(_raise(ValueError("seed must be >= 0, got -1")), isolate=20))
    assert (outcome.category, outcome.message) == ("clear", "seed must be >= 0, got -1")


def test_a_subset_of_the_real_cases_is_classified_into_the_table(tmp_path):
    cases = rel.bad_input_cases(tmp_path, quick=True)
    assert len(cases) >= 100
    assert len({c.name for c in cases}) == len(cases)  # each case says what it tries
    groups = {c.group for c in cases}
    subset = [c for c in cases if not c.isolate][::12]
    outcomes = [rel.classify(c) for c in subset]
    assert all(o.category in rel.CATEGORIES for o in outcomes)
    table = rel.input_table(outcomes)
    assert list(table.index) == [*rel.CATEGORIES, "tried"]
    assert table.columns[-1] == "total" and set(table.columns[:-1]) <= groups
    assert table.loc["tried", "total"] == len(subset)
    assert (table.loc[rel.CATEGORIES].sum() == table.loc["tried"]).all()


def test_the_18_corruptions_are_read_by_each_reader(tmp_path):
    rows = rel.corruption_rows(tmp_path)
    assert len(rows) == ISSUE_10_VARIANTS
    whole = {r["variant"]: r["whole rows"] for r in rows}
    n = whole["CRLF line endings"]
    assert n > 5
    assert whole["empty file"] == whole["meta line only"] == 0
    assert whole["a deleted line"] == whole["a row without status"] == n - 1
    assert whole["garbage at the end"] == whole["duplicated rows"] == n
    for r in rows:
        assert {r[k] for k in rel.READERS} <= set(rel.CORRUPTION_OUTCOMES), r


def test_kill_and_resume_reports_lost_and_repeated_rows(tmp_path):
    row = rel.kill_and_resume("fifo", 35, tmp_path)
    assert row["killed"], row["problem"]
    assert isinstance(row["rows lost"], int) and isinstance(row["rows repeated"], int)
    assert isinstance(row["tables equal"], bool)


def test_summary_has_one_line_per_figure():
    outcomes = [rel.Outcome(_case(lambda: 1), c, "") for c in rel.CATEGORIES]
    simulated = [{"tables equal": True, "rows lost": 0, "rows repeated": 1}]
    real = [{"killed": True, "orphans": 2}]
    corruptions = [{k: "detected" for k in rel.READERS}]
    lines = {(part, m): v for part, m, v in rel.summary(outcomes, simulated, real,
                                                        corruptions)}
    assert lines["inputs", "bad inputs tried"] == "5"
    assert all(lines["inputs", c] == "1" for c in rel.CATEGORIES)
    assert lines["kills", "rows repeated"] == "1"
    assert lines["kills", "real backends: orphan processes"] == "2"
    assert lines["corruptions", "detected"] == str(len(rel.READERS))
    assert all(lines["corruptions", c] == "0" for c in rel.CORRUPTION_OUTCOMES
               if c != "detected")
    assert rel.summary(None, None, None, corruptions)[0][0] == "corruptions"


def test_the_script_prints_its_tables(capsys):
    rel.main(["--quick", "--parts", "corruptions"])
    out = capsys.readouterr().out
    assert "3. Corruptions" in out and "4. Summary (--quick)" in out
