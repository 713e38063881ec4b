"""Hyperband (Li et al., JMLR 2018): successive halving over several brackets."""

from __future__ import annotations

from .rungs import hyperband_brackets
from .successive_halving import SuccessiveHalving


class Hyperband(SuccessiveHalving):
    """Cycles through successive-halving brackets that trade many cheap trials for
    few long ones: bracket ``s = s_max, ..., 0`` starts ``ceil((s_max + 1) / (s + 1)
    * eta**s)`` configurations at ``max_resource * eta**-s`` (see
    :func:`~d2lhpo.schedulers.rungs.hyperband_brackets`); after bracket ``s = 0``
    the cycle starts again.

    Each bracket runs as synchronous successive halving, and its trials first
    report at the bracket's own lowest rung. With ``overlap=True``
    (the default) a worker that would wait for a rung starts the next bracket,
    as practical implementations do; ``overlap=False`` runs one bracket after
    the other, as the paper's pseudocode reads.

    Args:
        searcher, eta, min_resource, max_resource, overlap, metric, mode, seed, anchor: see
            :class:`~d2lhpo.schedulers.successive_halving.SuccessiveHalving`.

    Example:
        >>> hb = Hyperband(RandomSearcher(space, seed=0), eta=3, metric="error",
        ...                mode="min", max_resource=81)
        >>> hb.brackets[1]
        [(34, 3), (11, 9), (3, 27), (1, 81)]
    """

    def __init__(self, searcher, eta=3, min_resource=1, max_resource=None, overlap=True,
                 metric=None, mode=None, seed=None, anchor="max"):
        self.brackets: list | None = None
        super().__init__(searcher, eta, min_resource, max_resource, overlap=overlap,
                         metric=metric, mode=mode, seed=seed, anchor=anchor)

    def _setup(self):
        super()._setup()
        self.brackets = hyperband_brackets(self.max_resource, self.eta, self.min_resource,
                                           self.anchor)

    def bracket_plan(self, index):
        return self.brackets[index % len(self.brackets)]
