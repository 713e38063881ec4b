"""How fast the recorded LeNet curves replay on a simulated clock.

Prints one table: microseconds per replayed 27-epoch curve (nearest-neighbour
lookup included), and the real seconds of a 4-worker ASHA run (promotion
type, eta=3) over ``--hours`` simulated hours for several ``cost_scale``
values. At the recorded costs (digits, a few tenths of a second per epoch)
three simulated hours are hundreds of thousands of epochs; ``cost_scale``
stretches each epoch to what a larger dataset would cost. Target: a
3-simulated-hour run with ~3,000 results in < 2 real seconds.

    python benchmarks/tabular_replay.py [--hours 3] [--scales 100 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import d2lhpo as hpo
from d2lhpo.objectives import lenet_digits


def replay_us(bench, n: int = 2000) -> float:
    """Microseconds per full curve of a configuration not seen before."""
    space, rng = hpo.Space(bench.space), np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(n)]
    t0 = time.perf_counter()
    for config in configs:
        for _ in bench(config, 0, bench.max_resource):
            pass
    return 1e6 * (time.perf_counter() - t0) / n


def asha_run(bench, hours: float, seed: int = 0):
    scheduler = hpo.ASHA(hpo.RandomSearcher(bench.space, seed=seed), type="promotion",
                         eta=3, seed=seed)
    tuner = hpo.Tuner(bench, scheduler, backend="simulated", n_workers=4, progress=False)
    t0 = time.perf_counter()
    results = tuner.run(max_time=3600 * hours)
    return time.perf_counter() - t0, results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--scales", type=float, nargs="+", default=[100.0, 30.0])
    args = parser.parse_args(argv)
    bench = lenet_digits()
    print(f"{bench}; mean recorded cost {bench.costs.mean():.3f} s per epoch")
    print(f"replay of one 27-epoch curve (nearest-neighbour lookup included): "
          f"{replay_us(bench):.0f} us")
    print(f"\n{'cost_scale':>10} {'s/epoch':>8} {'results':>8} {'trials':>7} "
          f"{'best error':>10} {'real s':>7}")
    for scale in args.scales:
        bench = lenet_digits(cost_scale=scale)
        seconds, results = asha_run(bench, args.hours)
        print(f"{scale:>10g} {bench.costs.mean():>8.1f} {len(results.df):>8d} "
              f"{results.df['trial_id'].nunique():>7d} {results.best()['error']:>10.4f} "
              f"{seconds:>7.2f}")


if __name__ == "__main__":
    main()
