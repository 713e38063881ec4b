"""Cost-aware BO: EI per second against scipy.stats.norm, its reduction to
EI for a constant cost, and the searcher's preference for cheap points."""

import numpy as np
import pytest
from scipy.stats import norm

import d2lhpo as hpo
from d2lhpo.searchers.cost_aware import (expected_improvement_per_second,
                                         log_expected_improvement_per_second)


def test_closed_form_against_scipy():
    mean, std, best = np.array([0.3, 0.0, -0.5]), np.array([0.2, 1.0, 0.1]), 0.1
    cost = np.array([2.0, 30.0, 0.5])
    z = (best - mean) / std
    ei = (best - mean) * norm.cdf(z) + std * norm.pdf(z)
    np.testing.assert_allclose(expected_improvement_per_second(mean, std, best, cost),
                               ei / cost, rtol=1e-12)
    np.testing.assert_allclose(
        log_expected_improvement_per_second(mean, std, best, np.log(cost), exponent=0.5),
        np.log(ei / np.sqrt(cost)), rtol=1e-9)


def test_reduces_to_ei_for_a_constant_cost_and_exponent_zero():
    mean, std = np.linspace(-1, 1, 7), np.linspace(0.1, 1, 7)
    log_ei = hpo.log_expected_improvement(mean, std, 0.0)
    per_second = log_expected_improvement_per_second(mean, std, 0.0, np.full(7, 3.0))
    np.testing.assert_allclose(per_second, log_ei - 3.0)   # same argmax, shifted
    np.testing.assert_allclose(
        log_expected_improvement_per_second(mean, std, 0.0, np.arange(7.0), exponent=0), log_ei)
    value, dmean, dstd = log_expected_improvement_per_second(mean, std, 0.0, 1.0, grad=True)
    ref = hpo.log_expected_improvement(mean, std, 0.0, grad=True)
    np.testing.assert_allclose(value, ref[0] - 1.0)
    np.testing.assert_allclose(dmean, ref[1]) and np.testing.assert_allclose(dstd, ref[2])


SPACE = {"x": hpo.uniform(0, 1), "y": hpo.uniform(0, 1)}


def objective(config, cost_of_x=True):
    # the minimum lies on the line x + y = 1: cheap at small x when costs vary
    value = (config["x"] + config["y"] - 1) ** 2
    seconds = float(np.exp(5 * config["x"])) if cost_of_x else 2.0
    return {"value": value, "train_s": seconds}


def drive(searcher, n, cost_of_x=True):
    configs = []
    for _ in range(n):
        config = searcher.suggest()
        searcher.observe(config, objective(config, cost_of_x))
        configs.append(config)
    return configs


def test_constant_cost_suggests_what_bo_suggests():
    kwargs = {"metric": "value", "seed": 3, "n_candidates": 256}
    cost_aware = hpo.CostAwareBO(SPACE, cost="train_s", **kwargs)
    plain = hpo.BayesianOptimization(SPACE, **kwargs)
    history = drive(plain, 6, cost_of_x=False)
    for config in drive(cost_aware, 6, cost_of_x=False):   # the same design, then ...
        assert config == history.pop(0)
    assert cost_aware.suggest() == plain.suggest()        # ... the same model step


def test_prefers_cheap_points_when_cost_varies():
    runs = {}
    for cls, extra in [(hpo.BayesianOptimization, {}), (hpo.CostAwareBO, {"cost": "train_s"})]:
        xs = [np.mean([c["x"] for c in drive(cls(SPACE, metric="value", seed=s,
                                                 n_candidates=256, **extra), 16)[4:]])
              for s in range(3)]
        runs[cls.__name__] = np.mean(xs)
    assert runs["CostAwareBO"] < runs["BayesianOptimization"] - 0.1, runs


def test_missing_or_bad_cost_raises():
    searcher = hpo.CostAwareBO(SPACE, metric="value", cost="train_s", seed=0)
    config = searcher.suggest()
    with pytest.raises(ValueError, match="no cost metric 'train_s'"):
        searcher.observe(config, {"value": 1.0})
    with pytest.raises(ValueError, match="finite seconds > 0, got 0"):
        searcher.observe(config, {"value": 1.0, "train_s": 0})


@pytest.mark.parametrize("kwargs, error, match", [
    ({"cost_exponent": -1}, ValueError, "cost_exponent must be .* got -1"),
    ({"cost_exponent": np.inf}, ValueError, "cost_exponent must be .* got inf"),
    ({"cost_exponent": True}, ValueError, "cost_exponent must be .* got True"),
    ({"cost": ""}, TypeError, "cost must be the name of a metric, got ''"),
    ({"cost": "value"}, ValueError, "cost must be another metric .* got 'value'"),
    ({"acquisition": "lcb"}, ValueError, "acquisition='ei', got 'lcb'"),
    ({"metric": ["a", "b"]}, ValueError, "one metric, got metric=\\['a', 'b'\\]"),
])
def test_bad_arguments_raise_at_construction(kwargs, error, match):
    args = {"metric": "value", "cost": "train_s", **kwargs}
    with pytest.raises(error, match=match):
        hpo.CostAwareBO(SPACE, **args)
