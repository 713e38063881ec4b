"""Results of a tuning run: one row per reported result, and views derived from them."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

CONFIG_PREFIX = "config_"
BASE_COLUMNS = ["trial_id", "status", "resource", "time", "duration", "worker"]
STATUSES = ("running", "paused", "stopped", "completed", "failed")


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
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    points = points[np.all(points < np.asarray(reference), axis=1)]
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
    hyperparameter, the metrics, and ``error`` for failed trials.

    Args:
        metric: the metric optimized; ``mode``: ``"min"`` or ``"max"``.
        max_resource: full fidelity; only results at this resource count as
            finished evaluations in :meth:`best` and :meth:`anytime`.
        constraints: metrics that must be <= 0 for a result to be feasible.

    Example:
        >>> results = tuner.run(max_trials=20)
        >>> results.best()["config"]
        >>> results.anytime().plot(x="time", y="best")
    """

    def __init__(self, metric: str = "objective", mode: str = "min",
                 max_resource: float = 1, constraints: Sequence[str] = (),
                 rows: Iterable[Mapping] = ()):
        self.metric, self.mode, self.max_resource = metric, mode, max_resource
        self.constraints = list(constraints)
        self.rows: list[dict] = [dict(r) for r in rows]
        self.jobs: list[dict] = []  # the jobs a scheduler handed out (journals only)
        self._df = None

    def append(self, row: Mapping) -> None:
        self.rows.append(dict(row))
        self._df = None

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

    def _configs(self, df) -> list[dict]:
        names = self.config_names()
        return [{n: _plain(row[CONFIG_PREFIX + n]) for n in names}
                for _, row in df.iterrows()]

    def finished(self, feasible_only: bool = True, metric: str | None = None) -> pd.DataFrame:
        """Rows that are full-fidelity evaluations with a finite ``metric`` (default:
        the tuned one), and feasible, by default."""
        df, metric = self.df, metric or self.metric
        if df.empty or metric not in df:
            if metric != self.metric and not df.empty:
                raise ValueError(f"no metric {metric!r} in the results; columns: "
                                 f"{list(df.columns)}")
            return df.iloc[0:0]
        ok = (df["status"] != "failed") & (df["resource"] >= self.max_resource)
        ok &= np.isfinite(pd.to_numeric(df[metric], errors="coerce"))
        if feasible_only:
            for c in self.constraints:
                ok &= pd.to_numeric(df[c], errors="coerce") <= 0
        return df[ok]

    def best(self, metric: str | None = None, mode: str | None = None) -> dict | None:
        """The best full-fidelity, feasible result: trial id, config, metric value, time."""
        metric, mode = metric or self.metric, mode or self.mode
        df = self.finished(metric=metric)
        if df.empty:
            return None
        values = df[metric].astype(float)
        row = df.loc[values.idxmin() if mode == "min" else values.idxmax()]
        return {"trial_id": int(row["trial_id"]), "config": self._configs(row.to_frame().T)[0],
                metric: float(row[metric]), "time": float(row["time"])}

    def anytime(self, metric: str | None = None, mode: str | None = None) -> pd.DataFrame:
        """Best-so-far value over time, from full-fidelity feasible results only.

        Returns:
            DataFrame with ``time`` and ``best``, one row per finished
            evaluation in time order (``best`` is non-increasing for ``"min"``).
        """
        metric, mode = metric or self.metric, mode or self.mode
        df = self.finished(metric=metric).sort_values("time", kind="stable")
        values = df[metric].astype(float).to_numpy() if len(df) else np.zeros(0)
        best = np.minimum.accumulate(values) if mode == "min" else np.maximum.accumulate(values)
        return pd.DataFrame({"time": df["time"].to_numpy(dtype=float), "best": best,
                             "n": np.arange(1, len(df) + 1)})

    def pareto_front(self, metrics: Sequence[str], modes: Sequence[str] | None = None,
                     feasible_only: bool = True) -> pd.DataFrame:
        """Full-fidelity results not dominated in ``metrics`` (sorted by the first one)."""
        modes = list(modes or ["min"] * len(metrics))
        df = self.finished(feasible_only).dropna(subset=list(metrics))
        if df.empty:
            return df
        signs = np.array([1.0 if m == "min" else -1.0 for m in modes])
        mask = pareto_mask(df[list(metrics)].to_numpy(dtype=float) * signs)
        return df[mask].sort_values(list(metrics[:1]))

    def trials(self) -> pd.DataFrame:
        """One row per trial: its config, last status, last resource and last metric."""
        df = self.df
        if df.empty:
            return df
        return df.groupby("trial_id", sort=True).tail(1).set_index("trial_id").sort_index()

    # -- files ---------------------------------------------------------------
    def _meta(self) -> dict:
        return {"metric": self.metric, "mode": self.mode, "max_resource": self.max_resource,
                "constraints": self.constraints}

    def save(self, path) -> Path:
        """Write to CSV (``.csv``) or JSON lines (``.jsonl``), run settings in the first line."""
        path = Path(path)
        meta = json.dumps(self._meta())
        if path.suffix == ".jsonl":
            with path.open("w") as f:
                f.write(meta + "\n")
                for row in self.rows:
                    f.write(json.dumps(row, default=_plain) + "\n")
        else:
            with path.open("w") as f:
                f.write("# d2lhpo " + meta + "\n")
                self.df.to_csv(f, index=False)
        return path

    @classmethod
    def load(cls, path) -> "Results":
        """Read a file written by :meth:`save` or by a tuner's journal.

        A journal cut short by an interrupted run loads up to its last whole line.
        """
        path = Path(path)
        with path.open() as f:
            first = f.readline()
            if path.suffix == ".jsonl":
                meta, rows, jobs = json.loads(first), [], []
                for line in f:
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError:
                        break  # the last line of an interrupted run
                    if "job" in item:
                        jobs.append(item["job"])
                    else:
                        rows.append(item)
                results = cls(rows=rows, **meta)
                results.jobs = jobs
                return results
            meta = json.loads(first.removeprefix("# d2lhpo "))
            df = pd.read_csv(f)
        rows = [{k: _plain(v) for k, v in r.items() if not _isnan(v) or k in BASE_COLUMNS}
                for r in df.to_dict("records")]
        return cls(rows=rows, **meta)


class Journal:
    """Appends each row of a run to a JSON-lines file as it arrives (flushed)."""

    def __init__(self, path, results: Results):
        self.path = Path(path)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        self._file = self.path.open("a")
        if fresh:
            self._file.write(json.dumps(results._meta()) + "\n")
            self._file.flush()

    @staticmethod
    def check_path(path) -> None:
        """A journal is a ``.jsonl`` file (not a folder)."""
        if Path(path).suffix != ".jsonl" or Path(path).is_dir():
            raise ValueError(f"journal must be a .jsonl file path, got {str(path)!r}")

    @staticmethod
    def for_resume(path) -> "Results":
        """Load a journal to resume it, dropping a last line cut by an interruption."""
        path = Path(path)
        data = path.read_bytes()
        whole = data.rfind(b"\n") + 1
        if whole < len(data):  # the interruption cut the last line: appending would bury it
            with path.open("r+b") as f:
                f.truncate(whole)
        return Results.load(path)

    def write_job(self, job: Mapping) -> None:
        self._file.write(json.dumps({"job": job}, default=_plain) + "\n")
        self._file.flush()

    def write(self, row: Mapping) -> None:
        self._file.write(json.dumps(row, default=_plain) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _plain(v):
    """numpy scalars to Python scalars (for configs and JSON)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


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
