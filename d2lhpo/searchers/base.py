"""The searcher interface: which configuration to try next."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

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
        mode: ``"min"`` or ``"max"``.
        seed: an int, a ``numpy.random.Generator``, or None for fresh entropy.
        points_to_evaluate: configurations to suggest first, in order (their
            missing hyperparameters are filled by the subclass's rule).
    """

    def __init__(self, space, metric: str | None = None, mode: str | None = None, seed=None,
                 points_to_evaluate: Sequence[Mapping] | None = None):
        self.space = Space(space)
        self.metric = metric
        self.mode = None if mode is None else _check_mode(mode)
        if self.metric is not None and self.mode is None:
            self.mode = "min"
        self.seed_given = seed is not None
        self.rng = np.random.default_rng(seed)
        self.points_to_evaluate = [dict(p) for p in (points_to_evaluate or [])]
        for point in self.points_to_evaluate:
            self._check_partial(point)
        self.pending: dict[frozenset, dict] = {}

    def _check_partial(self, point):
        """A point to evaluate may leave hyperparameters out; what it has must be valid."""
        filled = dict(point)
        for name, domain in self.space.domains.items():
            filled.setdefault(name, domain.decode(np.full(domain.dim, 0.5)))
        self.space.check(filled)

    def bind(self, metric: str | None, mode: str | None) -> None:
        """Take the metric and mode from a scheduler unless already set."""
        if self.metric is None:
            self.metric = metric
        if self.mode is None:
            self.mode = _check_mode(mode) if mode is not None else (
                "min" if self.metric is not None else None)

    def seed_from(self, seed) -> None:
        """Derive the random state from a tuner's master ``seed``, unless a seed was
        given at construction (an explicit seed wins)."""
        if not self.seed_given:
            self.rng = np.random.default_rng([int(seed), 1])
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


def _check_mode(mode):
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    return mode
