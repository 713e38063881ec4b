"""Hyperband (Li et al., JMLR 2018): successive halving over several brackets."""

from __future__ import annotations

import numpy as np

from .rungs import hyperband_brackets
from .successive_halving import SuccessiveHalving


class Hyperband(SuccessiveHalving):
    """Cycles through successive-halving brackets that trade many cheap trials for
    few long ones: bracket ``s = s_max, ..., 0`` starts ``ceil((s_max + 1) / (s + 1)
    * eta**s)`` configurations at ``max_resource * eta**-s`` (see
    :func:`~d2lhpo.schedulers.rungs.hyperband_brackets`); after bracket ``s = 0``
    the cycle starts again.

    The plan prices a configuration at resource ``r`` at ``r / max_resource``
    of a full evaluation. A fit that starts up before it trains (loads the
    data, builds the model, scores it) costs more than that at low
    resources, and a bracket that starts there buys many poor results at
    nearly the price of good ones. With ``cost_aware=True`` the cycle runs
    the least aggressive bracket first (``s = 0, ..., s_max``), so that what
    the high rungs cost is measured before the low ones are bought: the
    seconds of each new trial's first evaluation
    (:attr:`~d2lhpo.schedulers.base.Scheduler.first_seconds`, which the
    tuner passes) are fitted as a start-up plus a rate times the resource
    (least squares on each resource's median), and a bracket is skipped
    (counted in ``n_skipped``) when a configuration at its first rung would
    cost more than the plan sets aside for one at the rung above, that
    rung's share of a full evaluation. Until two resources are measured,
    every bracket runs. On ``benchmarks/multifidelity.py --robust``'s learner
    choice with a 1 s start-up (a fit on 1/27 of the data costs about a
    quarter of a full one) this skips the bracket that starts at 1/27; with
    0.1 s, or with the LeNet table's epochs (which cost the same from the
    first on), it skips none.

    Each bracket runs as synchronous successive halving, and its trials first
    report at the bracket's own lowest rung. With ``overlap=True``
    (the default) a worker that would wait for a rung starts the next bracket,
    as practical implementations do; ``overlap=False`` runs one bracket after
    the other, as the paper's pseudocode reads.

    Args:
        searcher, eta, min_resource, max_resource, overlap, metric, mode, seed, anchor: see
            :class:`~d2lhpo.schedulers.successive_halving.SuccessiveHalving`.
        cost_aware: skip the brackets whose first rung costs too much for
            what it tells (see above); False (the default): the paper's cycle.

    Example:
        >>> hb = Hyperband(RandomSearcher(space, seed=0), eta=3, metric="error",
        ...                mode="min", max_resource=81)
        >>> hb.brackets[1]
        [(34, 3), (11, 9), (3, 27), (1, 81)]
    """

    def __init__(self, searcher, eta=3, min_resource=1, max_resource=None, overlap=True,
                 metric=None, mode=None, seed=None, anchor="max", cost_aware=False):
        if not isinstance(cost_aware, bool):
            raise ValueError(f"cost_aware must be True or False, got {cost_aware!r}")
        self.cost_aware = cost_aware
        self.brackets: list | None = None
        self.n_skipped = 0     # brackets skipped as too dear (cost_aware)
        self._position = 0     # brackets of the cycle opened or skipped so far
        super().__init__(searcher, eta, min_resource, max_resource, overlap=overlap,
                         metric=metric, mode=mode, seed=seed, anchor=anchor)

    def _setup(self):
        super()._setup()
        self.brackets = hyperband_brackets(self.max_resource, self.eta, self.min_resource,
                                           self.anchor)

    def bracket_plan(self, index):
        """The plan of the ``index``-th bracket of the cycle: most aggressive first,
        or (``cost_aware``) least aggressive first."""
        order = self.brackets[::-1] if self.cost_aware else self.brackets
        return order[index % len(order)]

    def _next_plan(self):
        for _ in range(len(self.brackets)):
            plan = self.bracket_plan(self._position)
            self._position += 1
            if not (self.cost_aware and self.too_dear(plan)):
                return plan
            self.n_skipped += 1
        return plan  # not reached: the bracket at max_resource is never too dear

    def predicted_seconds(self, resource) -> float | None:
        """The seconds a new configuration's evaluation at ``resource`` takes: a
        start-up plus a rate times the resource, fitted by least squares to the
        median of :attr:`first_seconds` at each resource measured (None until
        two are)."""
        measured = sorted((r, float(np.median(v))) for r, v in self.first_seconds.items() if v)
        if len(measured) < 2:
            return None
        rate, startup = np.polyfit(*zip(*measured), deg=1)
        return float(startup + rate * resource)

    def too_dear(self, plan) -> bool:
        """Whether a bracket with ``plan`` costs more than it tells: a configuration
        at its first rung would take longer than the plan sets aside for one at
        the rung above (that rung's share of a full evaluation)."""
        if len(plan) < 2:
            return False
        first, above = plan[0][1], plan[1][1]
        cost, full = self.predicted_seconds(first), self.predicted_seconds(self.max_resource)
        if cost is None or not full > 0:
            return False
        return cost > full * above / self.max_resource
