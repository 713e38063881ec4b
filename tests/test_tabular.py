import importlib.resources

import numpy as np
import pandas as pd
import pytest

import d2lhpo as hpo
from d2lhpo.objectives import TabularObjective, lenet_digits
from d2lhpo.objectives.cnn import cnn_space

SPACE = {"lr": hpo.loguniform(1e-3, 1.0), "width": hpo.lograndint(2, 64),
         "bs": hpo.logfinrange(16, 256, 5, cast_int=True), "act": hpo.choice(["relu", "tanh"]),
         "epochs_note": "constant"}
EPOCHS = 9


def write_table(path, n=40, seed=0):
    """A small table of made-up curves: error decays at a rate set by the config."""
    rng = np.random.default_rng(seed)
    space = hpo.Space(SPACE)
    rows = []
    for i in range(n):
        config = space.sample(rng)
        rate = 0.1 + rng.uniform()
        for epoch in range(1, EPOCHS + 1):
            rows.append({"config_id": i, "seed": 100 + i, "epoch": epoch,
                         "error": 0.1 + 0.8 * np.exp(-rate * epoch),
                         "n_params": 10 * config["width"] ** 2, "wall_s": 2 * config["lr"],
                         "cpu_s": 0.5 + epoch / config["bs"],
                         **{f"config_{k}": v for k, v in config.items()}})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def table(tmp_path):
    return pd.read_csv(write_table(tmp_path / "curves.csv"))


@pytest.fixture
def bench(table):
    return TabularObjective(table, SPACE)


def recorded(table, i):
    rows = table[table["config_id"] == i].sort_values("epoch")
    config = {k[len("config_"):]: v.item() if hasattr(v, "item") else v
              for k, v in rows.iloc[0].items() if k.startswith("config_")}
    return config, rows


def test_replays_recorded_configurations_exactly(table, bench):
    assert bench.max_resource == EPOCHS and bench.metric == "error" and bench.mode == "min"
    for i in (0, 7, 39):
        config, rows = recorded(table, i)
        reports = list(bench(config, r0=0, r1=EPOCHS))
        assert [r["resource"] for r in reports] == list(range(1, EPOCHS + 1))
        assert [r["error"] for r in reports] == rows["error"].tolist()
        assert [r["n_params"] for r in reports] == rows["n_params"].tolist()
        assert [r["cost"] for r in reports] == rows["cpu_s"].tolist()


def test_cost_column_and_constraint(table):
    bench = TabularObjective(table, SPACE, cost="wall_s", max_params=1000)
    config, rows = recorded(table, 3)
    (r,) = bench(config, r0=0, r1=1)
    assert r["cost"] == rows["wall_s"].iloc[0]
    assert r["params_excess"] == rows["n_params"].iloc[0] - 1000


def test_other_configurations_get_the_nearest_recorded_curve(table, bench):
    space = hpo.Space(bench.space)
    recorded_points = np.array([space.encode(c) for c in bench.configs.to_dict("records")])
    rng = np.random.default_rng(1)
    for _ in range(20):
        config = space.sample(rng)
        # brute force: the recorded configuration closest in the encoded space
        distances = np.linalg.norm(recorded_points - space.encode(config), axis=1)
        config_id = bench.config_ids[np.argmin(distances)]
        _, rows = recorded(table, config_id)
        assert [r["error"] for r in bench(config, 0, EPOCHS)] == rows["error"].tolist()


def test_a_small_step_stays_with_its_neighbour(table, bench):
    config, rows = recorded(table, 5)
    nudged = dict(config, lr=config["lr"] * 1.001)
    assert [r["error"] for r in bench(nudged, 0, 3)] == rows["error"].tolist()[:3]


def test_resume_from_r0(table, bench):
    config, rows = recorded(table, 2)
    reports = list(bench(config, r0=3, r1=7))
    assert [r["resource"] for r in reports] == [4, 5, 6, 7]
    assert [r["error"] for r in reports] == rows["error"].tolist()[3:7]
    with pytest.raises(ValueError, match="r0"):
        list(bench(config, r0=5, r1=5))


def test_space_is_continuous_and_narrowed_to_the_records(table, bench):
    lr = table["config_lr"]
    assert bench.space["lr"] == hpo.loguniform(lr.min(), lr.max())
    assert isinstance(bench.space["width"], hpo.Integer) and bench.space["width"].log
    assert bench.space["epochs_note"] == "constant"
    assert set(bench.space["act"].categories) == set(table["config_act"])


def test_bad_input(table, bench):
    with pytest.raises(ValueError, match="config_width"):
        TabularObjective(table.drop(columns="config_width"), SPACE)
    with pytest.raises(ValueError, match="epoch"):
        TabularObjective(table[table["epoch"] != 4], SPACE)
    config, _ = recorded(table, 0)
    with pytest.raises(ValueError, match="'act'"):
        list(bench(dict(config, act="gelu"), 0, 1))
    with pytest.raises(ValueError, match="'lr'"):
        list(bench({k: v for k, v in config.items() if k != "lr"}, 0, 1))


def test_runs_under_the_tuner_on_a_simulated_clock(table, bench):
    scheduler = hpo.ASHA(hpo.RandomSearcher(bench.space, seed=0), eta=3, seed=0)
    results = hpo.Tuner(bench, scheduler, backend="simulated", n_workers=4,
                        progress=False).run(max_trials=30)
    df = results.df
    assert df["trial_id"].nunique() == 30
    assert set(df["status"]) >= {"completed", "stopped"}
    # every reported error is one the table holds, at the epoch it was recorded
    pairs = set(zip(table["epoch"], table["error"]))
    assert all((r, e) in pairs for r, e in zip(df["resource"], df["error"]))
    # time on the simulated clock is made of recorded costs, not of real seconds
    assert df["time"].max() > 4


@pytest.mark.skipif(not (importlib.resources.files("d2lhpo") / "data"
                         / "lenet_digits.csv.gz").is_file(),
                    reason="the recorded table is not packaged yet")
def test_shuffled_configs_are_each_recorded_configuration_once(table, bench):
    first = bench.shuffled_configs(0)
    order = np.random.default_rng(0).permutation(40)  # numpy's permutation of the rows
    assert len(first) == 40 and sorted(order) == list(range(40))
    for config, i in zip(first, order):  # the table's own values, each row once
        assert config == {k: recorded(table, i)[0][k] for k in config}
        assert bench.nearest(config) == i
    assert bench.shuffled_configs(0) == first          # same seed, same order
    assert bench.shuffled_configs(1) != first
    with pytest.raises(ValueError, match="seed"):
        bench.shuffled_configs(-1)


def test_packaged_lenet_digits_table():
    bench = lenet_digits()
    assert len(bench.configs) >= 500 and bench.max_resource == 27
    assert set(bench.space) == set(cnn_space())
    config = bench.configs.iloc[0].to_dict()
    reports = list(bench(config, 0, 27))
    assert all(0 <= r["error"] <= 1 and r["cost"] > 0 for r in reports)
