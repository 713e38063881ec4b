"""Replay recorded learning curves: the CNN objective without training anything.

A table holds, for each recorded configuration, one row per epoch with the
metrics it reached and the seconds that epoch took. :class:`TabularObjective`
answers a configuration of the table with its recorded curve, step by step,
and reports the recorded seconds as ``cost``, so the simulated backend makes
the decisions a live run would make, in a fraction of a second.

A configuration that is not in the table is answered with the curve of the
NEAREST recorded configuration, measured in the search space's encoding
(each hyperparameter scaled to [0, 1], on a log scale where the space says
so). The space stays continuous; only the answers are piecewise constant.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..checks import check_seed
from ..results import CONFIG_PREFIX
from ..spaces import Categorical, FiniteRange, Float, Integer, Space
from .base import Objective
from .cnn_space import cnn_space


def recorded_space(space, configs: pd.DataFrame) -> dict:
    """``space`` with each numeric range narrowed to the values the table holds.

    Searchers then only propose points inside the recorded cloud, where the
    nearest recorded configuration is a close stand-in. Finite sets keep the
    values that were recorded.
    """
    out = {}
    for name, domain in Space(space).items():
        if not isinstance(domain, (Float, Integer, FiniteRange, Categorical)):
            out[name] = domain  # a constant
            continue
        values = configs[name]
        if isinstance(domain, (Float, Integer)):
            lo, hi = values.min(), values.max()
            lo, hi = (int(lo), int(hi)) if isinstance(domain, Integer) else (float(lo), float(hi))
            out[name] = type(domain)(lo, hi, domain.log) if lo < hi else lo
        elif isinstance(domain, FiniteRange):
            seen = set(values.tolist())
            kept = [v for v in domain.values if any(np.isclose(v, s) for s in seen)]
            out[name] = domain if len(kept) == domain.size else Categorical(kept)
        else:
            kept = [c for c in domain.categories if c in set(values.tolist())]
            out[name] = domain if len(kept) == len(domain.categories) else Categorical(kept)
    return out


class TabularObjective(Objective):
    """Replays recorded learning curves, one step per recorded epoch.

    For a configuration in the table it yields the recorded metrics and cost
    of epochs ``r0 + 1`` to ``r1``; for any other configuration, those of the
    nearest recorded one in the encoded space (see :meth:`nearest`). The
    ``seed`` is accepted and ignored (one recorded curve per configuration),
    and there is nothing to checkpoint: resuming at ``r0`` continues the
    recorded curve.

    Args:
        table: one row per configuration and epoch, with columns
            ``config_id``, ``resource``, ``cost``, the ``metrics`` and
            ``config_<name>`` for every hyperparameter of ``space``. Every
            configuration must have the same epochs 1, 2, ..., max.
        space: the space the configurations were drawn from; narrowed to the
            recorded ranges (:func:`recorded_space`) to give ``self.space``.
        metric, mode: what the tuner optimizes.
        metrics: columns reported at each step (``metric`` among them).
        resource: the column that counts epochs.
        cost: the column of seconds per epoch reported as ``cost``.
        max_params: if set, also report ``params_excess = n_params - max_params``
            (a constraint: <= 0 is feasible), as :class:`CNNObjective` does.
        cost_scale: multiplies every recorded cost, to ask "what if each epoch
            took that much longer" (say, a larger dataset) without recording again.

    Example:
        >>> bench = lenet_digits()
        >>> config = hpo.Space(bench.space).sample(np.random.default_rng(0))
        >>> [r["error"] for r in bench(config, r0=0, r1=3)]
    """

    def __init__(self, table: pd.DataFrame, space, metric: str = "error", mode: str = "min",
                 metrics: Sequence[str] = ("error", "n_params"), resource: str = "epoch",
                 cost: str = "cpu_s", max_params=None, cost_scale: float = 1.0):
        names = list(Space(space).domains)
        needed = ["config_id", resource, cost, *metrics, *(CONFIG_PREFIX + n for n in names)]
        missing = [c for c in needed if c not in table.columns]
        if missing:
            raise ValueError(f"table lacks column {missing[0]!r}; it has {list(table.columns)}")
        if not cost_scale > 0:
            raise ValueError(f"cost_scale must be positive, got {cost_scale!r}")
        if metric not in metrics:
            raise ValueError(f"metric {metric!r} must be one of metrics={list(metrics)}")
        table = table.sort_values(["config_id", resource])
        epochs = table.groupby("config_id")[resource].agg(list)
        self.max_resource = int(table[resource].max())
        if any(e != list(range(1, self.max_resource + 1)) for e in epochs):
            raise ValueError(f"every configuration needs rows for {resource} "
                             f"1..{self.max_resource}")
        self.table, self.metric, self.mode = table, metric, mode
        self.metrics, self.max_params = tuple(metrics), max_params
        n, m = len(epochs), self.max_resource
        self.curves = {k: table[k].to_numpy().reshape(n, m) for k in self.metrics}
        self.costs = cost_scale * table[cost].to_numpy(dtype=float).reshape(n, m)
        # Python lists: reading one step from them is several times faster than from numpy
        self._steps = [[dict(zip(self.metrics, values)) for values in zip(*rows)]
                       for rows in zip(*(self.curves[k].tolist() for k in self.metrics))]
        self._costs = self.costs.tolist()
        first = table[table[resource] == 1]
        self.configs = first[[CONFIG_PREFIX + k for k in names]].rename(
            columns=lambda c: c[len(CONFIG_PREFIX):]).reset_index(drop=True)
        self.config_ids = first["config_id"].to_numpy()
        self.space = recorded_space(space, self.configs)
        self._space = Space(self.space)
        self._records = self.configs.to_dict("records")   # row i's config, as a dict
        self._points = np.array([self._encode(c) for c in self._records])
        self._tree = cKDTree(self._points)
        self._cache: dict = {}

    def __repr__(self):
        return (f"TabularObjective({len(self.configs)} configurations, "
                f"{self.max_resource} epochs, metric={self.metric!r})")

    def _encode(self, config):
        x = []
        for name, domain in self._space.domains.items():
            value = config[name]
            if isinstance(domain, (Float, Integer)):
                # Float/Integer encodings extend linearly past the bounds, so a value
                # outside the recorded range still finds its nearest neighbour.
                x.append(domain.encode(value))
            elif value in domain:
                x.append(domain.encode(value))
            else:
                raise ValueError(f"hyperparameter {name!r}: value {value!r} is not in "
                                 f"{domain!r}")
        return np.concatenate(x) if x else np.zeros(0)

    def nearest(self, config) -> int:
        """Row of ``self.configs`` that stands for ``config``: itself if it was
        recorded, else the nearest recorded configuration (Euclidean distance in
        the encoding of ``self.space``)."""
        try:
            key = tuple(config[k] for k in self._space.domains)
        except KeyError as err:
            raise ValueError(f"hyperparameter {err.args[0]!r} is missing from "
                             f"{dict(config)!r}") from None
        index = self._cache.get(key)
        if index is None:
            index = self._cache[key] = int(self._tree.query(self._encode(config))[1])
        return index

    def shuffled_configs(self, seed) -> list[dict]:
        """The recorded configurations, each once, in a random order drawn from ``seed``
        (an int >= 0 or a ``numpy.random.Generator``).

        Given as ``points_to_evaluate`` to a searcher that suggests nothing after
        them, they let a method try every row of the table at most once, as a
        live run trains every new configuration anew.
        """
        order = check_seed(seed).permutation(len(self.configs))
        return [dict(self._records[i]) for i in order]  # copies: callers may edit them

    def __call__(self, config, r0=0, r1=None, seed=None):
        r1 = self.max_resource if r1 is None else r1
        if not 0 <= r0 < r1 <= self.max_resource:
            raise ValueError(f"need 0 <= r0 < r1 <= {self.max_resource}, got r0={r0!r}, "
                             f"r1={r1!r}")
        i = self.nearest(config)
        steps, costs = self._steps[i], self._costs[i]
        for epoch in range(int(r0) + 1, int(r1) + 1):
            report = {"resource": epoch, **steps[epoch - 1]}
            if self.max_params is not None:
                report["params_excess"] = report["n_params"] - self.max_params
            report["cost"] = costs[epoch - 1]
            yield report


def load_table(name: str) -> pd.DataFrame:
    """A table shipped in ``d2lhpo/data``, as a DataFrame."""
    source = importlib.resources.files("d2lhpo") / "data" / name
    with importlib.resources.as_file(source) as path:
        return pd.read_csv(path)


def lenet_digits(cost: str = "cpu_s", max_params=None,
                 cost_scale: float = 1.0) -> TabularObjective:
    """The CNN of :mod:`d2lhpo.objectives.cnn` on digits, replayed from recorded curves.

    See ``d2lhpo/data/lenet_digits.md`` for how the table was recorded.

    Args:
        cost: ``"cpu_s"`` (default: CPU seconds of each epoch, steady on a busy
            machine) or ``"wall_s"`` (wall-clock seconds, as measured).
        max_params: report ``params_excess`` against this budget.
        cost_scale: multiplies every recorded cost (see :class:`TabularObjective`).
    """
    return TabularObjective(load_table("lenet_digits.csv.gz"), cnn_space(), cost=cost,
                            max_params=max_params, cost_scale=cost_scale)
