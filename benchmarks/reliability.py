"""How d2lhpo takes bad input, kills and damaged journals: the figures of issue 10.

Prints four tables, then a summary:

1. **Bad inputs**: 150+ constructions through the public API, each with one bad
   argument, and objectives that report something unusable. Each case is
   *clear* (ValueError/TypeError whose message names the argument and the bad
   value), *unclear* (refused, but the message names neither), *late* (accepted
   at construction, refused only when first used), *silently accepted* (no
   error, even in a tiny run; or a bad report that fails no trial) or *crashed*
   (another exception type, an internal error at use, or a ``run()`` that a
   bad report aborted or hung). A bad report is right when ``run()`` completes
   with that trial FAILED and its message naming the problem.
2. **Kills**: ``kill -9`` of a journaled simulated run in mid-step
   (tests/helper_replay.py), resumed and compared with an uninterrupted run, for
   each scheduler; and ``kill -9`` of a process-backend tuner
   (tests/interrupt_job.py), counting the processes of the run alive 5 s later.
3. **Corruptions**: the 18 damaged journals of issue 10, each read by
   ``Results.load``, ``Results.load(skip_damaged=True)`` and
   ``Journal.for_resume``: *detected* (JournalError), *skipped* (a warning, every
   whole line loaded), *repaired* (resume fixed the file, every whole line
   loaded), *loaded* (nothing was wrong), *undetected* (damage loaded without a
   word), *rows hidden* (fewer rows than the whole lines hold) or *crashed*.

Done when the summary shows 0 silently accepted, 0 crashed, 0 rows hidden and
0 orphan processes. Runs offline on 2 cores: a few minutes, ``--quick`` < 1 min.

    python benchmarks/reliability.py [--quick] [--parts inputs kills corruptions]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import math
import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

# benchmarks/distributed.py would hide the package of that name: leave this folder out.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import d2lhpo as hpo  # noqa: E402
from d2lhpo.results import Journal  # noqa: E402

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
import helper_replay  # noqa: E402  (tests/: the kill-and-resume job)
from helper_procs import alive, descendants  # noqa: E402  (tests/: /proc)

CATEGORIES = ["clear", "unclear", "late", "silently accepted", "crashed"]
REFUSALS = (ValueError, TypeError)
NAN, INF = float("nan"), float("inf")
SPACE = {"x": hpo.uniform(0.0, 1.0)}


# == 1. bad inputs ====================================================================
@dataclass
class Case:
    """One bad input: ``make()`` builds something through the public API.

    A clear refusal is a ValueError/TypeError (or one of ``ok``) whose message
    contains one of ``names`` (the argument) and one of ``values`` (the bad
    value, or a recognisable part of it), case-insensitively. ``use(obj)``
    exercises what was built (None: nothing to try) and returns what went wrong
    without an exception, or None. ``late_ok``: a refusal at use is the right
    answer (nothing could know earlier). ``report``: ``make()`` runs a tuner and
    returns ``(results, bad_trial)``; the right outcome is that trial FAILED (a
    ``bad_trial`` of None: the trials whose ``kind`` is not "ok"; "all": any), or, with
    ``returns``, that ``run()`` returned at all. ``isolate``: run in a child
    process with this time limit (it may hang).
    """

    group: str
    name: str
    make: Callable[[], Any]
    names: tuple
    values: tuple
    use: Callable[[Any], str | None] | None = None
    ok: tuple = ()
    late_ok: bool = False
    report: bool = False
    returns: bool = False
    isolate: float | None = None


@dataclass
class Outcome:
    case: Case
    category: str
    what: str
    message: str = ""


def _tokens(v) -> tuple:
    """Parts of a bad value a message may show: its repr, and str for non-strings."""
    return (repr(v),) if isinstance(v, str) else tuple(dict.fromkeys((repr(v), str(v))))


def _contains(message: str, token: str) -> bool:
    """``token`` in ``message`` as a whole word (``seed`` is not in ``SeedSequence``)."""
    pattern = r"(?<![A-Za-z0-9_])" + re.escape(token.lower()) + r"(?![A-Za-z0-9_])"
    return re.search(pattern, message.lower()) is not None


def _named(message: str, case: Case) -> bool:
    return (any(_contains(message, n) for n in case.names)
            and any(_contains(message, v) for v in case.values))


def _first(message: str) -> str:
    """The message's last non-empty line for a traceback, else its start (100 chars)."""
    text = str(message).strip()
    if text.startswith("Traceback"):
        text = text.splitlines()[-1]
    return " ".join(text.split())[:100]


def classify(case: Case) -> Outcome:
    """Build ``case`` (and use what it built, or run its tuner) and say what happened."""
    if case.isolate:
        return _isolated(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.report:
            return _classify_report(case)
        try:
            obj = case.make()
        except (*REFUSALS, *case.ok) as e:
            if _named(str(e), case):
                return Outcome(case, "clear", "refused", _first(e))
            return Outcome(case, "unclear", f"{type(e).__name__}, names neither argument "
                           f"nor value", _first(e))
        except Exception as e:  # noqa: BLE001 - what a crash is
            return Outcome(case, "crashed", f"{type(e).__name__} at construction", _first(e))
        if case.use is None:
            return Outcome(case, "silently accepted", "accepted (not used here)")
        try:
            problem = case.use(obj)
        except REFUSALS as e:
            if _named(str(e), case):
                if case.late_ok:
                    return Outcome(case, "clear", "refused when used (as it must)", _first(e))
                return Outcome(case, "late", f"accepted; {type(e).__name__} only when used",
                               _first(e))
            return Outcome(case, "crashed", f"internal {type(e).__name__} when used",
                           _first(e))
        except Exception as e:  # noqa: BLE001
            return Outcome(case, "crashed", f"{type(e).__name__} when used", _first(e))
        return Outcome(case, "silently accepted", problem or "accepted, and used without error")


def _classify_report(case: Case) -> Outcome:
    t0 = time.perf_counter()
    try:
        results, bad_trial = case.make()
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - sys.exit() escaping run() is a crash
        return Outcome(case, "crashed", f"run() raised {type(e).__name__}", _first(e))
    if case.returns:
        return Outcome(case, "clear", f"run() returned after {time.perf_counter() - t0:.1f} s "
                       f"with {len(results)} rows", "")
    last = results.trials()["status"] if len(results) else pd.Series(dtype=object)
    failed = {int(t) for t, s in last.items() if s == "failed"}
    if bad_trial == "all":
        bad = {int(t) for t in last.index}
    elif bad_trial is not None:
        bad = {bad_trial}
    else:  # the trials that misbehave were drawn by the searcher
        bad = {int(t) for t in last.index if _is_bad_config(results, t)}
    healthy = failed - bad
    if healthy:
        return Outcome(case, "crashed", f"healthy trials {sorted(healthy)} failed too",
                       _first(_error_of(results, min(healthy))))
    if not failed & bad:
        n = results.df.trial_id.nunique() if len(results) else 0
        return Outcome(case, "silently accepted",
                       f"run() completed, no bad trial failed ({len(results)} rows, {n} "
                       f"trials)")
    message = _error_of(results, min(failed & bad))
    if _named(message, case):
        return Outcome(case, "clear", "trial failed, run went on", _first(message))
    return Outcome(case, "unclear", "trial failed; its error names neither", _first(message))


def _error_of(results, trial_id) -> str:
    rows = [r for r in results.rows if r["trial_id"] == trial_id and r["status"] == "failed"]
    return str(rows[-1].get("error", "")) if rows else ""


def _is_bad_config(results, trial_id) -> bool:
    rows = [r for r in results.rows if r["trial_id"] == trial_id]
    return bool(rows) and rows[0].get("config_kind") != "ok"


def _child(case, conn):
    try:
        o = classify(_without_isolation(case))
        conn.send((o.category, o.what, o.message))  # a Case holds lambdas: not picklable
    except BaseException as e:  # noqa: BLE001 - the parent reports it
        conn.send(("crashed", f"{type(e).__name__} in the check itself",
                   _first(traceback.format_exc())))


def _without_isolation(case):
    return Case(**{**case.__dict__, "isolate": None})


def _isolated(case: Case) -> Outcome:
    """``classify(case)`` in a forked child: a case that hangs is killed and counted."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(case, child))  # not daemonic: it may spawn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "this process is multi-threaded": it forks at once
        proc.start()
    child.close()
    try:
        if parent.poll(case.isolate):
            return Outcome(case, *parent.recv())
        return Outcome(case, "crashed", f"hung: still running after {case.isolate:g} s")
    except EOFError:
        return Outcome(case, "crashed", f"the check's process died ({proc.exitcode})")
    finally:
        if proc.is_alive():  # hung: end it and whatever it started (worker processes)
            family = descendants(proc.pid)
            proc.kill()
            proc.join(5)
            _end(alive(family))
        proc.join(5)


# -- what "use" means -----------------------------------------------------------------
def use_domain(domain) -> str | None:
    """Sample, check membership, encode and decode; the bad outcome that raised nothing."""
    rng = np.random.default_rng(0)
    bounds = getattr(domain, "lower", None), getattr(domain, "upper", None)
    for _ in range(20):
        v = domain.sample(rng)
        if isinstance(v, float) and not math.isfinite(v):
            return f"sampled {v!r}"
        if v not in domain:
            return f"sampled {v!r}, which is not in the domain"
        if None not in bounds and not bounds[0] <= v <= bounds[1]:
            return f"sampled {v!r}, outside [{bounds[0]!r}, {bounds[1]!r}]"
        x = np.asarray(domain.encode(v), dtype=float)
        if not (np.all(np.isfinite(x)) and np.all((x >= 0) & (x <= 1))):
            return f"encoded {v!r} as {x.tolist()}, not a point of [0, 1]"
        back = domain.decode(x)
        if back not in domain:
            return f"decoded {v!r} to {back!r}, not in the domain"
    centre = domain.decode(np.full(domain.dim, 0.5))
    if centre not in domain:
        return f"decoded the centre to {centre!r}, not in the domain"
    domain.grid(3)
    return None


def _ok(config, r0, r1):
    """A good stepwise objective: loss x/r, cost 1 s per step."""
    for r in range(int(r0) + 1, int(r1) + 1):
        yield {"resource": r, "loss": config["x"] / r, "cost": 1.0}


def _fifo(searcher=None, **kw):
    return hpo.FIFOScheduler(searcher or hpo.RandomSearcher(SPACE, seed=0), **kw)


def _tiny_run(tuner, max_trials=4) -> str | None:
    results = tuner.run(max_trials=max_trials)
    failed = results.df[results.df["status"] == "failed"] if len(results) else []
    if len(failed):
        return (f"{failed.trial_id.nunique()} of {results.df.trial_id.nunique()} trials "
                f"failed: {_first(failed.iloc[0]['error'])}")
    if not len(results):
        return "the run recorded nothing"
    return None


def use_searcher(searcher) -> str | None:
    """A tiny simulated run under FIFO; a model-based searcher must not fall back."""
    tuner = hpo.Tuner(_ok, hpo.FIFOScheduler(searcher, metric="loss", max_resource=2),
                      backend="simulated", seed=0, progress=False)
    n = getattr(searcher, "num_initial", 2) + 3
    problem = _tiny_run(tuner, n)
    if problem:
        return problem
    if len(tuner.results.df.trial_id.unique()) < 2:
        return f"ran {tuner.results.df.trial_id.nunique()} trial(s) of {n}"
    fallbacks = getattr(searcher, "n_fallbacks", 0)
    if fallbacks:
        return f"fell back to random search in {fallbacks} of {n} suggestions"
    return None


def use_scheduler(scheduler) -> str | None:
    """ask() once, and tell one result at the first rung."""
    job = scheduler.ask()
    if job is None:
        return "ask() returned no job"
    resource = job.levels[0]  # the first resource the job's report grid asks for
    scheduler.tell(job.trial_id, {"resource": resource, scheduler.metric: 0.5})
    return None


def use_tuner(tuner) -> str | None:
    return _tiny_run(tuner)


def use_backend(backend) -> str | None:
    """A 2-worker run of 2 trials (an objective in tests/, so that workers can import it)."""
    from helper_objectives import steps
    tuner = hpo.Tuner(steps, _fifo(metric="loss", max_resource=1), backend=backend,
                      n_workers=2, progress=False)
    return _tiny_run(tuner, 2)


# -- the cases ------------------------------------------------------------------------
def _table(group, label, make, arg, values, use=None, names=None, **kw) -> list[Case]:
    """One case per bad value: ``make(v)`` builds with argument ``arg`` = v."""
    return [Case(group, f"{label}({arg}={v!r})", (lambda v=v: make(v)), names or (arg,),
                 _tokens(v), use, **kw) for v in values]


def domain_cases() -> list[Case]:
    bounds = ("lower", "upper", "bound", "bounds")
    cases = [
        Case("domains", f"{fn.__name__}{args!r}", (lambda fn=fn, args=args: fn(*args)),
             names, values, use_domain)
        for fn, args, names, values in [
            (hpo.uniform, (1, 0), bounds, ("1",)),
            (hpo.uniform, (0, 0), bounds, ("0",)),
            (hpo.uniform, (NAN, 1), bounds, ("nan",)),
            (hpo.uniform, (0, INF), bounds, ("inf",)),
            (hpo.uniform, ("a", 1), bounds, ("'a'",)),
            (hpo.uniform, (-1e308, 1e308), bounds + ("width", "range"), ("1e+308",)),
            (hpo.loguniform, (0, 1), bounds + ("log",), ("0",)),
            (hpo.loguniform, (-1, 1), bounds + ("log",), ("-1",)),
            (hpo.randint, (5, 2), bounds, ("5",)),
            (hpo.randint, (1.5, 3), bounds + ("integer",), ("1.5",)),
            (hpo.randint, (0, 2**70), bounds + ("int64",), _tokens(2**70) + _tokens(2.0**70)),
            (hpo.randint, (-2**70, 0), bounds + ("int64",), _tokens(-2**70) + _tokens(-2.0**70)),
            (hpo.randint, (0, 2**63), bounds + ("int64",), _tokens(2**63) + _tokens(2.0**63)),
            (hpo.lograndint, (0, 10), bounds + ("log",), ("0",)),
            (hpo.choice, ([],), ("choice", "choices", "categories"), ("empty", "[]", "()")),
            (hpo.choice, ([NAN],), ("choice", "choices", "categories"), ("nan",)),
            (hpo.choice, ([1, 1],), ("choice", "choices", "categories"), ("1",)),
            (hpo.choice, ("abc",), ("choice", "choices", "categories"), ("'abc'",)),
            (hpo.choice, (5,), ("choice", "choices", "categories"), ("5",)),
            (hpo.finrange, (0, 1, 1), ("size", "values"), ("1",)),
            (hpo.finrange, (0, 1, 0), ("size", "values"), ("0",)),
            (hpo.finrange, (0, 1, 2.5), ("size",), ("2.5",)),
            (hpo.finrange, (1, 0, 3), bounds, ("1",)),
            (hpo.logfinrange, (0, 1, 3), bounds + ("log",), ("0",)),
            (hpo.finrange, (0, 1, 3, True), ("cast_int",), ("0.5", "repeat")),
            (hpo.finrange, (0.5, 10.5, 5, True), ("cast_int", "bound", "integer"), ("0.5",)),
            (hpo.finrange, (0, 1e20, 3, True), ("cast_int", "bound", "int64"),
             ("1e+20", "100000000000000000000")),
        ]]
    return cases


def searcher_cases() -> list[Case]:
    bo = lambda **kw: hpo.BayesianOptimization(  # noqa: E731
        SPACE, **{"seed": 0, "n_candidates": 64, "n_local": 1, **kw})
    makers = {"RandomSearcher": lambda **kw: hpo.RandomSearcher(SPACE, **kw),
              "GridSearcher": lambda **kw: hpo.GridSearcher(SPACE, **{"shuffle": True, **kw}),
              "BayesianOptimization": bo}
    cases = []
    for label, make in makers.items():
        cases += _table("searchers", label, lambda v, m=make: m(seed=v), "seed",
                        [-1, 1.5, "x", True], use_searcher)
        cases += _table("searchers", label, lambda v, m=make: m(points_to_evaluate=v),
                        "points_to_evaluate", ["abc", 5], use_searcher)
        cases += _table("searchers", label, lambda v, m=make: m(mode=v), "mode",
                        ["MIN", "maximize"], use_searcher)
    for point, value in [({"x": 5}, "5"), ({"y": 1}, "'y'")]:
        cases.append(Case("searchers", f"RandomSearcher(points_to_evaluate=[{point!r}])",
                          lambda point=point: hpo.RandomSearcher(SPACE, points_to_evaluate=[
                              point]), ("points_to_evaluate", "hyperparameter"), (value,),
                          use_searcher))
    cases += _table("searchers", "RandomSearcher", lambda v: hpo.RandomSearcher(
        SPACE, metric=v), "metric", [5], use_searcher)
    cases += _table("searchers", "RandomSearcher", lambda v: hpo.RandomSearcher(
        SPACE, max_retries=v), "max_retries", [0, -1, 1.5, "x", None], use_searcher)
    for space, value in [("abc", "'abc'"), (5, "5"), ({5: hpo.uniform(0, 1)}, "5")]:
        cases.append(Case("searchers", f"RandomSearcher(space={space!r})",
                          lambda space=space: hpo.RandomSearcher(space),
                          ("space", "hyperparameter"), (value,), use_searcher))
    cases += _table("searchers", "GridSearcher", lambda v: hpo.GridSearcher(
        SPACE, num_points=v), "num_points", [0, -1, 1.5, "x", True], use_searcher)
    for arg, values in [("n_candidates", [1.5, -1, "1024", 0, 1000]),
                        ("n_local", [1.5, -1, "1024"]),
                        ("n_starts", [1.5, -1, "1024", 0]),
                        ("beta", [-1, "1024", NAN, INF]),
                        ("num_initial", [0, 1.5]),
                        ("acquisition", ["pi"]),
                        ("constraints", [5])]:
        cases += _table("searchers", "BayesianOptimization",
                        lambda v, arg=arg: bo(**{arg: v}), arg, values, use_searcher)
    return cases


def scheduler_cases() -> list[Case]:
    rs = lambda: hpo.RandomSearcher(SPACE, seed=0)  # noqa: E731
    makers = {"FIFOScheduler": lambda **kw: hpo.FIFOScheduler(rs(), **kw),
              "ASHA": lambda **kw: hpo.ASHA(rs(), **kw),
              "SuccessiveHalving": lambda **kw: hpo.SuccessiveHalving(rs(), **kw),
              "Hyperband": lambda **kw: hpo.Hyperband(rs(), **kw),
              "MedianStopping": lambda **kw: hpo.MedianStopping(rs(), **kw)}
    cases = []
    for label, make in makers.items():
        for arg, values in [("mode", ["MIN", "maximize"]),
                            ("max_resource", [0, -1, INF, NAN, "9"]),
                            ("seed", [-1, 1.5, "x", True]),
                            ("metric", [5])]:
            cases += _table("schedulers", label, lambda v, m=make, a=arg: m(**{a: v}), arg,
                            values, use_scheduler)
    for label in ["ASHA", "SuccessiveHalving", "Hyperband"]:
        make = makers[label]
        cases += _table("schedulers", label, lambda v, m=make: m(eta=v), "eta",
                        [1, 0, NAN, "3"], use_scheduler)
        cases += _table("schedulers", label, lambda v, m=make: m(min_resource=v),
                        "min_resource", [0, -1, NAN, "1"], use_scheduler)
        cases.append(Case("schedulers", f"{label}(min_resource=10, max_resource=9)",
                          lambda m=make: m(min_resource=10, max_resource=9),
                          ("min_resource",), ("10",), use_scheduler))
        cases.append(Case("schedulers", f"{label}(min_resource=1e-300, max_resource=1e300)",
                          lambda m=make: m(min_resource=1e-300, max_resource=1e300),
                          ("min_resource", "max_resource", "rung", "levels"),
                          ("1e-300", "1e+300"), use_scheduler))
    cases += _table("schedulers", "ASHA", lambda v: hpo.ASHA(rs(), type=v), "type",
                    ["x", None], use_scheduler)
    cases += _table("schedulers", "SuccessiveHalving", lambda v: hpo.SuccessiveHalving(
        rs(), n_configs=v), "n_configs", [0, -1, 1.5], use_scheduler)
    for label in ["SuccessiveHalving", "Hyperband"]:
        cases += _table("schedulers", label, lambda v, m=makers[label]: m(overlap=v),
                        "overlap", ["yes", 1], use_scheduler)
    cases += _table("schedulers", "MedianStopping", lambda v: hpo.MedianStopping(
        rs(), min_samples=v), "min_samples", [0, -1, 1.5, "3"], use_scheduler)
    cases += _table("schedulers", "MedianStopping", lambda v: hpo.MedianStopping(
        rs(), min_resource=v), "min_resource", [0, -1, NAN], use_scheduler)
    cases.append(Case("schedulers", "MedianStopping(min_resource=30, max_resource=27)",
                      lambda: hpo.MedianStopping(rs(), min_resource=30, max_resource=27),
                      ("min_resource",), ("30",), use_scheduler))
    cases += _table("schedulers", "FIFOScheduler", hpo.FIFOScheduler, "searcher",
                    ["abc", SPACE], use_scheduler)
    return cases


def tuner_cases(tmp: Path) -> list[Case]:
    def tuner(objective=_ok, scheduler=None, **kw):
        kw = {"backend": "simulated", "progress": False, **kw}
        return hpo.Tuner(objective, scheduler or _fifo(metric="loss", max_resource=2), **kw)

    journal, folder = tmp / "resume_me.jsonl", tmp / "folder.jsonl"
    tuner(journal=journal, seed=0).run(max_trials=2)
    folder.mkdir()
    cases = []
    for arg, values in [("n_workers", [0, -1, 1.5, "2", True]),
                        ("backend", [5, "gpu"]),
                        ("constraints", ["cost", 5, [5]]),
                        ("journal", [str(tmp / "x.csv"), str(folder), 5,
                                     str(tmp / "no" / "x.jsonl")]),
                        ("trial_timeout", [-1, 0, NAN, "5", True, INF]),
                        ("seed", [-1, 1.5, "x", True]),
                        ("mode", ["MIN"]),
                        ("checkpoint_dir", [5])]:
        cases += _table("tuner", "Tuner", lambda v, a=arg: tuner(**{a: v}), arg, values,
                        use_tuner)
    cases += _table("tuner", "Tuner", lambda v: tuner(objective=v), "objective", [5],
                    use_tuner)
    cases += _table("tuner", "Tuner", lambda v: tuner(scheduler=v), "scheduler", ["fifo"],
                    use_tuner)
    cases.append(Case("tuner", "Tuner(backend='sequential', n_workers=2)",
                      lambda: tuner(backend="sequential", n_workers=2), ("n_workers",),
                      ("2",), use_tuner))
    cases.append(Case("tuner", "Tuner(metric='error') with a scheduler tuning 'loss'",
                      lambda: tuner(metric="error"), ("metric",), ("'error'",), use_tuner))
    cases.append(Case("tuner", "Tuner(mode='max') with a scheduler in mode 'min'",
                      lambda: tuner(scheduler=_fifo(metric="loss", mode="min"), mode="max"),
                      ("mode",), ("'max'",), use_tuner))
    cases.append(Case("tuner", "a misspelt metric ('los'; the objective reports 'loss')",
                      lambda: tuner(scheduler=_fifo(metric="los", max_resource=2)),
                      ("metric",), ("'los'",), use_tuner, late_ok=True))
    for what, kw in [("max_resource=3", {"scheduler": _fifo(metric="loss", max_resource=3)}),
                     ("another space", {"scheduler": _fifo(hpo.RandomSearcher(
                         {"y": hpo.uniform(0, 1)}, seed=0), metric="loss", max_resource=2)}),
                     ("another scheduler", {"scheduler": hpo.ASHA(hpo.RandomSearcher(
                         SPACE, seed=0), metric="loss", max_resource=2)})]:
        cases.append(Case("tuner", f"resume a journal with {what}",
                          lambda kw=kw: tuner(journal=journal, resume=True, seed=0, **kw),
                          ("journal",), ("max_resource", "space", "scheduler"), use_tuner))
    return cases


def budget_cases() -> list[Case]:
    cases = [Case("budget", "Budget()", hpo.Budget, ("max_trials", "budget"),
                  ("max_trials", "give"))]
    for arg, values in [("max_trials", [0, -1, 1.5, True, "3"]),
                        ("max_time", [-1, 0, NAN, INF, "5"]),
                        ("target", [NAN, INF, "0.5"])]:
        cases += _table("budget", "Budget", lambda v, a=arg: hpo.Budget(**{a: v}), arg, values)
    cases += _table("budget", "Tuner.run", lambda v: hpo.Tuner(
        _ok, _fifo(metric="loss", max_resource=2), backend="simulated",
        progress=False).run(max_trials=v), "max_trials", [0, -1])
    return cases


def backend_cases() -> list[Case]:
    cases = []
    dask = [("dashboard_port", [-1, 99999, "abc", 1.5]), ("close_timeout", [NAN, -1, "5"]),
            ("n_workers", [0, 1.5]), ("worker_retries", [-1]), ("client", ["abc"])]
    for arg, values in dask if _has_distributed() else []:
        cases += _table("backends", "DaskBackend",
                        lambda v, a=arg: hpo.DaskBackend(**{a: v}), arg, values)
    for arg, values in [("start_method", ["x", 5]), ("threads_per_worker", [0, -1, 1.5]),
                        ("close_timeout", [NAN, -1, INF])]:
        cases += _table("backends", "ProcessBackend",
                        lambda v, a=arg: hpo.ProcessBackend(**{a: v}), arg, values,
                        use_backend)
    return cases


def _results():
    rows = [{"trial_id": i, "status": "completed", "resource": 1, "time": float(i),
             "duration": 1.0, "worker": 0, "config_x": i / 10, "loss": (i - 3) ** 2,
             "size": float(i)} for i in range(6)]
    return hpo.Results("loss", "min", 1, rows=rows)


def results_cases(tmp: Path) -> list[Case]:
    empty, garbage, text = tmp / "empty.jsonl", tmp / "garbage.jsonl", tmp / "run.txt"
    empty.write_bytes(b"")
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n not a journal at all\n")
    text.write_text("hello\n")
    folder = tmp / "a_folder.jsonl"
    folder.mkdir(exist_ok=True)
    cases = []
    for arg, values in [("mode", ["MIN", "maximize"]), ("max_resource", [0, NAN, "1"]),
                        ("metric", [5]), ("constraints", ["cost", [5]])]:
        cases += _table("results", "Results", lambda v, a=arg: hpo.Results(**{a: v}), arg,
                        values)
    for method, arg, values in [("best", "mode", ["MIN", "maximize"]),
                                ("best", "metric", ["nope"]),
                                ("anytime", "mode", ["MIN"])]:
        cases += _table("results", f"Results.{method}",
                        lambda v, m=method, a=arg: getattr(_results(), m)(**{a: v}), arg,
                        values)
    pareto = [("metrics", ["loss", "nope"], ("metric",), ("'nope'",)),
              ("metrics", "loss", ("metrics",), ("'loss'",)),
              ("modes", ["MIN", "min"], ("modes",), ("'MIN'",))]
    for arg, value, names, values in pareto:
        kw = {"metrics": ["loss", "size"], arg: value}
        cases.append(Case("results", f"Results.pareto_front({arg}={value!r})",
                          lambda kw=kw: _results().pareto_front(**kw), names, values))
    points = [[1.0, 2.0], [2.0, 1.0]]
    for ref, values in [([1], ("[1]", "[1.0]")), ([NAN, 3], ("nan",)), ("ab", ("'ab'",)),
                        ([INF, 3], ("inf",))]:
        cases.append(Case("results", f"hypervolume_2d(reference={ref!r})",
                          lambda ref=ref: hpo.hypervolume_2d(points, ref), ("reference",),
                          values, use=lambda v: f"returned {v!r}"))
    cases.append(Case("results", "hypervolume_2d(points=[[1, 2, 3]])",
                      lambda: hpo.hypervolume_2d([[1, 2, 3]], [4, 4]), ("points",), ("3",)))
    for path, what in [(empty, "empty"), (folder, "directory"), (garbage, "garbage"),
                       (tmp / "missing.jsonl", "missing"), (text, "not json")]:
        cases.append(Case("results", f"Results.load({what} file)",
                          lambda path=path: hpo.Results.load(path), (path.name,),
                          (path.name,), ok=(FileNotFoundError,)))
    for path in ["x.txt", str(folder)]:
        cases.append(Case("results", f"Results.save({path!r})",
                          lambda path=path: _results().save(path if path != "x.txt"
                                                            else tmp / path),
                          ("path",), (Path(path).name,)))
    return cases


# -- bad reports: the trial must fail, the run must go on ------------------------------
def _first_trial_reports(*bad):
    """A stepwise objective whose first trial reports well at resource 1, then ``bad``
    (a callable in it is called: it raises); the other trials report well."""
    calls = [0]

    def objective(config, r0, r1):
        calls[0] += 1
        first = calls[0] == 1
        for r in range(int(r0) + 1, int(r1) + 1):
            if first and r == 2:
                for report in bad:
                    yield report() if callable(report) else report
                return
            yield {"resource": r, "loss": config["x"] / r, "cost": 1.0}
    return objective


def _raise(exc):
    def go():
        raise exc
    return go


def _exit():
    sys.exit(2)


def _stuck(config, r0, r1):
    """Reports resource 1 for ever, whatever it is asked to train to."""
    while True:
        yield {"resource": 1, "loss": config["x"], "cost": 1.0}


def _hang():
    while True:
        time.sleep(0.05)


def _run_reports(objective, backend="simulated", scheduler=None, max_trials=3, tuner_kw=None,
                 run_kw=None):
    tuner = hpo.Tuner(objective, scheduler or _fifo(metric="loss", max_resource=3),
                      backend=backend, seed=0, progress=False, **(tuner_kw or {}))
    return tuner.run(**(run_kw or {"max_trials": max_trials})), 0


def _plain_first(bad):
    calls = [0]

    def objective(config):
        calls[0] += 1
        if calls[0] == 1:
            return bad() if callable(bad) else bad
        return config["x"]
    return objective


def report_cases(quick: bool) -> list[Case]:
    good = {"loss": 0.5, "cost": 1.0}
    rep = lambda **kw: {"resource": 2, **good, **kw}  # noqa: E731
    table = [
        ("cost='1.5'", [rep(cost="1.5")], ("cost",), ("'1.5'",)),
        ("cost=inf", [rep(cost=INF)], ("cost",), ("inf",)),
        ("cost=nan", [rep(cost=NAN)], ("cost",), ("nan",)),
        ("cost=-1", [rep(cost=-1)], ("cost",), ("-1",)),
        ("no cost (simulated)", [{"resource": 2, "loss": 0.5}], ("cost",), ("none", "cost")),
        ("resource='3'", [rep(resource="3")], ("resource",), ("'3'",)),
        ("resource=nan", [rep(resource=NAN)], ("resource",), ("nan",)),
        ("resource=inf", [rep(resource=INF)], ("resource",), ("inf",)),
        ("resource=-1", [rep(resource=-1)], ("resource",), ("-1",)),
        ("resource=True", [rep(resource=True)], ("resource",), ("True",)),
        ("resource going backwards (1, then 0.5)", [rep(resource=0.5)], ("resource",),
         ("0.5",)),
        ("resource repeated (1, then 1)", [rep(resource=1)], ("resource", "progress"),
         ("1",)),
        ("resource beyond max_resource (5 > 3)", [rep(resource=5)], ("resource",), ("5",)),
        ("metric missing", [{"resource": 2, "cost": 1.0}], ("loss",), ("loss",)),
        ("metric nan", [rep(loss=NAN)], ("loss",), ("nan",)),
        ("metric inf", [rep(loss=INF)], ("loss",), ("inf",)),
        ("metric '0.5'", [rep(loss="0.5")], ("loss",), ("'0.5'",)),
        ("metric None", [rep(loss=None)], ("loss",), ("None",)),
        ("report 'abc' (not a dict)", ["abc"], ("report", "return"), ("'abc'", "str")),
        ("report None", [None], ("report", "return"), ("None",)),
        ("report [1, 2]", [[1, 2]], ("report", "return"), ("[1, 2]", "list")),
        ("objective raises RuntimeError('boom')", [_raise(RuntimeError("boom"))],
         ("RuntimeError",), ("boom",)),
        ("objective raises KeyError('lr')", [_raise(KeyError("lr"))], ("KeyError",),
         ("'lr'",)),
    ]
    cases = [Case("reports", name, lambda bad=bad: _run_reports(_first_trial_reports(*bad)),
                  names, values, report=True) for name, bad, names, values in table]
    asha = lambda kind: hpo.ASHA(hpo.RandomSearcher(SPACE, seed=0),  # noqa: E731
                                 metric="loss", max_resource=9, type=kind)
    cases.append(Case("reports", "ASHA: resource skips the rung at 3 (1, then 9)",
                      lambda: _run_reports(_first_trial_reports(rep(resource=9)),
                                           scheduler=asha("stopping")),
                      ("rung",), ("3",), report=True))
    cases.append(Case("reports", "ASHA promotion: the resource never grows (always 1)",
                      lambda: (_run_reports(_stuck, scheduler=asha("promotion"),
                                            max_trials=6)[0], "all"),
                      ("resource", "progress"), ("1",), report=True, isolate=30))
    for name, bad, names, values in [
            ("plain function returns 'abc'", "abc", ("return", "report"), ("'abc'", "str")),
            ("plain function returns nan", NAN, ("loss",), ("nan",)),
            ("plain function raises ValueError('bad config')", _raise(ValueError("bad config")),
             ("ValueError",), ("bad config",))]:
        cases.append(Case("reports", name, lambda bad=bad: _run_reports(
            _plain_first(bad), backend="sequential", scheduler=_fifo(metric="loss")),
            names, values, report=True))
    cases.append(Case("reports", "sys.exit(2) in an objective, sequential backend",
                      lambda: _run_reports(_first_trial_reports(_exit), backend="sequential"),
                      ("SystemExit", "exit"), ("SystemExit", "2"), report=True, isolate=30))
    cases.append(Case("reports", "objective hangs, Tuner(trial_timeout=1), sequential",
                      lambda: _run_reports(_first_trial_reports(_hang), backend="sequential",
                                           tuner_kw={"trial_timeout": 1}),
                      ("timed out", "timeout"), ("1 s", "1"), report=True, isolate=20))
    cases.append(Case("reports", "objective hangs, run(max_time=2), sequential",
                      lambda: _run_reports(_first_trial_reports(_hang), backend="sequential",
                                           run_kw={"max_time": 2}),
                      (), (), report=True, returns=True, isolate=20))
    if not quick:
        cases += process_report_cases()
    return cases


def process_report_cases() -> list[Case]:
    """Misbehaving trials on the process backend (2 workers): the healthy ones must
    complete. Which trial misbehaves is drawn by the searcher (config ``kind``)."""
    from helper_objectives import misbehaving

    def run(kind, **tuner_kw):
        space = {"kind": hpo.choice(["ok", kind]), "x": hpo.uniform(0, 1), "sleep": 0.2}
        scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(space, seed=1), metric="loss")
        tuner = hpo.Tuner(misbehaving, scheduler, backend="process", n_workers=2, seed=0,
                          progress=False, **tuner_kw)
        results = tuner.run(max_trials=8)
        if len(results) == 0 or results.df.trial_id.nunique() < 8:
            raise RuntimeError(f"run() returned after {results.df.trial_id.nunique()} of "
                               f"8 trials")
        return results, None

    return [
        Case("reports", "process backend: a worker segfaults", lambda: run("segv"),
             ("SIGSEGV", "killed", "died", "crash"), ("SIGSEGV", "segmentation", "-11"),
             report=True, isolate=90),
        Case("reports", "process backend: os._exit(3) in a worker", lambda: run("exit"),
             ("exit", "died"), ("3",), report=True, isolate=90),
        Case("reports", "process backend: sys.exit(2) in an objective",
             lambda: run("sys.exit"), ("SystemExit", "exit"), ("2", "SystemExit"),
             report=True, isolate=90),
        Case("reports", "process backend: objective hangs, trial_timeout=2",
             lambda: run("hang", trial_timeout=2), ("timed out", "timeout"), ("2",),
             report=True, isolate=30),
    ]


def bad_input_cases(tmp: Path, quick: bool = False) -> list[Case]:
    """Every bad-input case (``tmp``: a folder for the files some of them need)."""
    return (domain_cases() + searcher_cases() + scheduler_cases() + tuner_cases(tmp)
            + budget_cases() + backend_cases() + results_cases(tmp) + report_cases(quick))


def input_table(outcomes: list[Outcome]) -> pd.DataFrame:
    """Counts: one row per category, one column per group of cases, and the total."""
    groups = list(dict.fromkeys(o.case.group for o in outcomes))
    counts = collections.Counter((o.category, o.case.group) for o in outcomes)
    table = pd.DataFrame([[counts[c, g] for g in groups] for c in CATEGORIES],
                         index=CATEGORIES, columns=groups)
    table["total"] = table.sum(axis=1)
    table.loc["tried"] = table.sum(axis=0)
    return table


# == 2. kills ==========================================================================
def _env():
    """The environment a child needs to import the d2lhpo that this script imported."""
    root = str(Path(hpo.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])])}


def _table_of(results):
    return results.df.drop(columns=["duration"]).reset_index(drop=True)


def _row_keys(df):
    return collections.Counter(zip(df.trial_id, df.resource, df.status))


_WHOLE: dict[str, pd.DataFrame] = {}


def kill_and_resume(name: str, kill_at: int, tmp: Path) -> dict:
    """kill -9 the journaled simulated run of scheduler ``name`` (helper_replay) in its
    ``kill_at``-th step, resume it, and compare with an uninterrupted run."""
    journal, ckpt = tmp / f"{name}-{kill_at}.jsonl", tmp / f"{name}-{kill_at}-ckpt"
    proc = subprocess.run([sys.executable, str(TESTS / "helper_replay.py"), name, str(journal),
                           str(ckpt), str(kill_at), "1"], cwd=TESTS, env=_env(),
                          capture_output=True, timeout=300)
    row = {"kill": f"{name}, step {kill_at}", "killed": proc.returncode == -signal.SIGKILL,
           "rows lost": None, "rows repeated": None, "tables equal": False, "problem": ""}
    if not row["killed"]:
        row["problem"] = f"the job exited with {proc.returncode}: " + _first(
            proc.stderr.decode(errors="replace"))
        return row
    if name not in _WHOLE:
        _WHOLE[name] = _table_of(helper_replay.tuner(name).run(
            max_trials=helper_replay.MAX_TRIALS))
    whole = _WHOLE[name]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            resumed = _table_of(helper_replay.tuner(name, journal, ckpt, resume=True).run(
                max_trials=helper_replay.MAX_TRIALS))
    except Exception as e:  # noqa: BLE001 - counted: the kill was not survived
        row["problem"] = f"resume raised {type(e).__name__}: {_first(e)}"
        return row
    row["rows lost"] = sum((_row_keys(whole) - _row_keys(resumed)).values())
    row["rows repeated"] = sum((_row_keys(resumed) - _row_keys(whole)).values())
    try:
        pd.testing.assert_frame_equal(resumed, whole, check_dtype=False)
        row["tables equal"] = True
    except AssertionError as e:
        row["problem"] = _first(str(e).replace("\n", " "))
    return row


def kill_real(backend: str, tmp: Path, grace: float = 5.0) -> dict:
    """kill -9 a tuner on ``backend`` (tests/interrupt_job.py, 2 workers, 0.1 s steps)
    once 3 results are journaled and both workers train; count its processes alive
    ``grace`` seconds later (then end them: they are this script's)."""
    folder, journal = tmp / f"{backend}-pids", tmp / f"{backend}-run.jsonl"
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, str(TESTS / "interrupt_job.py"), backend, "2",
                             str(folder), str(journal)], env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    row = {"kill": f"{backend} backend, 2 workers", "killed": False, "orphans": None,
           "problem": ""}
    deadline = time.monotonic() + 180
    rows = lambda: journal.read_bytes().count(b'"row":') if journal.exists() else 0  # noqa
    while rows() < 3 or len(list(folder.iterdir())) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            family = descendants(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            _, err = proc.communicate()
            _end(family)
            row["problem"] = "the job made no progress: " + _first(err.decode(errors="replace"))
            return row
        time.sleep(0.05)
    family = descendants(proc.pid)
    proc.kill()
    proc.communicate()
    row["killed"] = True
    deadline = time.monotonic() + grace
    while alive(family) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = alive(family)
    row["orphans"] = len(left)
    if left:
        row["problem"] = f"{len(left)} of {len(family)} processes alive {grace:g} s later"
    _end(left)
    return row


def _end(pids):
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def kill_rows(tmp: Path, quick: bool) -> tuple[list[dict], list[dict]]:
    names = list(helper_replay.schedulers())
    if quick:
        names = ["fifo", "asha-promotion"]
    points = [35] if quick else [35, 70]
    simulated = [kill_and_resume(n, at, tmp) for n in names for at in points]
    backends = ["process"]
    if not quick and _has_distributed():
        backends.append("dask")
    return simulated, [kill_real(b, tmp) for b in backends]


def _has_distributed() -> bool:
    import importlib.util
    return importlib.util.find_spec("distributed") is not None


# == 3. corruptions ====================================================================
_CRC = re.compile(rb',"crc":\d+}$')


def _resign(line: bytes) -> bytes:
    """A line with its checksum made to match again (the format Journal documents: the
    CRC-32 of the bytes before ``,"crc"`` plus the closing brace), so that what is
    tested is the reader's check of the content, not of the checksum."""
    m = _CRC.search(line)
    if not m:
        return line
    body = line[:m.start()] + b"}"
    return line[:m.start()] + b',"crc":%d}' % zlib.crc32(body)


def _rows_of(lines):
    return [i for i, line in enumerate(lines) if b'"row":' in line]


def _sub(pattern, repl, line, resign=True):
    new = re.sub(pattern, repl, line, count=1)
    assert new != line, (pattern, line[:200])
    return _resign(new) if resign else new


def _mid(lines):
    """Index of a row line in the middle of the journal."""
    rows = _rows_of(lines)
    return rows[len(rows) // 2]


def variants(lines: list[bytes]) -> dict[str, tuple[bytes, bool]]:
    """The 18 damaged journals of issue 10, from the whole journal's ``lines`` (without
    newlines): name -> (the file's bytes, whether it is damage; the others are a
    journal a reader should take as it is)."""
    join = lambda ls: b"".join(x + b"\n" for x in ls)  # noqa: E731
    m = _mid(lines)
    completed = next(i for i in _rows_of(lines) if b'"status":"completed"' in lines[i])
    out = {
        "cut last line": (join(lines[:-1]) + lines[-1][:len(lines[-1]) // 2], True),
        "partial line without newline": (join(lines)[:-1], False),
        "NUL bytes, no newline": (join(lines) + b"\0" * 64, True),
        "NUL bytes and a newline, mid-file": (join(lines[:m]) + b"\0" * 64 + b"\n"
                                              + join(lines[m:]), True),
        "CRLF line endings": (b"".join(x + b"\r\n" for x in lines), False),
        "meta line only": (join(lines[:1]), False),
        "meta line broken": (join([lines[0][:40]] + lines[1:]), True),
        "meta line missing": (join(lines[1:]), True),
        "a JSON list as a row": (join(lines[:m] + [_sub(rb'"row":\{.*\},"crc"', b'"row":[1,2,3]'
                                                        b',"crc"', lines[m])] + lines[m + 1:]),
                                 True),
        "empty file": (b"", False),
        "a key renamed by a byte flip": (join(lines[:m] + [lines[m].replace(
            b'"status"', b'"stbtus"', 1)] + lines[m + 1:]), True),
        "a row without status": (join(lines[:m] + [_sub(rb'"status":"\w+",', b"", lines[m])]
                                      + lines[m + 1:]), True),
        "trial_id as a string": (join(lines[:m] + [_sub(rb'"trial_id":(\d+)', rb'"trial_id":"\1"',
                                                        lines[m])] + lines[m + 1:]), True),
        "garbage at the end": (join(lines + [b"xx garbage {not json"]), True),
        "garbage in the middle": (join(lines[:m] + [b"xx garbage {not json"] + lines[m:]),
                                  True),
        "a deleted line": (join(lines[:m] + lines[m + 1:]), True),
        "duplicated rows": (join(lines[:m + 3] + lines[m:m + 3] + lines[m + 3:]), True),
        "a completed row with NaN": (join(lines[:completed] + [_sub(
            rb'"error":[-0-9.e]+', b'"error":NaN', lines[completed])] + lines[completed + 1:]),
            True),
    }
    return out


def intact_rows(data: bytes, original: list[bytes]) -> int:
    """Rows the whole, unchanged lines of ``data`` hold (each original row once)."""
    rows = {original[i] for i in _rows_of(original)}
    return len({x.rstrip(b"\r") for x in data.split(b"\n")} & rows)


def read_outcome(reader: str, path: Path, damaged: bool, intact: int) -> tuple[str, str]:
    """How ``reader`` took the file at ``path``: (outcome, detail)."""
    before = path.read_bytes()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if reader == "load":
                results = hpo.Results.load(path)
            elif reader == "load(skip_damaged)":
                results = hpo.Results.load(path, skip_damaged=True)
            else:
                results = Journal.for_resume(path)
        except hpo.JournalError as e:
            return "detected", _first(e)
        except Exception as e:  # noqa: BLE001
            return "crashed", f"{type(e).__name__}: {_first(e)}"
    n = 0 if results is None else len(results)
    warned = [w for w in caught if "damaged" in str(w.message) or "skipped" in str(w.message)]
    changed = path.read_bytes() != before
    detail = f"{n} rows of {intact} whole"
    if n < intact:
        return "rows hidden", detail
    if n > intact:
        return "undetected", f"{detail}: rows repeated"
    if not damaged:
        return "loaded", detail
    if warned:
        return "skipped", f"{detail}; warned: {_first(warned[0].message)}"
    if changed and reader == "for_resume":
        return "repaired", detail
    return "undetected", f"{detail}, without a word"


READERS = ["load", "load(skip_damaged)", "for_resume"]
CORRUPTION_OUTCOMES = ["detected", "skipped", "repaired", "loaded", "undetected",
                       "rows hidden", "crashed"]


def corruption_rows(tmp: Path) -> list[dict]:
    """Each of the 18 variants read by each reader."""
    source = tmp / "source.jsonl"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        helper_replay.tuner("asha-stopping", source).run(max_trials=6)
    lines = source.read_bytes().split(b"\n")[:-1]
    rows = []
    for name, (data, damaged) in variants(lines).items():
        intact = intact_rows(data, lines)
        row = {"variant": name, "whole rows": intact}
        for reader in READERS:
            path = tmp / f"{len(rows)}-{reader}.jsonl"
            path.write_bytes(data)
            row[reader], row[f"{reader} detail"] = read_outcome(reader, path, damaged, intact)
        rows.append(row)
    return rows


# == 4. the summary ===================================================================
def summary(outcomes, simulated, real, corruptions) -> list[tuple[str, str, str]]:
    """(part, measure, value): the numbers the next review starts from. Each part's
    first measure is its total; a part that was not run (None) has no lines."""
    out = []
    if outcomes is not None:
        counts = collections.Counter(o.category for o in outcomes)
        out += [("inputs", "bad inputs tried", len(outcomes))]
        out += [("inputs", c, counts[c]) for c in CATEGORIES]
    if simulated is not None:
        out += [("kills", "kills (kill -9 mid-run)", len(simulated) + len(real)),
                ("kills", "simulated, resumed: tables equal",
                 f"{sum(r['tables equal'] for r in simulated)} of {len(simulated)}"),
                ("kills", "rows lost", sum(r["rows lost"] or 0 for r in simulated)),
                ("kills", "rows repeated", sum(r["rows repeated"] or 0 for r in simulated)),
                ("kills", "resumes that failed", sum(r["rows lost"] is None for r in simulated)),
                ("kills", "real backends: orphan processes",
                 sum(r["orphans"] or 0 for r in real)),
                ("kills", "real backends: kills that did not happen",
                 sum(not r["killed"] for r in real))]
    if corruptions is not None:
        counts = collections.Counter(r[k] for r in corruptions for k in READERS)
        out += [("corruptions", "corruptions (variants x readers)",
                 f"{len(corruptions)} x {len(READERS)} = {len(corruptions) * len(READERS)}")]
        out += [("corruptions", c, counts[c]) for c in CORRUPTION_OUTCOMES]
    return [(part, m, str(v)) for part, m, v in out]


def _print(title, df: pd.DataFrame, index=True):
    print(f"\n{title}")
    text = df.to_string(index=index)
    print("-" * min(max(len(x) for x in text.splitlines()), 120))
    print(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer kills, no process-backend reports (< 1 min)")
    parser.add_argument("--parts", nargs="+", default=["inputs", "kills", "corruptions"],
                        choices=["inputs", "kills", "corruptions"])
    args = parser.parse_args(argv)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 100)
    t0 = time.perf_counter()
    outcomes = simulated = real = corruptions = None
    with tempfile.TemporaryDirectory(prefix="d2lhpo-reliability-") as tmp:
        tmp = Path(tmp)
        if "inputs" in args.parts:
            (tmp / "inputs").mkdir()
            outcomes = [classify(c) for c in bad_input_cases(tmp / "inputs", args.quick)]
            _print("1. Bad inputs: outcome by group", input_table(outcomes))
            bad = pd.DataFrame([{"case": o.case.name, "outcome": o.category, "what": o.what,
                                 "message": o.message} for o in outcomes
                                if o.category != "clear"])
            if len(bad):
                bad["case"] = bad["case"].str.slice(0, 60)
                _print("   The cases not refused clearly", bad, index=False)
        if "kills" in args.parts:
            (tmp / "kills").mkdir()
            simulated, real = kill_rows(tmp / "kills", args.quick)
            _print("2. Kills: simulated backend, kill -9 in mid-step, resumed vs. uninterrupted",
                   pd.DataFrame(simulated), index=False)
            _print("   Kills: real backends, processes of the run alive 5 s after kill -9",
                   pd.DataFrame(real), index=False)
        if "corruptions" in args.parts:
            (tmp / "corrupt").mkdir()
            corruptions = corruption_rows(tmp / "corrupt")
            df = pd.DataFrame(corruptions)
            _print("3. Corruptions: how each reader takes each damaged journal",
                   df[["variant", "whole rows", *READERS]], index=False)
            odd = [{"variant": r["variant"], "reader": k, "outcome": r[k],
                    "detail": r[f"{k} detail"]} for r in corruptions for k in READERS
                   if r[k] in ("undetected", "rows hidden", "crashed")]
            if odd:
                _print("   The bad outcomes", pd.DataFrame(odd), index=False)
    rows = summary(outcomes, simulated, real, corruptions)
    width = max(len(m) for _, m, _ in rows) + 2
    print("\n4. Summary" + (" (--quick)" if args.quick else ""))
    print("-" * (width + 12))
    for i, (part, measure, value) in enumerate(rows):
        first = i == 0 or rows[i - 1][0] != part  # a part's total, then its details
        print(f"{measure if first else '  ' + measure:<{width}}  {value:>10}")
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
