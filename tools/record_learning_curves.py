"""Record learning curves of the CNN objective for replay (``TabularObjective``).

Samples ``--n-configs`` configurations from ``CNNObjective().space`` with a
seeded generator (configuration ``i`` is the same whatever ``--n-configs`` is,
so a table can be extended later), trains each for ``--epochs`` epochs and
appends one row per epoch to a CSV: validation error, number of weights, the
epoch's wall-clock seconds and the process's CPU seconds, the training seed
and the configuration (columns ``config_<name>``). Rows of a configuration are
written together when it finishes, so an interrupted run resumes where it
stopped: configurations already in the CSV are skipped.

Usage:
    python tools/record_learning_curves.py --n-configs 500 --out curves.csv
    python tools/record_learning_curves.py --out curves.csv \\
        --export d2lhpo/data/lenet_digits.csv.gz    # after it has finished
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from d2lhpo.objectives.cnn import CNNObjective
from d2lhpo.results import CONFIG_PREFIX
from d2lhpo.spaces import Space


def sample_configs(n: int, seed: int) -> list[dict]:
    """The first ``n`` configurations of the seeded sequence."""
    space, rng = Space(CNNObjective().space), np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def trial_seed(seed: int, config_id: int) -> int:
    return int(np.random.SeedSequence([seed, config_id]).generate_state(1)[0])


def record_one(config_id, config, seed, dataset, epochs, threads) -> list[dict]:
    """Train one configuration; one row per epoch (runs in a worker process)."""
    objective = CNNObjective(dataset=dataset, max_epochs=epochs, threads=threads)
    rows, steps = [], objective(config, r0=0, r1=epochs, seed=seed)
    while True:
        cpu = time.process_time()  # this worker's CPU seconds for the step
        try:
            report = next(steps)
        except StopIteration:
            return rows
        rows.append({"config_id": config_id, "seed": seed, "epoch": report["resource"],
                     "error": report["error"], "n_params": report["n_params"],
                     "wall_s": report["cost"], "cpu_s": time.process_time() - cpu,
                     **{CONFIG_PREFIX + k: v for k, v in config.items()}})


def done_ids(path: Path, epochs: int) -> set[int]:
    if not path.exists():
        return set()
    counts = pd.read_csv(path, usecols=["config_id"])["config_id"].value_counts()
    return set(counts[counts >= epochs].index)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def export(path: Path, target: Path, n_configs: int | None):
    """Sort, keep the first ``n_configs`` configurations and write a gzipped CSV."""
    table = pd.read_csv(path)
    table = table.drop_duplicates(["config_id", "epoch"]).sort_values(["config_id", "epoch"])
    if n_configs is not None:
        table = table[table["config_id"] < n_configs]
    target.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(target, index=False, compression={"method": "gzip", "mtime": 0})
    print(f"wrote {target}: {table['config_id'].nunique()} configurations, {len(table)} rows, "
          f"{target.stat().st_size / 1e6:.2f} MB; CPU {table['cpu_s'].sum() / 3600:.2f} h, "
          f"wall {table['wall_s'].sum() / 3600:.2f} h of training")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-configs", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--out", type=Path, default=Path("lenet_digits.csv"))
    parser.add_argument("--export", type=Path, default=None,
                        help="write the finished table, sorted and gzipped, here and stop")
    args = parser.parse_args(argv)
    if args.export is not None:
        return export(args.out, args.export, args.n_configs)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = args.out.with_suffix(".meta.jsonl")
    with open(meta, "a") as f:  # one line per session: what ran where
        f.write(json.dumps({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "cpu": cpu_model(),
                            "n_cpus": os.cpu_count(), "python": platform.python_version(),
                            "torch": __import__("torch").__version__,
                            "args": {k: str(v) for k, v in vars(args).items()}}) + "\n")
    done = done_ids(args.out, args.epochs)
    todo = [(i, c) for i, c in enumerate(sample_configs(args.n_configs, args.seed))
            if i not in done]
    start = time.time()
    with ProcessPoolExecutor(args.workers) as pool, \
            tqdm(total=args.n_configs, initial=args.n_configs - len(todo), unit="config") as bar:
        futures = [pool.submit(record_one, i, c, trial_seed(args.seed, i), args.dataset,
                               args.epochs, args.threads) for i, c in todo]
        for future in as_completed(futures):
            rows = pd.DataFrame(future.result())
            rows.to_csv(args.out, mode="a", header=not args.out.exists(), index=False)
            bar.update(1)
    with open(meta, "a") as f:
        f.write(json.dumps({"finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                            "session_wall_s": round(time.time() - start, 1),
                            "configs_this_session": len(todo)}) + "\n")


if __name__ == "__main__":
    main()
