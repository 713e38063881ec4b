"""The journal: every damaged line is found, named and never appended after; resume
repairs only a write cut short; jobs; values of every type come back as they were."""

import json
import math
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2lhpo.results import Journal, JournalError, Results


def row(trial_id, resource, loss, time, status="running", **extra):
    return {"trial_id": trial_id, "status": status, "resource": resource, "time": time,
            "duration": 1.0, "worker": trial_id % 2, "config_x": trial_id / 10,
            "config_shape": (3, trial_id), "loss": loss, **extra}


ROWS = [row(0, 1, 0.5, 1.0), row(1, 1, 0.6, 1.5), row(0, 2, 0.4, 2.0),
        row(1, 2, 0.7, 2.5, "stopped"), row(0, 3, 0.3, 3.0, "completed"),
        {**row(2, 0, None, 3.2, "failed"), "error": "ValueError: diverged"},
        row(3, 1, 0.2, 4.0), row(3, 2, 0.1, 5.0, "completed"),
        # status only: trial 3's objective ended before max_resource
        {k: v for k, v in row(3, 2, 0, 5.0, "completed").items() if k != "loss"}]
del ROWS[5]["loss"]  # a failed trial reports no metric


def results():
    return Results("loss", "min", max_resource=3, rows=ROWS)


def signed(obj) -> bytes:
    """A journal line as the format documents it: CRC-32 of the line before ',"crc"' + '}'."""
    body = json.dumps(obj, separators=(",", ":")).encode()
    return body[:-1] + b',"crc":%d}' % zlib.crc32(body)


@pytest.fixture
def journal(tmp_path):
    """A journal of ROWS: 1 settings line + 9 row lines."""
    path = tmp_path / "run.jsonl"
    with Journal(path, results()) as j:
        for r in ROWS:
            j.write(r)
    return path


def lines_of(path):
    return path.read_bytes().split(b"\n")[:-1]


def write_lines(path, lines, end=b"\n"):
    path.write_bytes(b"\n".join(lines) + end)


def assert_damaged(path, line, following, match):
    """Load raises naming the file, line and lines after it; resume raises and changes nothing."""
    before = path.read_bytes()
    with pytest.raises(JournalError, match=match) as e:
        Results.load(path)
    assert (e.value.line, e.value.following) == (line, following)
    assert f"{str(path)!r}, line {line} " in str(e.value)
    assert f"{following} line" in str(e.value)
    with pytest.raises(JournalError, match=match):
        Journal.for_resume(path)
    assert path.read_bytes() == before  # resume never repairs more than a cut write


def test_a_journal_loads_as_its_rows(journal):
    loaded = Results.load(journal)
    assert loaded.rows == ROWS and loaded.jobs == []
    assert loaded.rows[0]["config_shape"] == (3, 0)  # a tuple, not a list
    assert (loaded.metric, loaded.mode, loaded.max_resource) == ("loss", "min", 3)
    assert [json.loads(line)["seq"] for line in lines_of(journal)] == list(range(10))


# -- the 18 corruptions ---------------------------------------------------------------
@pytest.mark.parametrize("keep", [1, 7, 20, -1])
def test_cut_last_line(journal, keep):
    lines = lines_of(journal)
    write_lines(journal, lines[:-1] + [lines[-1][:keep]], end=b"")
    with pytest.raises(JournalError, match="line 10 is cut short") as e:
        Results.load(journal)
    assert (e.value.line, e.value.following) == (10, 0)
    with pytest.warns(UserWarning, match="skipped 1 damaged line"):
        assert Results.load(journal, skip_damaged=True).rows == ROWS[:-1]
    resumed = Journal.for_resume(journal)  # what a kill mid-write leaves: removed
    assert resumed.rows == ROWS[:-1]
    assert journal.read_bytes() == b"\n".join(lines[:-1]) + b"\n"
    with Journal(journal, resumed) as j:  # the count goes on where it stopped
        j.write(ROWS[-1])
    assert Results.load(journal).rows == ROWS
    assert json.loads(lines_of(journal)[-1])["seq"] == 9


def test_partial_line_without_newline(journal):
    # The whole last line was written, its newline not: its checksum shows it is whole.
    data = journal.read_bytes()
    journal.write_bytes(data[:-1])
    assert Results.load(journal).rows == ROWS
    assert Journal.for_resume(journal).rows == ROWS
    assert journal.read_bytes() == data  # the newline is back: appending is safe
    # Only the first bytes of the settings line: nothing to resume, the file starts over.
    journal.write_bytes(data[:5])
    assert Journal.for_resume(journal) is None and journal.read_bytes() == b""


def test_nul_bytes_with_newline(journal):
    journal.write_bytes(journal.read_bytes() + b"\0" * 64 + b"\n")
    assert_damaged(journal, 11, 0, "line 11 holds NUL bytes")


def test_nul_bytes_without_newline(journal):
    journal.write_bytes(journal.read_bytes() + b"\0" * 64)  # e.g. a crash of the machine
    assert_damaged(journal, 11, 0, "line 11 holds NUL bytes")


def test_crlf_endings_are_not_damage(journal):
    # Decided: a journal whose newlines a tool turned into CRLF holds the same data.
    journal.write_bytes(journal.read_bytes().replace(b"\n", b"\r\n"))
    assert Results.load(journal).rows == ROWS
    resumed = Journal.for_resume(journal)
    with Journal(journal, resumed) as j:
        j.write(row(4, 1, 0.9, 6.0))
    assert Results.load(journal).rows == [*ROWS, row(4, 1, 0.9, 6.0)]


def test_settings_line_only(tmp_path):
    path = tmp_path / "run.jsonl"
    Journal(path, results()).close()  # killed before the first result
    loaded = Results.load(path)
    assert loaded.rows == [] and loaded.metric == "loss" and loaded.best() is None
    assert Journal.for_resume(path).rows == []


def test_settings_line_broken(journal):
    lines = lines_of(journal)
    lines[0] = lines[0].replace(b'"mode":"min"', b'"mode":"mjn"')
    write_lines(journal, lines)
    assert_damaged(journal, 1, 9, "line 1 does not match its checksum")
    with pytest.raises(JournalError, match="without it the file cannot be read"):
        Results.load(journal, skip_damaged=True)  # the settings cannot be skipped
    lines[0] = signed({"seq": 0, "meta": {**json.loads(lines[0])["meta"], "mode": "mjn"}})
    write_lines(journal, lines)
    assert_damaged(journal, 1, 9, "line 1 holds bad run settings .*mode must be 'min' or "
                   "'max', got 'mjn'")


def test_settings_line_missing(journal):
    write_lines(journal, lines_of(journal)[1:])
    assert_damaged(journal, 1, 8, "line 1 is a row, not the run settings")
    with pytest.raises(JournalError, match="line 1 is a row"):
        Results.load(journal, skip_damaged=True)


def test_a_journal_list_as_a_row(journal):
    lines = lines_of(journal)
    write_lines(journal, lines[:3] + [b"[1, 2, 3]"] + lines[3:])
    assert_damaged(journal, 4, 7, "line 4 is a JSON list without a checksum")
    with pytest.warns(UserWarning, match="skipped 1 damaged line, loaded 9 rows"):
        assert Results.load(journal, skip_damaged=True).rows == ROWS
    # A list written with a valid sequence number and checksum is not a row either.
    write_lines(journal, lines[:3] + [signed({"seq": 3, "row": [1, 2]})] + lines[4:])
    assert_damaged(journal, 4, 6, "line 4 is a JSON list, not an object")


def test_empty_file(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"")
    with pytest.raises(JournalError, match="run.jsonl' is empty, not a d2lhpo results file"):
        Results.load(path)
    assert Journal.for_resume(path) is None  # nothing to resume: a new run


def test_a_key_renamed_by_a_byte_flip(journal):
    lines = lines_of(journal)
    lines[4] = lines[4].replace(b'"status"', b'"statts"')
    write_lines(journal, lines)
    assert_damaged(journal, 5, 5, "line 5 does not match its checksum")
    with pytest.warns(UserWarning, match="skipped 1 damaged line, loaded 8 rows"):
        assert Results.load(journal, skip_damaged=True).rows == ROWS[:3] + ROWS[4:]


def flip_one_byte_everywhere(journal):
    """Every single-byte change that keeps the line JSON is caught by its checksum."""
    lines = lines_of(journal)
    line = lines[3]
    for i in range(len(line)):
        changed = line[:i] + bytes([line[i] ^ 0x01]) + line[i + 1:]
        write_lines(journal, lines[:3] + [changed] + lines[4:])
        with pytest.raises(JournalError, match="line 4 "):
            Results.load(journal)


def test_every_byte_flip_is_caught(journal):
    flip_one_byte_everywhere(journal)


def resign(journal, index, change):
    """Replace line ``index`` by ``change(row)`` with a valid seq and checksum: a bad writer."""
    lines = lines_of(journal)
    obj = json.loads(lines[index])
    lines[index] = signed({"seq": obj["seq"], "row": change(obj["row"])})
    write_lines(journal, lines)


def test_a_row_without_status(journal):
    resign(journal, 4, lambda r: {k: v for k, v in r.items() if k != "status"})
    assert_damaged(journal, 5, 5, "line 5 has no 'status'")


def test_trial_id_as_a_string(journal):
    resign(journal, 4, lambda r: {**r, "trial_id": "1"})
    assert_damaged(journal, 5, 5, "line 5 has trial_id '1', not a non-negative integer")


def test_garbage_at_the_end(journal):
    journal.write_bytes(journal.read_bytes() + b"garbage\n")
    assert_damaged(journal, 11, 0, "line 11 is not JSON")
    journal.write_bytes(journal.read_bytes()[:-1])  # without a newline: not a cut write
    assert_damaged(journal, 11, 0, "line 11 is not JSON")


def test_garbage_in_the_middle(journal):
    lines = lines_of(journal)
    write_lines(journal, lines[:5] + [b"}{ garbage"] + lines[5:])
    assert_damaged(journal, 6, 5, "line 6 is not JSON")
    with pytest.warns(UserWarning, match="skipped 1 damaged line, loaded 9 rows"):
        assert Results.load(journal, skip_damaged=True).rows == ROWS


def test_a_deleted_line(journal):
    lines = lines_of(journal)
    write_lines(journal, lines[:5] + lines[6:])
    assert_damaged(journal, 6, 3, "line 6 comes after 1 missing line .sequence number 6, "
                   "expected 5")
    with pytest.warns(UserWarning, match="skipped 0 damaged lines, 1 missing, loaded 8 rows"):
        assert Results.load(journal, skip_damaged=True).rows == ROWS[:4] + ROWS[5:]


@pytest.mark.parametrize("where", [5, 10])
def test_duplicated_rows(journal, where):
    lines = lines_of(journal)
    write_lines(journal, lines[:where] + [lines[where - 1]] + lines[where:])
    assert_damaged(journal, where + 1, 10 - where, f"line {where + 1} repeats sequence number "
                   f"{where - 1}: a duplicated line")
    with pytest.warns(UserWarning, match="skipped 1 damaged"):
        assert Results.load(journal, skip_damaged=True).rows == ROWS


def test_a_completed_row_with_nan(journal):
    resign(journal, 5, lambda r: {**r, "loss": float("nan")})
    assert_damaged(journal, 6, 4, "line 6 has loss nan in a completed row")
    # The writer refuses such a row in the first place; a failed row may carry one.
    with Journal(journal.with_name("other.jsonl"), results()) as j:
        with pytest.raises(ValueError, match="has loss nan in a completed row"):
            j.write(row(0, 3, float("nan"), 1.0, "completed"))
        j.write(row(0, 3, float("nan"), 1.0, "failed"))


# -- resume -------------------------------------------------------------------------------
def test_resume_of_no_journal_is_none(tmp_path):
    assert Journal.for_resume(tmp_path / "new.jsonl") is None


def test_appending_to_a_cut_journal_without_resume_is_refused(journal):
    journal.write_bytes(journal.read_bytes()[:-10])
    with pytest.raises(JournalError, match="Journal.for_resume"):
        Journal(journal, results())


def test_an_old_journal_without_checksums_is_refused_clearly(tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps({"metric": "loss", "mode": "min", "max_resource": 3,
                                "constraints": []}) + "\n" + json.dumps(ROWS[0]) + "\n")
    with pytest.raises(JournalError, match="line 1 is a JSON dict without a checksum"):
        Journal.for_resume(path)
    # Signed, but from the version before: no format in the settings.
    path.write_bytes(signed({"seq": 0, "meta": {"metric": "loss", "mode": "min"}}) + b"\n")
    with pytest.raises(JournalError, match="written by an older d2lhpo"):
        Results.load(path)


# -- jobs -------------------------------------------------------------------------------
JOBS = [{"trial_id": 0, "r0": 0, "r1": 3, "config": {"x": 0.0, "shape": (3, 0)}, "at": 0},
        {"trial_id": 1, "r0": 0, "r1": 3, "config": {"x": 0.1, "shape": (3, 1)}, "at": 0},
        {"trial_id": 3, "r0": 2, "r1": 3, "config": {"x": 0.3, "shape": (3, 3)}, "at": 7}]


def test_jobs_are_journaled_in_order_and_kept_apart_from_rows(tmp_path):
    path = tmp_path / "run.jsonl"
    run = Results("loss", "min", max_resource=3)
    with Journal(path, run) as j:
        for i, r in enumerate([*ROWS, None]):
            for job in JOBS:
                if job["at"] == i:
                    j.write_job(run.append_job({k: v for k, v in job.items() if k != "at"}))
            if r is not None:
                run.append(r)
                j.write(r)
        with pytest.raises(ValueError, match="has r1 None"):
            j.write_job({"trial_id": 0, "r0": 0, "r1": None, "at": 0})
    assert run.jobs == JOBS
    loaded = Results.load(path)
    assert loaded.jobs == JOBS and loaded.rows == ROWS
    assert "r0" not in loaded.df and "at" not in loaded.df
    again = Results.load(loaded.save(tmp_path / "saved.jsonl"))
    assert again.jobs == JOBS and again.rows == ROWS
    assert path.read_bytes() == (tmp_path / "saved.jsonl").read_bytes()  # one format
    assert Results.load(loaded.save(tmp_path / "saved.csv")).jobs == []


# -- files that are not results ------------------------------------------------------------
def test_files_that_are_not_results(tmp_path):
    with pytest.raises(JournalError, match="is a directory, not a d2lhpo results file"):
        Results.load(tmp_path)
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(JournalError, match="notes.txt', line 1 is not JSON"):
        Results.load(tmp_path / "notes.txt")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(JournalError, match="table.csv' is not a d2lhpo results file"):
        Results.load(tmp_path / "table.csv")
    with pytest.raises(FileNotFoundError):
        Results.load(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("name", ["run.json", "run.txt", "run", "run.csv.gz"])
def test_save_refuses_unknown_suffixes(tmp_path, name):
    with pytest.raises(ValueError, match="must end in .csv or .jsonl"):
        results().save(tmp_path / name)
    assert not list(tmp_path.iterdir())


def test_save_refuses_rows_it_could_not_load(tmp_path):
    bad = Results("loss", rows=[row(0, 1, float("nan"), 1.0, "completed")])
    with pytest.raises(ValueError, match="row 0 .* has loss nan in a completed row"):
        bad.save(tmp_path / "run.jsonl")


def test_check_path(tmp_path):
    assert Journal.check_path(tmp_path / "run.jsonl") == tmp_path / "run.jsonl"
    for bad, match in [(tmp_path / "x.csv", "journal must be a .jsonl file, got '.*x.csv'"),
                       (tmp_path / "dir.jsonl", "journal '.*dir.jsonl' is a directory"),
                       (tmp_path / "no" / "run.jsonl", "the folder '.*no' does not exist")]:
        if bad.name == "dir.jsonl":
            bad.mkdir()
        with pytest.raises(ValueError, match=match):
            Journal.check_path(bad)
    with pytest.raises(TypeError, match="journal must be a path, got 5"):
        Journal.check_path(5)


# -- values of every kind come back exactly ---------------------------------------------
TRICKY = ["None", "", "NaN", "nan", "null", "True", "1", "1.0", " ", "#", '"', ",", "\n",
          "a\r\nb", "[1]", '{"__tuple__": [1]}']
finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-2 ** 70, 2 ** 70),
    st.floats(), st.sampled_from([0.0, -0.0, 1e-310, 5e-324, 1e300, math.inf, -math.inf]),
    st.text(), st.sampled_from(TRICKY),
    st.builds(np.int64, st.integers(-2 ** 63, 2 ** 63 - 1)), st.builds(np.bool_, st.booleans()),
    st.builds(np.float32, st.floats(width=32)), st.builds(np.float64, st.floats()))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.tuples(inner), st.tuples(inner, inner), st.lists(inner, max_size=3)), max_leaves=4)
columns = st.sampled_from([st.text(), st.sampled_from(TRICKY), st.integers(), finite,
                           st.floats(), st.booleans(), values])


def plain(v):
    """What a value must come back as: itself, numpy scalars as the equal Python scalar."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return tuple(plain(x) for x in v)
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def same(a, b) -> bool:
    """Equal and of the same type, all the way down (NaN is NaN, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) ==
                                                       math.copysign(1, b))
    return a == b


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_config_values_survive_every_file(data):
    n = data.draw(st.integers(1, 5))
    mixed = data.draw(st.lists(values, min_size=n, max_size=n))
    same_kind = data.draw(st.lists(data.draw(columns), min_size=n, max_size=n))
    some = data.draw(st.lists(st.one_of(st.just(None), st.sampled_from(TRICKY)),
                              min_size=n, max_size=n))  # None: the row has no such key
    rows = []
    for i in range(n):
        r = row(i, 1, 0.5, float(i), "completed", config_mixed=mixed[i],
                config_same=same_kind[i])
        if some[i] is not None:
            r["config_some"] = some[i]
        rows.append(r)
    expected = [{k: plain(v) for k, v in r.items()} for r in rows]
    run = Results("loss", rows=rows, jobs=[{"trial_id": 0, "r0": 0, "r1": 1, "at": 0,
                                           "config": {"v": mixed[0]}}])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with Journal(tmp / "journal.jsonl", run) as j:
            j.write_job(run.jobs[0])
            for r in rows:
                j.write(r)
        for path in [run.save(tmp / "run.csv"), run.save(tmp / "run.jsonl"),
                     tmp / "journal.jsonl"]:
            loaded = Results.load(path)
            assert same(loaded.rows, expected), path.name
            if path.suffix == ".jsonl":
                assert same(loaded.jobs[0]["config"], {"v": plain(mixed[0])})
            # The best configuration is the one tried (every row ties: the first is best).
            assert same(loaded.best()["config"]["mixed"], expected[0]["config_mixed"])


def test_csv_stays_readable_for_plain_columns(tmp_path):
    path = results().save(tmp_path / "run.csv")
    table = pd.read_csv(path, comment=None, skiprows=1)
    assert list(table["status"][:2]) == ["running", "running"]
    assert table["config_x"].tolist()[:2] == [0.0, 0.1]  # numbers as numbers
    assert table["error"].iloc[5] == "ValueError: diverged"  # text as text
    assert Results.load(path).rows == ROWS


def test_history_puts_each_job_before_its_row():
    run = Results("loss", max_resource=3, rows=ROWS[:3], jobs=JOBS[:2])
    kinds = [(kind, item["trial_id"]) for kind, item in run.history()]
    assert kinds == [("job", 0), ("job", 1), ("row", 0), ("row", 1), ("row", 0)]
    run.append_job({"trial_id": 0, "r0": 2, "r1": 3})
    assert run.jobs[-1]["at"] == 3 and list(run.history())[-1] == ("job", run.jobs[-1])
    run.jobs.append({**JOBS[2], "at": 99})  # beyond the rows: still in, at the end
    assert list(run.history())[-1] == ("job", run.jobs[-1])


def test_a_value_json_cannot_hold_is_refused_by_name(tmp_path):
    with Journal(tmp_path / "run.jsonl", results()) as j:
        with pytest.raises(TypeError, match="cannot write the row .*ndarray"):
            j.write(row(0, 1, 0.5, 1.0, weights=np.zeros(2)))
        j.write(ROWS[0])
    assert Results.load(tmp_path / "run.jsonl").rows == ROWS[:1]  # nothing half written


def test_a_tuner_never_resumes_after_a_damaged_line(journal):
    import d2lhpo as hpo

    def objective(config, r0, r1):
        for r in range(int(r0) + 1, int(r1) + 1):
            yield {"resource": r, "loss": config["x"] + 1 / r}

    lines = lines_of(journal)
    write_lines(journal, lines[:5] + [b"garbage"] + lines[5:])
    before = journal.read_bytes()
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher({"x": hpo.uniform(0, 1)}, seed=0),
                                  metric="loss", max_resource=3)
    with pytest.raises(JournalError, match="line 6 is not JSON; 5 lines follow it"):
        hpo.Tuner(objective, scheduler, backend="simulated", journal=journal, resume=True,
                  progress=False).run(max_trials=6)
    assert journal.read_bytes() == before


@pytest.mark.parametrize("change, match", [
    ({"trial_id": "1"}, "trial_id '1', not a non-negative integer"),
    ({"trial_id": True}, "trial_id True"), ({"trial_id": -1}, "trial_id -1"),
    ({"status": "done"}, "status 'done', not one of"),
    ({"resource": -1}, "resource -1, below 0"), ({"resource": float("nan")}, "resource nan"),
    ({"resource": "3"}, "resource '3', not a finite number"),
    ({"time": None}, "time None"), ({"duration": float("inf")}, "duration inf")])
def test_the_writer_refuses_what_the_reader_would(tmp_path, change, match):
    with Journal(tmp_path / "run.jsonl", results()) as j:
        with pytest.raises(ValueError, match=match):
            j.write({**ROWS[0], **change})
    assert Results.load(tmp_path / "run.jsonl").rows == []


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_settings_and_empty_results_round_trip(tmp_path, suffix):
    run = Results("acc", "max", max_resource=27, constraints=["size"],
                  settings={"space": "{'x': uniform(0, 1)}", "seed": 3})
    loaded = Results.load(run.save(tmp_path / f"run{suffix}"))
    assert (loaded.metric, loaded.mode, loaded.max_resource, loaded.constraints,
            loaded.settings, loaded.rows) == ("acc", "max", 27, ["size"], run.settings, [])


def test_a_damaged_csv_names_its_line(tmp_path):
    path = results().save(tmp_path / "run.csv")
    text = path.read_bytes()
    path.write_bytes(text.replace(b"0.6", b"0.6x", 1))
    with pytest.raises(JournalError, match="run.csv', line 4: a cell is not of its column"):
        Results.load(path)
    path.write_bytes(text[:-40] + b"\xff\xfe\n")
    with pytest.raises(JournalError, match="is not UTF-8"):
        Results.load(path)


def _mutate(data: bytes, kind: str, at: int, size: int, junk: bytes) -> bytes:
    at %= len(data)
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (1 + size % 255)]) + data[at + 1:]
    if kind == "delete":
        return data[:at] + data[at + size:]
    if kind == "repeat":
        return data[:at + size] + data[at:at + size] + data[at + size:]
    if kind == "insert":
        return data[:at] + junk + data[at:]
    return data[:at]  # "cut"


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["flip", "delete", "repeat", "insert", "cut"]),
       at=st.integers(0, 10 ** 6), size=st.integers(1, 400), junk=st.binary(min_size=1))
def test_no_damage_goes_unnoticed(kind, at, size, junk):
    """Any change to a journal's bytes is refused, or it loads exactly the rows written,
    or the rows before the end was cut off (a cut between lines is what a kill leaves:
    a journal of fewer rows); nothing else ever escapes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.jsonl"
        with Journal(path, results()) as j:
            for r in ROWS:
                j.write(r)
        path.write_bytes(_mutate(path.read_bytes(), kind, at, size, junk))
        def check(rows):
            assert rows == ROWS[:len(rows)]
            if len(rows) < len(ROWS):  # only a cut can lose rows, and only at the end
                assert kind in ("cut", "delete")

        try:
            check(Results.load(path).rows)
        except JournalError:
            pass
        try:
            resumed = Journal.for_resume(path)
        except JournalError:
            return
        check([] if resumed is None else resumed.rows)
