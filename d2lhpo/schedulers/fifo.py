"""FIFO: every trial runs to the maximum resource, in the order it was suggested."""

from __future__ import annotations

from .base import Scheduler


class FIFOScheduler(Scheduler):
    """Starts a new configuration on every free worker and never stops a trial.

    Args:
        searcher, metric, mode, max_resource, seed: see :class:`Scheduler`.

    Example:
        >>> scheduler = FIFOScheduler(RandomSearcher(space, seed=0), metric="error")
        >>> job = scheduler.ask()
        >>> scheduler.tell(job.trial_id, {"resource": 1, "error": 0.3})
    """

    def next_job(self):
        return self.new_job(self.max_resource)
