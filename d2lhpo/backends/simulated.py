"""A virtual clock over n workers, for objectives that report their own cost."""

from __future__ import annotations

import heapq
import itertools
import math
import numbers

from ..objectives.base import run_objective
from .base import Backend, Event, close_steps, step, timeout_error


class SimulatedBackend(Backend):
    """Replays objectives on a simulated clock: a step that reports ``"cost": 60``
    occupies its worker for 60 simulated seconds, and events come back in time
    order. Decisions are exactly those a real run would see, in a fraction of
    the time; runs are deterministic. A ``timeout`` given to ``open`` applies to
    the simulated cost: a step that costs more fails at ``timeout`` seconds, as
    it would on a real backend; ``wait(timeout)`` counts simulated seconds too.

    Args:
        charge_decisions: add the scheduler's measured decision time (the
            CPU seconds the tuner's thread spent in ``ask``, so that a busy
            machine does not change the run) to the clock of the worker it
            started, as a real run would pay it.

    Example:
        >>> tuner = Tuner(hpo.objectives.branin, scheduler, backend=SimulatedBackend(),
        ...               n_workers=4)
    """

    def __init__(self, charge_decisions: bool = False):
        self.charge_decisions = charge_decisions

    def open(self, objective, n_workers, metric, timeout=None):
        super().open(objective, n_workers, metric, timeout)
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
        kind, report, error = step(it)
        if kind != "result":
            return self._push(t, Event(kind, trial_id, t, worker, error=error))
        cost = given = report.pop("cost", None)
        if cost.__class__ is not float and cost.__class__ is not int and (
                isinstance(cost, bool) or not isinstance(cost, numbers.Real)):
            cost = None
        if cost is None or not 0 <= cost < math.inf:  # also false for NaN
            close_steps(it)
            error = (f"the simulated backend needs each report's 'cost': finite seconds "
                     f">= 0, got {given!r} in {report!r}")
            return self._push(t, Event("failed", trial_id, t, worker, report, error=error))
        if self.timeout is not None and cost > self.timeout:
            close_steps(it)
            t += self.timeout
            return self._push(t, Event("failed", trial_id, t, worker, {}, self.timeout,
                                       f"{timeout_error(self.timeout)} (simulated: the step "
                                       f"cost {cost:g} s)"))
        self._push(t + cost, Event("result", trial_id, t + cost, worker, report, cost))

    def _push(self, t, event):
        heapq.heappush(self._queue, (t, next(self._seq), event))

    def n_free(self):
        return len(self._free)

    def wait(self, timeout=None):
        if not self._queue:
            return []
        if timeout is not None and self._queue[0][0] > self.clock + timeout:
            self.clock += timeout
            return []
        t, _, event = heapq.heappop(self._queue)
        self.clock = t
        if event.kind != "result":
            self._release(event.trial_id)
        return [event]

    def decide(self, trial_id, go_on):
        if go_on:
            self._advance(trial_id, self.clock)
        else:
            close_steps(self._trials[trial_id][0])
            self._release(trial_id)

    def _release(self, trial_id):
        _, worker = self._trials.pop(trial_id)
        self._free.append(worker)

    def now(self):
        return self.clock

    def close(self):
        for it, _ in self._trials.values():
            close_steps(it)
        self._trials.clear()
