"""When a tuning run stops: a budget of trials, of seconds, or a target value."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """The stopping criterion of :meth:`Tuner.run <d2lhpo.tuner.Tuner.run>`.

    The run ends at whichever comes first: ``max_trials`` trials were started
    and have ended (multi-fidelity schedulers finish the rungs those trials
    earn, starting no new ones); the backend's clock (simulated or wall-clock
    seconds since the start) passes ``max_time``; a full-fidelity feasible
    result reaches ``target`` (``<=`` for mode ``"min"``, ``>=`` for ``"max"``;
    the run stops there, as when measuring the time to reach a target).

    Args:
        max_trials: new configurations to start.
        max_time: seconds on the backend's clock.
        target: a value of the tuned metric.

    Example:
        >>> budget = Budget(max_time=3600, target=0.02)
        >>> results = tuner.run(budget=budget)
    """

    max_trials: int | None = None
    max_time: float | None = None
    target: float | None = None

    def __post_init__(self):
        if self.max_trials is None and self.max_time is None and self.target is None:
            raise ValueError("give a budget: max_trials, max_time or target")
        if self.max_trials is not None and not (
                isinstance(self.max_trials, numbers.Integral)
                and not isinstance(self.max_trials, bool) and self.max_trials >= 1):
            raise ValueError(f"max_trials must be a positive integer, got {self.max_trials!r}")
        if self.max_time is not None and not (
                isinstance(self.max_time, numbers.Real) and not isinstance(self.max_time, bool)
                and math.isfinite(self.max_time) and self.max_time > 0):
            raise ValueError(f"max_time must be positive seconds, got {self.max_time!r}")
        if self.target is not None and not (
                isinstance(self.target, numbers.Real) and not isinstance(self.target, bool)
                and math.isfinite(self.target)):
            raise ValueError(f"target must be a finite number, got {self.target!r}")

    def reached(self, value: float, mode: str) -> bool:
        """Does ``value`` (a full-fidelity result) reach the target?"""
        if self.target is None:
            return False
        return value <= self.target if mode == "min" else value >= self.target

    def time_left(self, now: float) -> float | None:
        """Seconds left on the clock at ``now`` (None: no time limit)."""
        return None if self.max_time is None else self.max_time - now
