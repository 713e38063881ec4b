"""Hyperband (Li et al., JMLR 2018): successive halving over several brackets."""

from __future__ import annotations

import numpy as np

from .rungs import hyperband_brackets
from .successive_halving import SuccessiveHalving

MIN_MEASURED = 3  # new trials' evaluations at a resource before its cost is trusted


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
    nearly the price of good ones. With ``cost_aware=True`` the cycle starts
    at its last bracket (``s = 0``: a few full evaluations), so that what a
    full evaluation costs is measured early, and goes on as the paper's.
    The seconds new trials take to reach each resource in their first job
    (:attr:`~d2lhpo.schedulers.base.Scheduler.first_seconds`, which the
    tuner passes) price the rungs, and a bracket whose configurations at
    its first rung cost more than the plan sets aside for one at the rung
    above (that rung's share of a full evaluation; see :meth:`too_dear`)
    starts no more of them: it is skipped, or goes on with the trials it
    has (counted in ``n_skipped``). Until 3 configurations were measured at
    both the first rung and ``max_resource``, a bracket runs. With 4
    workers and 5 seeds each: on ``benchmarks/multifidelity.py
    --robust``'s learner choice with a 1 s start-up (a fit on 1/27 of the
    data costs about a quarter of a full one), the bracket that starts at
    1/27 stopped after 5 trials in every seed (and the one at 1/9 in one
    seed); with a 0.1 s start-up, one seed skipped a bracket; on the LeNet
    table (epochs cost about the same from the first on), none did. The
    price is the cycle's first bracket: where a full evaluation is long
    against the budget, its few random full evaluations take a large share
    of it (on the same benchmark's flat first rung, 400 simulated seconds
    of 2-6 s epochs, a quarter), and model-free Hyperband ended worse than
    random search's median in 5 of 10 seeds instead of 2. Hence off by
    default; the benchmark's "cost-aware" rows give the rest.

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
        self.n_skipped = 0     # brackets skipped or cut short as too dear (cost_aware)
        super().__init__(searcher, eta, min_resource, max_resource, overlap=overlap,
                         metric=metric, mode=mode, seed=seed, anchor=anchor)

    def _setup(self):
        super()._setup()
        self.brackets = hyperband_brackets(self.max_resource, self.eta, self.min_resource,
                                           self.anchor)

    def bracket_plan(self, index):
        """The plan of the ``index``-th bracket: most aggressive first, or
        (``cost_aware``) the same cycle started at its last bracket."""
        shift = len(self.brackets) - 1 if self.cost_aware else 0
        return self.brackets[(index + shift) % len(self.brackets)]

    def _cut_short(self, b):
        if self.cost_aware and self.too_dear(b.plan):
            self.n_skipped += 1
            return True
        return False

    def seconds_at(self, resource, q=0.5) -> float | None:
        """The ``q``-quantile of the seconds new configurations took to reach
        ``resource`` (:attr:`first_seconds`); None until ``MIN_MEASURED`` (3)
        were measured there."""
        seconds = self.first_seconds.get(resource, ())
        return float(np.quantile(seconds, q)) if len(seconds) >= MIN_MEASURED else None

    def too_dear(self, plan) -> bool:
        """Whether a bracket with ``plan`` costs more than it tells: even the
        cheaper configurations at its first rung (the lower quartile of their
        seconds) take longer than the plan sets aside for one at the rung above
        (that rung's share of a full evaluation, priced by the upper quartile
        of the full evaluations' seconds). Configurations differ in cost (a
        linear model fits faster than boosted trees), and the quartiles keep
        that difference from passing for a start-up."""
        if len(plan) < 2:
            return False
        first, above = plan[0][1], plan[1][1]
        cost = self.seconds_at(first, 0.25)
        full = self.seconds_at(self.max_resource, 0.75)
        if cost is None or full is None:
            return False
        return cost > full * above / self.max_resource
