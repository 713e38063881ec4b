"""A non-resumable multi-fidelity problem: scikit-learn learners on a fraction of the data.

The fidelity is the training-set fraction, ``resource / max_resource``; each
report is a fresh fit on that many rows (nothing resumes), scored on a fixed
validation set by error and log-loss. The ``learner`` is a categorical choice
between a logistic regression, gradient-boosted trees and a one-layer MLP;
each learner reads its own hyperparameters (the others are sampled but
ignored). The data are synthetic (a fixed seed, nothing downloads): a linear
signal that a linear model learns from a few dozen rows, plus an interaction
and a quadratic term that only the flexible learners find, and only with
many rows. So the ranking of the learners reverses between low and full
fidelity: the linear model is the best learner on 1/27 of the data (and
the better one in the median on 1/9), the MLP and the trees win on all of
it (of 150 random configurations, the best error per learner at 1/27:
linear 0.254, MLP 0.271, trees 0.345; at full data: MLP 0.140, trees 0.170,
linear 0.215).

The cost is simulated, a formula in the number of rows and the learner (the
measured fit time would make the benchmark depend on the machine's load):
``startup + rows / 100 * factor`` seconds (by default a second to start up,
load the data and score), ``factor`` 0.1 for the linear model,
``0.5 * max_iter / 50`` for the trees, ``0.5 * sqrt(hidden / 32)`` for the
MLP. Evaluations are deterministic in (configuration, resource) and memoised
in the instance.

Example:
    >>> problem = LearnerChoice()
    >>> config = hpo.Space(problem.space).sample(np.random.default_rng(0))
    >>> report = next(problem(config, r0=0, r1=1))
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..checks import check_number
from ..spaces import choice, loguniform, lograndint
from .base import Objective


def learner_data(n: int = 2400, seed: int = 0):
    """Features (n, 16) and binary labels: a linear signal on 8 features, an XOR of
    two more and a quadratic in one; 6 features are noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 16))
    f = (X[:, :8] @ np.array([1.0, 0.8, -0.7, 0.6, 0.5, -0.5, 0.4, 0.4])
         + 1.0 * np.sign(X[:, 8] * X[:, 9]) + 0.6 * (X[:, 10] ** 2 - 1))
    y = (f + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y


class LearnerChoice(Objective):
    """Which learner, and its hyperparameters, on a training-set fraction (non-resumable).

    Args:
        metric: ``"error"`` (validation error rate) or ``"log_loss"``
            (validation log-loss: heavy-tailed, overconfident models score
            several nats).
        n_train: rows at full fidelity (the validation set: the last 800 of the
            2400 rows).
        max_resource: the full fidelity; resource r trains on
            ``round(n_train * r / max_resource)`` rows.
        levels: the resources the objective reports at within a job
            ``(r0, r1]`` (each a fresh fit), besides ``r1``, when the caller
            passes no report grid (a tuner always passes the job's); the
            default is the rung grid of eta 3 (1, 3, 9, 27).
        startup: simulated seconds of every fit besides those that grow with
            the rows (>= 0). With the default 1 s, a fit on 1/27 of the data
            costs about a quarter of a full fit of trees or an MLP, so low
            fidelities save little; with 0.1 s, about a twentieth.

    Example:
        >>> problem = LearnerChoice(metric="log_loss")
        >>> tuner = hpo.Tuner(problem, hpo.ASHA(hpo.RandomSearcher(problem.space)),
        ...                   backend="simulated", n_workers=4)
    """

    space = {
        "learner": choice(["linear", "trees", "mlp"]),
        "linear_C": loguniform(1e-4, 1e2),
        "trees_learning_rate": loguniform(0.01, 1.0),
        "trees_max_iter": lograndint(10, 100),
        "trees_max_leaf_nodes": lograndint(4, 64),
        "trees_min_samples_leaf": lograndint(2, 64),
        "trees_l2": loguniform(1e-6, 10.0),
        "mlp_hidden": lograndint(8, 64),
        "mlp_alpha": loguniform(1e-6, 1.0),
        "mlp_learning_rate": loguniform(1e-4, 1e-1),
    }
    mode = "min"

    def __init__(self, metric: str = "error", n_train: int = 810, max_resource: int = 27,
                 levels=(1, 3, 9, 27), startup: float = 1.0):
        if metric not in ("error", "log_loss"):
            raise ValueError(f"metric must be 'error' or 'log_loss', got {metric!r}")
        if not 10 <= n_train <= 1600:
            raise ValueError(f"n_train must be in [10, 1600], got {n_train!r}")
        self.startup = float(check_number("startup", startup, low=0))
        self.metric, self.n_train, self.max_resource = metric, n_train, max_resource
        self.levels = tuple(sorted(levels))
        X, y = learner_data()
        self._train = X[:n_train], y[:n_train]
        self._valid = X[1600:], y[1600:]
        self._cache: dict = {}

    def rows(self, resource) -> int:
        return max(10, round(self.n_train * resource / self.max_resource))

    def model(self, config):
        """The scikit-learn estimator ``config`` describes."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier
        learner = config["learner"]
        if learner == "linear":
            return LogisticRegression(C=config["linear_C"], max_iter=200)
        if learner == "trees":
            return HistGradientBoostingClassifier(
                learning_rate=config["trees_learning_rate"], max_iter=config["trees_max_iter"],
                max_leaf_nodes=config["trees_max_leaf_nodes"],
                min_samples_leaf=config["trees_min_samples_leaf"],
                l2_regularization=config["trees_l2"], early_stopping=False, random_state=0)
        return MLPClassifier(hidden_layer_sizes=(config["mlp_hidden"],),
                             alpha=config["mlp_alpha"],
                             learning_rate_init=config["mlp_learning_rate"], max_iter=30,
                             random_state=0)

    def cost(self, config, resource) -> float:
        """Simulated seconds of one fit at ``resource`` (see the module docstring)."""
        learner = config["learner"]
        factor = (0.1 if learner == "linear" else
                  0.5 * config["trees_max_iter"] / 50 if learner == "trees" else
                  0.5 * math.sqrt(config["mlp_hidden"] / 32))
        return self.startup + self.rows(resource) / 100 * factor

    def evaluate(self, config, resource) -> dict:
        """Error and log-loss of a fresh fit on ``rows(resource)`` rows (memoised)."""
        used = [k for k in config if k == "learner" or k.startswith(config["learner"])]
        key = (tuple((k, config[k]) for k in sorted(used)), resource)
        if key not in self._cache:
            from sklearn.metrics import log_loss
            n = self.rows(resource)
            X, y = self._train
            model = self.model(config)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # MLP's and lbfgs's ConvergenceWarning
                model.fit(X[:n], y[:n])
            Xv, yv = self._valid
            proba = model.predict_proba(Xv)[:, 1]
            self._cache[key] = {"error": float(np.mean((proba > 0.5) != yv)),
                                "log_loss": float(log_loss(yv, np.clip(proba, 1e-12,
                                                                       1 - 1e-12)))}
        return dict(self._cache[key])

    def __call__(self, config, r0, r1, levels=None):
        """Fresh fits at the levels in ``(r0, r1)`` and at ``r1``: the job's report
        grid ``levels`` (what the tuner passes: empty for a scheduler without
        rungs, such as FIFO), or else the instance's ``levels``."""
        grid = self.levels if levels is None else levels
        steps = [r for r in grid if r0 < r < r1] + [r1]
        for r in steps:
            yield {"resource": r, **self.evaluate(config, r), "cost": self.cost(config, r)}
