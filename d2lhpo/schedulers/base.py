"""The scheduler interface: how much budget each trial gets."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ..results import BASE_COLUMNS, CONFIG_PREFIX
from ..searchers.base import Searcher, _check_mode


def report_of(row: dict) -> dict:
    """The objective's report inside a journaled row (its resource and metrics)."""
    return {k: v for k, v in row.items() if k == "resource" or (
        k not in BASE_COLUMNS and k != "error" and not k.startswith(CONFIG_PREFIX))}


class Decision(str, enum.Enum):
    """A scheduler's answer to a reported result."""

    CONTINUE = "continue"   # keep training
    PAUSE = "pause"         # stop for now; the scheduler may resume it later
    STOP = "stop"           # stop for good


@dataclass
class Suggestion:
    """What a free worker should do: start a new trial or resume a paused one.

    ``resource`` is where the trial runs until (``r1``). A new trial starts
    from 0; a resumed one from the resource it reached when paused.
    """

    config: dict[str, Any]
    resource: float
    trial_id: int | None = None  # set to resume that (paused) trial

    @property
    def resume(self) -> bool:
        return self.trial_id is not None


class Scheduler:
    """Decides which trial a free worker runs and whether a trial goes on.

    The tuner calls ``suggest(trial_id)`` when a worker is free (``trial_id``
    is the id a new trial would get), ``on_result(trial_id, result)`` for
    every reported result, and ``on_complete`` / ``on_error`` when a trial
    ends by itself or fails.

    Args:
        searcher: where new configurations come from.
        metric: the metric to optimize (taken from the objective when None).
        mode: ``"min"`` or ``"max"`` (taken from the objective when None).
        max_resource: the largest resource (e.g. epochs) a trial may use
            (taken from the objective when None).
    """

    def __init__(self, searcher: Searcher, metric: str | None = None, mode: str | None = None,
                 max_resource: float | None = None):
        if not isinstance(searcher, Searcher):
            raise ValueError(f"searcher must be a d2lhpo Searcher, got {searcher!r}")
        self.searcher = searcher
        self.metric = metric if metric is not None else searcher.metric
        self.mode = _check_mode(mode) if mode is not None else (
            searcher.mode if searcher.metric is not None else None)
        self.max_resource = max_resource
        self.configs: dict[int, dict] = {}

    def bind(self, metric: str | None, mode: str | None, max_resource: float | None) -> None:
        """Fill what was not given from the objective (called by the tuner)."""
        self.metric = self.metric or metric or "objective"
        self.mode = self.mode or mode or "min"
        _check_mode(self.mode)
        if self.max_resource is None:
            self.max_resource = max_resource if max_resource is not None else 1
        if not self.max_resource > 0:
            raise ValueError(f"max_resource must be positive, got {self.max_resource!r}")
        self.searcher.bind(self.metric, self.mode)

    def _new_config(self, trial_id: int) -> dict | None:
        config = self.searcher.suggest()
        if config is not None:
            self.configs[trial_id] = config
            self.searcher.register_pending(config)
        return config

    def suggest(self, trial_id: int) -> Suggestion | None:
        raise NotImplementedError

    def suggest_resume(self) -> Suggestion | None:
        """A paused trial to resume, or None: what a free worker does once the
        tuner may start no new trials (``max_trials`` reached).

        Schedulers that pause trials override it, so that the trials started
        so far go on to the rungs they earn. The default resumes nothing.
        """
        return None

    def on_result(self, trial_id: int, result: dict) -> Decision:
        raise NotImplementedError

    def on_complete(self, trial_id: int, result: dict | None) -> None:
        if trial_id in self.configs:
            self.searcher.remove_pending(self.configs[trial_id])

    def on_error(self, trial_id: int) -> None:
        if trial_id in self.configs:
            self.searcher.evaluation_failed(self.configs[trial_id])

    def restore(self, trial_id: int, config: dict, rows: list[dict]) -> None:
        """Replay a trial of an interrupted run (the tuner calls it when resuming).

        ``rows`` are the trial's journaled rows in order (see
        :class:`~d2lhpo.results.Results`; ``status`` is the trial's state after
        each). The default replays what the searcher saw: the configuration
        was suggested, then, if the trial ended, observed (completed) or
        dropped (stopped, failed). The tuner restarts trials left running,
        whose results reach ``on_result`` again; paused trials stay paused.
        Schedulers with rungs override this to rebuild them from ``rows`` (and
        may resume paused trials from ``suggest``).
        """
        self.configs[trial_id] = config
        self.searcher.register_pending(config)
        last = rows[-1]
        if last["status"] == "completed":
            self.searcher.remove_pending(config)
            self.searcher.observe(config, report_of(last))
        elif last["status"] == "failed":
            self.searcher.evaluation_failed(config)
        elif last["status"] == "stopped":
            self.searcher.remove_pending(config)
