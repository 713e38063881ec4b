"""A virtual clock over n workers, for objectives that report their own cost."""

from __future__ import annotations

import heapq
import itertools
import traceback

from ..objectives.base import run_objective
from .base import Backend, Event


class SimulatedBackend(Backend):
    """Replays objectives on a simulated clock: a step that reports ``"cost": 60``
    occupies its worker for 60 simulated seconds, and events come back in time
    order. Decisions are exactly those a real run would see, in a fraction of
    the time; runs are deterministic.

    Args:
        charge_decisions: add the scheduler's measured decision time (real
            seconds spent in ``suggest``) to the clock of the worker it
            started, as a real run would pay it.

    Example:
        >>> tuner = Tuner(hpo.objectives.branin, scheduler, backend=SimulatedBackend(),
        ...               n_workers=4)
    """

    def __init__(self, charge_decisions: bool = False):
        self.charge_decisions = charge_decisions

    def open(self, objective, n_workers, metric):
        super().open(objective, n_workers, metric)
        self.clock = 0.0
        self._free = list(range(n_workers))
        self._queue: list = []
        self._seq = itertools.count()
        self._trials: dict[int, tuple] = {}  # trial_id -> (iterator, worker)

    def start(self, trial_id, config, r0, r1, context, delay=0.0):
        worker = min(self._free)
        self._free.remove(worker)
        it = run_objective(self.objective, config, r0, r1, self.metric, self.spec,
                           **context)
        self._trials[trial_id] = (it, worker)
        self._advance(trial_id, self.clock + (delay if self.charge_decisions else 0.0))

    def _advance(self, trial_id, t):
        it, worker = self._trials[trial_id]
        try:
            report = next(it)
        except StopIteration:
            return self._push(t, Event("done", trial_id, t, worker))
        except Exception:
            return self._push(t, Event("failed", trial_id, t, worker,
                                       error=traceback.format_exc(limit=-3)))
        cost = report.pop("cost", None)
        if cost is None or not cost >= 0:
            error = (f"the simulated backend needs each report's 'cost' in seconds "
                     f"(>= 0), got {cost!r} in {report!r}")
            return self._push(t, Event("failed", trial_id, t, worker, report, error=error))
        self._push(t + cost, Event("result", trial_id, t + cost, worker, report, cost))

    def _push(self, t, event):
        heapq.heappush(self._queue, (t, next(self._seq), event))

    def n_free(self):
        return len(self._free)

    def wait(self, timeout=None):
        t, _, event = heapq.heappop(self._queue)
        self.clock = t
        if event.kind != "result":
            self._release(event.trial_id)
        return [event]

    def decide(self, trial_id, go_on):
        if go_on:
            self._advance(trial_id, self.clock)
        else:
            self._trials[trial_id][0].close()
            self._release(trial_id)

    def _release(self, trial_id):
        _, worker = self._trials.pop(trial_id)
        self._free.append(worker)

    def now(self):
        return self.clock

    def close(self):
        for it, _ in self._trials.values():
            it.close()
        self._trials.clear()
