"""Schedulers and a deterministic objective for the resume-by-replay tests.

    python tests/helper_replay.py NAME JOURNAL CHECKPOINT_DIR KILL_AT N_WORKERS

runs scheduler NAME on the simulated backend with a journal and kills its own
process with SIGKILL in the middle of the KILL_AT-th step (no clean-up at all).
"""

import os
import signal
import sys

import d2lhpo as hpo

SPACE = {"x": hpo.uniform(0, 1), "lr": hpo.loguniform(1e-3, 1), "k": hpo.choice(["a", "b"])}
MAX_TRIALS = 30


def schedulers():
    """Name -> a function of a seed that makes the scheduler."""
    rs = lambda seed: hpo.RandomSearcher(SPACE, seed=seed)  # noqa: E731
    return {
        "fifo": lambda seed: hpo.FIFOScheduler(rs(seed)),
        "asha-stopping": lambda seed: hpo.ASHA(rs(seed), type="stopping", seed=seed),
        "asha-promotion": lambda seed: hpo.ASHA(rs(seed), type="promotion", seed=seed),
        "median": lambda seed: hpo.MedianStopping(rs(seed), min_resource=2),
        "sh": lambda seed: hpo.SuccessiveHalving(rs(seed), seed=seed),
        "sh-one-bracket": lambda seed: hpo.SuccessiveHalving(rs(seed), overlap=False,
                                                              seed=seed),
        "hyperband": lambda seed: hpo.Hyperband(rs(seed), seed=seed),
        "hyperband-cost-aware": lambda seed: hpo.Hyperband(rs(seed), seed=seed,
                                                           cost_aware=True),
        "bo-asha": lambda seed: hpo.ASHA(
            hpo.BayesianOptimization(SPACE, seed=seed, n_candidates=256, n_local=1),
            type="promotion", seed=seed),
    }


class Curves:
    """error = f(x, lr) + 1/epoch, with a checkpoint file of the epoch reached; it
    raises ``interrupt`` in the middle of its ``at``-th step. An epoch costs 1 + x
    simulated seconds, and the first 6 more (a start-up, which makes the lowest
    rung of Hyperband with ``cost_aware`` too dear)."""

    space, metric, mode, max_resource = SPACE, "error", "min", 9

    def __init__(self, at=None, interrupt=KeyboardInterrupt):
        self.at, self.interrupt, self.steps = at, interrupt, 0

    def __call__(self, config, r0, r1, checkpoint):
        if r0 > 0:
            with open(checkpoint) as f:
                assert int(f.read()) >= r0, "the checkpoint is behind the journaled resource"
        quality = (config["x"] - 0.3) ** 2 + abs(config["lr"] - 0.1)
        quality += 0.1 * (config["k"] == "b")
        for epoch in range(int(r0) + 1, int(r1) + 1):
            self.steps += 1
            if self.steps == self.at:
                if self.interrupt is signal.SIGKILL:
                    os.kill(os.getpid(), signal.SIGKILL)
                raise self.interrupt
            with open(checkpoint, "w") as f:
                f.write(str(epoch))
            startup = 6.0 if epoch == 1 else 0.0
            yield {"resource": epoch, "error": quality + 1 / epoch,
                   "cost": startup + 1.0 + config["x"]}


def tuner(name, journal=None, checkpoint_dir=None, resume=False, n_workers=1, objective=None):
    return hpo.Tuner(objective or Curves(), schedulers()[name](0), backend="simulated",
                     n_workers=n_workers, seed=0, journal=journal,
                     checkpoint_dir=checkpoint_dir, resume=resume, progress=False)


if __name__ == "__main__":
    name, journal, ckpt, kill_at, n_workers = sys.argv[1:6]
    tuner(name, journal, ckpt, n_workers=int(n_workers),
          objective=Curves(int(kill_at), signal.SIGKILL)).run(max_trials=MAX_TRIALS)
    sys.exit(3)  # not killed: the test's KILL_AT was too large
