"""Bayesian optimization: the acquisition optimizer, the searcher, constraints, ParEGO."""

import logging

import numpy as np
import pytest
from scipy.optimize import minimize

import d2lhpo as hpo
from d2lhpo.results import hypervolume_2d
from d2lhpo.searchers import bayesopt
from d2lhpo.searchers.acquisition_optimizer import maximize_acquisition
from d2lhpo.searchers.bayesopt import BayesianOptimization, parego_scalarize
from d2lhpo.spaces import Space, config_key

FAST = {"n_candidates": 256, "n_local": 3}   # smaller acquisition search: fast tests
SPACE_2D = {"x1": hpo.uniform(0, 1), "x2": hpo.uniform(0, 1)}

MIXED = {"lr": hpo.loguniform(1e-4, 1e-1), "layers": hpo.randint(1, 4),
         "act": hpo.choice(["relu", "tanh", "gelu"]), "width": hpo.finrange(16, 64, 4),
         "epochs": 10}


def _bowl(x):
    """A score peaking inside the box: gradients included, as the optimizer expects."""
    def score(X, grad=False):
        values = -np.sum((X - x) ** 2, axis=1)
        return (values, -2 * (X - x)) if grad else values
    return score


def test_optimizer_returns_valid_mixed_configs_near_the_maximum():
    space = Space(MIXED)
    target = space.encode({"lr": 1e-3, "layers": 3, "act": "tanh", "width": 48, "epochs": 10})
    config = maximize_acquisition(_bowl(target), space, np.random.default_rng(0))
    assert space.check(config) == config
    assert config["layers"] == 3 and config["act"] == "tanh" and config["width"] == 48
    assert config["lr"] == pytest.approx(1e-3, rel=1e-3)
    # Excluding it gives the next best, never an excluded one.
    second = maximize_acquisition(_bowl(target), space, np.random.default_rng(0),
                                  exclude={config_key(config)})
    assert second != config and space.check(second) == second


def test_optimizer_skips_excluded_configs_and_gives_up_when_all_are():
    space = Space({"n": hpo.randint(0, 3), "c": hpo.choice(["a", "b"])})
    everything = [{"n": n, "c": c} for n in range(4) for c in "ab"]
    target = space.encode({"n": 1, "c": "a"})
    exclude = {config_key(c) for c in everything if c != {"n": 3, "c": "b"}}
    assert maximize_acquisition(_bowl(target), space, np.random.default_rng(0),
                                exclude) == {"n": 3, "c": "b"}
    exclude = {config_key(c) for c in everything}
    assert maximize_acquisition(_bowl(target), space, np.random.default_rng(0), exclude) is None


def test_never_suggests_a_config_twice_and_stops_when_the_space_is_exhausted():
    space = {"n": hpo.randint(0, 3), "c": hpo.choice(["a", "b"])}
    searcher = BayesianOptimization(space, metric="y", seed=0, num_initial=3)
    seen = []
    pending = []
    for i in range(8):
        config = searcher.suggest()
        assert config_key(config) not in {config_key(c) for c in seen}
        seen.append(config)
        searcher.register_pending(config)
        pending.append(config)
        if i % 2:   # two workers: one result for every two suggestions
            done = pending.pop(0)
            searcher.remove_pending(done)
            searcher.observe(done, {"y": (done["n"] - 2) ** 2 + (done["c"] == "b")})
    assert searcher.suggest() is None


def test_pending_configs_are_not_suggested_again():
    searcher = BayesianOptimization({"x": hpo.uniform(0, 1)}, metric="y", seed=0, num_initial=3)
    for x in (0.1, 0.5, 0.9):
        searcher.observe({"x": x}, {"y": (x - 0.3) ** 2})
    first = searcher.suggest()
    searcher.register_pending(first)
    second = searcher.suggest()
    assert abs(first["x"] - second["x"]) > 1e-3


def _minimize_pairs(searcher, fn, n):
    """(configuration, result) of n ask/tell steps."""
    pairs = []
    for _ in range(n):
        config = searcher.suggest()
        result = fn(config)
        searcher.observe(config, result)
        pairs.append((config, result))
    return pairs


def _minimize(searcher, fn, n):
    return [result for _, result in _minimize_pairs(searcher, fn, n)]


def test_finds_the_minimum_of_a_quadratic_and_handles_max_mode():
    space = {"x": hpo.uniform(-2, 2), "y": hpo.uniform(-2, 2)}

    def fn(c):
        return {"loss": (c["x"] - 0.5) ** 2 + (c["y"] + 1) ** 2}
    values = _minimize(BayesianOptimization(space, metric="loss", seed=0, **FAST), fn, 15)
    assert min(v["loss"] for v in values) < 1e-3
    values = _minimize(BayesianOptimization(space, metric="gain", mode="max", seed=0, **FAST),
                       lambda c: {"gain": -fn(c)["loss"]}, 15)
    assert max(v["gain"] for v in values) > -1e-3


def test_same_seed_same_suggestions():
    def run():
        return _minimize(BayesianOptimization(hpo.objectives.branin.space, metric="value",
                                              seed=3), lambda c: next(hpo.objectives.branin(c)),
                         7)
    assert run() == run()


def test_constraints_steer_to_the_feasible_region():
    # Minimize x + y inside a disc of radius sqrt(0.1) around (0.7, 0.7): the
    # unconstrained minimum (0, 0) is infeasible; the constrained one is 1.4 - sqrt(0.2).
    def fn(c):
        return {"f": c["x"] + c["y"], "c": (c["x"] - 0.7) ** 2 + (c["y"] - 0.7) ** 2 - 0.1}
    space = {"x": hpo.uniform(0, 1), "y": hpo.uniform(0, 1)}
    # random_fraction=0: the interleaved random points are not steered by design
    searcher = BayesianOptimization(space, metric="f", constraints=["c"], seed=0,
                                    random_fraction=0, **FAST)
    values = _minimize(searcher, fn, 20)
    # The optimum is on the disc's edge: BO closes in on it from both sides, so
    # late points are feasible or within a hair of it (random search: 7 in 10 outside).
    assert all(v["c"] <= 0.01 for v in values[-10:])
    assert min(v["f"] for v in values if v["c"] <= 0) < 1.4 - np.sqrt(0.2) + 0.01


def test_parego_scalarization():
    Y = np.array([[0.0, 10.0], [1.0, 0.0], [0.5, 5.0]])
    np.testing.assert_allclose(parego_scalarize(Y, np.array([0.5, 0.5]), rho=0.0),
                               [0.5, 0.5, 0.25])
    np.testing.assert_allclose(parego_scalarize(Y, np.array([1.0, 0.0]), rho=0.1),
                               [0.0, 1.1, 0.55])


def test_parego_beats_random_search_on_two_objectives():
    # f1 = x^2 + y^2, f2 = (x - 1)^2 + y^2: the Pareto set is the segment y = 0.
    def fn(c):
        return {"f1": c["x"] ** 2 + c["y"] ** 2, "f2": (c["x"] - 1) ** 2 + c["y"] ** 2}
    space = {"x": hpo.uniform(-1, 2), "y": hpo.uniform(-1, 1)}
    searcher = BayesianOptimization(space, metric=["f1", "f2"], mode="min", seed=0, **FAST)
    bo = _minimize(searcher, fn, 25)
    random = _minimize(hpo.RandomSearcher(space, seed=0), fn, 25)

    def hv(values):
        return hypervolume_2d([[v["f1"], v["f2"]] for v in values], reference=[2.0, 3.0])
    assert hv(bo) > hv(random) + 0.1
    assert searcher.metric == "f1" and searcher.objectives == [("f1", "min"), ("f2", "min")]


def test_falls_back_to_random_with_a_warning_when_the_model_fails(monkeypatch, caplog):
    def broken_fit(*args, **kwargs):
        raise np.linalg.LinAlgError("not positive definite")
    monkeypatch.setattr(bayesopt.GaussianProcess, "fit", broken_fit)
    searcher = BayesianOptimization({"x": hpo.uniform(0, 1)}, metric="y", seed=0, num_initial=2)
    for x in (0.2, 0.8):
        searcher.observe({"x": x}, {"y": x})
    with caplog.at_level(logging.WARNING, logger="d2lhpo.searchers.bayesopt"):
        with pytest.warns(RuntimeWarning, match="LinAlgError.*random"):
            config = searcher.suggest()
    assert 0 <= config["x"] <= 1
    assert "LinAlgError" in caplog.text and "random" in caplog.text
    assert searcher.n_fallbacks == 1


def test_models_the_highest_resource_level_with_enough_observations():
    searcher = BayesianOptimization({"x": hpo.uniform(0, 1)}, metric="y", seed=0, num_initial=3)
    for x in (0.1, 0.2, 0.3, 0.4):
        searcher.observe({"x": x}, {"y": x, "resource": 1})
    searcher.observe({"x": 0.1}, {"y": 0.5, "resource": 3})
    assert searcher.model_level == 1
    for x in (0.2, 0.3):
        searcher.observe({"x": x}, {"y": x, "resource": 3})
    assert searcher.model_level == 3
    assert 0 <= searcher.suggest()["x"] <= 1


def test_runs_under_a_tuner_with_asynchronous_workers():
    branin = hpo.objectives.branin
    searcher = BayesianOptimization(branin.space, seed=0, **FAST)
    results = hpo.Tuner(branin, hpo.FIFOScheduler(searcher), backend="simulated", n_workers=4,
                        progress=False).run(max_trials=14)
    configs = results.df[["config_x1", "config_x2"]].drop_duplicates()
    assert len(configs) == 14


def test_bad_arguments_name_the_argument():
    space = {"x": hpo.uniform(0, 1)}
    with pytest.raises(ValueError, match="acquisition"):
        BayesianOptimization(space, acquisition="pi")
    with pytest.raises(ValueError, match="num_initial"):
        BayesianOptimization(space, num_initial=0)
    with pytest.raises(ValueError, match="mode"):
        BayesianOptimization(space, metric=["a", "b"], mode=["min"])
    with pytest.raises(ValueError, match="constraints"):
        BayesianOptimization(space, metric="a", constraints=["c"], acquisition="lcb")
    with pytest.raises(ValueError, match="no metric 'y'"):
        BayesianOptimization(space, metric="y").observe({"x": 0.5}, {"z": 1.0})


def test_runs_as_the_searcher_of_asha():
    def curves(config, r0, r1):
        # Branin plus a gap that closes with the epochs: rankings agree across rungs.
        for epoch in range(int(r0) + 1, int(r1) + 1):
            value = hpo.objectives.branin.fn([config["x1"], config["x2"]]) + 20 / epoch
            yield {"resource": epoch, "value": value, "cost": 10.0}
    searcher = BayesianOptimization(hpo.objectives.branin.space, seed=0, **FAST)
    scheduler = hpo.ASHA(searcher, type="stopping", eta=3, max_resource=9, metric="value",
                         mode="min", seed=0)
    results = hpo.Tuner(curves, scheduler, backend="simulated", n_workers=4,
                        progress=False).run(max_trials=24)
    assert (results.df["status"] != "failed").all()
    assert results.df["trial_id"].nunique() == 24
    assert searcher.model_level is not None


def test_round_to_space_is_decode_then_encode():
    from d2lhpo.searchers.acquisition_optimizer import round_to_space
    space = Space({**MIXED, "n": hpo.lograndint(1, 1000),
                   "bs": hpo.logfinrange(32, 512, 5, cast_int=True)})
    X = np.random.default_rng(0).uniform(-0.1, 1.1, size=(2000, space.dim))
    reference = np.array([space.encode(space.decode(x)) for x in X])
    np.testing.assert_allclose(round_to_space(space, X), reference, atol=1e-12)


def test_initial_design_then_points_to_evaluate_first():
    space = {"x": hpo.uniform(0, 1), "y": hpo.uniform(0, 1)}
    first = {"x": 0.25, "y": 0.75}
    searcher = BayesianOptimization(space, metric="f", seed=0, num_initial=4,
                                    points_to_evaluate=[first])
    configs = [searcher.suggest() for _ in range(5)]
    assert configs[0] == first
    # The Sobol design: one point in each quarter of each axis, as a Latin square.
    design = np.array([[c["x"], c["y"]] for c in configs[1:]])
    for column in design.T:
        assert sorted(np.floor(4 * column)) == [0, 1, 2, 3]


def test_asynchronous_workers_get_points_apart():
    # After 10 evaluations of Branin, 4 workers ask in turn, each suggestion
    # pending while the next is made: they get distinct regions. Without
    # telling the searcher about pending points, the 4 would be all but equal.
    from scipy.spatial.distance import pdist
    branin = hpo.objectives.branin
    for register in (True, False):
        for seed in range(3):
            searcher = BayesianOptimization(branin.space, seed=seed, **FAST)
            searcher.bind("value", "min")
            _minimize(searcher, lambda c: next(branin(c)), 10)
            points = []
            for _ in range(4):
                config = searcher.suggest()
                points.append(searcher.space.encode(config))
                if register:
                    searcher.register_pending(config)
            closest = pdist(np.array(points)).min()
            assert closest > 0.01 if register else closest < 1e-3


def test_lower_confidence_bound_acquisition():
    space = {"x": hpo.uniform(-2, 2), "y": hpo.uniform(-2, 2)}

    def fn(c):
        return {"loss": (c["x"] - 0.5) ** 2 + (c["y"] + 1) ** 2}
    searcher = BayesianOptimization(space, metric="loss", acquisition="lcb", beta=1.0,
                                    seed=0, **FAST)
    assert min(v["loss"] for v in _minimize(searcher, fn, 15)) < 1e-2


def test_tuner_reports_the_best_feasible_configuration():
    # Branin subject to x1 >= 0: the best feasible value is 0.397887 (two of
    # its three minima are in x1 > 0), the unconstrained -pi one is excluded.
    branin = hpo.objectives.branin

    def constrained(config, r0=0, r1=1, seed=None):
        for report in branin(config):
            yield {**report, "c": -config["x1"]}
    searcher = BayesianOptimization(branin.space, constraints=["c"], seed=0, **FAST)
    results = hpo.Tuner(constrained, hpo.FIFOScheduler(searcher), backend="simulated",
                        metric="value", mode="min", constraints=["c"],
                        progress=False).run(max_trials=30)
    best = results.best()
    assert best["config"]["x1"] >= 0
    assert best["value"] < 0.397887 + 0.05
    df = results.df
    assert (df["c"] > 0).any()   # it did try infeasible points: best() left them out
    assert best["value"] == df.loc[df["c"] <= 0, "value"].min()


@pytest.mark.parametrize("make", [
    lambda s: hpo.Hyperband(s, eta=3, max_resource=9, seed=0),
    lambda s: hpo.SuccessiveHalving(s, eta=3, max_resource=9, seed=0)],
    ids=["Hyperband", "SuccessiveHalving"])
def test_runs_as_the_searcher_of_synchronous_schedulers(make):
    def curves(config, r0, r1, seed=None):
        for epoch in range(int(r0) + 1, int(r1) + 1):
            value = hpo.objectives.branin.fn([config["x1"], config["x2"]]) + 20 / epoch
            yield {"resource": epoch, "value": value, "cost": 10.0}
    searcher = BayesianOptimization(hpo.objectives.branin.space, seed=0, num_initial=4, **FAST)
    results = hpo.Tuner(curves, make(searcher), backend="simulated", n_workers=4,
                        metric="value", mode="min", progress=False).run(max_trials=30)
    assert (results.df["status"] != "failed").all()
    assert results.df["trial_id"].nunique() == 30
    assert searcher.model_level is not None
    configs = results.df.groupby("trial_id")[["config_x1", "config_x2"]].first()
    assert not configs.duplicated().any()


def test_a_run_survives_a_model_that_always_fails(monkeypatch, caplog):
    def broken_fit(*args, **kwargs):
        raise np.linalg.LinAlgError("not positive definite")
    monkeypatch.setattr(bayesopt.GaussianProcess, "fit", broken_fit)
    branin = hpo.objectives.branin
    searcher = BayesianOptimization(branin.space, seed=0, num_initial=2, random_fraction=0)
    with caplog.at_level(logging.WARNING, logger="d2lhpo.searchers.bayesopt"):
        results = hpo.Tuner(branin, hpo.FIFOScheduler(searcher), backend="simulated",
                            n_workers=2, progress=False).run(max_trials=8)
    assert results.df["trial_id"].nunique() == 8 and (results.df["status"] == "completed").all()
    # trials 0, 1: the initial design; trial 2 starts when only one result is in
    assert caplog.text.count("random configuration instead") == 5


def test_chooses_among_candidates_only():
    # A table of 40 recorded configurations: BO picks among them, never twice,
    # finds the best one sooner than their random order would, and ends when
    # all were suggested.
    rng = np.random.default_rng(0)
    space = {"x": hpo.uniform(0, 1), "n": hpo.randint(1, 5)}
    table = [{"x": float(x), "n": int(n)} for x, n in zip(rng.uniform(size=40),
                                                           rng.integers(1, 6, 40))]

    def fn(c):
        return {"y": (c["x"] - 0.3) ** 2 + 0.1 * (c["n"] - 2) ** 2}
    best = min(table, key=lambda c: fn(c)["y"])
    searcher = BayesianOptimization(space, metric="y", seed=0, num_initial=5, candidates=table)
    suggested = []
    for _ in range(40):
        config = searcher.suggest()
        assert config in table and config not in suggested
        suggested.append(config)
        searcher.observe(config, fn(config))
    assert searcher.suggest() is None
    assert suggested.index(best) < 15


def test_parego_weights_are_knowles_evenly_spread_sets():
    two = bayesopt.parego_weights(2)   # Knowles (2006): s = 10, 11 vectors
    np.testing.assert_allclose(sorted(two[:, 0]), np.arange(11) / 10)
    np.testing.assert_allclose(two.sum(axis=1), 1.0)
    for k, s, n in [(3, 4, 15), (4, 3, 20), (3, 2, 6)]:
        w = bayesopt.parego_weights(k, s if k == 3 and s == 2 else None)
        assert w.shape == (n, k) and len({tuple(row) for row in w}) == n
        np.testing.assert_allclose(w.sum(axis=1), 1.0)
        np.testing.assert_allclose(w * s, np.round(w * s), atol=1e-12)
    with pytest.raises(ValueError, match="s must"):
        bayesopt.parego_weights(2, 0)


def _two_objectives(log10_f2):
    def fn(c):
        f2 = (c["x"] - 1) ** 2 + c["y"] ** 2 + 0.01
        return {"f1": c["x"] ** 2 + c["y"] ** 2, "f2": np.log10(f2) if log10_f2 else f2}
    return fn


def test_parego_draws_its_weights_from_the_fixed_set(monkeypatch):
    drawn = []

    def recording(Y, weights, rho=0.05):
        drawn.append(tuple(weights))
        return parego_scalarize(Y, weights, rho)
    monkeypatch.setattr(bayesopt, "parego_scalarize", recording)
    space = {"x": hpo.uniform(-1, 2), "y": hpo.uniform(-1, 1)}
    searcher = BayesianOptimization(space, metric=["f1", "f2"], mode="min", seed=0, **FAST)
    _minimize(searcher, _two_objectives(False), 14)
    allowed = {tuple(w) for w in bayesopt.parego_weights(2)}
    assert len(drawn) == 14 - searcher.num_initial and set(drawn) <= allowed


def test_log_objectives_model_the_log10_of_the_values():
    # Reference: the same searcher fed log10(f2) by hand makes the same suggestions.
    space = {"x": hpo.uniform(-1, 2), "y": hpo.uniform(-1, 1)}
    logged = BayesianOptimization(space, metric=["f1", "f2"], mode="min", seed=0,
                                  log_objectives=["f2"], **FAST)
    by_hand = BayesianOptimization(space, metric=["f1", "f2"], mode="min", seed=0, **FAST)
    configs = [c for c, _ in _minimize_pairs(logged, _two_objectives(False), 10)]
    assert configs == [c for c, _ in _minimize_pairs(by_hand, _two_objectives(True), 10)]
    with pytest.raises(ValueError, match="log_objectives.*'f3'"):
        BayesianOptimization(space, metric=["f1", "f2"], log_objectives=["f3"])
    with pytest.raises(ValueError, match="'f2'.*positive.*0.0"):
        logged.observe({"x": 0.5, "y": 0.0}, {"f1": 1.0, "f2": 0.0})


def _sklearn_posterior(params, X, y, Xt):
    """scikit-learn's posterior mean and std of f, hyperparameters fixed to ``params``
    (standardized units: the targets' mean and std taken out, then ``params.mean``)."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    kernel = (ConstantKernel(params.variance, "fixed")
              * Matern(params.lengthscales, "fixed", nu=2.5) + WhiteKernel(params.noise, "fixed"))
    z = (y - y.mean()) / y.std()
    sk = GaussianProcessRegressor(kernel, alpha=0.0, optimizer=None).fit(X, z - params.mean)
    mean, std = sk.predict(Xt, return_std=True)   # std of a new observation: noise included
    return (y.mean() + y.std() * (params.mean + mean),
            y.std() * np.sqrt(std ** 2 - params.noise))


def test_hyperparameters_are_refitted_once_the_data_grew_by_refit_growth():
    # Between refits the GP is the exact posterior with the last fit's
    # hyperparameters (scikit-learn's, with the kernel fixed to them) on all the data.
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(50, 2))
    y = np.sin(5 * X[:, 0]) + X[:, 1] ** 2 + 0.01 * rng.standard_normal(50)
    Xt, none = rng.uniform(size=(7, 2)), X[:0]
    searcher = BayesianOptimization(SPACE_2D, metric="y", seed=0, refit_growth=0.1)
    searcher._fit("objective", X[:40], y[:40], none)
    fitted = searcher._params["objective"]
    for n in (40, 41, 43):   # fewer than 1.1 * 40 = 44 points: the same hyperparameters
        gp = searcher._fit("objective", X[:n], y[:n], none)
        assert gp.params is fitted
        mean, std = gp.predict(Xt)
        mean_sk, std_sk = _sklearn_posterior(fitted, X[:n], y[:n], Xt)
        np.testing.assert_allclose(mean, mean_sk, atol=1e-6)
        np.testing.assert_allclose(std, std_sk, atol=1e-6)
    assert searcher._fit("objective", X[:44], y[:44], none).params is not fitted
    refitted = searcher._params["objective"]
    # Other data (not the old points plus new ones) are refitted at once.
    assert searcher._fit("objective", X[1:45], y[1:45], none).params is not refitted
    # Below 30 observations, and with refit_growth=0, every fit re-optimizes.
    for growth, n in ((0.1, 28), (0.0, 40)):
        searcher = BayesianOptimization(SPACE_2D, metric="y", seed=0, refit_growth=growth)
        first = searcher._fit("objective", X[:n], y[:n], none).params
        assert searcher._fit("objective", X[:n + 1], y[:n + 1], none).params is not first


def test_a_stale_fit_suggests_and_fantasizes_like_a_fresh_one():
    # A run with refits every 10% of growth still finds Branin's minimum, with
    # asynchronous workers (fantasies on a stale GP) too.
    branin = hpo.objectives.branin
    for workers in (1, 3):
        searcher = BayesianOptimization(branin.space, metric="value", mode="min", seed=0,
                                        refit_growth=0.1, **FAST)
        tuner = hpo.Tuner(branin, hpo.FIFOScheduler(searcher), backend="simulated",
                          n_workers=workers, seed=0, progress=False)
        df = tuner.run(max_trials=45).df
        assert branin.regret(df["value"].min()) < 0.05
        assert searcher.n_fallbacks == 0


def test_sobol_candidates_are_shifted_sobol_nets():
    from scipy.stats import qmc

    from d2lhpo.searchers.acquisition_optimizer import sobol_points
    rng = np.random.default_rng(0)
    for dim in (2, 6):
        P = sobol_points(dim, 256, rng)
        assert P.shape == (256, dim) and P.min() >= 0 and P.max() < 1
        # A digital shift keeps a net: each coordinate has one point in each
        # 1/256 of [0, 1), as scipy's unscrambled and scrambled Sobol points do.
        for j in range(dim):
            np.testing.assert_array_equal(np.sort(np.floor(P[:, j] * 256)), np.arange(256))
        scrambled = qmc.Sobol(dim, scramble=True, seed=0).random(256)
        assert qmc.discrepancy(P) < 1.5 * qmc.discrepancy(scrambled)
        assert qmc.discrepancy(P) < 0.2 * qmc.discrepancy(rng.uniform(size=(256, dim)))
    assert not np.array_equal(sobol_points(2, 256, rng), sobol_points(2, 256, rng))
    np.testing.assert_array_equal(sobol_points(3, 64, np.random.default_rng(5)),
                                  sobol_points(3, 64, np.random.default_rng(5)))


def _counted_bowl(peak, curvature):
    """An anisotropic bowl -sum(c (x - peak)^2) and a count of its evaluations."""
    calls = []

    def score(X, grad=False):
        calls.append(len(X))
        values = -np.sum(curvature * (X - peak) ** 2, axis=1)
        return (values, -2 * curvature * (X - peak)) if grad else values
    return score, calls


def test_the_polish_in_lengthscale_units_finds_the_peak_with_a_short_first_step():
    from d2lhpo.searchers.acquisition_optimizer import local_maxima
    peak, curvature = np.array([0.62, 0.35]), np.array([400.0, 4.0])   # lengthscales 0.05, 0.5
    X0 = np.array([[0.5, 0.5], [0.7, 0.2], [0.6, 0.4]])
    step = bayesopt.POLISH_STEP * np.array([0.05, 0.5])
    score, calls = _counted_bowl(peak, curvature)
    X = local_maxima(score, X0, maxiter=bayesopt.POLISH_ITERATIONS, step=step)
    np.testing.assert_allclose(X, np.tile(peak, (3, 1)), atol=1e-6)   # the closed-form peak
    # L-BFGS-B's first step is one unit: one evaluation past the start is
    # enough in these units, several in the box's (a line search backs off).
    first = {}
    for name, s in (("box", None), ("lengthscales", step)):
        score, calls = _counted_bowl(peak, curvature)
        local_maxima(score, X0, maxiter=1, step=s)
        first[name] = len(calls)
    assert first["lengthscales"] == 2 < first["box"]
    # Without a step, scipy's L-BFGS-B on the box itself, as before there was one.
    score, _ = _counted_bowl(peak, curvature)

    def negated(flat):
        values, grads = score(flat.reshape(X0.shape), grad=True)
        return -np.sum(values), -grads.ravel()
    box = minimize(negated, X0.ravel(), jac=True, method="L-BFGS-B",
                   bounds=[(0.0, 1.0)] * X0.size, options={"maxiter": 3})
    np.testing.assert_array_equal(local_maxima(score, X0, 3), box.x.reshape(X0.shape))


@pytest.mark.parametrize("step", [[0.1], [0.1, 0.0], [0.1, 1.5], [0.1, -0.2], "0.1"])
def test_a_bad_polish_step_is_refused(step):
    space = Space(SPACE_2D)
    with pytest.raises(ValueError, match=r"step must hold 2 numbers in \(0, 1\].*"
                                         + repr(step).replace("[", r"\[").replace("]", r"\]")):
        maximize_acquisition(_bowl(np.array([0.3, 0.3])), space, np.random.default_rng(0),
                             step=step)


def test_bo_polishes_in_units_of_the_gp_lengthscales(monkeypatch):
    # The searcher hands maximize_acquisition its polish settings: 15
    # iterations, in units of 0.003 times the objective GP's lengthscales (at most 1).
    from d2lhpo.searchers import gp as gp_module
    seen, fitted = {}, []
    real_fit, real_maximize = gp_module.fit_hyperparameters, bayesopt.maximize_acquisition

    def fit_spy(*args, **kwargs):
        fitted.append(real_fit(*args, **kwargs))
        return fitted[-1]

    def maximize_spy(*args, **kwargs):
        seen.update(kwargs)
        return real_maximize(*args, **kwargs)
    monkeypatch.setattr(gp_module, "fit_hyperparameters", fit_spy)
    monkeypatch.setattr(bayesopt, "maximize_acquisition", maximize_spy)
    branin = hpo.objectives.branin
    searcher = BayesianOptimization(branin.space, metric="value", mode="min", seed=0, **FAST)
    for _ in range(8):
        config = searcher.suggest()
        searcher.observe(config, next(branin(config)))
    assert seen["maxiter"] == bayesopt.POLISH_ITERATIONS == 15
    np.testing.assert_allclose(seen["step"], 0.003 * np.minimum(fitted[-1].lengthscales, 1.0))
