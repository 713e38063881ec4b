"""Regenerate the figures in img/ from d2lhpo code (``make figures``).

Each figure is one function below, drawn with the series' style; dense images
are PNG, line plots SVG. The files are written without dates so that an
unchanged figure gives an unchanged file.

Usage:
    python tools/make_figures.py [--out img]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import d2lhpo as hpo  # noqa: E402

# Branin's three global minimisers (Dixon & Szegő 1978), all of value 0.397887.
BRANIN_MINIMA = [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)]


def branin_contours(path: Path) -> None:
    """Branin over its box on a log colour scale, with its three minima."""
    f = hpo.objectives.branin
    x1, x2 = np.meshgrid(np.linspace(-5, 10, 301), np.linspace(0, 15, 301))
    values = np.vectorize(lambda a, b: f.fn(np.array([a, b])))(x1, x2)
    fig, ax = plt.subplots(figsize=(4.8, 4))
    levels = np.logspace(np.log10(f.optimum), np.log10(values.max()), 20)
    cs = ax.contourf(x1, x2, values, levels=levels, norm=matplotlib.colors.LogNorm(),
                     cmap="viridis_r")
    fig.colorbar(cs, ax=ax, label="Branin value (log scale)",
                 ticks=[0.4, 1, 3, 10, 30, 100, 300], format="%g")
    ax.scatter(*zip(*BRANIN_MINIMA), marker="*", s=140, color="crimson",
               edgecolor="white", zorder=3, label="global minima (0.398)")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title="Branin: three equal minima")
    ax.grid(False)
    ax.legend(loc="upper right", frameon=True)
    fig.savefig(path, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def random_search_workers(path: Path, n_seeds: int = 10, max_time: float = 1800) -> None:
    """Random search on Branin, 1 vs. 4 simulated workers: regret vs. time."""
    f = hpo.objectives.branin
    curves = {}
    for n_workers in (1, 4):
        runs = []
        for seed in range(n_seeds):
            scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(f.space, seed=seed))
            tuner = hpo.Tuner(f, scheduler, backend="simulated", n_workers=n_workers,
                              seed=seed, progress=False)
            curve = tuner.run(max_time=max_time).anytime()
            runs.append(curve.assign(best=f.regret(curve["best"])))
        label = f"{n_workers} worker" + ("s" if n_workers > 1 else "")
        curve = hpo.aggregate_anytime(runs, times=np.linspace(0, max_time, 200))
        curves[label] = curve[curve["n_runs"] == n_seeds]  # from when every run has a value
    fig, ax = plt.subplots()
    hpo.plot_anytime(curves, ax=ax, log_y=True, ylabel="simple regret",
                     xlabel="simulated time (s)")
    ax.set_title(f"Random search on Branin (median, quartiles, {n_seeds} seeds)")
    fig.savefig(path, bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


FIGURES = {"branin.png": branin_contours, "random_search_workers.svg": random_search_workers}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("img"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    hpo.set_style(svg=False)
    matplotlib.rcParams["svg.hashsalt"] = "d2lhpo"  # stable ids inside the SVG
    for name, draw in FIGURES.items():
        draw(args.out / name)
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
