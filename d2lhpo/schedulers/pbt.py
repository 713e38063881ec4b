"""Population-based training (Jaderberg et al. 2017): exploit the best members, explore around them.

A population of ``population_size`` trials trains side by side. Every
``interval`` epochs, once every member has got there, the members are ranked
by their last result; each member of the bottom ``fraction`` takes over the
weights (checkpoint) and hyperparameters of a member drawn uniformly from the
top ``fraction`` (*exploit*, truncation selection), then perturbs each
hyperparameter named in ``hyperparameters`` (*explore*): with probability
``resample_probability`` a fresh draw from the search space, else the value
times a factor drawn from ``factors`` (Ray Tune's defaults: 0.25, (1.2, 0.8)).

This is the one scheduler whose trials change configuration mid-run and start
from another trial's checkpoint. Both go through the scheduler/tuner contract:
the :class:`~d2lhpo.schedulers.base.Job` carries the trial's new ``config`` (it
replaces the trial's, and every result row records the config it ran with) and
``checkpoint_from``, the trial whose checkpoint the tuner copies over this
trial's before the job starts. The exploit step waits until every member has
reached the same epoch and paused (Ray Tune's ``synch=True``), so the copied
checkpoints are ones no worker is writing, and the jobs that copy are handed
out before any donor's next job starts.
"""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np

from ..checks import check_int, check_number
from ..spaces import Categorical, Domain, FiniteRange, Integer, Space
from .base import Decision, Job, Scheduler, _Diverged, _same_config

logger = logging.getLogger(__name__)


def n_truncated(n_members: int, fraction: float) -> int:
    """How many members form the bottom (and the top) ``fraction``: ``ceil(n * fraction)``,
    at most half the population, as in Ray Tune."""
    return min(math.ceil(n_members * fraction - 1e-12), n_members // 2)


def truncation_selection(scores: dict, fraction: float, rng: np.random.Generator,
                         mode: str = "min") -> dict[int, int]:
    """PBT's exploit step: each member of the bottom ``fraction`` copies a member drawn
    uniformly from the top ``fraction``.

    Args:
        scores: member id -> its last value of the metric.
        fraction: the share of the population that is replaced (and that donates).
        rng: draws the donors.
        mode: ``"min"`` (lower is better) or ``"max"``.

    Returns:
        ``{bottom member: donor}``, bottom members from worst to best. Ties are
        broken by id (the lower id ranks better).
    """
    ids = sorted(scores)
    sign = 1.0 if mode == "min" else -1.0
    ranked = sorted(ids, key=lambda i: (sign * scores[i], i))  # best first
    k = n_truncated(len(ranked), fraction)
    if k == 0:
        return {}
    top, bottom = ranked[:k], ranked[::-1][:k]
    return {i: top[int(rng.integers(k))] for i in bottom}


def perturb(domain: Domain, value, rng: np.random.Generator,
            factors=(1.2, 0.8), resample_probability: float = 0.25):
    """PBT's explore step for one hyperparameter (Ray Tune's rule, kept inside the domain).

    With probability ``resample_probability`` a fresh draw from ``domain``;
    otherwise a number times a factor drawn uniformly from ``factors`` (an
    integer rounded), and an ordered choice (a finite range or a categorical)
    moved to a neighbouring value. The result is clipped to the domain's bounds
    (Ray Tune does not clip; we keep every configuration in the search space).
    """
    if rng.random() < resample_probability:
        return domain.sample(rng)
    if isinstance(domain, (FiniteRange, Categorical)):
        values = list(domain.values if isinstance(domain, FiniteRange) else domain.categories)
        i = values.index(value) if value in values else int(rng.integers(len(values)))
        step = -1 if rng.random() < 0.5 else 1
        return values[min(max(i + step, 0), len(values) - 1)]
    factor = factors[int(rng.integers(len(factors)))]
    if isinstance(domain, Integer):
        return int(min(max(round(value * factor), domain.lower), domain.upper))
    return float(min(max(value * factor, domain.lower), domain.upper))


def explore(config: dict, space: Space, hyperparameters, rng: np.random.Generator,
            factors=(1.2, 0.8), resample_probability: float = 0.25) -> dict:
    """A copy of ``config`` with each of ``hyperparameters`` perturbed (see :func:`perturb`),
    in the order given; the other hyperparameters are kept."""
    new = dict(config)
    for name in hyperparameters:
        new[name] = perturb(space.domains[name], config[name], rng, factors,
                            resample_probability)
    return new


class PBT(Scheduler):
    """Population-based training: a population that copies its best members and mutates.

    Starts ``population_size`` trials from the searcher, each for ``interval``
    epochs. When all members have paused at the same epoch, the bottom
    ``fraction`` copies the checkpoint and configuration of a member drawn
    uniformly from the top ``fraction`` (:func:`truncation_selection`) and
    perturbs ``hyperparameters`` (:func:`explore`); then every member runs the
    next ``interval`` epochs, until ``max_resource``. A failed member leaves
    the population. ``exploits`` lists each exploit step (epoch, member, donor,
    the config before and after), and every result row records the config it
    ran with, so each member's schedule can be read off the results.

    Args:
        searcher: draws the initial population (asked ``population_size`` times).
        hyperparameters: names of the hyperparameters to perturb (in the space;
            architecture ones such as layer widths must not be, since a copied
            checkpoint only fits its own architecture).
        population_size: members (at least 2).
        interval: epochs between exploit steps (> 0).
        fraction: the share replaced and the share copied from, in (0, 0.5].
        resample_probability: chance of a fresh draw instead of a factor, in [0, 1].
        factors: the multiplicative perturbations (positive numbers).
        metric, mode, max_resource, seed: see :class:`Scheduler`.

    Example:
        >>> pbt = PBT(RandomSearcher(cnn.space, seed=0), ["learning_rate"],
        ...           population_size=8, interval=2, seed=0)
        >>> tuner = Tuner(cnn, pbt, backend="process", n_workers=2, seed=0)
        >>> results = tuner.run(max_trials=8)
    """

    def __init__(self, searcher, hyperparameters, population_size: int = 8,
                 interval: float = 1, fraction: float = 0.25,
                 resample_probability: float = 0.25, factors=(1.2, 0.8),
                 metric: str | None = None, mode: str | None = None,
                 max_resource: float | None = None, seed=None):
        super().__init__(searcher, metric, mode, max_resource, seed)
        if isinstance(hyperparameters, str) or not hasattr(hyperparameters, "__iter__"):
            raise ValueError(f"hyperparameters must be a list of names, got "
                             f"{hyperparameters!r}")
        hyperparameters = list(hyperparameters)
        if not hyperparameters:
            raise ValueError("hyperparameters must name at least one hyperparameter, got []")
        for name in hyperparameters:
            if name not in searcher.space.domains:
                raise ValueError(
                    f"hyperparameters: {name!r} is not a hyperparameter of the search "
                    f"space (it has {sorted(searcher.space.domains)})")
        population_size = check_int("population_size", population_size, 2)
        check_number("interval", interval, 0, low_open=True)
        if not (_real(fraction) and 0 < fraction <= 0.5):
            raise ValueError(f"fraction must be in (0, 0.5], got {fraction!r}")
        if not (_real(resample_probability) and 0 <= resample_probability <= 1):
            raise ValueError(f"resample_probability must be in [0, 1], got "
                             f"{resample_probability!r}")
        if (isinstance(factors, str) or not hasattr(factors, "__iter__") or not factors
                or not all(_real(f) and 0 < f < math.inf for f in factors)):
            raise ValueError(f"factors must be a list of positive numbers, got {factors!r}")
        self.hyperparameters = hyperparameters
        self.population_size, self.interval = population_size, interval
        self.fraction, self.resample_probability = fraction, resample_probability
        self.factors = tuple(factors)
        self.scores: dict[int, float] = {}   # member -> its last value of the metric
        self.exploits: list[dict] = []
        self._queue: list[Job] = []          # the jobs of the current generation
        self._warned = False

    def next_job(self):
        if len(self.trials) < self.population_size and self.new_trials:
            job = self.new_job(self.interval)
            if job is not None:
                return job
        if not self._queue:
            self._queue = self._generation()
        if not self._queue:
            return None
        while self._queue and self.trials[self._queue[0].trial_id].status != "paused":
            self._queue.pop(0)  # it failed while it waited
        if not self._queue:
            return None
        job, replay = self._queue[0], self._replaying
        if replay is not None:
            if replay["trial_id"] != job.trial_id:
                raise _Diverged("resume")
            job = self._as_journaled(job, replay)
        self._queue.pop(0)
        trial = self.trials[job.trial_id]
        if job.checkpoint_from is not None:
            self.exploits.append({"resource": trial.resource, "trial_id": trial.trial_id,
                                  "donor": job.checkpoint_from, "old_config": trial.config,
                                  "config": job.config})
        trial.config = job.config  # from now on: the job's config is the trial's
        out = self._job(trial, job.r1)
        out.checkpoint_from = job.checkpoint_from
        return out

    def _generation(self) -> list[Job]:
        """The next jobs of every member, once all have paused at the same epoch."""
        live = [t for t in self.trials.values() if t.status in ("running", "paused")]
        if not live or any(t.status == "running" for t in live):
            return []
        if self.new_trials and len(self.trials) < self.population_size:
            return []  # the searcher may still add members (it ran out otherwise)
        resource = min(t.resource for t in live)
        at = [t for t in live if t.resource == resource]
        r1 = min(resource + self.interval, self.max_resource)
        copies = truncation_selection({t.trial_id: self.scores[t.trial_id] for t in at},
                                      self.fraction, self.rng, self.mode)
        jobs = []
        for member, donor in copies.items():  # the copies first: no donor runs yet
            new = explore(self.trials[donor].config, self.searcher.space,
                          self.hyperparameters, self.rng, self.factors,
                          self.resample_probability)
            jobs.append(Job(member, new, resource, r1, checkpoint_from=donor))
        jobs += [Job(t.trial_id, t.config, resource, r1) for t in at
                 if t.trial_id not in copies]
        return jobs

    def _as_journaled(self, job, replay):
        """Replay: the journal's config and donor, where they differ from ours (an
        unseeded run draws others); said once."""
        config, donor = replay.get("config"), replay.get("checkpoint_from")
        if donor == job.checkpoint_from and _same_config(config, job.config):
            return job
        if not self._warned:
            logger.warning("replaying the journal: PBT draws other donors or perturbations "
                           "than the journaled ones (was it seeded?); going on with the "
                           "journaled ones")
            self._warned = True
        return Job(job.trial_id, dict(config), job.r0, job.r1, checkpoint_from=donor)

    def on_result(self, trial, report):
        self.scores[trial.trial_id] = float(report[self.metric])
        return Decision.CONTINUE  # the job ends at its r1: paused until the generation


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
