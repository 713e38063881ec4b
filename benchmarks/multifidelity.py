"""Multi-fidelity schedulers against random search, on a simulated clock.

Prints two tables. First, for random search (FIFO), synchronous successive
halving, Hyperband, and ASHA (stopping and promotion), over ``--seeds`` seeds
with ``--workers`` simulated workers and ``--budget`` simulated seconds each:

- the simulated time at which the median (over seeds) best-so-far error first
  reaches the *target*, the median final error of random search, and how many
  times sooner than random search that is (full-fidelity results only);
- the median final error;
- the median real seconds one simulated run takes.

Second, the real seconds one 4-worker, 3-simulated-hour ASHA run takes, with
the recorded epoch times (``cost_scale`` 1) and with epochs 45 times longer
(``cost_scale`` 45: FashionMNIST's 48,000 training images against digits'
1,077, the live objective's alternative). The simulation costs per reported
epoch, so the recorded table's short epochs (0.09 CPU seconds on average) make
a 3-hour run long.

Targets: ASHA reaches the target >= 3x sooner than random search; a 4-worker,
3-simulated-hour ASHA run takes < 2 real seconds.

The objective is the recorded LeNet learning-curve table
(``d2lhpo.objectives.lenet_digits``; default budget 120 s, about 200 full
trainings on 4 workers, as in notebook 04), or with ``--objective synthetic``
the synthetic learning curves defined here (default budget 3 hours).

    python benchmarks/multifidelity.py [--seeds 10] [--workers 4] [--budget 120]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

import d2lhpo as hpo


class SyntheticCurves(hpo.objectives.Objective):
    """LeNet-like learning curves: the error falls towards a floor set by the
    configuration, at a speed set by the learning rate and batch size.

    Too large a learning rate learns fast but ends worse (or diverges), too
    small a one ends well but learns slowly, so curves cross and low-fidelity
    rankings are informative but not exact. Epochs take 15-40 simulated
    seconds (small batches are slower); each epoch's error has noise drawn
    from the trial's seed, the same on resume.
    """

    space = {"learning_rate": hpo.loguniform(1e-5, 1.0),
             "batch_size": hpo.lograndint(16, 256),
             "dropout": hpo.uniform(0.0, 0.8)}
    metric, mode, max_resource = "error", "min", 27

    def __call__(self, config, r0, r1, seed=None):
        lr, batch, dropout = config["learning_rate"], config["batch_size"], config["dropout"]
        d = math.log10(lr / (0.05 * batch / 64))  # distance to the best learning rate
        floor = 0.02 + 0.2 * d**2 + 0.5 * (dropout - 0.2) ** 2
        rate = 0.6 * 10 ** (-0.6 * max(0.0, -d)) * math.sqrt(64 / batch) * (1 - 0.5 * dropout)
        diverged = d > 1.0
        noise = np.random.default_rng(seed).normal(0.0, 0.002, size=self.max_resource)
        cost = 15 + 25 * (16 / batch) ** 0.5
        for epoch in range(int(r0) + 1, int(r1) + 1):
            error = 0.9 if diverged else min(0.9, floor + (0.9 - floor) * math.exp(-rate * epoch))
            yield {"resource": epoch, "error": max(0.0, error + noise[epoch - 1]), "cost": cost}


def objective_for(name: str):
    if name in ("auto", "lenet") and hasattr(hpo.objectives, "lenet_digits"):
        return hpo.objectives.lenet_digits(), "lenet_digits (recorded table)"
    if name == "lenet":
        raise SystemExit("d2lhpo.objectives.lenet_digits does not exist (yet)")
    return SyntheticCurves(), "synthetic learning curves"


METHODS = {
    "random search": lambda s, seed: hpo.FIFOScheduler(s),
    "successive halving": lambda s, seed: hpo.SuccessiveHalving(s, eta=3, seed=seed),
    "Hyperband": lambda s, seed: hpo.Hyperband(s, eta=3, seed=seed),
    "ASHA stopping": lambda s, seed: hpo.ASHA(s, type="stopping", eta=3, seed=seed),
    "ASHA promotion": lambda s, seed: hpo.ASHA(s, type="promotion", eta=3, seed=seed),
}


def run(objective, method: str, seed: int, n_workers: int, max_time: float):
    """One simulated run: (anytime curve, real seconds)."""
    searcher = hpo.RandomSearcher(objective.space, seed=seed)
    scheduler = METHODS[method](searcher, seed)
    tuner = hpo.Tuner(objective, scheduler, backend="simulated", n_workers=n_workers,
                      seed=seed, progress=False)
    t0 = time.perf_counter()
    results = tuner.run(max_time=max_time)
    return results.anytime(), time.perf_counter() - t0


def median_curve(curves, times) -> np.ndarray:
    """The median over seeds of the best-so-far error at ``times`` (inf before a
    run's first full-fidelity result: it has not reached anything yet)."""
    grid = np.full((len(curves), len(times)), np.inf)
    for i, c in enumerate(curves):
        idx = np.searchsorted(c.time.to_numpy(), times, side="right") - 1
        grid[i] = np.where(idx >= 0, c.best.to_numpy()[np.clip(idx, 0, None)], np.inf)
    return np.median(grid, axis=0)


def time_to(curve: np.ndarray, times, target: float) -> float:
    """First of ``times`` at which ``curve`` is <= ``target`` (inf if never)."""
    hit = np.flatnonzero(curve <= target)
    return float(times[hit[0]]) if len(hit) else math.inf


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--budget", type=float, default=None,
                        help="simulated seconds per run (default: 120 on the recorded "
                             "table, 3 hours on the synthetic curves)")
    parser.add_argument("--objective", choices=["auto", "lenet", "synthetic"], default="auto")
    parser.add_argument("--skip-timing", action="store_true",
                        help="leave out the 3-simulated-hour timing runs")
    args = parser.parse_args(argv)
    objective, label = objective_for(args.objective)
    synthetic = isinstance(objective, SyntheticCurves)
    max_time = args.budget or (3 * 3600 if synthetic else 120.0)
    curves = {m: [] for m in METHODS}
    seconds = {m: [] for m in METHODS}
    for method in METHODS:
        for seed in range(args.seeds):
            curve, sec = run(objective, method, seed, args.workers, max_time)
            curves[method].append(curve)
            seconds[method].append(sec)
    times = np.linspace(0.0, max_time, 2001)
    medians = {m: median_curve(curves[m], times) for m in METHODS}
    target = float(medians["random search"][-1])
    rs_time = time_to(medians["random search"], times, target)
    rows = []
    for m in METHODS:
        t = time_to(medians[m], times, target)
        rows.append({"method": m, "time to target [s]": t,
                     "speed-up vs random search": rs_time / t,
                     "median final error": float(medians[m][-1]),
                     "real s / run": float(np.median(seconds[m]))})
    print(f"{label}: {args.seeds} seeds, {args.workers} workers, {max_time:g} simulated "
          f"seconds; target = random search's median final error {target:.4f}")
    print(pd.DataFrame(rows).set_index("method").to_string(float_format=lambda v: f"{v:.4g}"))
    if args.skip_timing:
        return
    rows = []
    for scale in ([1.0] if synthetic else [1.0, 45.0]):
        timed = objective if synthetic else hpo.objectives.lenet_digits(cost_scale=scale)
        searcher = hpo.RandomSearcher(timed.space, seed=0)
        tuner = hpo.Tuner(timed, hpo.ASHA(searcher, type="promotion", seed=0),
                          backend="simulated", n_workers=4, seed=0, progress=False)
        t0 = time.perf_counter()
        results = tuner.run(max_time=3 * 3600)
        seconds = time.perf_counter() - t0
        rows.append({"cost_scale": scale, "epochs reported": len(results),
                     "real s": seconds, "epochs / real s": len(results) / seconds})
    print("\nOne 4-worker ASHA (promotion) run of 3 simulated hours")
    print(pd.DataFrame(rows).set_index("cost_scale").to_string(
        float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
