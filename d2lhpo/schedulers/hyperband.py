"""Hyperband (Li et al., JMLR 2018): successive halving over several brackets."""

from __future__ import annotations

from .rungs import hyperband_brackets
from .successive_halving import SuccessiveHalving


class Hyperband(SuccessiveHalving):
    """Cycles through successive-halving brackets that trade many cheap trials for
    few long ones: bracket ``s = s_max, ..., 0`` starts ``ceil((s_max + 1) / (s + 1)
    * eta**s)`` configurations at ``max_resource * eta**-s`` (see
    :func:`~d2lhpo.schedulers.rungs.hyperband_brackets`).

    Each bracket runs as synchronous successive halving, one bracket after the
    other, as in the paper; after bracket ``s = 0`` the cycle starts again.

    Args:
        searcher, eta, min_resource, max_resource, metric, mode, seed: see
            :class:`~d2lhpo.schedulers.successive_halving.SuccessiveHalving`.

    Example:
        >>> scheduler = Hyperband(RandomSearcher(space, seed=0), eta=3,
        ...                       max_resource=81, seed=0)
        >>> scheduler.bind("error", "min", None); scheduler.brackets[1]
        [(34, 3), (11, 9), (3, 27), (1, 81)]
    """

    def __init__(self, searcher, eta=3, min_resource=1, max_resource=None, metric=None,
                 mode=None, seed=None):
        super().__init__(searcher, eta, min_resource, max_resource, metric=metric, mode=mode,
                         seed=seed)
        self.brackets: list | None = None

    def bind(self, metric, mode, max_resource):
        super().bind(metric, mode, max_resource)
        self.brackets = hyperband_brackets(self.max_resource, self.eta, self.min_resource)

    def bracket_plan(self, index):
        return self.brackets[index % len(self.brackets)]
