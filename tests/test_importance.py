"""Hyperparameter importance (fANOVA on a random forest): the shares of functions
whose Sobol' indices are known in closed form, agreement with scipy.stats.sobol_indices
called directly on the same forest, and a run on the recorded CNN table."""

import math
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.ensemble import RandomForestRegressor  # noqa: E402

import d2lhpo as hpo  # noqa: E402
from d2lhpo.importance import _features, fit_surrogate, infer_space  # noqa: E402

N = 300  # evaluated configurations, as a short random search would leave


def results_of(space, f, n=N, seed=0, metric="objective", max_resource=1):
    """Results of ``n`` random configurations of ``space`` scored by ``f(config)``."""
    rng = np.random.default_rng(seed)
    space = hpo.Space(space)
    rows = []
    for i in range(n):
        config = space.sample(rng)
        rows.append({"trial_id": i, "status": "completed", "resource": max_resource,
                     "time": float(i), "duration": 1.0, "worker": 0,
                     **{f"config_{k}": v for k, v in config.items()}, metric: f(config)})
    return hpo.Results(metric, "min", max_resource=max_resource, rows=rows)


def singles(table):
    return table[table["order"] == 1].set_index("name")


def pairs(table):
    return table[table["order"] == 2].set_index("name")


# f = x1 + 0.5 log10(x2) + 0 * x3 on x1 ~ U(0, 2), log10(x2) ~ U(-2, 0), x3 a choice:
# the variances are 4/12 and 0.25 * 4/12, so the shares are 0.8, 0.2 and 0.
ADDITIVE_SPACE = {"x1": hpo.uniform(0, 2), "x2": hpo.loguniform(1e-2, 1),
                  "x3": hpo.choice(["a", "b", "c"])}
ADDITIVE_SHARES = {"x1": 0.8, "x2": 0.2, "x3": 0.0}


def additive(c):
    return c["x1"] + 0.5 * math.log10(c["x2"])


@pytest.fixture(scope="module")
def additive_table():
    return hpo.importance(results_of(ADDITIVE_SPACE, additive), space=ADDITIVE_SPACE,
                          n_samples=2**11)


def test_additive_function_ranking_and_shares_match_the_closed_form(additive_table):
    s = singles(additive_table)
    assert list(s.index) == ["x1", "x2", "x3"]  # sorted by share
    for name, share in ADDITIVE_SHARES.items():
        assert s.loc[name, "share"] == pytest.approx(share, abs=0.05), s
        # no interactions: the total index is the first-order one
        assert s.loc[name, "total"] == pytest.approx(s.loc[name, "share"], abs=0.03), s
    assert (pairs(additive_table)["share"].abs() < 0.03).all(), additive_table
    # a pair's group index is the sum of its main effects when they do not interact
    p = pairs(additive_table)
    assert p.loc["x1 × x2", "first_order"] == pytest.approx(1.0, abs=0.03)
    assert additive_table.attrs["n_results"] == N and additive_table.attrs["oob_r2"] > 0.9


def test_the_intervals_bracket_the_estimates(additive_table):
    t = additive_table
    assert (t["share_low"] <= t["share"] + 1e-12).all() and (
        t["share"] <= t["share_high"] + 1e-12).all()
    s = singles(t)
    assert (s["total_low"] <= s["total"] + 1e-12).all() and (
        s["total"] <= s["total_high"] + 1e-12).all()
    assert s.loc["x1", "share_high"] - s.loc["x1", "share_low"] < 0.1
    assert t[t["order"] == 2]["total_low"].isna().all()


def test_a_pure_interaction_is_a_pair_share_not_main_effects():
    # f = (x1 - 1/2)(x2 - 1/2): E[f | x1] = E[f | x2] = 0, so both first-order
    # indices are 0 and the pair explains all the variance; x3 is inert.
    space = {f"x{i}": hpo.uniform(0, 1) for i in (1, 2, 3)}
    table = hpo.importance(results_of(space, lambda c: (c["x1"] - 0.5) * (c["x2"] - 0.5)),
                           space=space, n_samples=2**11, confidence=None)
    s, p = singles(table), pairs(table)
    assert (s["share"].abs() < 0.05).all(), table
    assert p.loc["x1 × x2", "share"] == pytest.approx(1.0, abs=0.1), table
    assert p.loc["x1 × x2", "share"] == p["share"].max()
    assert abs(p.loc["x1 × x3", "share"]) < 0.03 and abs(p.loc["x2 × x3", "share"]) < 0.03
    assert s.loc["x1", "total"] == pytest.approx(1.0, abs=0.1)
    assert s.loc["x3", "total"] < 0.03
    assert "share_low" not in table


MIXED_SPACE = {"lr": hpo.loguniform(1e-3, 1), "n": hpo.lograndint(1, 64),
               "bs": hpo.logfinrange(16, 256, 5, cast_int=True),
               "act": hpo.choice(["relu", "tanh", "gelu"])}


def mixed(c):
    return (math.log10(c["lr"]) + 1.5) ** 2 + 0.3 * math.log2(c["n"]) \
        + 0.1 * math.log2(c["bs"]) * (c["act"] == "tanh")


def test_the_table_is_scipy_sobol_indices_of_the_same_forest():
    results = results_of(MIXED_SPACE, mixed, n=200)
    d, n, seed = len(MIXED_SPACE), 2**10, 3
    f = fit_surrogate(results, space=MIXED_SPACE, n_trees=30, seed=seed)
    direct = stats.sobol_indices(func=f, n=n, dists=[stats.uniform()] * d,
                                 random_state=np.random.default_rng(seed))
    table = hpo.importance(results, space=MIXED_SPACE, n_trees=30, n_samples=n, seed=seed,
                           confidence=None)
    s = singles(table).loc[list(MIXED_SPACE)]
    np.testing.assert_allclose(s["first_order"], direct.first_order, rtol=0, atol=1e-10)
    np.testing.assert_allclose(s["total"], direct.total_order, rtol=0, atol=1e-10)
    # the pair's group index too: scipy's first-order index of a function whose
    # one "input" holds the pair (the same A and B, with both columns from B)
    i, j = 0, 2
    a, b = direct._A, direct._B
    ab = a.copy()
    ab[[i, j]] = b[[i, j]]
    ab_i = a.copy()
    ab_i[i] = b[i]
    grouped = stats.sobol_indices(func={"f_A": f(a)[None], "f_B": f(b)[None],
                                        "f_AB": np.stack([f(ab), f(ab_i)])[:, None]}, n=n)
    pair = pairs(table).loc["lr × bs"]
    assert pair["first_order"] == pytest.approx(grouped.first_order[0], abs=1e-10)
    assert grouped.first_order[1] == pytest.approx(s.loc["lr", "first_order"], abs=1e-10)
    assert pair["share"] == pytest.approx(pair["first_order"] - s.loc["lr", "first_order"]
                                          - s.loc["bs", "first_order"], abs=1e-12)


def test_uniform_inputs_become_the_encodings_of_the_values_the_space_decodes():
    u = np.random.default_rng(1).random(500)
    for name, domain in MIXED_SPACE.items():
        got = _features(domain, u)
        if isinstance(domain, hpo.Categorical):  # category floor(u k): each equally likely
            k = len(domain.categories)
            want = [domain.encode(domain.categories[int(x * k)]) for x in u]
        else:
            want = [domain.encode(domain.decode(np.array([x]))) for x in u]
        np.testing.assert_allclose(got, np.array(want), rtol=0, atol=1e-12, err_msg=name)
    float_domain = MIXED_SPACE["lr"]
    np.testing.assert_allclose(_features(float_domain, u)[:, 0], u)  # the value itself


def test_the_surrogate_is_the_documented_random_forest_on_the_encoding():
    space = {"x": hpo.uniform(-1, 3), "y": hpo.loguniform(1e-4, 1)}
    results = results_of(space, lambda c: c["x"] ** 2 + math.log(c["y"]), n=60)
    f = fit_surrogate(results, space=space, n_trees=20, seed=5)
    df = results.finished()
    x = np.column_stack([(df["config_x"] + 1) / 4,
                         (np.log(df["config_y"]) - math.log(1e-4)) / -math.log(1e-4)])
    forest = RandomForestRegressor(n_estimators=20, random_state=5).fit(x, df["objective"])
    u = np.random.default_rng(0).random((2, 100))
    np.testing.assert_allclose(f(u), forest.predict(u.T), rtol=1e-12)
    assert f.names == ["x", "y"] and f.n_results == 60


def test_inferred_space_one_hot_strings_and_linear_numbers():
    # x ~ U(0, 1) (variance 1/12) plus 1 for "b" (a fair coin: variance 1/4)
    space = {"x": hpo.uniform(0, 1), "k": hpo.choice(["a", "b"]), "fixed": 7}
    results = results_of(space, lambda c: c["x"] + (c["k"] == "b"))
    inferred = infer_space(results.finished(), results.config_names())
    assert list(inferred.domains) == ["x", "k"]  # the constant explains nothing
    assert isinstance(inferred["x"], hpo.Float) and isinstance(inferred["k"], hpo.Categorical)
    assert set(inferred["k"].categories) == {"a", "b"}
    s = singles(hpo.importance(results, n_samples=2**10, confidence=None))
    assert s.loc["k", "share"] == pytest.approx(0.75, abs=0.05)
    assert s.loc["x", "share"] == pytest.approx(0.25, abs=0.05)


def test_one_hyperparameter_explains_everything():
    space = {"x": hpo.randint(1, 9)}
    table = hpo.importance(results_of(space, lambda c: (c["x"] - 4) ** 2, n=30),
                           space=space, n_samples=2**8)
    assert list(table["name"]) == ["x"] and len(table) == 1  # no pairs to form
    assert table.loc[0, "share"] == pytest.approx(1.0, abs=0.05)  # estimator noise only
    assert table.loc[0, "total"] == pytest.approx(1.0, abs=0.05)


def test_same_seed_same_table_and_another_seed_another_forest():
    results = results_of(ADDITIVE_SPACE, additive, n=100)
    kwargs = dict(space=ADDITIVE_SPACE, n_trees=20, n_samples=2**9)
    first = hpo.importance(results, seed=1, **kwargs)
    pd.testing.assert_frame_equal(first, hpo.importance(results, seed=1, **kwargs))
    other = hpo.importance(results, seed=2, **kwargs)
    assert not np.allclose(first["share"], other["share"])


def test_log_explains_the_logarithm_of_the_metric():
    space = {"a": hpo.uniform(0, 1), "b": hpo.uniform(0, 1)}
    # log f = 3a + b: shares 0.9 and 0.1 of log f (f itself is dominated by a even more)
    results = results_of(space, lambda c: math.exp(3 * c["a"] + c["b"]))
    table = hpo.importance(results, space=space, log=True, n_samples=2**10, pairs=False,
                           confidence=None)
    assert list(table["order"]) == [1, 1] and table.attrs["log"]
    s = singles(table)
    assert s.loc["a", "share"] == pytest.approx(0.9, abs=0.05)
    assert s.loc["b", "share"] == pytest.approx(0.1, abs=0.05)


def test_only_full_fidelity_finished_results_count():
    results = results_of(ADDITIVE_SPACE, additive, n=40, max_resource=3)
    for row in results.rows[:35]:  # these stopped early: not finished evaluations
        row["resource"] = 1
    results = hpo.Results("objective", max_resource=3, rows=results.rows)
    with pytest.raises(ValueError, match="at least 10 finished results.*got 5"):
        hpo.importance(results, space=ADDITIVE_SPACE)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_samples=1000), "n_samples must be a power of 2"),
    (dict(n_samples=1), "n_samples must be an integer >= 2"),
    (dict(n_trees=0), "n_trees must be an integer >= 1"),
    (dict(seed=-1), "seed must be an integer >= 0"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(pairs="yes"), "pairs must be True or False"),
    (dict(log=1), "log must be True or False"),
    (dict(confidence=1.0), "confidence must be below 1"),
    (dict(confidence=0), "confidence must be a finite number > 0"),
    (dict(metric="accuracy"), "no metric 'accuracy'"),
    (dict(metric=3), "metric must be a metric name"),
    (dict(space={"x1": hpo.uniform(0, 2), "depth": hpo.randint(1, 3)}),
     "space has hyperparameter 'depth', which the results lack"),
    (dict(space={"x3": hpo.choice(["a", "b"])}), "hyperparameter 'x3' of trial"),
    (dict(space=[1, 2]), "space must be a Space"),
])
def test_bad_arguments_are_refused_with_their_name(kwargs, match):
    results = results_of(ADDITIVE_SPACE, additive, n=12)
    with pytest.raises(ValueError, match=match):
        hpo.importance(results, **kwargs)


def test_bad_results_are_refused():
    with pytest.raises(TypeError, match="results must be a d2lhpo Results"):
        hpo.importance(pd.DataFrame({"config_x": [1.0]}))
    with pytest.raises(ValueError, match="at least 10 finished results.*got 9"):
        hpo.importance(results_of(ADDITIVE_SPACE, additive, n=9))
    with pytest.raises(ValueError, match="the same in every finished result"):
        hpo.importance(results_of(ADDITIVE_SPACE, lambda c: 1.0, n=20))
    with pytest.raises(ValueError, match="log=True needs a positive 'objective'"):
        hpo.importance(results_of(ADDITIVE_SPACE, additive, n=20), log=True)


def test_plot_importance_draws_bars_with_title_and_labels(additive_table):
    ax = hpo.plot_importance(additive_table, top=2)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert "matter" in ax.get_title() and ax.get_xlabel() == "share of variance"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:2] == ["x1", "x2"] and len(labels) == 4  # top 2 singles, then pairs
    assert all(" × " in label for label in labels[2:])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "first order", "total", "pair interaction"]
    fig, ax = plt.subplots()
    assert hpo.plot_importance(additive_table.drop(columns=["share_low"]), ax=ax) is ax
    with pytest.raises(ValueError, match="table must be a DataFrame from importance"):
        hpo.plot_importance(additive_table[["name"]])
    with pytest.raises(ValueError, match="top must be an integer >= 1"):
        hpo.plot_importance(additive_table, top=0)
    plt.close("all")


def test_the_recorded_cnn_table_ranks_its_seven_hyperparameters():
    objective = hpo.objectives.lenet_digits()
    final = objective.curves["error"][:, -1]  # error after the last recorded epoch
    rows = [{"trial_id": i, "status": "completed", "resource": objective.max_resource,
             "time": float(i), "duration": 0.0, "worker": 0,
             **{f"config_{k}": v for k, v in config.items()}, "error": float(error)}
            for i, (config, error) in enumerate(zip(objective.configs.to_dict("records"),
                                                    final))]
    results = hpo.Results("error", "min", max_resource=objective.max_resource, rows=rows)
    start = time.perf_counter()
    table = hpo.importance(results, space=objective.space, n_samples=2**11)
    seconds = time.perf_counter() - start
    print(f"\n{seconds:.1f} s, out-of-bag R² {table.attrs['oob_r2']:.2f}\n"
          + table.head(12).round(3).to_string())
    assert seconds < 10
    s = singles(table)
    assert len(s) == 7 and len(table) == 7 + 21
    assert s["share"].between(-0.05, 1.05).all() and s["total"].between(-0.05, 1.05).all()
    assert (s["total"] >= s["share"] - 0.02).all()
    assert s["total"].sum() >= s["share"].sum()
    assert table["share"].sum() <= 1.05  # main effects and pairs: at most all the variance
    by_total = list(s["total"].sort_values(ascending=False).index)
    assert "learning_rate" in by_total[:3], by_total
    assert s.loc["weight_decay", "total"] < 0.05, s  # its recorded range barely matters
