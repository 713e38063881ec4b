"""Tuning needs no plotting stack: d2lhpo imports and tunes without matplotlib
(issue 14, item 7), and only a plot function asks for it."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import d2lhpo

ROOT = Path(d2lhpo.__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import sys
    sys.modules["matplotlib"] = None       # makes any import of matplotlib fail
    import d2lhpo as hpo

    branin = hpo.objectives.branin
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(branin.space, seed=0))
    results = hpo.Tuner(branin, scheduler, backend="simulated",
                        progress=False).run(max_trials=5)
    assert results.df["trial_id"].nunique() == 5, results.df
    assert len(hpo.timeline(results)) == len(results.df)  # a plot's data needs no matplotlib
    loaded = sorted(name for name, module in sys.modules.items() if module is not None
                    and name.split(".")[0] in ("matplotlib", "d2l", "torch", "IPython"))
    assert not loaded, loaded
    for plot, args in [(hpo.plot_anytime, (results.anytime(),)), (hpo.set_style, ()),
                       (hpo.plot_timeline, (results,))]:
        try:
            plot(*args)
        except ImportError as err:
            assert "need matplotlib" in str(err), err
        else:
            raise AssertionError(f"{plot.__name__} drew without matplotlib")
    print("ok")
""")


def test_tuning_without_matplotlib_and_a_clear_error_when_plotting():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_nothing_imports_matplotlib_at_import_time():
    # The same check for every module of the package that does not need torch.
    code = ("import sys, pkgutil, importlib; sys.modules['matplotlib'] = None; import d2lhpo\n"
            "for m in pkgutil.walk_packages(d2lhpo.__path__, 'd2lhpo.'):\n"
            "    if m.name.split('.')[-1] not in ('cnn', 'cv', 'data', 'dask'):  # torch or Dask\n"
            "        importlib.import_module(m.name)\n"
            "print('ok')")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
