"""Acquisition functions against closed forms (scipy.stats.norm) and finite differences."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from d2lhpo.searchers.acquisition import (expected_improvement, log_expected_improvement, log_h,
                                          log_probability_of_feasibility,
                                          lower_confidence_bound, probability_of_feasibility)

MEAN = np.array([0.3, -1.0, 2.0, 0.0, 5.0])
STD = np.array([0.5, 2.0, 0.1, 1.0, 0.7])
BEST = 0.1


def _ei_closed_form(mean, std, best):
    z = (best - mean) / std
    return (best - mean) * norm.cdf(z) + std * norm.pdf(z)


def test_expected_improvement_closed_form():
    np.testing.assert_allclose(expected_improvement(MEAN, STD, BEST),
                               _ei_closed_form(MEAN, STD, BEST), rtol=1e-12, atol=1e-300)


def test_expected_improvement_is_the_mean_improvement():
    rng = np.random.default_rng(0)
    samples = rng.normal(0.3, 0.5, size=400_000)
    assert expected_improvement(0.3, 0.5, 0.1) == pytest.approx(
        np.maximum(0.1 - samples, 0).mean(), rel=1e-2)


def test_log_ei_is_log_of_ei_where_ei_is_representable():
    mean = np.linspace(-3, 3, 25)
    np.testing.assert_allclose(log_expected_improvement(mean, 0.7, 0.2),
                               np.log(_ei_closed_form(mean, 0.7, 0.2)), rtol=1e-10)


def _log_h_asymptotic(z):
    # Mills ratio expansion: phi + z Phi = phi(z) / z^2 (1 - 3/z^2 + 15/z^4 - 105/z^6 ...)
    return norm.logpdf(z) - 2 * np.log(-z) + np.log1p(-3 / z ** 2 + 15 / z ** 4 - 105 / z ** 6)


@pytest.mark.parametrize("z", [-40.0, -100.0, -1e4])
def test_log_ei_is_finite_and_accurate_far_below_the_incumbent(z):
    assert expected_improvement(-z, 1.0, 0.0) == 0.0          # plain EI underflows
    value = log_expected_improvement(-z, 1.0, 0.0)
    assert np.isfinite(value)
    assert value == pytest.approx(_log_h_asymptotic(z), rel=1e-9)
    assert log_expected_improvement(-z + 1, 1.0, 0.0) < value   # still has a slope


def test_log_h_is_continuous_at_the_branch_points():
    for z in (-1.0, -1 / math.sqrt(np.finfo(float).eps)):
        left, right = log_h(z * (1 + 1e-9)), log_h(z * (1 - 1e-9))
        assert left == pytest.approx(right, rel=1e-6)
    zs = np.linspace(-60, 5, 2001)
    assert np.all(np.diff(log_h(zs)) > 0)


def _check_derivatives(fn, mean, std, eps=1e-6):
    value, d_mean, d_std = fn(mean, std, grad=True)
    np.testing.assert_allclose(value, fn(mean, std))
    numeric_mean = (fn(mean + eps, std) - fn(mean - eps, std)) / (2 * eps)
    numeric_std = (fn(mean, std + eps) - fn(mean, std - eps)) / (2 * eps)
    np.testing.assert_allclose(d_mean, numeric_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_std, numeric_std, rtol=1e-5, atol=1e-6)


def test_log_ei_derivatives():
    mean = np.array([0.3, -1.0, 2.0, 0.0, 5.0, 30.0, 80.0])
    std = np.array([0.5, 2.0, 0.1, 1.0, 0.7, 1.0, 2.0])       # z down to -40
    _check_derivatives(lambda m, s, grad=False: log_expected_improvement(m, s, BEST, grad), mean,
                       std)


def test_lower_confidence_bound():
    np.testing.assert_allclose(lower_confidence_bound(MEAN, STD, beta=1.5), MEAN - 1.5 * STD)
    _check_derivatives(lambda m, s, grad=False: lower_confidence_bound(m, s, 1.5, grad), MEAN,
                       STD)


def test_probability_of_feasibility():
    np.testing.assert_allclose(probability_of_feasibility(MEAN, STD, 0.5),
                               norm.cdf(0.5, MEAN, STD), rtol=1e-12)
    np.testing.assert_allclose(log_probability_of_feasibility(MEAN, STD, 0.5),
                               norm.logcdf(0.5, MEAN, STD), rtol=1e-12)
    assert np.isfinite(log_probability_of_feasibility(50.0, 1.0))
    _check_derivatives(lambda m, s, grad=False: log_probability_of_feasibility(m, s, 0.5, grad),
                       np.append(MEAN, 30.0), np.append(STD, 1.0))


def test_log_h_on_a_few_points_equals_its_values_on_many():
    # A few points take another code path (every branch everywhere) than
    # many (each branch on its own points); the numbers are the same.
    z = np.random.default_rng(0).uniform(-40, 5, 500)
    z[:3] = [-1.0, -1.0 - 1e-12, -1.0 + 1e-12]
    many = log_h(z)
    for start in range(0, 500, 5):
        assert np.array_equal(log_h(z[start:start + 5]), many[start:start + 5])
