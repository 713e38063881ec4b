"""The GP against scikit-learn's GaussianProcessRegressor (the reference)."""

import warnings

import numpy as np
import pytest
from scipy.optimize import approx_fprime, minimize, minimize_scalar
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from d2lhpo.searchers import gp as gp_module
from d2lhpo.searchers.gp import (BOUNDS, GaussianProcess, GPParams, condition,
                                 fit_hyperparameters, log_marginal_likelihood, log_prior,
                                 inverse_factor, matern52, matern52_of_distance, posterior,
                                 profiled_mean, theta_bounds)


def _data(n=25, d=3, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, d))
    y = np.sin(6 * X[:, 0]) + X[:, 1] ** 2 + 3.0 + noise * rng.standard_normal(n)
    return X, y, rng.uniform(size=(15, d))


def _sklearn(params, normalize_y):
    kernel = (ConstantKernel(params.variance, "fixed")
              * Matern(params.lengthscales, "fixed", nu=2.5)
              + WhiteKernel(params.noise, "fixed"))
    return GaussianProcessRegressor(kernel, alpha=0.0, optimizer=None, normalize_y=normalize_y)


PARAMS = GPParams(mean=0.0, variance=1.7, lengthscales=np.array([0.3, 0.6, 2.0]), noise=0.01)


def test_kernel_matches_sklearn():
    X, _, Xt = _data()
    reference = (ConstantKernel(1.7) * Matern(PARAMS.lengthscales, nu=2.5))(X, Xt)
    np.testing.assert_allclose(matern52(X, Xt, PARAMS.lengthscales, 1.7), reference, atol=1e-12)


def test_posterior_matches_sklearn_with_standardized_targets():
    X, y, Xt = _data()
    sk = _sklearn(PARAMS, normalize_y=True).fit(X, y)
    mean_sk, std_sk = sk.predict(Xt, return_std=True)   # includes the WhiteKernel noise
    gp = GaussianProcess(PARAMS).fit(X, y)
    mean, std = gp.predict(Xt)
    np.testing.assert_allclose(mean, mean_sk, atol=1e-6)
    np.testing.assert_allclose(std ** 2 + PARAMS.noise * np.var(y), std_sk ** 2, atol=1e-6)


def test_pure_posterior_matches_sklearn_with_a_constant_mean():
    X, y, Xt = _data()
    params = GPParams(3.2, PARAMS.variance, PARAMS.lengthscales, PARAMS.noise)
    sk = _sklearn(params, normalize_y=False).fit(X, y - 3.2)
    mean_sk, std_sk = sk.predict(Xt, return_std=True)
    mean, var = posterior(X, y, params, Xt)
    np.testing.assert_allclose(mean, mean_sk + 3.2, atol=1e-6)
    np.testing.assert_allclose(var + params.noise, std_sk ** 2, atol=1e-6)
    gp = GaussianProcess(params, standardize=False).fit(X, y)
    np.testing.assert_allclose(gp.predict(Xt)[0], mean_sk + 3.2, atol=1e-6)


def test_log_marginal_likelihood_matches_sklearn():
    X, y, _ = _data()
    z = (y - y.mean()) / y.std()
    sk = _sklearn(PARAMS, normalize_y=True).fit(X, y)
    assert log_marginal_likelihood(PARAMS.theta, X, z) == pytest.approx(
        sk.log_marginal_likelihood_value_, abs=1e-8)


@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_match_finite_differences(seed):
    X, y, _ = _data(seed=seed)
    z = (y - y.mean()) / y.std()
    theta = PARAMS.theta + np.random.default_rng(seed).normal(0, 0.3, size=6)
    _, grad = log_marginal_likelihood(theta, X, z, grad=True)
    numeric = approx_fprime(theta, lambda t: log_marginal_likelihood(t, X, z), 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)
    _, grad = log_prior(theta, grad=True)
    np.testing.assert_allclose(grad, approx_fprime(theta, log_prior, 1e-6), atol=1e-5)


def _sklearn_fit(X, y):
    kernel = (ConstantKernel(1.0, BOUNDS["variance"])
              * Matern(np.ones(X.shape[1]), BOUNDS["lengthscale"], nu=2.5)
              + WhiteKernel(1e-3, BOUNDS["noise"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = GaussianProcessRegressor(kernel, alpha=0.0, normalize_y=True, n_restarts_optimizer=5,
                                      random_state=0).fit(X, y)
    p = sk.kernel_.get_params()
    return GPParams(0.0, p["k1__k1__constant_value"], np.asarray(p["k1__k2__length_scale"]),
                    p["k2__noise_level"])


@pytest.mark.parametrize("seed,noise", [(0, 0.0), (1, 0.2)])
def test_fit_is_no_worse_than_sklearn(seed, noise):
    X, y, _ = _data(n=30, seed=seed, noise=noise)
    z = (y - y.mean()) / y.std()
    reference = _sklearn_fit(X, y)    # sklearn has no mean: ours is 0 in standardized units
    ours = fit_hyperparameters(X, z, prior=False, seed=0)
    assert (log_marginal_likelihood(ours.theta, X, z)
            >= log_marginal_likelihood(reference.theta, X, z) - 1e-6)

    def log_posterior(p):
        return log_marginal_likelihood(p.theta, X, z) + log_prior(p.theta)
    assert log_posterior(fit_hyperparameters(X, z, seed=0)) >= log_posterior(reference) - 1e-6


def test_predict_gradients_match_finite_differences():
    X, y, Xt = _data()
    gp = GaussianProcess(seed=0).fit(X, y)
    mean, std, dmean, dstd = gp.predict(Xt[:3], grad=True)
    for i in range(3):
        np.testing.assert_allclose(
            dmean[i], approx_fprime(Xt[i], lambda x: gp.predict(x[None])[0][0], 1e-7), rtol=1e-4,
            atol=1e-5)
        np.testing.assert_allclose(
            dstd[i], approx_fprime(Xt[i], lambda x: gp.predict(x[None])[1][0], 1e-7), rtol=1e-4,
            atol=1e-5)


def test_fantasies_keep_the_mean_and_shrink_the_std():
    X, y, Xt = _data()
    gp = GaussianProcess(GPParams(0.0, 1.0, PARAMS.lengthscales, 1e-6)).fit(X, y)
    believer = gp.fantasize(Xt[:2])
    np.testing.assert_allclose(believer.predict(Xt)[0], gp.predict(Xt)[0], atol=1e-8)
    assert np.all(believer.predict(Xt[:2])[1] < 0.2 * gp.predict(Xt[:2])[1])
    assert believer.params is gp.params


def test_fit_survives_duplicates_and_constant_targets():
    X = np.tile(np.random.default_rng(0).uniform(size=(4, 2)), (5, 1))
    gp = GaussianProcess(seed=0).fit(X, np.ones(20))
    mean, std = gp.predict(X[:3])
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))
    np.testing.assert_allclose(mean, 1.0)
    with pytest.raises(ValueError, match="same number"):
        GaussianProcess().fit(X, np.ones(3))


def test_posterior_samples_have_sklearns_mean_and_covariance():
    X, y, Xt = _data()
    Xt = Xt[:4]
    sk = _sklearn(PARAMS, normalize_y=True).fit(X, y)
    mean_sk, cov_sk = sk.predict(Xt, return_cov=True)      # includes the WhiteKernel noise
    cov_sk -= PARAMS.noise * np.var(y) * np.eye(len(Xt))    # that of f: without it
    samples = GaussianProcess(PARAMS).fit(X, y).sample(Xt, 40_000, seed=0)
    assert samples.shape == (40_000, 4)
    scale = np.sqrt(np.diag(cov_sk))
    np.testing.assert_allclose(samples.mean(axis=0), mean_sk, atol=0.03 * scale.max())
    np.testing.assert_allclose(np.cov(samples.T), cov_sk, atol=0.03 * scale.max() ** 2)
    # A sample through the observed inputs of a nearly noise-free GP passes near y.
    gp = GaussianProcess(GPParams(0.0, 1.0, PARAMS.lengthscales, 1e-6)).fit(X, y)
    np.testing.assert_allclose(gp.sample(X[:5], 3, seed=1), np.tile(y[:5], (3, 1)),
                               atol=1e-2)


def test_pure_posterior_covariance_and_gradients():
    # The full covariance against scikit-learn's; the gradients of the mean and
    # the variance against finite differences of the pure function itself.
    X, y, Xt = _data()
    params = GPParams(3.2, PARAMS.variance, PARAMS.lengthscales, PARAMS.noise)
    sk = _sklearn(params, normalize_y=False).fit(X, y - 3.2)
    mean_sk, cov_sk = sk.predict(Xt, return_cov=True)
    mean, cov = posterior(X, y, params, Xt, full_cov=True)
    np.testing.assert_allclose(mean, mean_sk + 3.2, atol=1e-6)
    np.testing.assert_allclose(cov + params.noise * np.eye(len(Xt)), cov_sk, atol=1e-6)
    factor = condition(X, y, params)
    mean, var, dmean, dvar = posterior(X, y, params, Xt[:3], grad=True, factor=factor)
    np.testing.assert_allclose(var, np.diag(cov)[:3], atol=1e-10)
    for i in range(3):
        for out, d in ((0, dmean), (1, dvar)):
            numeric = approx_fprime(Xt[i], lambda x: posterior(X, y, params, x[None])[out][0],
                                    1e-7)
            np.testing.assert_allclose(d[i], numeric, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="grad=True or full_cov=True"):
        posterior(X, y, params, Xt, grad=True, full_cov=True)


def test_kernel_derivative_with_respect_to_the_squared_distance():
    r = np.linspace(0.0, 3.0, 31)
    k, dk_dr2 = matern52_of_distance(r, 1.7, grad=True)
    np.testing.assert_array_equal(k, matern52_of_distance(r, 1.7))
    h = 1e-6
    numeric = (matern52_of_distance(np.sqrt(r ** 2 + h), 1.7)
               - matern52_of_distance(np.sqrt(np.maximum(r ** 2 - h, 0)), 1.7)) / (
                   r ** 2 + h - np.maximum(r ** 2 - h, 0))
    np.testing.assert_allclose(dk_dr2, numeric, rtol=1e-4, atol=1e-6)


def test_the_gp_class_predicts_and_samples_through_the_pure_posterior(monkeypatch):
    # One copy of the algebra: GaussianProcess calls the functions the chapter shows.
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return posterior(*args, **kwargs)
    monkeypatch.setattr(gp_module, "posterior", spy)
    X, y, Xt = _data()
    gp = GaussianProcess(PARAMS).fit(X, y)
    gp.predict(Xt)
    gp.predict(Xt, grad=True)
    gp.sample(Xt, 2, seed=0)
    assert [(c.get("grad", False), c.get("full_cov", False)) for c in calls] == [
        (False, False), (True, False), (False, True)]
    z = (y - y.mean()) / y.std()
    mean, var = posterior(X, z, PARAMS, Xt)
    np.testing.assert_allclose(gp.predict(Xt)[0], y.mean() + y.std() * mean, atol=1e-12)
    np.testing.assert_allclose(gp.predict(Xt)[1], y.std() * np.sqrt(var), atol=1e-12)


@pytest.mark.parametrize("noise", [1e-6, 1e-2])
def test_fixed_noise_fit_is_no_worse_than_sklearn_with_that_noise(noise):
    X, y, _ = _data(n=30, seed=1, noise=0.1)
    z = (y - y.mean()) / y.std()
    kernel = (ConstantKernel(1.0, BOUNDS["variance"])
              * Matern(np.ones(X.shape[1]), BOUNDS["lengthscale"], nu=2.5)
              + WhiteKernel(noise, "fixed"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = GaussianProcessRegressor(kernel, alpha=0.0, normalize_y=True,
                                      n_restarts_optimizer=5, random_state=0).fit(X, y)
    p = sk.kernel_.get_params()
    reference = GPParams(0.0, p["k1__k1__constant_value"],
                         np.asarray(p["k1__k2__length_scale"]), noise)
    ours = fit_hyperparameters(X, z, prior=False, seed=0, noise=noise)
    assert ours.noise == pytest.approx(noise, rel=1e-9)
    assert (log_marginal_likelihood(ours.theta, X, z)
            >= log_marginal_likelihood(reference.theta, X, z) - 1e-6)
    gp = GaussianProcess(seed=0, noise=noise).fit(X, y)
    assert gp.params.noise == pytest.approx(noise, rel=1e-9)
    # the free fit explains part of this noisy data as noise: more than 1e-6
    assert GaussianProcess(seed=0).fit(X, y).params.noise > 1e-3


def test_fixed_noise_refuses_bad_values():
    for value in (0.0, -1e-3, 2.0, True, "1e-3"):
        with pytest.raises(ValueError, match=f"noise.*{value!r}"):
            GaussianProcess(noise=value)
    with pytest.raises(ValueError, match="noise"):
        GaussianProcess(PARAMS, noise=1e-3)


def test_a_given_scale_standardizes_like_sklearn_on_rescaled_targets():
    # scale s: the GP of (y - mean) / s with the same hyperparameters, times s
    X, y, Xt = _data()
    s = 4.0 * np.std(y)
    sk = _sklearn(PARAMS, normalize_y=False).fit(X, (y - y.mean()) / s)
    mean_sk, std_sk = sk.predict(Xt, return_std=True)
    mean, std = GaussianProcess(PARAMS).fit(X, y, scale=s).predict(Xt)
    np.testing.assert_allclose(mean, y.mean() + s * mean_sk, atol=1e-6)
    np.testing.assert_allclose(std ** 2 + PARAMS.noise * s ** 2, (s * std_sk) ** 2, atol=1e-6)
    # far from the data: the prior, s * sqrt(variance)
    far = GaussianProcess(PARAMS).fit(X, y, scale=s).predict(np.full((1, 3), 50.0))[1]
    assert far[0] == pytest.approx(s * np.sqrt(PARAMS.variance))


@pytest.mark.parametrize("scale", [0.0, -1.0, np.inf, True, "1"])
def test_bad_scales_are_refused(scale):
    X, y, _ = _data()
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        GaussianProcess(PARAMS).fit(X, y, scale=scale)


def test_a_fantasized_gp_is_sklearns_fitted_on_the_data_and_the_fantasies():
    # Fantasies are observations under the hyperparameters and the
    # standardization of the real data: nothing is refitted or rescaled.
    X, y, Xt = _data()
    gp = GaussianProcess(PARAMS).fit(X, y)
    X_new, values = Xt[:3], np.array([2.0, 5.0, 3.5])
    fantasized = gp.fantasize(X_new, values)
    z = (np.concatenate([y, values]) - gp.y_mean) / gp.y_scale
    sk = _sklearn(PARAMS, normalize_y=False).fit(np.vstack([X, X_new]), z)
    mean_sk, std_sk = sk.predict(Xt, return_std=True)
    mean, std = fantasized.predict(Xt)
    np.testing.assert_allclose(mean, gp.y_mean + gp.y_scale * mean_sk, atol=1e-6)
    np.testing.assert_allclose((std / gp.y_scale) ** 2 + PARAMS.noise, std_sk ** 2, atol=1e-6)


def test_posterior_samples_have_sklearns_mean_and_covariance():
    X, y, Xt = _data()
    gp = GaussianProcess(PARAMS).fit(X, y)
    sk = _sklearn(PARAMS, normalize_y=True).fit(X, y)
    mean_sk, cov_sk = sk.predict(Xt[:3], return_cov=True)   # cov includes the noise
    cov_sk = cov_sk - PARAMS.noise * np.var(y) * np.eye(3)
    draws = gp.sample(Xt[:3], n_samples=20000, seed=0)
    sd = np.sqrt(np.diag(cov_sk))
    np.testing.assert_allclose(draws.mean(axis=0), mean_sk, atol=0.05 * sd.max())
    np.testing.assert_allclose(np.cov(draws.T), cov_sk, atol=0.05 * sd.max() ** 2)


def _sklearn_covariance(X, params):
    kernel = (ConstantKernel(params.variance, "fixed")
              * Matern(params.lengthscales, "fixed", nu=2.5) + WhiteKernel(params.noise, "fixed"))
    return kernel(X)


def test_profiled_mean_is_the_generalized_least_squares_estimate():
    # Reference: ordinary least squares (numpy) on the data whitened by the
    # Cholesky factor of scikit-learn's covariance matrix.
    X, y, _ = _data()
    z = (y - y.mean()) / y.std() + 0.7
    L = np.linalg.cholesky(_sklearn_covariance(X, PARAMS))
    ones, white = np.linalg.solve(L, np.ones(len(z))), np.linalg.solve(L, z)
    reference = np.linalg.lstsq(ones[:, None], white, rcond=None)[0][0]
    assert profiled_mean(PARAMS.theta, X, z) == pytest.approx(reference, rel=1e-9)
    # beyond the bounds, the best mean within them
    assert profiled_mean(PARAMS.theta, X, z + 50.0) == BOUNDS["mean"][1]


@pytest.mark.parametrize("seed", [0, 1])
def test_profile_likelihood_is_the_maximum_over_the_mean(seed):
    X, y, _ = _data(seed=seed)
    z = (y - y.mean()) / y.std()
    theta = PARAMS.theta + np.random.default_rng(seed).normal(0, 0.3, size=6)
    best = minimize_scalar(lambda m: -log_marginal_likelihood(np.r_[m, theta[1:]], X, z),
                           bounds=BOUNDS["mean"], method="bounded",
                           options={"xatol": 1e-10})
    value, grad = log_marginal_likelihood(theta, X, z, grad=True, profile_mean=True)
    assert value == pytest.approx(-best.fun, abs=1e-8)
    assert profiled_mean(theta, X, z) == pytest.approx(best.x, abs=1e-6)

    def profile(rest):
        return log_marginal_likelihood(np.r_[0.0, rest], X, z, profile_mean=True)
    assert grad[0] == 0.0
    np.testing.assert_allclose(grad[1:], approx_fprime(theta[1:], profile, 1e-6),
                               rtol=1e-4, atol=1e-4)


def test_the_fit_returns_the_profiled_mean_and_beats_a_joint_search():
    X, y, _ = _data(n=30, seed=2)
    z = (y - y.mean()) / y.std()
    fit = fit_hyperparameters(X, z, seed=0)
    assert fit.mean == pytest.approx(profiled_mean(fit.theta, X, z), abs=1e-12)

    def log_posterior(theta):
        return log_marginal_likelihood(theta, X, z) + log_prior(theta)
    # L-BFGS-B over every hyperparameter, the mean included, from the fit's start
    joint = minimize(lambda t: -log_posterior(t), GPParams.default(3).theta, method="L-BFGS-B",
                     bounds=theta_bounds(3))
    assert log_posterior(fit.theta) >= -joint.fun - 1e-6


def test_inverse_factor_and_the_posterior_through_it():
    X, y, Xt = _data()
    L, alpha = condition(X, y, PARAMS)
    L_inv = inverse_factor(L)
    np.testing.assert_allclose(L_inv, np.linalg.inv(L), rtol=1e-10, atol=1e-10)
    assert np.all(np.triu(L_inv, 1) == 0)
    # The same posterior, gradients too, as with the triangular solves.
    for grad in (False, True):
        solved = posterior(X, y, PARAMS, Xt, grad=grad, factor=(L, alpha))
        multiplied = posterior(X, y, PARAMS, Xt, grad=grad, factor=(L, alpha, L_inv))
        for a, b in zip(solved, multiplied):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ftol", [0.0, 1.0, -1e-6, True, "1e-6", None])
def test_a_bad_fit_tolerance_is_refused(ftol):
    with pytest.raises(ValueError, match=f"ftol must be a number in \\(0, 1\\), got {ftol!r}"):
        GaussianProcess(ftol=ftol)
    X, y, _ = _data()
    with pytest.raises(ValueError, match="ftol"):
        fit_hyperparameters(X, y, ftol=ftol)


def test_a_looser_tolerance_refits_sooner_near_the_same_optimum(monkeypatch):
    # A warm refit, as Bayesian optimization makes one: the last fit (on 40
    # points) as the start, 4 more points.
    X, y, _ = _data(n=44, seed=6, noise=0.05)
    z = (y - y.mean()) / y.std()
    last = fit_hyperparameters(X[:40], z[:40], seed=0)
    real, calls = gp_module.log_marginal_likelihood, []

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(gp_module, "log_marginal_likelihood", spy)
    fits = {}
    for ftol in (gp_module.FTOL, 1e-6):
        calls.clear()
        fits[ftol] = fit_hyperparameters(X, z, last, n_starts=1, seed=0, ftol=ftol), len(calls)
    monkeypatch.undo()

    def log_posterior(p):
        return log_marginal_likelihood(p.theta, X, z) + log_prior(p.theta)
    (tight, n_tight), (loose, n_loose) = fits[gp_module.FTOL], fits[1e-6]
    assert n_loose < n_tight
    assert log_posterior(loose) == pytest.approx(log_posterior(tight), abs=1e-4)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "8"])
def test_gaussian_process_refuses_a_bad_n_candidates(bad):
    with pytest.raises(ValueError, match="n_candidates"):
        GaussianProcess(n_candidates=bad)


def test_a_fit_without_random_candidates_screens_the_default_and_init():
    # n_candidates=0 starts from the better of the default and init: from a
    # converged fit as init, one more fit stays at it.
    rng = np.random.default_rng(3)
    X = rng.random((30, 2))
    y = np.sin(6 * X[:, 0]) + X[:, 1]
    first = GaussianProcess(seed=0).fit(X, y)
    again = GaussianProcess(n_starts=1, n_candidates=0).fit(X, y, init=first.params)
    assert np.allclose(again.params.theta, first.params.theta, atol=1e-3)
