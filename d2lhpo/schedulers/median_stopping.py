"""The median stopping rule (Golovin et al., Google Vizier, KDD 2017)."""

from __future__ import annotations

import numbers

import numpy as np

from .base import Decision, Scheduler
from .rungs import check_resource


def median_rule(best, running_averages, mode="min") -> bool:
    """Stop? True if a trial's ``best`` result so far is strictly worse than the median
    of the other trials' ``running_averages`` (means of their results up to the same
    resource)."""
    median = float(np.median(running_averages))
    return best > median if mode == "min" else best < median


class MedianStopping(Scheduler):
    """Starts every trial towards ``max_resource`` and stops it at resource ``r`` when
    its best result so far is worse than the median of the running averages that
    the other trials had at ``r``.

    No rungs and no reduction factor: one rule, checked at every reported
    resource from ``min_resource`` on, once ``min_samples`` other trials have
    reported at that resource.

    Args:
        searcher: where new configurations come from.
        min_resource: no trial is stopped before this resource (grace period).
        max_resource: full fidelity (taken from the objective when None).
        min_samples: other trials needed at a resource before the rule applies.
        metric, mode, seed: see :class:`Scheduler`.

    Example:
        >>> scheduler = MedianStopping(RandomSearcher(space, seed=0), min_resource=3,
        ...                            metric="error", mode="min", max_resource=27)
        >>> job = scheduler.ask()
    """

    def __init__(self, searcher, min_resource=1, max_resource=None, min_samples: int = 3,
                 metric=None, mode=None, seed=None):
        super().__init__(searcher, metric, mode, max_resource, seed)
        check_resource("min_resource", min_resource)
        if not (isinstance(min_samples, numbers.Integral) and not isinstance(min_samples, bool)
                and min_samples >= 1):
            raise ValueError(f"min_samples must be a positive integer, got {min_samples!r}")
        self.min_resource, self.min_samples = min_resource, min_samples
        if max_resource is not None:
            self._setup()
        self._averages: dict[float, list[float]] = {}   # resource -> running averages there
        self._sums: dict[int, list] = {}                # trial -> [sum, count, best]

    def _setup(self):
        if self.min_resource >= self.max_resource:
            raise ValueError(f"min_resource must be < max_resource, got min_resource="
                             f"{self.min_resource!r} and max_resource={self.max_resource!r}")

    def next_job(self):
        return self.new_job(self.max_resource)

    def on_result(self, trial, report):
        resource, value = report["resource"], float(report[self.metric])
        total, count, best = self._sums.get(trial.trial_id, (0.0, 0, value))
        best = min(best, value) if self.mode == "min" else max(best, value)
        self._sums[trial.trial_id] = [total + value, count + 1, best]
        others = self._averages.setdefault(resource, [])
        stop = (self.min_resource <= resource < self.max_resource
                and len(others) >= self.min_samples and median_rule(best, others, self.mode))
        others.append((total + value) / (count + 1))
        return Decision.STOP if stop else Decision.CONTINUE
