"""Results of a tuning run: one row per reported result, the views derived from them,
and the files they live in (CSV, JSON lines, and the journal a run appends to)."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import numbers
import os
import warnings
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

CONFIG_PREFIX = "config_"
BASE_COLUMNS = ["trial_id", "status", "resource", "time", "duration", "worker"]
STATUSES = ("running", "paused", "stopped", "completed", "failed")
MODES = ("min", "max")
FORMAT = 2  # the version of the files written here; 1 had no checksums
SUFFIXES = (".csv", ".jsonl")


class JournalError(ValueError):
    """A results file that cannot be read as written: damaged, empty, or not one at all.

    ``path`` is the file, ``line`` the first damaged line (1-based; None when
    the problem is the whole file) and ``following`` how many lines come after it.
    """

    def __init__(self, message: str, path=None, line: int | None = None, following: int = 0):
        super().__init__(message)
        self.path, self.line, self.following = path, line, following


def _check_mode(mode, name: str = "mode") -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{name} must be 'min' or 'max', got {mode!r}")
    return mode


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Which rows of ``values`` (n x m, every column minimized) are not dominated.

    A row is dominated when another is no worse in every column and better in
    at least one. Duplicated non-dominated rows are all kept.
    """
    values = np.asarray(values, dtype=float)
    keep = np.ones(len(values), dtype=bool)
    for i, v in enumerate(values):
        dominated_by = np.all(values <= v, axis=1) & np.any(values < v, axis=1)
        keep[i] = not dominated_by.any()
    return keep


def hypervolume_2d(points: np.ndarray, reference: Sequence[float]) -> float:
    """The area dominated by ``points`` (n x 2, minimized) and bounded by ``reference``."""
    try:
        reference = np.asarray(reference, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"reference must be 2 finite numbers, got {reference!r}") from None
    if reference.shape != (2,) or not np.all(np.isfinite(reference)):
        raise ValueError(f"reference must be 2 finite numbers, got {reference.tolist()!r}")
    points = np.asarray(points, dtype=float)
    if points.size == 0:
        return 0.0
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be an n x 2 array, got shape {points.shape}")
    points = points[np.all(points < reference, axis=1)]
    if len(points) == 0:
        return 0.0
    points = points[pareto_mask(points)]
    points = points[np.argsort(points[:, 0])]
    widths = np.diff(np.append(points[:, 0], reference[0]))
    return float(np.sum(widths * (reference[1] - points[:, 1])))


class Results:
    """Every result a tuning run reported, with the run's metric and mode.

    Rows hold ``trial_id``, ``status`` (the trial's state after the row:
    running, paused, stopped, completed or failed), ``resource``, ``time``
    (seconds since the start, simulated or wall-clock), ``duration`` (seconds
    the step took), ``worker``, one ``config_<name>`` column per
    hyperparameter, the metrics, and ``error`` for failed trials. A row
    without metrics records a change of status only (e.g. a trial whose
    objective ended early becomes completed). ``jobs`` lists, in order, the
    jobs the scheduler handed out (trial, config, resources ``r0`` to ``r1``,
    and ``at``: how many rows came before it); they are not rows.

    Args:
        metric: the metric optimized; ``mode``: ``"min"`` or ``"max"``.
        max_resource: full fidelity; only results at this resource count as
            finished evaluations in :meth:`best` and :meth:`anytime`.
        constraints: metrics that must be <= 0 for a result to be feasible.
        rows, jobs: what the run recorded so far.
        settings: other run settings (JSON values) saved with the results,
            e.g. for a resumed run to check it continues the same one.

    Example:
        >>> results = tuner.run(max_trials=20)
        >>> results.best()["config"]
        >>> results.anytime().plot(x="time", y="best")
    """

    def __init__(self, metric: str = "objective", mode: str = "min",
                 max_resource: float = 1, constraints: Sequence[str] = (),
                 rows: Iterable[Mapping] = (), jobs: Iterable[Mapping] = (),
                 settings: Mapping | None = None):
        if not isinstance(metric, str):
            raise TypeError(f"metric must be a string, got {metric!r}")
        if not (isinstance(max_resource, numbers.Real) and not isinstance(max_resource, bool)
                and max_resource > 0):
            raise ValueError(f"max_resource must be a positive number, got {max_resource!r}")
        if isinstance(constraints, str) or not all(isinstance(c, str) for c in constraints):
            raise TypeError(f"constraints must be a list of metric names, got {constraints!r}")
        self.metric, self.mode, self.max_resource = metric, _check_mode(mode), max_resource
        self.constraints = list(constraints)
        self.settings = dict(settings or {})
        self.rows: list[dict] = [dict(r) for r in rows]
        self.jobs: list[dict] = [dict(j) for j in jobs]
        self._df = None

    def append(self, row: Mapping) -> None:
        self.rows.append(dict(row))
        self._df = None

    def append_job(self, job: Mapping) -> dict:
        """Record a job the scheduler handed out; ``at`` defaults to the rows so far."""
        job = {**job, "at": job.get("at", len(self.rows))}
        self.jobs.append(job)
        return job

    def history(self) -> Iterable[tuple[str, dict]]:
        """Rows and jobs in the order they were recorded: ``("job", job)`` comes just
        before the row numbered ``job["at"]`` (what a resumed run replays)."""
        jobs = iter(sorted(self.jobs, key=lambda j: j["at"]))  # stable: ties keep their order
        job = next(jobs, None)
        for i, row in enumerate([*self.rows, None]):
            while job is not None and (job["at"] <= i or row is None):
                yield "job", job
                job = next(jobs, None)
            if row is not None:
                yield "row", row

    def __len__(self):
        return len(self.rows)

    def __repr__(self):
        trials = len({r["trial_id"] for r in self.rows})
        return f"Results({len(self.rows)} rows, {trials} trials, metric={self.metric!r})"

    @property
    def df(self) -> pd.DataFrame:
        """All rows as a DataFrame (built once, cached until the next append)."""
        if self._df is None:
            df = pd.DataFrame(self.rows)
            for column in BASE_COLUMNS:
                if column not in df:
                    df[column] = pd.Series(dtype=float)
            self._df = df
        return self._df

    def config_names(self) -> list[str]:
        return [c[len(CONFIG_PREFIX):] for c in self.df.columns if c.startswith(CONFIG_PREFIX)]

    def metrics(self) -> list[str]:
        """The names of the metrics in the rows (the columns that are not the others)."""
        return [c for c in self.df.columns if c not in BASE_COLUMNS and c != "error"
                and not c.startswith(CONFIG_PREFIX)]

    def _check_metric(self, metric: str) -> None:
        # The tuned metric may be missing (no trial reported yet, or all failed).
        if metric not in self.df and metric != self.metric and self.rows:
            raise ValueError(f"no metric {metric!r} in the results; the metrics are "
                             f"{self.metrics()}")

    def finished(self, feasible_only: bool = True, metric: str | None = None) -> pd.DataFrame:
        """Rows that are full-fidelity evaluations with a finite ``metric`` (default:
        the tuned one), and feasible, by default."""
        df, metric = self.df, metric or self.metric
        self._check_metric(metric)
        if df.empty or metric not in df:
            return df.iloc[0:0]
        ok = (df["status"] != "failed") & (df["resource"] >= self.max_resource)
        ok &= np.isfinite(pd.to_numeric(df[metric], errors="coerce"))
        if feasible_only:
            for c in self.constraints:
                ok &= pd.to_numeric(df[c], errors="coerce") <= 0
        return df[ok]

    def best(self, metric: str | None = None, mode: str | None = None) -> dict | None:
        """The best full-fidelity, feasible result: trial id, config, metric value, time."""
        metric = metric or self.metric
        mode = self.mode if mode is None else _check_mode(mode)
        df = self.finished(metric=metric)
        if df.empty:
            return None
        values = df[metric].astype(float)
        i = values.idxmin() if mode == "min" else values.idxmax()
        row = self.rows[i]  # its config values as they were, not as pandas made them
        config = {k[len(CONFIG_PREFIX):]: _plain(v) for k, v in row.items()
                  if k.startswith(CONFIG_PREFIX)}
        return {"trial_id": int(row["trial_id"]), "config": config,
                metric: float(row[metric]), "time": float(row["time"])}

    def anytime(self, metric: str | None = None, mode: str | None = None) -> pd.DataFrame:
        """Best-so-far value over time, from full-fidelity feasible results only.

        Returns:
            DataFrame with ``time`` and ``best``, one row per finished
            evaluation in time order (``best`` is non-increasing for ``"min"``).
        """
        metric = metric or self.metric
        mode = self.mode if mode is None else _check_mode(mode)
        df = self.finished(metric=metric).sort_values("time", kind="stable")
        values = df[metric].astype(float).to_numpy() if len(df) else np.zeros(0)
        best = np.minimum.accumulate(values) if mode == "min" else np.maximum.accumulate(values)
        return pd.DataFrame({"time": df["time"].to_numpy(dtype=float), "best": best,
                             "n": np.arange(1, len(df) + 1)})

    def pareto_front(self, metrics: Sequence[str], modes: Sequence[str] | None = None,
                     feasible_only: bool = True) -> pd.DataFrame:
        """Full-fidelity results not dominated in ``metrics`` (sorted by the first one)."""
        if isinstance(metrics, str) or not metrics:
            raise ValueError(f"metrics must be a list of metric names, got {metrics!r}")
        metrics = list(metrics)
        modes = ["min"] * len(metrics) if modes is None else modes
        if isinstance(modes, str) or len(modes) != len(metrics):
            raise ValueError(f"modes must be one 'min' or 'max' per metric, got {modes!r}")
        modes = [_check_mode(m, "modes") for m in modes]
        for m in metrics:
            self._check_metric(m)
        df = self.finished(feasible_only)
        if df.empty:
            return df
        df = df.dropna(subset=metrics)
        signs = np.array([1.0 if m == "min" else -1.0 for m in modes])
        mask = pareto_mask(df[metrics].to_numpy(dtype=float) * signs)
        return df[mask].sort_values(metrics[:1])

    def trials(self) -> pd.DataFrame:
        """One row per trial: its last status, and the last value of every other column
        that has one (status-only rows carry no metrics: those of the row before stay)."""
        df = self.df
        if df.empty:
            return df.set_index("trial_id")
        return df.groupby("trial_id", sort=True).last()  # last non-missing value

    # -- files ---------------------------------------------------------------
    def _meta(self) -> dict:
        return {"format": FORMAT, "metric": self.metric, "mode": self.mode,
                "max_resource": self.max_resource, "constraints": self.constraints,
                "settings": self.settings}

    def save(self, path) -> Path:
        """Write to CSV (``.csv``) or JSON lines (``.jsonl``, the journal's format).

        Every value comes back as it was from :meth:`load`: CSV keeps a type
        per column in its first line and writes a mixed column's cells as
        JSON; JSON lines tags tuples. Jobs are saved in JSON lines only. The
        file is written next to ``path`` and then moved there, so an
        interrupted save leaves the old file whole.
        """
        path = Path(path)
        if path.suffix not in SUFFIXES:
            raise ValueError(f"path must end in .csv or .jsonl, got {str(path)!r}")
        if path.is_dir():
            raise ValueError(f"path {str(path)!r} is a directory")
        checked = [self.metric, *self.constraints]
        for i, row in enumerate(self.rows):
            problem = _row_problem(_encode_row(row), checked)
            if problem:
                raise ValueError(f"cannot save row {i} ({row!r}): it {problem}")
        for i, job in enumerate(self.jobs):
            problem = _job_problem(_encode_row(job))
            if problem:
                raise ValueError(f"cannot save job {i} ({job!r}): it {problem}")
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as f:
            if path.suffix == ".jsonl":
                _write_jsonl(f, self)
            else:
                _write_csv(f, self)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path, skip_damaged: bool = False) -> "Results":
        """Read a file written by :meth:`save` or by a run's :class:`Journal`.

        A journal line that is damaged (cut short, changed, duplicated, missing,
        or not a row) raises :class:`JournalError` naming the file, the line
        and how many lines follow it; with ``skip_damaged`` those lines are
        left out instead, with a warning that counts them. The run settings
        (first line) can never be skipped.
        """
        path = Path(path)
        data = _read_bytes(path)
        if data.startswith(b"# d2lhpo "):
            return _read_csv(path, data)
        if path.suffix == ".csv":
            raise JournalError(f"{str(path)!r} is not a d2lhpo results file: its first line "
                               f"does not start with '# d2lhpo '", path)
        return _read_journal(path, data, skip_damaged)


class Journal:
    """Appends a run's rows, and the jobs its scheduler hands out, to a JSON-lines
    file as they happen (each line flushed), so a killed run loses nothing.

    The first line holds the run settings (:meth:`Results._meta`), each other
    line one row or one job: ``{"seq": 7, "row": {...}, "crc": 123}``.
    ``seq`` numbers the lines from 0 (a deleted or repeated line breaks the
    count) and ``crc`` is the CRC-32 of the line's bytes before ``,"crc"``
    plus the closing brace (a changed byte breaks it); values JSON has no
    type for are tagged (tuples: ``{"__tuple__": [...]}``). Opening an
    existing journal appends after its last line, continuing the count.

    Args:
        path: a ``.jsonl`` file (see :meth:`check_path`).
        results: the run's results; their settings start a new journal.

    Example:
        >>> journal = Journal("run.jsonl", results)
        >>> journal.write(row)  # and journal.write_job(job)
        >>> journal.close()
    """

    def __init__(self, path, results: Results):
        self.path = self.check_path(path)
        self._checked = [results.metric, *results.constraints]  # finite unless failed
        if self.path.exists() and self.path.stat().st_size > 0:
            self._seq = _next_seq(self.path)
            self._file = self.path.open("ab")
        else:
            self._seq = 0
            self._file = self.path.open("ab")
            self._append("meta", results._meta())

    @staticmethod
    def check_path(path) -> Path:
        """``path`` as a Path, or ValueError naming ``journal`` when it cannot be one:
        it must end in ``.jsonl`` and be a file in an existing folder."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"journal must be a path, got {path!r}")
        p = Path(path)
        if p.suffix != ".jsonl":
            raise ValueError(f"journal must be a .jsonl file, got {str(path)!r}")
        if p.is_dir():
            raise ValueError(f"journal {str(path)!r} is a directory, not a file")
        if not p.parent.is_dir():
            raise ValueError(f"journal {str(path)!r}: the folder {str(p.parent)!r} "
                             f"does not exist")
        return p

    @classmethod
    def for_resume(cls, path) -> Results | None:
        """Load the journal of an interrupted run to continue it (then open a
        ``Journal`` on it to append). None if ``path`` holds no line yet.

        The one damage repaired is a cut last line, which a kill in the middle
        of a write leaves: it is removed, with a logged warning (a last line
        that is whole but only lacks its newline gets one). Any other damage
        raises :class:`JournalError`, and the file is left as it was: a resumed
        run never appends after a line it cannot read.
        """
        path = cls.check_path(path)
        if not path.exists():
            return None
        data = _read_bytes(path, empty_ok=True)
        whole = data.rfind(b"\n") + 1
        tail, repair = data[whole:], None
        if tail:
            if _parses(tail, data.count(b"\n")):
                whole, repair = len(data), "newline"
            elif _looks_cut(tail, data.count(b"\n")):
                repair = "cut"
            else:
                whole = len(data)  # not a write cut short: let the reader say what it is
        results = _read_journal(path, data[:whole], False) if whole else None
        if repair == "newline":
            with path.open("ab") as f:
                f.write(b"\n")
        elif repair == "cut":
            logger.warning("%s: removed its last line, cut short by an interrupted write "
                           "(%d bytes)", path, len(tail))
            with path.open("r+b") as f:
                f.truncate(whole)
        return results

    def write(self, row: Mapping) -> None:
        """Append one row (ValueError, writing nothing, for a row the loader would refuse)."""
        data = _encode_row(row)
        problem = _row_problem(data, self._checked)
        if problem:
            raise ValueError(f"journal {str(self.path)!r}: cannot write the row {row!r}: "
                             f"it {problem}")
        self._append("row", data)

    def write_job(self, job: Mapping) -> None:
        """Append one job: ``trial_id``, ``r0``, ``r1``, ``at``, and e.g. ``config``."""
        data = _encode_row(job)
        problem = _job_problem(data)
        if problem:
            raise ValueError(f"journal {str(self.path)!r}: cannot write the job {job!r}: "
                             f"it {problem}")
        self._append("job", data)

    def _append(self, kind: str, data: dict) -> None:
        try:
            line = _line(self._seq, kind, data)
        except (TypeError, ValueError) as e:
            raise TypeError(f"journal {str(self.path)!r}: cannot write the {kind} {data!r}: "
                            f"{e}") from None
        self._file.write(line)
        self._file.flush()
        self._seq += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- values: what JSON and CSV cannot tell apart ---------------------------------------
_PLAIN = (str, int, float, bool, type(None))  # types JSON gives back as they were
_TUPLE = "__tuple__"
_TUPLE_BYTES = b'"__tuple__"'


def _plain(v):
    """numpy scalars to Python scalars (for configs and JSON)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _encode(v):
    """``v`` in JSON values that decode back to it (tuples tagged, numpy made plain)."""
    if type(v) in _PLAIN:
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return {_TUPLE: [_encode(x) for x in v]}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if isinstance(v, dict):
        return {k: _encode(x) for k, x in v.items()}
    return v  # json raises TypeError for what it cannot write


def _decode(v):
    if type(v) is dict:
        if len(v) == 1 and _TUPLE in v:
            return tuple(_decode(x) for x in v[_TUPLE])
        return {k: _decode(x) for k, x in v.items()}
    if type(v) is list:
        return [_decode(x) for x in v]
    return v


def _encode_row(row: Mapping) -> dict:
    return {k: v if type(v) in _PLAIN else _encode(v) for k, v in row.items()}


def _number(v) -> bool:
    """A finite int or float (not a bool): ``v - v`` is NaN for inf and NaN."""
    return (type(v) is float or type(v) is int) and v - v == 0


def _row_problem(row, checked: Sequence[str] = ()) -> str | None:
    """What makes ``row`` (decoded JSON) not a row, or None. ``checked`` metrics must
    be finite numbers where present, except in failed rows (the tuner's own rule)."""
    if type(row) is not dict:
        return f"is a JSON {type(row).__name__}, not an object"
    try:
        trial_id, status, resource, time = (row["trial_id"], row["status"], row["resource"],
                                            row["time"])
    except KeyError as e:
        return f"has no {e.args[0]!r}"
    if type(trial_id) is not int or trial_id < 0:
        return f"has trial_id {trial_id!r}, not a non-negative integer"
    if status not in STATUSES:
        return f"has status {status!r}, not one of {list(STATUSES)}"
    for key, value in (("resource", resource), ("time", time),
                       ("duration", row.get("duration", 0.0))):
        if not _number(value):
            return f"has {key} {value!r}, not a finite number"
    if resource < 0:
        return f"has resource {resource!r}, below 0"
    if status != "failed":
        for name in checked:
            value = row.get(name, 0.0)
            if not (_number(value) or type(value) is bool):
                return f"has {name} {value!r} in a {status} row"
    return None


def _job_problem(job) -> str | None:
    if type(job) is not dict:
        return f"is a JSON {type(job).__name__}, not an object"
    if type(job.get("trial_id")) is not int or job["trial_id"] < 0:
        return f"has trial_id {job.get('trial_id')!r}, not a non-negative integer"
    for key in ("r0", "r1"):
        if not _number(job.get(key)):
            return f"has {key} {job.get(key)!r}, not a finite number"
    if type(job.get("at")) is not int or job["at"] < 0:
        return f"has at {job.get('at')!r}, not a non-negative integer"
    return None


def _meta_problem(meta) -> str | None:
    if type(meta) is not dict:
        return f"is a JSON {type(meta).__name__}, not an object"
    if meta.get("format") != FORMAT:
        if "format" not in meta and "metric" in meta:
            return ("has no format: the file was written by an older d2lhpo, whose journals "
                    "have no checksums; this version cannot check it, so it refuses it")
        return f"has format {meta.get('format')!r}; this d2lhpo reads format {FORMAT}"
    try:
        Results(meta["metric"], meta["mode"], meta["max_resource"], meta["constraints"],
                settings=meta["settings"])
    except (KeyError, TypeError, ValueError) as e:
        return f"holds bad run settings ({type(e).__name__}: {e})"
    return None


def _results_of(meta: dict, rows, jobs) -> Results:
    return Results(meta["metric"], meta["mode"], meta["max_resource"], meta["constraints"],
                   rows=rows, jobs=jobs, settings=meta["settings"])


def _read_bytes(path: Path, empty_ok: bool = False) -> bytes:
    if path.is_dir():
        raise JournalError(f"{str(path)!r} is a directory, not a d2lhpo results file", path)
    data = path.read_bytes()
    if not data and not empty_ok:
        raise JournalError(f"{str(path)!r} is empty, not a d2lhpo results file", path)
    return data


# -- the journal's lines ----------------------------------------------------------------
_CRC = b',"crc":'
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # made once: json.dumps makes one a call
_DECODER = json.JSONDecoder()


def _line(seq: int, kind: str, data: dict) -> bytes:
    body = _ENCODER.encode({"seq": seq, kind: data}).encode()  # ASCII
    return body[:-1] + b'%s%d}\n' % (_CRC, zlib.crc32(body))


class _Damage(Exception):
    pass


def _parse(raw: bytes) -> tuple[int, str, object]:
    """``(seq, kind, data)`` of one line without its newline, or _Damage saying why not."""
    raw = raw[:-1] if raw.endswith(b"\r") else raw  # CRLF, as some tools write it: no damage
    i = raw.rfind(_CRC)
    digits = raw[i + len(_CRC):-1]
    body = raw[:i] + b"}"
    if i < 0 or not raw.endswith(b"}") or not digits.isdigit() or (
            zlib.crc32(body) != int(digits)):
        raise _Damage(_diagnose(raw, i))
    try:
        obj = _DECODER.decode(body.decode())
    except ValueError:  # UnicodeDecodeError is one
        raise _Damage("is not JSON") from None
    if type(obj) is dict and len(obj) == 2 and type(obj.get("seq")) is int:
        for kind in ("row", "job", "meta"):
            if kind in obj:
                value = obj[kind]
                if _TUPLE_BYTES in body:
                    value = _decode(value)
                return obj["seq"], kind, value
    raise _Damage("is not a journal line: it should hold seq and one of meta, row, job")


def _diagnose(raw: bytes, i: int) -> str:
    """Why ``raw`` is not a line with a checksum that matches."""
    if b"\0" in raw:
        return "holds NUL bytes"
    if not raw or raw.isspace():
        return "is empty"
    if i >= 0 and raw.endswith(b"}") and raw[i + len(_CRC):-1].isdigit():
        return "does not match its checksum: it was changed after it was written"
    try:
        obj = json.loads(raw)
    except ValueError:
        return "is not JSON"
    return f"is a JSON {type(obj).__name__} without a checksum, not a line d2lhpo wrote"


def _parses(raw: bytes, seq: int) -> bool:
    try:
        return _parse(raw)[0] == seq
    except _Damage:
        return False


def _looks_cut(tail: bytes, seq: int) -> bool:
    """Whether ``tail`` is the start of the line ``seq`` (what a kill mid-write leaves)."""
    start = b'{"seq":%d,"' % seq
    return start.startswith(tail) or (tail.startswith(start) and b"\n" not in tail
                                      and b"\0" not in tail)


def _read_journal(path: Path, data: bytes, skip_damaged: bool) -> Results:
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    cut_at = len(lines) if not data.endswith(b"\n") else None  # line number of a cut tail
    meta, rows, jobs, expected = None, [], [], 0
    skipped, missing, first = 0, 0, None  # damaged lines, lines gone, the first problem
    unread = 0  # undecodable lines since the last whole one: they may be the lines "missing"

    def damaged(number, problem):
        nonlocal first
        following = len(lines) - number
        where = f"line {number} {problem}; {following} line{'s' * (following != 1)} follow it"
        if number == 1:
            raise JournalError(f"{str(path)!r}, {where}. The first line holds the run "
                               f"settings: without it the file cannot be read",
                               path, number, following)
        if not skip_damaged:
            raise JournalError(f"{str(path)!r}, {where}. Pass skip_damaged=True to load "
                               f"the other rows", path, number, following)
        first = first or where

    for number, raw in enumerate(lines, 1):
        try:
            seq, kind, value = _parse(raw)
        except _Damage as e:
            cut = number == cut_at and _looks_cut(raw, expected)
            damaged(number, "is cut short (the run was interrupted while writing it; resuming "
                    "the run removes it)" if cut else str(e))
            skipped, unread = skipped + 1, unread + 1
            continue
        if number == 1 and kind != "meta":
            damaged(1, f"is a {kind}, not the run settings: the first line is missing")
        if kind == "meta":
            if number != 1:
                damaged(number, "holds run settings again: only the first line does")
                skipped += 1
                continue
            problem = _meta_problem(value)
            if problem:
                damaged(1, problem)
            meta = value
        if seq < expected:
            damaged(number, f"repeats sequence number {seq}: a duplicated line")
            skipped += 1
            continue
        if seq > expected + unread:  # the line itself is whole: kept when skipping
            gap = seq - expected - unread
            damaged(number, f"comes after {gap} missing line{'s' * (gap != 1)} (sequence "
                    f"number {seq}, expected {expected})")
            missing += gap
        expected, unread = seq + 1, 0
        problem = (_row_problem(value, [meta["metric"], *meta["constraints"]])
                   if kind == "row" else _job_problem(value) if kind == "job" else None)
        if problem:
            damaged(number, problem)
            skipped += 1
        elif kind == "row":
            rows.append(value)
        elif kind == "job":
            jobs.append(value)
    if first:
        warnings.warn(f"{str(path)!r}: skipped {skipped} damaged line{'s' * (skipped != 1)}"
                      f"{f', {missing} missing' if missing else ''}, loaded {len(rows)} rows;"
                      f" the first problem: {first}", stacklevel=3)
    return _results_of(meta, rows, jobs)


def _next_seq(path: Path) -> int:
    """The sequence number the next line appended to the journal at ``path`` gets."""
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        raise JournalError(f"journal {str(path)!r}: its last line is cut short; load it "
                           f"with Journal.for_resume before appending", path)
    last = data[:-1].rsplit(b"\n", 1)[-1]
    try:
        return _parse(last)[0] + 1
    except _Damage as e:
        raise JournalError(f"journal {str(path)!r}: its last line {e}", path) from None


def _write_jsonl(f, results: Results) -> None:
    f.write(_line(0, "meta", results._meta()).decode())
    for seq, (kind, data) in enumerate(results.history(), 1):
        f.write(_line(seq, kind, _encode_row(data)).decode())


# -- CSV: a type per column, in the first line ----------------------------------------
def _column_kind(values: list, missing: bool) -> str:
    """How a column is written: ``number``, ``bool``, ``str`` (no cell missing),
    ``str?`` (an empty cell is a missing value; no value is ""), else ``json``."""
    types = {type(v) for v in values}
    if types <= {int, float}:
        return "number"
    if types == {bool}:
        return "bool"
    if types == {str} and not missing:
        return "str"
    if types == {str} and "" not in values:
        return "str?"
    return "json"


def _cell(v, kind: str) -> str:
    if kind == "number":
        return repr(v) if type(v) is float else str(v)
    if kind == "json":
        return json.dumps(_encode(v))
    return str(v)


def _uncell(cell: str, kind: str):
    if kind in ("str", "str?"):
        return cell
    if kind == "number":
        return int(cell) if cell.lstrip("-").isdigit() else float(cell)
    if kind == "bool":
        return {"True": True, "False": False}[cell]
    return _decode(json.loads(cell))


def _write_csv(f, results: Results) -> None:
    rows = [{k: _plain(v) for k, v in r.items()} for r in results.rows]
    columns = list(results.df.columns)
    kinds = {}
    for c in columns:
        present = [r[c] for r in rows if c in r]
        kinds[c] = _column_kind(present, len(present) < len(rows))
    f.write("# d2lhpo " + json.dumps({**results._meta(), "columns": kinds}) + "\n")
    writer = csv.writer(f, lineterminator="\r\n")  # a "\r" in a cell is then quoted too
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_cell(r[c], kinds[c]) if c in r else "" for c in columns])


def _read_csv(path: Path, data: bytes) -> Results:
    first, _, rest = data.partition(b"\n")
    try:
        meta = json.loads(first[len(b"# d2lhpo "):])
    except ValueError:
        raise JournalError(f"{str(path)!r}, line 1 is not JSON after '# d2lhpo '",
                           path, 1) from None
    problem = _meta_problem(meta)
    if problem:
        raise JournalError(f"{str(path)!r}, line 1 {problem}", path, 1)
    kinds = meta.get("columns") or {}
    try:
        text = rest.decode("utf-8")
    except UnicodeDecodeError as e:
        raise JournalError(f"{str(path)!r} is not UTF-8 text ({e})", path) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    if set(header) != set(kinds):
        raise JournalError(f"{str(path)!r}, line 2: the columns {header} are not the ones "
                           f"line 1 describes ({list(kinds)})", path, 2)
    rows = []
    for cells in reader:
        if len(cells) != len(header):
            raise JournalError(f"{str(path)!r}, line {reader.line_num + 1} has {len(cells)} "
                               f"cells, not {len(header)}", path, reader.line_num + 1)
        number = reader.line_num + 1
        try:
            row = {c: _uncell(v, kinds[c]) for c, v in zip(header, cells)
                   if v != "" or kinds[c] == "str"}
        except (ValueError, KeyError) as e:
            raise JournalError(f"{str(path)!r}, line {number}: a cell is not of its "
                               f"column's type ({e!r})", path, number) from None
        problem = _row_problem(row, [meta["metric"], *meta["constraints"]])
        if problem:
            raise JournalError(f"{str(path)!r}, line {number} {problem}", path, number)
        rows.append(row)
    return _results_of(meta, rows, [])


def aggregate_anytime(curves: Sequence[pd.DataFrame], times: Sequence[float] | None = None,
                      quantiles: tuple[float, float] = (0.25, 0.75), n: int = 200,
                      x: str = "time") -> pd.DataFrame:
    """Median and a quantile band of several anytime curves (one per seed).

    Each curve is a step function (the best value so far); it is read off at
    common ``times`` (by default ``n`` points up to the longest run). Before a
    run's first result its value is NaN, and the statistics use the runs that
    have one.

    Args:
        curves: DataFrames with columns ``x`` and ``best`` (from :meth:`Results.anytime`).
        x: the column to align on, ``"time"`` or ``"n"`` (evaluations).

    Returns:
        DataFrame with ``x``, ``median``, ``lower``, ``upper`` and ``n_runs``.
    """
    curves = [c for c in curves if len(c)]
    if not curves:
        return pd.DataFrame(columns=[x, "median", "lower", "upper", "n_runs"])
    if times is None:
        end = max(float(c[x].max()) for c in curves)
        start = min(float(c[x].min()) for c in curves)
        times = np.linspace(start, end, n)
    times = np.asarray(times, dtype=float)
    grid = np.full((len(curves), len(times)), np.nan)
    for i, c in enumerate(curves):
        cx, cy = c[x].to_numpy(dtype=float), c["best"].to_numpy(dtype=float)
        idx = np.searchsorted(cx, times, side="right") - 1
        grid[i] = np.where(idx >= 0, cy[np.clip(idx, 0, None)], np.nan)
    have = ~np.isnan(grid)
    count = have.sum(axis=0)
    stats = np.full((3, len(times)), np.nan)
    cols = count > 0
    if cols.any():
        stats[:, cols] = np.nanquantile(grid[:, cols], [0.5, *quantiles], axis=0)
    return pd.DataFrame({x: times, "median": stats[0], "lower": stats[1], "upper": stats[2],
                         "n_runs": count})
