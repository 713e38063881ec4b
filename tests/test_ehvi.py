"""EHVI: the hypervolume improvement against a brute-force area count and
d2lhpo's hypervolume_2d, its closed-form expectation against Monte Carlo."""

import numpy as np
import pytest

import d2lhpo as hpo
from d2lhpo.searchers.ehvi import (expected_hypervolume_improvement,
                                   hypervolume_improvement_2d,
                                   log_expected_hypervolume_improvement)

FRONT = np.array([[0.1, 0.8], [0.3, 0.5], [0.6, 0.2], [0.7, 0.9]])   # the last is dominated
REFERENCE = [1.0, 1.0]


def grid_area(points, reference, n=800):
    """Brute force: the share of an n x n grid of cell centres in [0, ref] dominated."""
    g = (np.arange(n) + 0.5) / n
    u, v = np.meshgrid(g * reference[0], g * reference[1])
    dominated = np.zeros_like(u, dtype=bool)
    for p in points:
        dominated |= (u >= p[0]) & (v >= p[1])
    return dominated.mean() * reference[0] * reference[1]


def test_improvement_matches_a_grid_count():
    new = np.array([[0.2, 0.3], [0.05, 0.95], [0.65, 0.1], [0.9, 0.9], [0.4, 0.6]])
    hvi = hypervolume_improvement_2d(new, FRONT, REFERENCE)
    base = grid_area(FRONT, REFERENCE)
    brute = [grid_area(np.vstack([FRONT, p]), REFERENCE) - base for p in new]
    np.testing.assert_allclose(hvi, brute, atol=3e-3)
    assert hvi[3] == 0 and hvi[4] == 0   # dominated points add nothing


def test_improvement_matches_hypervolume_2d_of_the_union():
    rng = np.random.default_rng(0)
    front, new = rng.uniform(size=(12, 2)), rng.uniform(-0.2, 1.2, size=(50, 2))
    base = hpo.hypervolume_2d(front, REFERENCE)
    expected = [hpo.hypervolume_2d(np.vstack([front, p]), REFERENCE) - base for p in new]
    np.testing.assert_allclose(hypervolume_improvement_2d(new, front, REFERENCE), expected,
                               atol=1e-12)


def test_empty_front_and_points_beyond_the_reference():
    # with no front, a point adds its whole box; beyond the reference, nothing
    np.testing.assert_allclose(
        hypervolume_improvement_2d([[0.25, 0.5], [1.5, 0.0]], np.zeros((0, 2)), REFERENCE),
        [0.75 * 0.5, 0.0])
    # a front point outside the reference box counts for nothing
    np.testing.assert_allclose(
        hypervolume_improvement_2d([[0.5, 0.5]], [[1.2, 0.1]], REFERENCE), [0.25])


def test_expectation_matches_monte_carlo():
    rng = np.random.default_rng(1)
    mean = np.array([[0.2, 0.4], [0.5, 0.5], [0.9, 0.95], [0.0, 0.0]])
    std = np.array([[0.1, 0.2], [0.3, 0.05], [0.1, 0.1], [0.02, 0.5]])
    exact = expected_hypervolume_improvement(mean, std, FRONT, REFERENCE)
    for m, s, e in zip(mean, std, exact):
        samples = m + s * rng.standard_normal((200_000, 2))
        mc = hypervolume_improvement_2d(samples, FRONT, REFERENCE)
        assert abs(mc.mean() - e) < 4 * mc.std() / np.sqrt(len(mc)) + 1e-6, (m, s, e)


def test_log_ehvi_is_the_log_and_stays_finite_far_away():
    mean = np.array([[0.2, 0.4], [0.5, 0.5], [0.9, 0.95]])
    std = np.full_like(mean, 0.1)
    np.testing.assert_allclose(
        log_expected_hypervolume_improvement(mean, std, FRONT, REFERENCE),
        np.log(expected_hypervolume_improvement(mean, std, FRONT, REFERENCE)), rtol=1e-9)
    far = log_expected_hypervolume_improvement([[30.0, 30.0], [40.0, 40.0]],
                                               [[1.0, 1.0]] * 2, FRONT, REFERENCE)
    assert np.all(np.isfinite(far)) and far[0] > far[1]   # still ranks points
    assert expected_hypervolume_improvement([[30.0, 30.0]], [[1.0, 1.0]], FRONT,
                                            REFERENCE)[0] == 0.0


def two_objectives(config):
    x, y = config["x"], config["y"]
    return {"f1": x, "f2": (1 - np.sqrt(x)) + 0.5 * y}   # ZDT1-like: front at y = 0


SPACE = {"x": hpo.uniform(0, 1), "y": hpo.uniform(0, 1)}


def test_searcher_finds_points_near_the_front():
    searcher = hpo.EHVI(SPACE, metric=["f1", "f2"], reference=[1.1, 1.6], seed=0,
                        n_candidates=256)
    ys = []
    for _ in range(20):
        config = searcher.suggest()
        searcher.observe(config, two_objectives(config))
        ys.append(config["y"])
    assert np.median(ys[10:]) < 0.2 < np.median(ys[:4])   # the model moves onto the front


def test_searcher_on_candidates_never_repeats_and_flips_max():
    rng = np.random.default_rng(0)
    configs = [{"x": float(a), "y": float(b)} for a, b in rng.uniform(size=(30, 2))]
    searcher = hpo.EHVI(SPACE, metric=["f1", "f2"], mode=["min", "max"], seed=0,
                        candidates=configs, num_initial=4)
    seen = []
    for _ in range(30):
        config = searcher.suggest()
        searcher.observe(config, two_objectives(config))
        seen.append((config["x"], config["y"]))
    assert len(set(seen)) == 30 and searcher.suggest() is None


@pytest.mark.parametrize("kwargs, match", [
    ({"metric": "f1"}, "metric must be a list of two"),
    ({"metric": ["f1", "f2", "f3"]}, "metric must be a list of two"),
    ({"metric": ["f1", "f2"], "reference": [1.0]}, r"reference must be 2 finite .*\[1.0\]"),
    ({"metric": ["f1", "f2"], "reference": [1.0, np.nan]}, "reference must be 2 finite"),
    ({"metric": ["f1", "f2"], "mode": ["min"]}, "mode must be a list"),
])
def test_bad_arguments_raise_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hpo.EHVI(SPACE, **kwargs)


def test_arguments_it_does_not_use_raise():
    with pytest.raises(TypeError, match="constraints"):
        hpo.EHVI(SPACE, metric=["f1", "f2"], constraints=["c"])
