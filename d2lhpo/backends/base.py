"""The backend interface: where and when trials run."""

from __future__ import annotations

import logging
import math
import numbers
import traceback
from dataclasses import dataclass, field

from ..objectives.base import CallSpec

logger = logging.getLogger(__name__)


@dataclass
class Event:
    """Something that happened to a trial on a worker.

    ``kind`` is ``"result"`` (a report arrived; the backend waits for
    :meth:`Backend.decide` before the trial goes on), ``"done"`` (the
    objective returned) or ``"failed"`` (it raised, crashed or timed out;
    ``error`` holds the text). ``time`` is the backend's clock when it
    happened, ``duration`` the seconds the step took.
    """

    kind: str
    trial_id: int
    time: float
    worker: int
    report: dict = field(default_factory=dict)
    duration: float = 0.0
    error: str | None = None


class StepTimedOut(BaseException):
    """Raised inside a step that ran past its backend's ``timeout`` (not an Exception, so
    that an objective's ``except Exception`` does not swallow it)."""


def step(it) -> tuple[str, dict | None, str | None]:
    """Advance a trial's reports by one: ``("result", report, None)``, ``("done", None,
    None)`` when the objective returned, or ``("failed", None, error text)`` when it
    raised anything but ``KeyboardInterrupt`` (``sys.exit()`` in an objective fails its
    trial; it does not end the run)."""
    try:
        return "result", next(it), None
    except StopIteration:
        return "done", None, None
    except KeyboardInterrupt:
        raise
    except StepTimedOut as e:
        return "failed", None, str(e)
    except BaseException:  # noqa: BLE001 - any error of the objective fails its trial only
        return "failed", None, traceback.format_exc(limit=-3)


def close_steps(it) -> None:
    """End a trial's reports (its ``finally`` blocks run); an error there is logged."""
    try:
        it.close()
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001
        logger.warning("an objective raised while it was being closed: %r", e)


def check_timeout(timeout, name: str = "timeout"):
    """``timeout`` if it is None or positive finite seconds, else ValueError."""
    if timeout is None:
        return None
    if (isinstance(timeout, bool) or not isinstance(timeout, numbers.Real)
            or not 0 < timeout < math.inf):
        raise ValueError(f"{name} must be positive seconds (or None), got {timeout!r}")
    return float(timeout)


def timeout_error(timeout: float) -> str:
    return f"timed out after {timeout:g} s"


class Backend:
    """Runs trials on ``n_workers`` workers and streams their events back.

    The tuner calls ``open`` once, then ``start`` on free workers, ``wait``
    for events, ``decide`` after each result, and ``close`` at the end. A
    trial holds its worker from ``start`` until its ``"done"`` or
    ``"failed"`` event is returned or it is told ``decide(trial_id, False)``:
    ``n_free()`` counts it free from then on.
    """

    n_workers: int = 1
    #: Set when Ctrl-C interrupted :meth:`wait` (a tuner interrupted elsewhere may set it
    #: too): ``close`` then waits for no step still running.
    interrupted: bool = False

    def open(self, objective, n_workers: int, metric: str, timeout: float | None = None) -> None:
        """Get ready to run ``objective``. ``timeout``: wall-clock seconds a step (from
        ``start``, or from a decision to go on, to the next report or the end) may take;
        a slower step fails its trial with ``"timed out after N s"``."""
        self.objective, self.n_workers, self.metric = objective, n_workers, metric
        self.timeout = check_timeout(timeout)
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

    def wait(self, timeout: float | None = None) -> list[Event]:
        """The events that happened (at least one, if any trial runs); [] if none did
        within ``timeout`` seconds, or if no trial runs."""
        raise NotImplementedError

    def decide(self, trial_id: int, go_on: bool) -> None:
        """After a ``"result"`` event: let the trial go on, or end it on its worker."""
        raise NotImplementedError

    def now(self) -> float:
        raise NotImplementedError

    def close(self) -> None:
        pass
