"""The searcher interface: which configuration to try next."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..checks import check_int, check_mode, check_seed, short_repr
from ..spaces import Space, config_key

logger = logging.getLogger(__name__)


class Searcher:
    """Decides which configuration to evaluate next (ask/tell).

    ``suggest()`` returns a configuration, or None when the searcher has no
    more to offer; ``observe(config, result)`` tells it a result (a dict with
    the metric, and ``"resource"`` for multi-fidelity schedulers).
    ``register_pending`` / ``remove_pending`` say which configurations are
    being evaluated right now, so that model-based searchers can avoid
    proposing them twice. Subclasses implement ``_suggest``.

    Args:
        space: the search space (dict or :class:`~d2lhpo.spaces.Space`).
        metric: name of the metric to optimize (a scheduler fills it in when None).
        mode: ``"min"`` or ``"max"``; None for not set: a scheduler's
            :meth:`bind` then fills it in (``"min"`` if nobody says otherwise).
        seed: an int >= 0, a ``numpy.random.Generator``, or None for fresh entropy.
        points_to_evaluate: a list of configurations to suggest first, in order
            (their missing hyperparameters are filled by the subclass's rule).

    Example:
        >>> searcher = RandomSearcher({"x": uniform(0, 1)}, mode="max", seed=0)
        >>> searcher.bind("acc", None)  # what a scheduler does: fill what is missing
        >>> searcher.metric, searcher.mode
        ('acc', 'max')
    """

    def __init__(self, space, metric: str | None = None, mode: str | None = None, seed=None,
                 points_to_evaluate: Sequence[Mapping] | None = None):
        self.space = Space(space)
        if metric is not None and not (isinstance(metric, str) and metric):
            raise ValueError(f"metric must be a metric name (a string) or None, "
                             f"got {short_repr(metric)}")
        self.metric = metric
        self.mode = mode
        self.rng = check_seed(seed)
        self.seed_given = seed is not None
        self.points_to_evaluate = self._check_points(points_to_evaluate)
        self.pending: dict[frozenset, dict] = {}

    def _check_points(self, points) -> list[dict]:
        """The points to evaluate as a list of dicts, each valid where it says something."""
        if points is None:
            return []
        if isinstance(points, (str, bytes, Mapping)) or not isinstance(points, Iterable):
            raise ValueError(f"points_to_evaluate must be a list of dicts, "
                             f"got {short_repr(points)}")
        checked = []
        # a hyperparameter a point leaves out is checked at its domain's middle
        middle = {name: domain.decode(np.full(domain.dim, 0.5))
                  for name, domain in self.space.domains.items()}
        for i, point in enumerate(points):
            if not isinstance(point, Mapping):
                raise ValueError(f"points_to_evaluate must be a list of dicts, "
                                 f"got {short_repr(point)} at position {i}")
            unknown = [k for k in point if k not in self.space]
            if unknown:
                raise ValueError(f"points_to_evaluate[{i}] has unknown hyperparameters "
                                 f"{unknown}; the space has {list(self.space)}")
            # A point may leave hyperparameters out; what it has must be valid.
            filled = {**middle, **point}
            try:
                self.space.check(filled)
            except ValueError as err:
                raise ValueError(f"points_to_evaluate[{i}]: {err}") from None
            checked.append(dict(point))
        return checked

    @property
    def mode(self) -> str | None:
        """``"min"`` or ``"max"``; a metric given without a mode is minimized until a
        scheduler says otherwise; None while neither a metric nor a mode is set."""
        return self._mode or ("min" if self.metric is not None else None)

    @mode.setter
    def mode(self, mode: str | None) -> None:
        self._mode = None if mode is None else check_mode(mode)

    def bind(self, metric: str | None, mode: str | None) -> None:
        """Take the metric and mode a scheduler optimizes where they are not set.

        After binding, ``mode`` is never None (``"min"`` if neither side sets it).

        Raises:
            ValueError: if the scheduler's metric or mode differs from one
                already set here.
        """
        if mode is not None:
            check_mode(mode)
        if (metric is not None and self.metric not in (None, metric)) or (
                mode is not None and self._mode not in (None, mode)):
            unset = "mode not set"
            raise ValueError(f"searcher optimizes {self.metric!r} ({self._mode or unset}), "
                             f"the scheduler {metric!r} ({mode or unset})")
        if self.metric is None:
            self.metric = metric
        self._mode = self._mode or mode or "min"

    def seed_from(self, seed) -> None:
        """Derive the random state from a tuner's master ``seed``, unless a seed was
        given at construction (an explicit seed wins)."""
        seed = check_int("seed", seed, low=0)
        if not self.seed_given:
            self.rng = np.random.default_rng([seed, 1])  # the scheduler derives [seed, 2]
            self._reseeded()

    def _reseeded(self) -> None:
        """Subclasses that drew from ``self.rng`` at construction draw again here."""

    def suggest(self) -> dict | None:
        """The next configuration to evaluate, or None when exhausted."""
        if self.points_to_evaluate:
            point = self.points_to_evaluate.pop(0)
            return self._complete(point)
        return self._suggest()

    def _complete(self, point: dict) -> dict:
        """Fill hyperparameters missing from a user-given point (here: at random)."""
        config = self.space.sample(self.rng)
        config.update(point)
        return self.space.check(config)

    def _suggest(self) -> dict | None:
        raise NotImplementedError

    def observe(self, config: Mapping, result: Mapping) -> None:
        """Learn from a reported result (the default searcher learns nothing)."""

    def register_pending(self, config: Mapping) -> None:
        self.pending[config_key(config)] = dict(config)

    def remove_pending(self, config: Mapping) -> None:
        self.pending.pop(config_key(config), None)

    def evaluation_failed(self, config: Mapping) -> None:
        """The evaluation of ``config`` failed: it is no longer pending."""
        self.remove_pending(config)


_check_mode = check_mode  # the name schedulers and BayesianOptimization import
