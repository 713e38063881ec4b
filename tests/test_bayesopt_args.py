"""Bayesian optimization refuses bad arguments at construction, and a model
that fails is never silent (issue 10, item 8)."""

import math
import warnings

import numpy as np
import pytest

import d2lhpo as hpo
from d2lhpo.searchers import bayesopt
from d2lhpo.searchers.bayesopt import BayesianOptimization
from d2lhpo.searchers.gp import GaussianProcess

SPACE = {"x": hpo.uniform(0, 1), "y": hpo.uniform(0, 1)}

# argument -> values that must be refused (each with TypeError or ValueError)
BAD = {
    "n_candidates": [1.5, -1, "1024", 0, math.nan, True, 1000, 1024.0],
    "n_local": [1.5, -1, "5", math.nan, True, 5.0],
    "n_starts": [1.5, -1, "2", 0, math.nan, True, 2.0],
    "num_initial": [1.5, -1, "4", 0, math.nan, True, 4.0],
    "beta": [-1, "2", math.nan, math.inf, True, None],
    "refit_growth": [-0.1, "0.1", math.nan, math.inf, True, None],
    "constraints": [5, {"c": 1}, [1], ["c", None]],
    "candidates": ["abc", 5, {"x": 0.5, "y": 0.5}],
}


@pytest.mark.parametrize("name,value", [(n, v) for n, vs in BAD.items() for v in vs])
def test_bad_numbers_are_refused_at_construction_naming_the_argument(name, value):
    with pytest.raises((TypeError, ValueError)) as info:
        BayesianOptimization(SPACE, metric="f", seed=0, **{name: value})
    message = str(info.value)
    assert name in message
    if name != "candidates":   # a bad candidate list is shown by its type
        assert repr(value) in message


@pytest.mark.parametrize("name,value", [
    ("n_candidates", 1), ("n_candidates", 2 ** 12), ("n_candidates", np.int64(256)),
    ("n_candidates", None),
    ("n_local", 0), ("n_starts", 1), ("num_initial", 1), ("beta", 0), ("beta", 0.5),
    ("beta", np.float64(3.0)), ("refit_growth", 0), ("refit_growth", 2.5),
    ("constraints", ("c",)), ("constraints", "c")])
def test_edge_values_are_accepted_and_work(name, value):
    searcher = BayesianOptimization(SPACE, metric="f", seed=0,
                                    **{"num_initial": 2, "n_candidates": 64, name: value})
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no fallback warning: the model works
        for _ in range(4):
            config = searcher.suggest()
            searcher.observe(config, {"f": (config["x"] - 0.3) ** 2 + config["y"], "c": -1.0})
    assert searcher.n_fallbacks == 0


def test_gaussian_process_refuses_bad_arguments():
    for value in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match=f"n_starts.*{value!r}"):
            GaussianProcess(n_starts=value)
    with pytest.raises(TypeError, match="params"):
        GaussianProcess(params={"mean": 0.0})


def _observed(n=4):
    # random_fraction=0: every suggestion after the design asks the model
    searcher = BayesianOptimization({"x": hpo.uniform(0, 1)}, metric="y", seed=0, num_initial=2,
                                    random_fraction=0)
    for x in np.linspace(0.1, 0.9, n):
        searcher.observe({"x": x}, {"y": x})
    return searcher


def test_a_numerical_failure_warns_once_and_is_counted(monkeypatch):
    def broken_fit(*args, **kwargs):
        raise np.linalg.LinAlgError("not positive definite")
    monkeypatch.setattr(bayesopt.GaussianProcess, "fit", broken_fit)
    searcher = _observed()
    with pytest.warns(RuntimeWarning, match="LinAlgError.*n_fallbacks") as record:
        configs = [searcher.suggest() for _ in range(3)]
    assert len([w for w in record if issubclass(w.category, RuntimeWarning)]) == 1
    assert searcher.n_fallbacks == 3
    assert all(0 <= c["x"] <= 1 for c in configs)
    # Another searcher warns again: once per searcher, not once per process.
    with pytest.warns(RuntimeWarning, match="n_fallbacks"):
        _observed().suggest()


@pytest.mark.parametrize("error", [TypeError("a bug"), IndexError("a bug"),
                                   KeyError("a bug"), AttributeError("a bug")])
def test_a_bug_in_the_model_is_not_hidden_behind_random_search(monkeypatch, error):
    def buggy_fit(*args, **kwargs):
        raise error
    monkeypatch.setattr(bayesopt.GaussianProcess, "fit", buggy_fit)
    searcher = _observed()
    with pytest.raises(type(error), match="a bug"):
        searcher.suggest()
    assert searcher.n_fallbacks == 0


def test_huge_values_fall_back_with_a_warning_instead_of_ending_the_run():
    # Targets whose mean overflows (inf, then NaN once standardized): the model
    # cannot be fitted; the suggestion is random, the searcher says so, the run goes on.
    searcher = BayesianOptimization({"x": hpo.uniform(0, 1)}, metric="y", seed=0, num_initial=2)
    for x in (0.2, 0.5, 0.8):
        searcher.observe({"x": x}, {"y": 1.7e308})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        config = searcher.suggest()
    assert 0 <= config["x"] <= 1
    assert searcher.n_fallbacks == 1
    assert len([w for w in record if "n_fallbacks" in str(w.message)]) == 1


def test_fewer_sobol_candidates_by_default_in_one_and_two_dimensions():
    for dim, expected in ((1, 256), (2, 256), (3, 1024), (6, 1024)):
        space = {f"x{i}": hpo.uniform(0, 1) for i in range(dim)}
        assert BayesianOptimization(space, metric="f", seed=0).n_candidates == expected
        assert BayesianOptimization(space, metric="f", seed=0,
                                    n_candidates=64).n_candidates == 64
