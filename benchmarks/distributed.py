"""Distributed HPO: the Dask backend's overhead, its real speed-up, and simulated speed-ups.

Prints three tables:

1. Tuner overhead per trial on the Dask backend (local cluster, trivial
   objective), next to Dask's own cost of a task round trip on the same
   cluster. Target: <= 20 ms per trial on one worker.
2. Asynchronous random search with 0.5 s sleeping objectives on 2 local Dask
   workers vs 1 (wall-clock makespan). Target: speed-up >= 1.8x.
3. On the simulated backend: median time (over seeds) for asynchronous random
   search and ASHA to reach a target value on a multi-fidelity Branin, and the
   speed-up over one worker, for 1, 2, 4, 8, 16 workers.

    python benchmarks/distributed.py [--trials 200] [--sleepers 16] [--seeds 10]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time

# This file has the name of the package it measures: import that one, not this file.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import distributed  # noqa: E402
import numpy as np  # noqa: E402

import d2lhpo as hpo  # noqa: E402
from d2lhpo.backends.dask import DaskBackend  # noqa: E402
from d2lhpo.objectives import branin  # noqa: E402

SPACE = {"x": hpo.uniform(0.0, 1.0)}
WORKERS = (1, 2, 4, 8, 16)


def trivial(config):
    return config["x"]


def sleeper(config):
    time.sleep(0.5)
    return config["x"]


def _noop(x):
    return x


def _cluster(n_workers):
    cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                       processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=logging.ERROR,
                                       scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    return cluster, distributed.Client(cluster, set_as_default=False)


def _tune(objective, client, n_trials, seed=0):
    """Wall seconds of a FIFO random search of ``n_trials`` (cluster start not counted)."""
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE, seed=seed), metric="y")
    tuner = hpo.Tuner(objective, scheduler, backend=DaskBackend(client), progress=False)
    t0 = time.perf_counter()
    results = tuner.run(max_trials=n_trials)
    assert (results.trials()["status"] == "completed").all()
    return time.perf_counter() - t0


def overhead_rows(n_trials):
    rows = []
    for n_workers in (1, 2):
        cluster, client = _cluster(n_workers)
        try:
            _tune(trivial, client, 10)  # warm up: imports and connections on the workers
            seconds = _tune(trivial, client, n_trials)
            t0 = time.perf_counter()
            for i in range(50):
                client.submit(_noop, i, pure=False).result()
            dask_ms = (time.perf_counter() - t0) / 50 * 1e3
        finally:
            client.close()
            cluster.close()
        target = "<= 20 ms" if n_workers == 1 else ""
        rows.append((f"Dask backend, {n_workers} worker(s), {n_trials} trivial trials: "
                     "wall time per trial", f"{seconds / n_trials * 1e3:.1f} ms", target))
        rows.append(("  Dask alone: submit + result of a no-op task, one at a time",
                     f"{dask_ms:.1f} ms", ""))
    return rows


def speedup_rows(n_trials):
    seconds = {}
    for n_workers in (1, 2):
        cluster, client = _cluster(n_workers)
        try:
            _tune(trivial, client, 4)  # warm up
            seconds[n_workers] = _tune(sleeper, client, n_trials)
        finally:
            client.close()
            cluster.close()
    return [(f"{n_trials} trials of 0.5 s, 1 Dask worker", f"{seconds[1]:.2f} s",
             f"ideal {0.5 * n_trials:.1f} s"),
            (f"{n_trials} trials of 0.5 s, 2 Dask workers", f"{seconds[2]:.2f} s",
             f"ideal {0.25 * n_trials:.1f} s"),
            ("speed-up of 2 workers over 1", f"{seconds[1] / seconds[2]:.2f}x", ">= 1.8x")]


class BraninCurves(hpo.objectives.Objective):
    """Branin as a 9-epoch learning curve, for multi-fidelity schedulers.

    Epoch ``r`` reports ``branin(x) + a(x) * (1/r - 1/9)``: the final value is
    Branin's, and ``a(x)`` (between 0 and 40) differs between points so that
    curves cross and early epochs rank configurations only roughly. Each epoch
    costs a ninth of Branin's synthetic cost (30 to 90 simulated seconds).
    """

    space = branin.space
    metric, mode, max_resource = "value", "min", 9

    def __call__(self, config, r0, r1):
        full = next(branin(config, 0, 1))
        a = 20.0 * (1.0 + math.sin(3.0 * config["x1"] + 2.0 * config["x2"]))
        for r in range(int(r0) + 1, int(r1) + 1):
            yield {"resource": r, "value": full["value"] + a * (1 / r - 1 / 9),
                   "cost": full["cost"] / 9}


def time_to_target(results, target):
    curve = results.anytime()
    hit = curve[curve["best"] <= target]
    return float(hit["time"].iloc[0]) if len(hit) else math.nan


def simulated_rows(n_seeds, target, max_trials):
    objective = BraninCurves()
    methods = {"random search": lambda s: hpo.FIFOScheduler(hpo.RandomSearcher(
        objective.space, seed=s))}
    if hasattr(hpo, "ASHA"):
        methods["ASHA (stopping, eta=3)"] = lambda s: hpo.ASHA(
            hpo.RandomSearcher(objective.space, seed=s), eta=3, min_resource=1)
    rows = []
    for name, make in methods.items():
        base = None
        for n_workers in WORKERS:
            times = [time_to_target(hpo.Tuner(objective, make(seed),
                                              backend="simulated",
                                              n_workers=n_workers, seed=seed, progress=False)
                                    .run(max_trials=max_trials, target=target), target)
                     for seed in range(n_seeds)]
            median = float(np.median(times))  # NaN if most seeds missed the target
            base = base if base is not None else median
            missed = sum(math.isnan(t) for t in times)
            rows.append((f"{name}, {n_workers:>2} workers: median time to value <= {target}",
                         f"{median / 3600:.2f} h", f"speed-up {base / median:.1f}x"
                         + (f" ({missed} seeds missed)" if missed else "")))
    return rows


def _print(title, rows):
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}\n{'measure':<{width}}  {'value':>10}  target / note")
    print("-" * (width + 40))
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="trivial trials (overhead)")
    parser.add_argument("--sleepers", type=int, default=16, help="0.5 s trials (speed-up)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per simulated setting")
    parser.add_argument("--target", type=float, default=0.6,
                        help="value to reach in the simulation (Branin's minimum: 0.398)")
    parser.add_argument("--max-trials", type=int, default=5000,
                        help="trials per simulated run at most (it stops at the target)")
    args = parser.parse_args()
    _print("1. Tuner overhead on the Dask backend", overhead_rows(args.trials))
    _print("2. Asynchronous random search, real Dask workers", speedup_rows(args.sleepers))
    _print("3. Simulated speed-up with the number of workers",
           simulated_rows(args.seeds, args.target, args.max_trials))


if __name__ == "__main__":
    main()
