"""Which hyperparameters matter: functional ANOVA on a random-forest surrogate.

Functional ANOVA (Hutter, Hoos and Leyton-Brown, ICML 2014) splits the variance
of a metric over the search space into one share per hyperparameter (its main
effect), one per pair (their interaction beyond the two main effects), and so
on; the shares of all orders sum to one. The metric is known only where it was
evaluated, so a random forest fitted to the finished results stands in for it,
and the shares are the Sobol' indices of the forest under the space's own
sampling distribution, estimated by :func:`scipy.stats.sobol_indices`.

Example:
    >>> table = importance(results)          # one row per hyperparameter and pair
    >>> plot_importance(table)
"""

from __future__ import annotations

import itertools
import numbers
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import qmc

from .checks import check_int, check_number
from .results import CONFIG_PREFIX, Results
from .spaces import Categorical, Domain, FiniteRange, Float, Integer, Space

MIN_RESULTS = 10        # fewer finished results leave a forest with nothing to say
N_RESAMPLES = 200       # bootstrap resamples for the intervals (percentile method)
PAIR = " × "            # joins the names of a pair


class Surrogate:
    """A random forest fitted to finished results, seen as a function of one
    uniform number per hyperparameter.

    ``u[k]`` in [0, 1] stands for the value the space's domain ``k`` decodes it
    to: a float's encoding is ``u`` itself (on a log scale where the domain has
    one), an integer or a finite range rounds it to its cell, and a categorical
    takes category ``floor(u * n_categories)``. A uniform ``u`` is therefore a
    configuration drawn as the space samples it, and the forest sees it as the
    encoded configuration it was fitted on (categoricals one-hot).

    Args:
        space: the :class:`~d2lhpo.Space` whose domains are the inputs, in order.
        forest: a fitted ``sklearn.ensemble.RandomForestRegressor`` on encoded
            configurations (``space.encode``).
        metric: the name of the metric it predicts (for display).

    Example:
        >>> f = fit_surrogate(results)
        >>> f(np.full((len(f.names), 1), 0.5))   # the metric predicted mid-space
    """

    def __init__(self, space: Space, forest, metric: str = "objective"):
        self.space, self.forest, self.metric = space, forest, metric
        self.names = list(space.domains)
        self.n_results = len(getattr(forest, "oob_prediction_", ()))

    def __repr__(self):
        return (f"Surrogate({self.forest.n_estimators} trees on {self.names}, "
                f"metric={self.metric!r})")

    def features(self, u: np.ndarray) -> np.ndarray:
        """The encoded configurations (m x space.dim) that ``u`` (d x m) stands for."""
        u = np.asarray(u, dtype=float)
        if u.ndim != 2 or u.shape[0] != len(self.names):
            raise ValueError(f"u must have shape (d, m) with d = {len(self.names)} "
                             f"hyperparameters, got shape {u.shape}")
        return np.hstack([_features(domain, row)
                          for domain, row in zip(self.space.domains.values(), u)])

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """Predictions at ``u`` (d x m, one uniform number per hyperparameter):
        the signature :func:`scipy.stats.sobol_indices` asks of ``func``."""
        return self.forest.predict(self.features(u))


def _features(domain: Domain, u: np.ndarray) -> np.ndarray:
    """The encodings (m x domain.dim) of the values ``domain`` decodes ``u`` (m,) to."""
    u = np.clip(u, 0.0, 1.0)
    if isinstance(domain, Float):
        return u[:, None]  # a float's encoding of its decoded value is the value itself
    if isinstance(domain, FiniteRange):
        i = np.minimum(np.floor(u * domain.size), domain.size - 1)
        return ((i + 0.5) / domain.size)[:, None]
    if isinstance(domain, Integer):  # Integer.decode, then encode, for m values at once
        lo, hi = domain._edges()
        v = lo + u * (hi - lo)
        v = np.clip(np.rint(np.exp(v) if domain.log else v), domain.lower, domain.upper)
        return (((np.log(v) if domain.log else v) - lo) / (hi - lo))[:, None]
    if isinstance(domain, Categorical):
        k = len(domain.categories)
        return np.eye(k)[np.minimum(np.floor(u * k).astype(int), k - 1)]
    if domain.dim == 1:  # another one-dimensional domain: its own decode and encode
        return np.array([domain.encode(domain.decode(np.array([x]))) for x in u])
    raise ValueError(f"importance cannot sample {domain!r}: it has {domain.dim} encoded "
                     f"dimensions and is not a Categorical")


def infer_space(df: pd.DataFrame, names) -> Space:
    """A space for results that come without one, from the values their rows hold.

    Numeric columns become ``randint(min, max)`` (all whole numbers) or
    ``uniform(min, max)``, on a linear scale; any other column (strings, bools)
    becomes ``choice`` of its values in order of appearance (one-hot encoded).
    A column with a single value is left out: it explains no variance. Pass the
    space the configurations were drawn from instead to get log scales and
    finite sets right: the shares depend on the distribution sampled.
    """
    domains = {}
    for name in names:
        values = df[CONFIG_PREFIX + name]
        if values.isna().any():
            raise ValueError(f"hyperparameter {name!r} is missing in some finished results; "
                             f"importance needs every hyperparameter in every result")
        numeric = all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
                      for v in values)
        if numeric:
            lo, hi = values.min(), values.max()
            if lo == hi:
                continue
            whole = all(float(v).is_integer() for v in values)
            domains[name] = Integer(int(lo), int(hi)) if whole else Float(float(lo), float(hi))
        else:
            categories = list(dict.fromkeys(values.tolist()))
            if len(categories) > 1:
                domains[name] = Categorical(categories)
    return Space(domains)


def _check_results(results, metric):
    if not isinstance(results, Results):
        raise TypeError(f"results must be a d2lhpo Results, got {type(results).__name__}")
    if metric is not None and not isinstance(metric, str):
        raise ValueError(f"metric must be a metric name or None, got {metric!r}")
    metric = metric or results.metric
    finished = results.finished(metric=metric)
    if len(finished) < MIN_RESULTS:
        raise ValueError(f"importance needs at least {MIN_RESULTS} finished results "
                         f"(full fidelity, finite {metric!r}), got {len(finished)}: a forest "
                         f"fitted to so few says nothing about which hyperparameters matter")
    return finished, metric


def fit_surrogate(results: Results, space=None, metric: str | None = None,
                  n_trees: int = 100, seed: int = 0, log: bool = False) -> Surrogate:
    """A random forest fitted to the full-fidelity, feasible finished results
    (:meth:`~d2lhpo.Results.finished`; see :func:`importance`).

    The forest is ``RandomForestRegressor(n_estimators=n_trees, random_state=seed,
    oob_score=True)`` (scikit-learn's defaults otherwise), fitted to
    ``space.encode(config)`` of each finished result against its metric
    (``log(metric)`` with ``log=True``). Its out-of-bag R² is ``forest.oob_score_``.
    """
    from sklearn.ensemble import RandomForestRegressor  # a second to import: on first use

    finished, metric = _check_results(results, metric)
    n_trees = check_int("n_trees", n_trees, low=1)
    seed = check_int("seed", seed, low=0)
    if not isinstance(log, (bool, np.bool_)):
        raise ValueError(f"log must be True or False, got {log!r}")
    names = results.config_names()
    if space is None:
        space = infer_space(finished, names)
    else:
        if not isinstance(space, (Space, dict)):
            raise ValueError(f"space must be a Space, a dict of domains or None, got {space!r}")
        space = Space(space)
        missing = [k for k in space.domains if k not in names]
        if missing:
            raise ValueError(f"space has hyperparameter {missing[0]!r}, which the results "
                             f"lack; their hyperparameters are {names}")
    if not space.domains:
        raise ValueError("no hyperparameter varies among the finished results")
    rows = [results.rows[i] for i in finished.index]  # values as recorded, not as pandas made them
    x = np.empty((len(rows), space.dim))
    for name, domain in space.domains.items():
        column = space.slices[name]
        for r, row in enumerate(rows):
            try:
                x[r, column] = domain.encode(row[CONFIG_PREFIX + name])
            except (ValueError, TypeError, KeyError) as err:
                raise ValueError(f"hyperparameter {name!r} of trial {row.get('trial_id')!r}: "
                                 f"{err}") from None
    y = finished[metric].to_numpy(dtype=float)
    if log:
        if np.any(y <= 0):
            raise ValueError(f"log=True needs a positive {metric!r}, got min {y.min()!r}")
        y = np.log(y)
    if np.ptp(y) == 0:
        raise ValueError(f"{metric!r} is the same in every finished result: there is no "
                         f"variance to attribute")
    forest = RandomForestRegressor(n_estimators=n_trees, random_state=seed, oob_score=True)
    with warnings.catch_warnings():  # few results leave some rows out of no bag: noise only
        warnings.simplefilter("ignore", UserWarning)
        forest.fit(x, y)
    return Surrogate(space, forest, metric)


def _groups(d: int, pairs: bool) -> list[tuple[int, ...]]:
    singles = [(i,) for i in range(d)]
    return singles + (list(itertools.combinations(range(d), 2)) if pairs else [])


def sobol_table(f: Surrogate, n_samples: int = 2**12, pairs: bool = True, seed: int = 0,
                confidence: float | None = 0.95) -> pd.DataFrame:
    """Sobol' indices of a surrogate ``f``, singles and pairs from one sample.

    Draws matrices A and B (``n_samples`` points each, one column per
    hyperparameter) from a scrambled Sobol' sequence as
    :func:`scipy.stats.sobol_indices` does for uniform inputs (with
    ``rng=numpy.random.default_rng(seed)`` it draws the same points), and
    evaluates f on A, on B and on A with the inputs of each group taken from
    B. A group is one hyperparameter or a pair; scipy's estimator (Saltelli
    2010) then gives each group's first-order index V[E[f | x_group]] / V[f]
    and total index. A pair's interaction share is its group index minus the
    two singles': from the same sample, so most estimator noise cancels.
    """
    names = f.names
    d, n = len(names), n_samples
    groups = _groups(d, pairs)
    ab = qmc.Sobol(d=2 * d, seed=np.random.default_rng(seed), bits=64).random(n).T
    a, b = ab.reshape(2, d, n)
    fa, fb = f.features(a), f.features(b)
    slices = list(f.space.slices.values())
    mixed = np.tile(fa, (len(groups), 1, 1))  # groups x n x features
    for g, group in enumerate(groups):
        for k in group:
            mixed[g][:, slices[k]] = fb[:, slices[k]]
    predictions = f.forest.predict(np.vstack([fa, fb, mixed.reshape(-1, fa.shape[1])]))
    f_a, f_b = predictions[:n], predictions[n:2 * n]
    f_ab = predictions[2 * n:].reshape(len(groups), n)

    # scipy (1.17) fails on a single group (its indices are squeezed to a scalar): pad
    f_ab_in = f_ab if len(groups) > 1 else np.vstack([f_ab, f_ab])

    def indices(idx):
        res = stats.sobol_indices(func={"f_A": f_a[None, idx], "f_B": f_b[None, idx],
                                        "f_AB": f_ab_in[:, None, idx]}, n=n)
        first = res.first_order[:len(groups)]
        total = res.total_order[:len(groups)]
        share = first.copy()
        for g, group in enumerate(groups[d:], d):
            share[g] = first[g] - first[group[0]] - first[group[1]]
        return np.concatenate([first, total, share])

    values = indices(np.arange(n)).reshape(3, -1)
    table = pd.DataFrame({
        "name": [PAIR.join(names[k] for k in group) for group in groups],
        "order": [len(group) for group in groups],
        "share": values[2],
        "first_order": values[0],
        "total": np.where([len(g) == 1 for g in groups], values[1], np.nan),
    })
    if confidence is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ci = stats.bootstrap((np.arange(n),), indices, vectorized=False,
                                 method="percentile", n_resamples=N_RESAMPLES,
                                 confidence_level=confidence,
                                 random_state=np.random.default_rng(seed)).confidence_interval
        low, high = np.reshape(ci.low, (3, -1)), np.reshape(ci.high, (3, -1))
        table["share_low"], table["share_high"] = low[2], high[2]
        single = table["order"] == 1
        table["total_low"] = np.where(single, low[1], np.nan)
        table["total_high"] = np.where(single, high[1], np.nan)
    return table


def importance(results: Results, space=None, metric: str | None = None, n_trees: int = 100,
               n_samples: int = 2**12, pairs: bool = True, seed: int = 0, log: bool = False,
               confidence: float | None = 0.95) -> pd.DataFrame:
    """How much of the metric's variance each hyperparameter, and each pair, explains.

    Fits a random forest to the full-fidelity, feasible finished results (the encoded
    configuration against the metric; see :func:`fit_surrogate`), then
    estimates with :func:`scipy.stats.sobol_indices` the Sobol' indices of the
    forest under the space's sampling distribution (each hyperparameter drawn
    as the space draws it, independently: see :class:`Surrogate`). A share is
    a fraction of the variance: for a hyperparameter, its first-order index
    V[E[f | x_i]] / V[f] (fANOVA's main effect); for a pair, what the two
    explain together beyond their main effects. ``total`` adds every
    interaction a hyperparameter takes part in, so total >= share up to
    estimator noise (small negative shares are noise too). The interval is a
    percentile bootstrap (:func:`scipy.stats.bootstrap`, 200 resamples) of
    the Monte Carlo estimate for this forest: it does not cover the error of
    the forest itself, which with a few hundred results is the larger one
    (compare seeds, or ``table.attrs["oob_r2"]``, the forest's out-of-bag R²).

    Args:
        results: a :class:`~d2lhpo.Results`; at least 10 finished results.
        space: the space the configurations were drawn from (a dict or
            :class:`~d2lhpo.Space`; constants ignored). None infers one from
            the rows (:func:`infer_space`: linear ranges, strings one-hot).
        metric: the metric to explain (default: the results' own).
        n_trees: trees of the forest.
        n_samples: points of each Sobol' matrix, a power of 2 (the forest is
            evaluated at ``n_samples * (d + 2 + d(d-1)/2)`` points).
        pairs: also estimate the interaction share of every pair.
        seed: seeds the forest, the Sobol' points and the bootstrap.
        log: explain ``log(metric)`` (a positive metric spanning orders of magnitude).
        confidence: the level of the intervals; None for no intervals (faster).

    Returns:
        DataFrame, one row per hyperparameter (``order`` 1, sorted by share)
        then one per pair (``order`` 2, sorted by share), with ``name``,
        ``share``, ``first_order`` (for a pair: the index of the two together),
        ``total`` (NaN for pairs) and, with ``confidence``, ``share_low``,
        ``share_high``, ``total_low``, ``total_high``. ``attrs`` holds the
        metric, the number of results and the forest's out-of-bag R².

    Example:
        >>> table = importance(results, space=objective.space)
        >>> table[table["order"] == 1][["name", "share", "total"]]
    """
    n_samples = check_int("n_samples", n_samples, low=2)
    if n_samples & (n_samples - 1):
        raise ValueError(f"n_samples must be a power of 2 (Sobol' points), got {n_samples!r}")
    if not isinstance(pairs, (bool, np.bool_)):
        raise ValueError(f"pairs must be True or False, got {pairs!r}")
    if confidence is not None:
        check_number("confidence", confidence, low=0, high=1, low_open=True)
        if confidence == 1:
            raise ValueError(f"confidence must be below 1, got {confidence!r}")
    f = fit_surrogate(results, space, metric, n_trees, seed, log)
    table = sobol_table(f, n_samples, pairs, seed, confidence)
    table = table.sort_values(["order", "share"], ascending=[True, False], kind="stable")
    table = table.reset_index(drop=True)
    table.attrs.update(metric=f.metric, n_results=f.n_results,
                       oob_r2=float(f.forest.oob_score_), log=bool(log))
    return table


def plot_importance(table: pd.DataFrame, ax=None, top: int = 10):
    """Horizontal bars: per hyperparameter its share (first order) and total index,
    the ``top`` largest by total; below them the ``top`` largest pair interactions.
    Whiskers show the table's intervals where it has them."""
    from .plots import _ax

    if not isinstance(table, pd.DataFrame) or not {"name", "order", "share", "total"} <= set(
            table.columns):
        raise ValueError("table must be a DataFrame from importance(), with columns name, "
                         f"order, share and total; got {type(table).__name__}")
    top = check_int("top", top, low=1)
    ax = _ax(ax)
    singles = table[table["order"] == 1].sort_values("total", ascending=False).head(top)
    pairs = table[table["order"] == 2].sort_values("share", ascending=False).head(top)
    y_single = np.arange(len(singles), dtype=float)
    y_pair = len(singles) + 0.5 + np.arange(len(pairs))
    height = 0.4

    def whiskers(rows, column, low, high):
        if low not in rows or rows[low].isna().all():
            return None
        x = rows[column].to_numpy(dtype=float)
        return np.clip([x - rows[low].to_numpy(dtype=float),
                        rows[high].to_numpy(dtype=float) - x], 0, None)

    ax.barh(y_single - height / 2, singles["share"], height=height, label="first order",
            xerr=whiskers(singles, "share", "share_low", "share_high"), color="C0")
    ax.barh(y_single + height / 2, singles["total"], height=height, label="total",
            xerr=whiskers(singles, "total", "total_low", "total_high"), color="C1")
    if len(pairs):
        ax.barh(y_pair, pairs["share"], height=2 * height, label="pair interaction",
                xerr=whiskers(pairs, "share", "share_low", "share_high"), color="C2")
    ax.set_yticks(np.concatenate([y_single, y_pair]))
    ax.set_yticklabels([*singles["name"], *pairs["name"]])
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", linewidth=0.8)
    metric = table.attrs.get("metric")
    ax.set_title("Which hyperparameters matter" + (f" for {metric}" if metric else ""))
    ax.set_xlabel("share of variance")
    ax.set_ylabel("hyperparameter or pair" if len(pairs) else "hyperparameter")
    ax.legend(loc="lower right")
    return ax
