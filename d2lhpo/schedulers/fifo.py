"""FIFO: every trial runs to the maximum resource, in the order it was suggested."""

from __future__ import annotations

from .base import Decision, Scheduler, Suggestion


class FIFOScheduler(Scheduler):
    """Starts a new configuration on every free worker and never stops a trial.

    Args:
        searcher, metric, mode, max_resource: see :class:`Scheduler`.

    Example:
        >>> scheduler = FIFOScheduler(RandomSearcher(space, seed=0), metric="error")
        >>> tuner = Tuner(objective, scheduler, backend="simulated", n_workers=4)
        >>> results = tuner.run(max_trials=50)
    """

    def suggest(self, trial_id):
        config = self._new_config(trial_id)
        return None if config is None else Suggestion(config, self.max_resource)

    def on_result(self, trial_id, result):
        if result.get("resource", self.max_resource) >= self.max_resource:
            self.searcher.remove_pending(self.configs[trial_id])
            self.searcher.observe(self.configs[trial_id], result)
        return Decision.CONTINUE
