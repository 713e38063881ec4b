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

With ``--robust`` (issue 14), instead: the final best full-fidelity metric
over ``--seeds`` seeds (median, quartiles, the worst seed, random search's
median and how many seeds end worse than it) of random search, Hyperband,
ASHA (both types), BO inside ASHA (both types) and Hyperband, BOHB (TPE inside
Hyperband, a third of its suggestions random as in Falkner et al. 2018),
Optuna's TPE with its HyperbandPruner, and Hyperband, BO-in-Hyperband and
BOHB with ``cost_aware=True`` (a bracket whose first rung would cost more
than Hyperband's plan gives the rung above is skipped), with equal simulated
budgets (4 workers; Optuna one trial at a time, for 4 times the seconds), on
four problems: ``LearnerChoice`` (d2lhpo/objectives/sklearn_problems.py:
a non-resumable fit on a training fraction, a learner whose ranking
reverses with the fraction; simulated cost), scored by error and by
log-loss (heavy-tailed), and by error once more with a tenth of the
start-up per fit (0.1 s instead of 1 s: a fit on 1/27 of the data then
costs about a twentieth of a full one, not a quarter, so that low
fidelities are worth their cost), and ``FlatStart`` (below: epoch 1
carries no signal). BO runs with the guards of issue 14 on (``GUARDS``), and BO inside
ASHA with ASHA's ``rung_pvalue`` (``ASHA_GUARDS``: a rung whose ranking does
not predict the next rung's stops nobody), BO inside Hyperband with
Hyperband's (``HB_GUARDS``: no bracket starts trials through such a rung);
the rows named "no guards", "no output transform", "every rung judges" and
"every bracket runs" (run when named in ``--methods``) leave them off, and
"BOHB, rung_pvalue" puts Hyperband's on BOHB. Each trial fits only at its
job's report grid (a FIFO trial once, at full fidelity). Fits are memoised
per problem; ``--quick``: 2 seeds; ``--budget`` replaces every problem's
simulated seconds.

    python benchmarks/multifidelity.py [--seeds 10] [--workers 4] [--budget 120]
    python benchmarks/multifidelity.py --robust [--quick] [--problems ...] [--methods ...]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

import d2lhpo as hpo
from d2lhpo.objectives.sklearn_problems import LearnerChoice


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


# ---------------------------------------------------------------------------
# Robustness of model-based multi-fidelity methods (issue 14): --robust
# ---------------------------------------------------------------------------

class FlatStart(hpo.objectives.Objective):
    """A 7-D learning-curve problem whose first epoch carries no signal.

    After epoch 1 every configuration scores 0.9975 +- 0.0005 (noise from the
    trial's seed, nothing else); from epoch 2 on the error falls towards a
    floor set by the configuration, at a speed set by the learning rate.
    Resumable, 27 epochs, 2-6 simulated seconds an epoch (small batches are
    slower).
    """

    space = {"learning_rate": hpo.loguniform(1e-4, 1.0),
             "batch_size": hpo.lograndint(16, 512),
             "weight_decay": hpo.loguniform(1e-6, 1e-1),
             "n_layers": hpo.randint(1, 4),
             "dropout": hpo.uniform(0.0, 0.7),
             "momentum": hpo.uniform(0.5, 0.99),
             "width": hpo.lograndint(16, 512)}
    metric, mode, max_resource = "error", "min", 27

    def floor_and_rate(self, config):
        c = config
        d = math.log10(c["learning_rate"] / (0.02 * (c["batch_size"] / 64) ** 0.5))
        floor = (0.05 + 0.12 * d ** 2 + 0.3 * (c["dropout"] - 0.25) ** 2
                 + 0.015 * (math.log10(c["weight_decay"]) + 4) ** 2
                 + 0.03 * (c["n_layers"] - 3) ** 2 + 0.5 * (c["momentum"] - 0.9) ** 2
                 + 0.02 * math.log2(c["width"] / 256) ** 2)
        rate = 0.4 * 10 ** (0.5 * max(-1.5, min(d, 0.5))) * (1 - 0.5 * c["dropout"])
        return min(floor, 0.95), rate

    def __call__(self, config, r0, r1, seed=None):
        floor, rate = self.floor_and_rate(config)
        noise = np.random.default_rng(seed).normal(size=self.max_resource)
        cost = 2.0 + 4.0 * math.sqrt(16 / config["batch_size"])
        for epoch in range(int(r0) + 1, int(r1) + 1):
            if epoch == 1:
                error = 0.9975 + 0.0005 * float(np.clip(noise[0], -1, 1))
            else:
                error = floor + (0.997 - floor) * math.exp(-rate * (epoch - 1))
                error = min(0.999, max(0.0, error + 0.003 * noise[epoch - 1]))
            yield {"resource": epoch, "error": error, "cost": cost}


# The guards of issue 14, off by default in BayesianOptimization and ASHA, on here.
GUARDS = {"random_fraction": 0.1, "output_transform": "auto", "level_agreement": 0.3}
ASHA_GUARDS = {"rung_pvalue": 0.16}   # a rung that ranks nothing stops nobody
HB_GUARDS = {"rung_pvalue": 0.16}     # no bracket through a rung that does not predict


def _bo(space, seed, **kw):
    return hpo.BayesianOptimization(space, seed=seed, **(GUARDS | kw))


ROBUST_METHODS = {
    "random search": lambda sp, seed: hpo.FIFOScheduler(hpo.RandomSearcher(sp, seed=seed)),
    "Hyperband": lambda sp, seed: hpo.Hyperband(hpo.RandomSearcher(sp, seed=seed), seed=seed),
    "ASHA stopping": lambda sp, seed: hpo.ASHA(hpo.RandomSearcher(sp, seed=seed),
                                               type="stopping", seed=seed),
    "ASHA promotion": lambda sp, seed: hpo.ASHA(hpo.RandomSearcher(sp, seed=seed),
                                                type="promotion", seed=seed),
    "BO-in-ASHA stopping": lambda sp, seed: hpo.ASHA(_bo(sp, seed), type="stopping", seed=seed,
                                                     **ASHA_GUARDS),
    "BO-in-ASHA promotion": lambda sp, seed: hpo.ASHA(_bo(sp, seed), type="promotion",
                                                      seed=seed, **ASHA_GUARDS),
    "BO-in-Hyperband": lambda sp, seed: hpo.Hyperband(_bo(sp, seed), seed=seed, **HB_GUARDS),
    "BOHB (TPE-in-Hyperband)": lambda sp, seed: hpo.Hyperband(
        hpo.TPE(sp, seed=seed, random_fraction=1 / 3), seed=seed),
    "Optuna TPE + HyperbandPruner": None,   # run_optuna
    # skip the brackets whose first rung costs more than the plan gives the rung above
    "Hyperband (cost-aware)": lambda sp, seed: hpo.Hyperband(
        hpo.RandomSearcher(sp, seed=seed), seed=seed, cost_aware=True),
    "BO-in-Hyperband (cost-aware)": lambda sp, seed: hpo.Hyperband(
        _bo(sp, seed), seed=seed, cost_aware=True, **HB_GUARDS),
    "BOHB (cost-aware)": lambda sp, seed: hpo.Hyperband(
        hpo.TPE(sp, seed=seed, random_fraction=1 / 3), seed=seed, cost_aware=True),
}
EXTRA = {  # rows run only when named in --methods: a guard off, other grids, no rungs
    "BO-in-Hyperband, no output transform": lambda sp, seed: hpo.Hyperband(
        _bo(sp, seed, output_transform="none"), seed=seed, **HB_GUARDS),
    "BO-in-Hyperband, every bracket runs": lambda sp, seed: hpo.Hyperband(
        _bo(sp, seed), seed=seed),
    "BO-in-Hyperband (cost-aware), every bracket runs": lambda sp, seed: hpo.Hyperband(
        _bo(sp, seed), seed=seed, cost_aware=True),
    "BOHB, rung_pvalue": lambda sp, seed: hpo.Hyperband(
        hpo.TPE(sp, seed=seed, random_fraction=1 / 3), seed=seed, **HB_GUARDS),
    "BOHB (cost-aware), rung_pvalue": lambda sp, seed: hpo.Hyperband(
        hpo.TPE(sp, seed=seed, random_fraction=1 / 3), seed=seed, cost_aware=True,
        **HB_GUARDS),
    "BO-in-ASHA promotion, no output transform": lambda sp, seed: hpo.ASHA(
        _bo(sp, seed, output_transform="none"), type="promotion", seed=seed, **ASHA_GUARDS),
    "BO-in-Hyperband, no guards": lambda sp, seed: hpo.Hyperband(
        hpo.BayesianOptimization(sp, seed=seed), seed=seed),
    "BO-in-ASHA stopping, every rung judges": lambda sp, seed: hpo.ASHA(
        _bo(sp, seed), type="stopping", seed=seed),
    "BO-in-ASHA promotion, every rung judges": lambda sp, seed: hpo.ASHA(
        _bo(sp, seed), type="promotion", seed=seed),
    # where a fit's start-up makes the low rungs dear: fewer, higher rungs, and no rungs
    "Hyperband, min_resource 3": lambda sp, seed: hpo.Hyperband(
        hpo.RandomSearcher(sp, seed=seed), min_resource=3, seed=seed),
    "BO-in-Hyperband, min_resource 3": lambda sp, seed: hpo.Hyperband(
        _bo(sp, seed), min_resource=3, seed=seed),
    "Hyperband, min_resource 9": lambda sp, seed: hpo.Hyperband(
        hpo.RandomSearcher(sp, seed=seed), min_resource=9, seed=seed),
    "BO-in-Hyperband, min_resource 9": lambda sp, seed: hpo.Hyperband(
        _bo(sp, seed), min_resource=9, seed=seed),
    "BO (single fidelity)": lambda sp, seed: hpo.FIFOScheduler(_bo(sp, seed)),
}
ROBUST_METHODS |= EXTRA
MODEL_BASED_MF = ["BO-in-ASHA stopping", "BO-in-ASHA promotion", "BO-in-Hyperband",
                  "BOHB (TPE-in-Hyperband)", "Optuna TPE + HyperbandPruner",
                  "BO-in-Hyperband (cost-aware)", "BOHB (cost-aware)"]


def robust_problems():
    """name -> (objective, simulated seconds per run on 4 workers)."""
    return {"learner choice (error)": (LearnerChoice(metric="error"), 30.0),
            "learner choice, 0.1 s start-up (error)": (
                LearnerChoice(metric="error", startup=0.1), 30.0),
            "flat first rung": (FlatStart(), 400.0),
            "learner choice (log-loss)": (LearnerChoice(metric="log_loss"), 30.0)}


def used(objective, name, config) -> bool:
    """Whether hyperparameter ``name`` matters for ``config`` (conditional spaces)."""
    if isinstance(objective, LearnerChoice):
        return name == "learner" or name.startswith(config["learner"])
    return True


def run_optuna(objective, seed, total_cost):
    """Optuna's TPE with its HyperbandPruner, one trial at a time, until the summed
    simulated cost passes ``total_cost``; the best full-fidelity value."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = hpo.Space(objective.space)
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1,
                                              max_resource=objective.max_resource,
                                              reduction_factor=3),
        direction="minimize", study_name=f"robust-{seed}")  # the pruner hashes the name
    spent, best = 0.0, math.inf
    defaults = space.decode(np.full(space.dim, 0.5))
    while spent < total_cost:
        trial = study.ask()
        config = {}
        for name, d in space.domains.items():
            if not used(objective, name, config | defaults):
                config[name] = defaults[name]
            elif isinstance(d, hpo.spaces.Categorical):
                config[name] = trial.suggest_categorical(name, list(d.categories))
            elif isinstance(d, hpo.spaces.Integer):
                config[name] = trial.suggest_int(name, d.lower, d.upper, log=d.log)
            else:
                config[name] = trial.suggest_float(name, d.lower, d.upper, log=d.log)
        pruned, value = False, None
        kwargs = {} if isinstance(objective, LearnerChoice) else {"seed": int(seed * 100003
                                                                          + trial.number)}
        for report in objective(config, 0, objective.max_resource, **kwargs):
            spent += report["cost"]
            value = report[objective.metric]
            trial.report(value, int(report["resource"]))
            if spent >= total_cost:
                break
            if trial.should_prune():
                pruned = True
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, value)
            if report["resource"] >= objective.max_resource:
                best = min(best, value)
    return best


def run_robust(objective, method, seed, max_time, n_workers=4):
    if method.startswith("Optuna"):
        return run_optuna(objective, seed, n_workers * max_time)
    scheduler = ROBUST_METHODS[method](objective.space, seed)
    tuner = hpo.Tuner(objective, scheduler, backend="simulated", n_workers=n_workers,
                      seed=seed, progress=False)
    curve = tuner.run(max_time=max_time).anytime()
    return float(curve.best.iloc[-1]) if len(curve) else math.inf


def robust_main(args):
    import warnings
    warnings.simplefilter("ignore")
    seeds = 2 if args.quick else args.seeds
    problems = robust_problems()
    if args.budget:
        problems = {name: (objective, args.budget) for name, (objective, _) in problems.items()}
    methods = [m for m in ROBUST_METHODS if (m in args.methods if args.methods
                                             else m not in EXTRA)]
    t_start = time.perf_counter()
    all_rows = []
    for pname, (objective, max_time) in problems.items():
        if args.problems and pname not in args.problems:
            continue
        finals = {}
        for method in methods:
            t0 = time.perf_counter()
            finals[method] = np.array([run_robust(objective, method, s, max_time)
                                       for s in range(seeds)])
            if not args.quiet:
                print(f"[{time.perf_counter() - t_start:6.0f} s] {pname}: {method} "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
        rs = float(np.median(finals["random search"])) if "random search" in finals else math.nan
        rows = []
        for method, v in finals.items():
            q25, med, q75 = np.quantile(v, [0.25, 0.5, 0.75])
            rows.append({"method": method, "median": med, "q25": q25, "q75": q75,
                         "worst seed": v.max(), "RS median": rs,
                         "seeds worse than RS median": int(np.sum(v > rs))})
            all_rows.append({"problem": pname, **rows[-1]})
        print(f"\n{pname}: {seeds} seeds, 4 workers, {max_time:g} simulated s per run "
              f"(final best full-fidelity {objective.metric}; RS = random search)")
        print(pd.DataFrame(rows).set_index("method").to_string(
            float_format=lambda x: f"{x:.4g}"), flush=True)
    print(f"\n(total {time.perf_counter() - t_start:.0f} s)")
    return pd.DataFrame(all_rows)


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
    parser.add_argument("--robust", action="store_true",
                        help="instead: the model-based methods' robustness tables (issue 14)")
    parser.add_argument("--quick", action="store_true", help="with --robust: 2 seeds "
                        "(a shorter budget would leave Hyperband without a full-fidelity result)")
    parser.add_argument("--problems", nargs="+", default=None)
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.robust:
        return robust_main(args)
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
