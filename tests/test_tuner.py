"""The tuning loop: failures, interrupts, reproducibility, budgets, objectives' forms."""

import logging
import math

import numpy as np
import pandas as pd
import pytest

import d2lhpo as hpo
from d2lhpo.objectives import branin

SPACE = {"x": hpo.uniform(0, 1)}


def fifo(space=SPACE, seed=0, **kwargs):
    return hpo.FIFOScheduler(hpo.RandomSearcher(space, seed=seed), **kwargs)


def run(objective, max_trials=10, scheduler=None, **kwargs):
    kwargs.setdefault("progress", False)
    tuner = hpo.Tuner(objective, scheduler or fifo(), **kwargs)
    return tuner.run(max_trials=max_trials)


def test_a_plain_function_works():
    results = run(lambda config: (config["x"] - 0.3) ** 2)
    df = results.df
    assert results.metric == "objective" and len(df) == 10
    assert (df["status"] == "completed").all() and (df["resource"] == 1).all()
    np.testing.assert_allclose(df["objective"], (df["config_x"] - 0.3) ** 2)
    assert results.best()["objective"] == df["objective"].min()


def test_a_plain_function_may_return_metrics():
    results = run(lambda config: {"loss": config["x"], "size": 3}, metric="loss", mode="max")
    assert results.best()["loss"] == results.df["loss"].max()
    assert (results.df["size"] == 3).all()


def test_metric_and_mode_come_from_the_objective():
    class Accuracy(hpo.objectives.Objective):
        space, metric, mode, max_resource = SPACE, "acc", "max", 2

        def __call__(self, config, r0, r1):
            for r in range(int(r0) + 1, int(r1) + 1):
                yield {"resource": r, "acc": config["x"] * r / 2}

    tuner = hpo.Tuner(Accuracy(), fifo(), progress=False)
    assert (tuner.metric, tuner.mode, tuner.scheduler.max_resource) == ("acc", "max", 2)
    results = tuner.run(max_trials=5)
    assert list(results.df["status"]) == ["running", "completed"] * 5
    assert results.best()["acc"] == results.df["acc"].max()
    results = run(branin, backend="simulated", n_workers=2,
                  scheduler=fifo(branin.space))
    assert results.metric == "value" and results.mode == "min"


def test_a_raising_trial_fails_and_tuning_goes_on(caplog):
    def objective(config):
        if config["x"] > 0.5:
            raise ValueError(f"x too large: {config['x']}")
        return config["x"]

    with caplog.at_level(logging.WARNING, logger="d2lhpo.tuner"):
        results = run(objective, max_trials=20)
    df = results.df
    failed = df[df["status"] == "failed"]
    assert len(df) == 20 and len(failed) == (df["config_x"] > 0.5).sum() > 0
    assert all("ValueError: x too large" in e for e in failed["error"])
    assert (df.loc[df["status"] == "completed", "config_x"] <= 0.5).all()
    assert "failed" in caplog.text


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None, "0.1"])
def test_bad_metric_values_fail_the_trial(bad):
    def objective(config):
        return {"objective": bad if config["x"] > 0.5 else config["x"]}

    df = run(objective, max_trials=20).df
    failed = df[df["status"] == "failed"]
    assert len(failed) == (df["config_x"] > 0.5).sum() > 0
    assert all(e.startswith("bad metric value: objective=") for e in failed["error"])


def test_a_bad_value_mid_trial_stops_that_trial():
    def objective(config, r0, r1):
        for r in range(1, 4):
            yield {"resource": r, "loss": math.nan if r == 2 else 1.0}

    results = run(objective, max_trials=2, metric="loss",
                  scheduler=fifo(max_resource=3))
    assert list(results.df["status"]) == ["running", "failed"] * 2


@pytest.mark.parametrize("stepwise", [False, True])
def test_keyboard_interrupt_returns_the_results_so_far(stepwise):
    calls = []

    def plain(config):
        calls.append(config)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return config["x"]

    def steps(config, r0, r1):
        yield {"resource": 1, "objective": config["x"]}
        calls.append(config)
        if len(calls) == 4:
            raise KeyboardInterrupt
        yield {"resource": 2, "objective": config["x"]}

    objective = steps if stepwise else plain
    tuner = hpo.Tuner(objective, fifo(max_resource=2 if stepwise else 1), progress=False)
    results = tuner.run(max_trials=10)
    assert results is tuner.results
    assert len(results) == (7 if stepwise else 3)


def test_same_seed_same_results_on_the_simulated_backend():
    def tune(seed):
        scheduler = fifo(branin.space, seed=seed)
        tuner = hpo.Tuner(branin, scheduler, backend="simulated", n_workers=4, seed=seed,
                          progress=False)
        return tuner.run(max_trials=40), [t.config for t in tuner.trials.values()]

    (a, configs_a), (b, configs_b), (c, _) = tune(1), tune(1), tune(2)
    pd.testing.assert_frame_equal(a.df, b.df)
    assert configs_a == configs_b and len(configs_a) == 40
    assert not a.df["config_x1"].equals(c.df["config_x1"])


def test_trials_get_their_own_reproducible_seeds_and_checkpoints(tmp_path):
    seen = []

    def objective(config, r0, r1, seed, checkpoint):
        seen.append((seed, checkpoint))
        yield {"resource": 1, "objective": config["x"]}

    for _ in range(2):
        run(objective, max_trials=5, seed=3, checkpoint_dir=tmp_path)
    first, second = seen[:5], seen[5:]
    assert first == second
    seeds, paths = zip(*first)
    assert len(set(seeds)) == 5 and all(isinstance(s, int) for s in seeds)
    assert len(set(paths)) == 5 and all(p.startswith(str(tmp_path)) for p in paths)
    seen.clear()
    run(objective, max_trials=5, seed=4)
    assert {s for s, _ in seen}.isdisjoint(seeds)


def test_max_time_is_on_the_simulated_clock():
    tuner = hpo.Tuner(branin, fifo(branin.space), backend="simulated", n_workers=4,
                      progress=False)
    df = tuner.run(max_time=1000).df
    assert df["time"].max() <= 1000
    assert df["time"].max() > 1000 - max(branin.cost_range)  # and the budget was used
    # Four workers, costs between 30 and 90 s: roughly 4 * 1000 / 60 trials.
    assert 4 * 1000 / 90 - 4 <= len(df) <= 4 * 1000 / 30


def test_max_trials_counts_started_trials():
    results = run(branin, max_trials=7, backend="simulated", n_workers=3,
                  scheduler=fifo(branin.space))
    assert sorted(results.df["trial_id"]) == list(range(7))


def test_run_again_continues():
    tuner = hpo.Tuner(lambda c: c["x"], fifo(), progress=False)
    tuner.run(max_trials=3)
    results = tuner.run(max_trials=5)
    assert list(results.df["trial_id"]) == [0, 1, 2, 3, 4]


def test_an_exhausted_searcher_ends_the_run():
    scheduler = hpo.FIFOScheduler(hpo.GridSearcher({"c": hpo.choice(["a", "b", "c"])}))
    results = run(lambda config: 1.0, max_trials=10, scheduler=scheduler)
    assert list(results.df["config_c"]) == ["a", "b", "c"]


def test_progress_bar(capsys):
    run(lambda config: config["x"], max_trials=3, progress=True)
    assert "3/3" in capsys.readouterr().err


@pytest.mark.parametrize("budget", [{}, {"max_trials": 0}, {"max_trials": -1},
                                    {"max_trials": 2.5}, {"max_trials": True},
                                    {"max_time": 0}, {"max_time": -5.0},
                                    {"max_time": math.nan}, {"max_time": "60"}])
def test_bad_budgets_raise(budget):
    tuner = hpo.Tuner(lambda c: c["x"], fifo(), progress=False)
    with pytest.raises(ValueError, match="max_t|budget"):
        tuner.run(**budget)


@pytest.mark.parametrize("kwargs, match", [
    ({"objective": 3}, "callable"),
    ({"scheduler": "fifo"}, "Scheduler"),
    ({"n_workers": 0}, "n_workers"),
    ({"n_workers": 2.0}, "n_workers"),
    ({"backend": "gpu"}, "'gpu'"),
    ({"mode": "maximize"}, "'maximize'"),
])
def test_bad_arguments_raise(kwargs, match):
    args = {"objective": lambda c: c["x"], "scheduler": fifo(), **kwargs}
    with pytest.raises(ValueError, match=match):
        hpo.Tuner(**args)


def test_a_misspelt_metric_stops_the_run_at_once_naming_the_metrics_reported():
    calls = []

    def objective(config):
        calls.append(config)
        return {"error": config["x"], "n_params": 3.0}

    tuner = hpo.Tuner(objective, fifo(), metric="eror", progress=False)
    with pytest.raises(ValueError, match=r"reports \['error', 'n_params'\], not 'eror'"):
        tuner.run(max_trials=10)
    assert len(calls) == 1


def test_constraints_must_be_a_list_of_names():
    with pytest.raises(ValueError, match="constraints must be a list"):
        hpo.Tuner(lambda c: c["x"], fifo(), constraints="cost")


@pytest.mark.parametrize("journal, match", [("x.csv", ".jsonl"), ("d.jsonl", "directory")])
def test_a_journal_must_be_a_jsonl_file(tmp_path, journal, match):
    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(ValueError, match=match):
        hpo.Tuner(lambda c: c["x"], fifo(), journal=tmp_path / journal)


def test_resuming_with_another_space_or_max_resource_raises(tmp_path):
    def stepwise(config, r0, r1):
        for r in range(int(r0) + 1, int(r1) + 1):
            yield {"resource": r, "objective": config["x"]}

    def tuner(space, max_resource=3, resume=False):
        scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(space, seed=0),
                                      max_resource=max_resource)
        return hpo.Tuner(stepwise, scheduler, journal=tmp_path / "run.jsonl", resume=resume,
                         progress=False)

    tuner({"x": hpo.uniform(0, 1)}).run(max_trials=2)
    with pytest.raises(ValueError, match="space"):
        tuner({"x": hpo.uniform(0, 2)}, resume=True)
    with pytest.raises(ValueError, match="max_resource"):
        tuner({"x": hpo.uniform(0, 1)}, max_resource=5, resume=True)


def test_a_target_ends_the_run_when_a_full_result_reaches_it():
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(branin.space, seed=0))
    results = hpo.Tuner(branin, scheduler, backend="simulated", n_workers=4, seed=0,
                        progress=False).run(max_trials=500, target=2.0)
    values = results.df["value"].to_numpy()
    assert values[-1] <= 2.0 and (values[:-1] > 2.0).all()  # ends at the first that does
    with pytest.raises(ValueError, match="target"):
        hpo.Budget(target=float("nan"))


def test_one_master_seed_makes_a_run_reproducible():
    def tune(seed):
        scheduler = hpo.ASHA(hpo.RandomSearcher(branin.space), max_resource=1, min_resource=0.5)
        return hpo.Tuner(branin, scheduler, backend="simulated", n_workers=2, seed=seed,
                         progress=False).run(max_trials=20).df

    pd.testing.assert_frame_equal(tune(3), tune(3))
    assert not tune(3)["config_x1"].equals(tune(4)["config_x1"])


def test_the_sequential_backend_with_several_workers_is_refused_at_construction():
    with pytest.raises(ValueError, match="n_workers=2"):
        hpo.Tuner(lambda c: c["x"], fifo(), backend="sequential", n_workers=2)
