"""Results: full-fidelity views, Pareto fronts, hypervolume, aggregation, files."""

import json

import numpy as np
import pandas as pd
import pytest

import d2lhpo as hpo
from d2lhpo.objectives import branin
from d2lhpo.results import Journal, JournalError, Results


def row(trial_id, resource, value, time, status="completed", **extra):
    return {"trial_id": trial_id, "status": status, "resource": resource, "time": time,
            "duration": 1.0, "worker": 0, "config_x": trial_id / 10, "loss": value, **extra}


# -- full fidelity only -------------------------------------------------------------
def test_anytime_never_mixes_in_low_fidelity_values():
    rows = [row(0, 1, 0.01, 1.0, "running"),     # great, but after one epoch only
            row(0, 3, 0.50, 3.0),
            row(1, 1, 0.02, 4.0, "stopped"),     # stopped early: never finished
            row(2, 3, 0.00, 5.0, "failed"),      # failed rows never count
            row(3, 3, 0.40, 6.0),
            row(4, 3, float("nan"), 7.0),
            row(5, 2, 0.10, 8.0, "paused"),
            row(6, 3, 0.45, 9.0, "stopped")]     # stopped at full fidelity: counts
    results = Results("loss", "min", max_resource=3, rows=rows)
    curve = results.anytime()
    assert list(curve["time"]) == [3.0, 6.0, 9.0]
    assert list(curve["best"]) == [0.50, 0.40, 0.40]
    assert list(curve["n"]) == [1, 2, 3]
    best = results.best()
    assert best == {"trial_id": 3, "config": {"x": 0.3}, "loss": 0.40, "time": 6.0}


def test_anytime_in_time_order_and_for_max():
    rows = [row(0, 1, 0.2, 5.0), row(1, 1, 0.9, 2.0), row(2, 1, 0.5, 9.0)]
    curve = Results("loss", "max", rows=rows).anytime()
    assert list(curve["time"]) == [2.0, 5.0, 9.0] and list(curve["best"]) == [0.9] * 3
    assert list(Results("loss", "min", rows=rows).anytime()["best"]) == [0.9, 0.2, 0.2]


def test_constraints_make_rows_infeasible():
    rows = [row(0, 1, 0.1, 1.0, size=5.0), row(1, 1, 0.3, 2.0, size=-1.0)]
    results = Results("loss", "min", constraints=["size"], rows=rows)
    assert results.best()["trial_id"] == 1
    assert len(results.finished(feasible_only=False)) == 2


def test_empty_results():
    results = Results("loss")
    assert results.best() is None and len(results.anytime()) == 0
    assert results.df.empty and list(results.df.columns)[:2] == ["trial_id", "status"]


def test_trials_keeps_the_last_row_of_each_trial():
    rows = [row(0, 1, 0.5, 1.0, "running"), row(1, 1, 0.7, 1.5, "running"),
            row(0, 2, 0.4, 2.0, "completed"), row(1, 2, 0.6, 3.0, "stopped")]
    trials = Results("loss", max_resource=2, rows=rows).trials()
    assert list(trials.index) == [0, 1]
    assert list(trials["status"]) == ["completed", "stopped"]
    assert list(trials["loss"]) == [0.4, 0.6]


# -- Pareto fronts and hypervolume -------------------------------------------------
def brute_force_front(values):
    """Indices of the rows no other row dominates (every column minimized)."""
    return {i for i, v in enumerate(values)
            if not any(np.all(w <= v) and np.any(w < v) for w in values)}


@pytest.mark.parametrize("seed", range(5))
def test_pareto_mask_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 6, size=(60, 3)).astype(float)  # small ints: ties, duplicates
    assert set(np.flatnonzero(hpo.pareto_mask(values))) == brute_force_front(values)


@pytest.mark.parametrize("seed", range(3))
def test_pareto_front_of_results_with_modes(seed):
    rng = np.random.default_rng(seed)
    n = 80
    loss, acc = rng.random(n).round(2), rng.random(n).round(2)
    rows = [row(i, 1, loss[i], float(i), acc=acc[i]) for i in range(n)]
    rows.append(row(n, 1, -1.0, float(n), "failed", acc=2.0))  # would dominate all
    front = Results("loss", rows=rows).pareto_front(["loss", "acc"], ["min", "max"])
    expected = brute_force_front(np.column_stack([loss, -acc]))
    assert set(front["trial_id"]) == expected
    assert list(front["loss"]) == sorted(front["loss"])


def test_hypervolume_2d_closed_forms():
    # A staircase: 1 x 1 + 1 x 2 + 1 x 3.
    assert hpo.hypervolume_2d([[1, 3], [2, 2], [3, 1]], [4, 4]) == 6.0
    # Dominated points, and points beyond the reference, change nothing.
    assert hpo.hypervolume_2d([[1, 3], [2, 2], [3, 1], [3, 3], [5, 0]], [4, 4]) == 6.0
    assert hpo.hypervolume_2d(np.zeros((0, 2)), [1, 1]) == 0.0
    rng = np.random.default_rng(0)
    for _ in range(20):
        (a, b), (c, d) = rng.random((2, 2))
        single = (1 - a) * (1 - b)
        assert hpo.hypervolume_2d([[a, b]], [1, 1]) == pytest.approx(single)
        # Two boxes anchored at the reference: inclusion-exclusion.
        union = single + (1 - c) * (1 - d) - (1 - max(a, c)) * (1 - max(b, d))
        assert hpo.hypervolume_2d([[a, b], [c, d]], [1, 1]) == pytest.approx(union)


# -- aggregation over seeds -----------------------------------------------------------
def test_aggregate_anytime_against_numpy():
    curves = [pd.DataFrame({"time": [1.0, 3.0], "best": [5.0, 2.0]}),
              pd.DataFrame({"time": [2.0, 4.0], "best": [4.0, 1.0]}),
              pd.DataFrame({"time": [0.5], "best": [6.0]}),
              pd.DataFrame({"time": [], "best": []})]  # a run that finished nothing
    times = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    # Each step curve read off by hand at those times (NaN before its first result).
    nan = np.nan
    grid = np.array([[nan, 5, 5, 2, 2, 2],
                     [nan, nan, 4, 4, 1, 1],
                     [nan, 6, 6, 6, 6, 6]])
    agg = hpo.aggregate_anytime(curves, times=times, quantiles=(0.1, 0.9))
    have = ~np.isnan(grid)
    assert list(agg["n_runs"]) == list(have.sum(axis=0))
    assert list(agg["time"]) == times
    assert agg.loc[0, ["median", "lower", "upper"]].isna().all()  # no run has a value yet
    for j in range(1, len(times)):
        column = grid[have[:, j], j]
        assert agg["median"][j] == pytest.approx(np.median(column))
        assert agg["lower"][j] == pytest.approx(np.quantile(column, 0.1))
        assert agg["upper"][j] == pytest.approx(np.quantile(column, 0.9))


def test_aggregate_anytime_by_evaluations_and_default_grid():
    curves = [pd.DataFrame({"n": [1, 2, 3], "best": [3.0, 2.0, 1.0]}),
              pd.DataFrame({"n": [1, 2], "best": [5.0, 1.0]})]
    agg = hpo.aggregate_anytime(curves, x="n", n=3)
    assert list(agg["n"]) == [1.0, 2.0, 3.0]
    assert list(agg["median"]) == [4.0, 1.5, 1.0]
    empty = hpo.aggregate_anytime([])
    assert empty.empty and list(empty.columns) == ["time", "median", "lower", "upper",
                                                    "n_runs"]


# -- files ------------------------------------------------------------------------
def sample_results():
    rows = [row(0, 1, 0.5, 1.0, "running", config_opt="adam", config_n=3),
            row(0, 2, 0.25, 2.5, config_opt="adam", config_n=3),
            row(1, 1, float("nan"), 3.0, "failed", config_opt="sgd", config_n=1,
                error="Traceback ...\nValueError: diverged, with \"quotes\", commas")]
    return Results("loss", "min", max_resource=2, constraints=["size"],
                   rows=[{**r, "size": -1.0} for r in rows])


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_save_load_round_trip(tmp_path, suffix):
    results = sample_results()
    loaded = Results.load(results.save(tmp_path / f"run{suffix}"))
    assert (loaded.metric, loaded.mode, loaded.max_resource, loaded.constraints) == (
        "loss", "min", 2, ["size"])
    pd.testing.assert_frame_equal(loaded.df, results.df, check_like=True)
    assert loaded.best() == results.best()
    assert loaded.rows[2]["error"] == results.rows[2]["error"]


def test_load_a_journal_cut_in_the_middle_of_a_line(tmp_path):
    path = tmp_path / "run.jsonl"
    results = sample_results()
    with Journal(path, results) as journal:
        for r in results.rows:
            journal.write(r)
    text = path.read_text()
    path.write_text(text[:-25])  # the run was killed while writing the last row
    with pytest.raises(JournalError, match="line 4 is cut short"):
        Results.load(path)  # a damaged line is never dropped without a word
    with pytest.warns(UserWarning, match="skipped 1 damaged"):
        loaded = Results.load(path, skip_damaged=True)
    assert len(loaded) == 2
    pd.testing.assert_frame_equal(loaded.df, Results(rows=results.rows[:2]).df)


def test_a_tuner_journal_loads_as_its_results(tmp_path):
    path = tmp_path / "journal.jsonl"
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(branin.space, seed=0))
    results = hpo.Tuner(branin, scheduler, backend="simulated", n_workers=2, journal=path,
                        progress=False).run(max_trials=10)
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["meta"]["metric"] == "value"
    assert len(lines) == 1 + 10 + 10  # the settings, a job and a row per trial
    pd.testing.assert_frame_equal(Results.load(path).df, results.df)


def test_aggregate_real_runs():
    curves = []
    for seed in range(3):
        scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(branin.space, seed=seed))
        results = hpo.Tuner(branin, scheduler, backend="simulated", n_workers=2,
                            progress=False).run(max_trials=15)
        curves.append(results.anytime())
    agg = hpo.aggregate_anytime(curves, n=50)
    valid = agg.dropna()
    assert (valid["lower"] <= valid["median"]).all() and (valid["median"] <= valid["upper"]).all()
    assert list(agg["n_runs"]) == sorted(agg["n_runs"]) and agg["n_runs"].iloc[-1] == 3
    # Once every run has a value, the median of best-so-far curves never gets worse.
    assert np.all(np.diff(agg.loc[agg["n_runs"] == 3, "median"]) <= 0)


def test_best_and_anytime_of_another_metric():
    rows = [{"trial_id": i, "status": "completed", "resource": 1, "time": float(i),
             "worker": 0, "config_x": i, "error": e, "n_params": p}
            for i, (e, p) in enumerate([(0.1, 500.0), (0.2, float("nan")), (0.3, 100.0)])]
    results = hpo.Results("error", "min", 1, rows=rows)
    assert results.best()["trial_id"] == 0
    assert results.best("n_params")["trial_id"] == 2
    assert list(results.anytime("n_params")["best"]) == [500.0, 100.0]
    with pytest.raises(ValueError, match="no metric 'latency'"):
        results.best("latency")


# -- status-only rows ---------------------------------------------------------------
def status_only(trial_id, resource, time, status="completed"):
    """A change of status: no metric (e.g. the objective ended before max_resource)."""
    return {"trial_id": trial_id, "status": status, "resource": resource, "time": time,
            "duration": 0.0, "worker": 0, "config_x": trial_id / 10}


def test_status_only_rows_change_the_status_and_nothing_else():
    rows = [row(0, 1, 0.5, 1.0, "running"), row(0, 2, 0.3, 2.0, "running"),
            status_only(0, 2, 2.0),                      # ended early: completed at 2 of 3
            row(1, 3, 0.4, 3.0, "running", acc=0.9), status_only(1, 3, 3.0),
            row(2, 3, 0.2, 4.0, "completed", acc=0.5),
            row(3, 1, 0.9, 5.0, "running"), status_only(3, 1, 5.5, "failed")]
    results = Results("loss", "min", max_resource=3, rows=rows)
    trials = results.trials()
    assert list(trials["status"]) == ["completed", "completed", "completed", "failed"]
    assert list(trials["loss"]) == [0.3, 0.4, 0.2, 0.9]  # the last value each trial had
    assert list(trials["resource"]) == [2, 3, 3, 1]
    assert list(trials["time"]) == [2.0, 3.0, 4.0, 5.5]
    # Views count evaluations, and a status-only row is none.
    assert list(results.finished()["trial_id"]) == [1, 2]
    assert list(results.anytime()["best"]) == [0.4, 0.2]
    assert results.best() == {"trial_id": 2, "config": {"x": 0.2}, "loss": 0.2, "time": 4.0}
    assert results.best(mode="max")["trial_id"] == 1
    assert set(results.pareto_front(["loss", "acc"], ["min", "max"])["trial_id"]) == {1, 2}
    assert len(results.pareto_front(["loss", "acc"])) == 1


# -- modes, metrics, shapes -------------------------------------------------------------
@pytest.mark.parametrize("mode", ["MIN", "Max", "maximize", "minimize", None, 1, ""])
def test_modes_are_min_or_max_only(mode):
    rows = [row(0, 1, 0.2, 1.0), row(1, 1, 0.9, 2.0)]
    results = Results("loss", rows=rows)
    with pytest.raises(ValueError, match=f"mode must be 'min' or 'max', got {mode!r}"):
        Results("loss", mode=mode)
    if mode is not None:  # None: the run's mode
        with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
            results.best(mode=mode)
        with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
            results.anytime(mode=mode)
    with pytest.raises(ValueError, match="modes must be 'min' or 'max'"):
        results.pareto_front(["loss", "time"], ["min", mode])
    assert results.best(mode="max")["trial_id"] == 1 and results.best()["trial_id"] == 0


def test_pareto_front_refuses_unknown_metrics_and_bad_modes():
    results = Results("loss", rows=[row(0, 1, 0.2, 1.0, acc=0.5, size=3.0)])
    with pytest.raises(ValueError, match=r"no metric 'accuracy'.*\['loss', 'acc', 'size'\]"):
        results.pareto_front(["loss", "accuracy"])
    with pytest.raises(ValueError, match="metrics must be a list"):
        results.pareto_front("loss")
    with pytest.raises(ValueError, match="one 'min' or 'max' per metric"):
        results.pareto_front(["loss", "acc"], ["min"])
    with pytest.raises(ValueError, match="one 'min' or 'max' per metric"):
        results.pareto_front(["loss", "acc"], "min")


def test_hypervolume_2d_refuses_bad_shapes():
    with pytest.raises(ValueError, match=r"reference must be 2 finite numbers, got \[1.0\]"):
        hpo.hypervolume_2d([[0.5, 0.5]], reference=[1])
    with pytest.raises(ValueError, match="reference must be 2 finite numbers"):
        hpo.hypervolume_2d([[0.5, 0.5]], reference=[1, 1, 1])
    for points in ([0.5, 0.5], [[0.1, 0.2, 0.3]], np.zeros((2, 2, 2))):
        with pytest.raises(ValueError, match="points must be an n x 2 array, got shape"):
            hpo.hypervolume_2d(points, [1, 1])
    assert hpo.hypervolume_2d([], [1, 1]) == 0.0


def test_results_refuse_bad_settings():
    with pytest.raises(ValueError, match="max_resource must be a positive number, got 0"):
        Results("loss", max_resource=0)
    with pytest.raises(TypeError, match="constraints must be a list of metric names"):
        Results("loss", constraints="size")
    with pytest.raises(TypeError, match="metric must be a string"):
        Results(None)


def test_a_run_where_every_trial_failed_has_no_best():
    rows = [{"trial_id": 0, "status": "failed", "resource": 0, "time": 1.0, "error": "x"}]
    results = Results("loss", rows=rows)
    assert results.best() is None and results.anytime().empty
    assert results.pareto_front(["loss"]).empty


@pytest.mark.parametrize("reference", [[float("nan"), 3], [float("inf"), 3], "ab", [1]])
def test_hypervolume_reference_must_be_two_finite_numbers(reference):
    from d2lhpo.results import hypervolume_2d
    with pytest.raises(ValueError, match="reference must be 2 finite numbers"):
        hypervolume_2d([[0.0, 0.0]], reference)
