"""The backend interface: where and when trials run."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..objectives.base import CallSpec


@dataclass
class Event:
    """Something that happened to a trial on a worker.

    ``kind`` is ``"result"`` (a report arrived; the backend waits for
    :meth:`Backend.decide` before the trial goes on), ``"done"`` (the
    objective returned) or ``"failed"`` (it raised; ``error`` holds the text).
    ``time`` is the backend's clock when it happened, ``duration`` the seconds
    the step took.
    """

    kind: str
    trial_id: int
    time: float
    worker: int
    report: dict = field(default_factory=dict)
    duration: float = 0.0
    error: str | None = None


class Backend:
    """Runs trials on ``n_workers`` workers and streams their events back.

    The tuner calls ``open`` once, then ``start`` on free workers, ``wait``
    for events, ``decide`` after each result, and ``close`` at the end.
    """

    n_workers: int = 1

    def open(self, objective, n_workers: int, metric: str) -> None:
        self.objective, self.n_workers, self.metric = objective, n_workers, metric
        self.spec = CallSpec.of(objective)  # for run_objective, read once per run

    def start(self, trial_id: int, config: dict, r0: float, r1: float,
              context: dict, delay: float = 0.0) -> None:
        """Run ``config`` from ``r0`` to ``r1`` on a free worker.

        ``delay`` is the seconds the scheduler took to decide; only the
        simulated backend may charge it to its clock.
        """
        raise NotImplementedError

    def n_free(self) -> int:
        raise NotImplementedError

    def n_running(self) -> int:
        return self.n_workers - self.n_free()

    def wait(self) -> list[Event]:
        """Block until something happens; the events (possibly none, if only a worker freed up)."""
        raise NotImplementedError

    def decide(self, trial_id: int, go_on: bool) -> None:
        """After a ``"result"`` event: let the trial go on, or end it on its worker."""
        raise NotImplementedError

    def now(self) -> float:
        raise NotImplementedError

    def close(self) -> None:
        pass
