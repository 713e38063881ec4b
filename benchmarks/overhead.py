"""How much time d2lhpo itself spends per decision and per simulated result.

Prints one table: microseconds per ``suggest`` + ``observe`` of RandomSearcher
(on Branin's 2-d box and on a 7-hyperparameter mixed space), simulated results
per second of a 4-worker random search on Branin, and where that run's time
goes. Targets: a random-search decision <= 50 us; >= 20,000 results/s.
Times are CPU seconds of this process, best of ``--repeat`` runs, so that a
busy machine (other processes on the same cores) disturbs them less.

    python benchmarks/overhead.py [--trials 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

import d2lhpo as hpo
from d2lhpo.objectives import branin

MIXED = {
    "lr": hpo.loguniform(1e-5, 1e-1),
    "weight_decay": hpo.loguniform(1e-6, 1e-2),
    "dropout": hpo.uniform(0.0, 0.5),
    "n_layers": hpo.randint(1, 4),
    "width": hpo.lograndint(16, 1024),
    "batch_size": hpo.logfinrange(16, 512, 6, cast_int=True),
    "optimizer": hpo.choice(["sgd", "adam", "adamw"]),
}


def decision_us(space, n: int, repeat: int) -> float:
    """Best-of-``repeat`` microseconds per suggest() + observe() of RandomSearcher."""
    best = float("inf")
    for r in range(repeat):
        searcher = hpo.RandomSearcher(space, metric="loss", seed=r)
        t0 = time.process_time()
        for _ in range(n):
            config = searcher.suggest()
            searcher.observe(config, {"loss": 0.0, "resource": 1})
        best = min(best, (time.process_time() - t0) / n)
    return best * 1e6


def simulated_run(n_trials: int, timed: bool = False):
    """A 4-worker FIFO random search on Branin; (results, seconds, breakdown)."""
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(branin.space, seed=0))
    tuner = hpo.Tuner(branin, scheduler, backend="simulated", n_workers=4, seed=0,
                      progress=False)
    spent = defaultdict(float)
    if timed:  # wrap the seams (instance attributes only: the library is untouched)
        for part, obj, names in [("scheduler + searcher", scheduler,
                                  ["ask", "tell", "end"]),
                                 ("backend + objective", tuner.backend,
                                  ["start", "wait", "decide"]),
                                 ("results", tuner.results, ["append"])]:
            for name in names:
                setattr(obj, name, _timer(getattr(obj, name), part, spent))
    t0 = time.process_time()
    results = tuner.run(max_trials=n_trials)
    return results, time.process_time() - t0, spent


def _timer(fn, part, spent):
    def timed(*args, **kwargs):
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[part] += time.process_time() - t0
    return timed


def objective_us(n: int = 20000) -> float:
    """Microseconds per Branin evaluation called directly (no tuner)."""
    space, rng = hpo.Space(branin.space), np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(100)]
    t0 = time.process_time()
    for i in range(n):
        next(branin(configs[i % 100], 0, 1, seed=i))
    return (time.process_time() - t0) / n * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3000)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5,
                        help="best of this many runs (robust to a busy machine)")
    args = parser.parse_args()

    rows = [("RandomSearcher suggest+observe, Branin (2 floats)",
             f"{decision_us(branin.space, args.decisions, args.repeat):.1f} us", "<= 50 us"),
            ("RandomSearcher suggest+observe, 7 mixed hyperparameters",
             f"{decision_us(MIXED, args.decisions, args.repeat):.1f} us", "<= 50 us")]
    best = 0.0
    for _ in range(args.repeat):
        results, seconds, _ = simulated_run(args.trials)
        best = max(best, len(results) / seconds)
    rows.append((f"simulated FIFO random search, Branin, 4 workers, {args.trials} trials",
                 f"{best:,.0f} results/s", ">= 20,000/s"))

    results, seconds, spent = simulated_run(args.trials, timed=True)
    per = 1e6 / len(results)
    rows.append(("  per result, timed run (timers add a little)", f"{seconds * per:.1f} us", ""))
    for part, s in spent.items():
        rows.append((f"    {part}", f"{s * per:.1f} us", ""))
    rows.append(("    tuner loop (the rest)", f"{(seconds - sum(spent.values())) * per:.1f} us",
                 ""))
    rows.append(("  of which Branin itself (called directly)", f"{objective_us():.1f} us", ""))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>18}  target")
    print("-" * (width + 30))
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>18}  {target}")


if __name__ == "__main__":
    main()
