"""Plots: the timeline's data, and every renderer draws on Agg and returns its Axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import d2lhpo as hpo  # noqa: E402
from d2lhpo.objectives import branin  # noqa: E402
from d2lhpo.results import Results  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def results():
    scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(branin.space, seed=0))
    return hpo.Tuner(branin, scheduler, backend="simulated", n_workers=3,
                     progress=False).run(max_trials=12)


def step(trial_id, worker, time, duration, status="completed", resource=1):
    return {"trial_id": trial_id, "status": status, "resource": resource, "time": time,
            "duration": duration, "worker": worker, "config_x": 0.5, "loss": 1.0}


def test_timeline_data():
    rows = [step(0, 1, 10.0, 10.0, "running"), step(1, 0, 5.0, 5.0),
            step(0, 1, 25.0, 15.0, "stopped", 2), step(2, 0, 12.0, 7.0)]
    expected = pd.DataFrame({"worker": [0, 0, 1, 1], "trial_id": [1, 2, 0, 0],
                             "start": [0.0, 5.0, 0.0, 10.0], "end": [5.0, 12.0, 10.0, 25.0],
                             "status": ["completed", "completed", "running", "stopped"]})
    pd.testing.assert_frame_equal(hpo.timeline(Results("loss", rows=rows)), expected)
    assert hpo.timeline(Results("loss")).empty


def test_timeline_of_a_simulated_run_has_no_overlaps(results):
    segments = hpo.timeline(results)
    assert len(segments) == 12 and set(segments["worker"]) == {0, 1, 2}
    for _, g in segments.groupby("worker"):
        # start = time - duration: equal to the previous end up to rounding
        assert (g["start"].iloc[1:].to_numpy() >= g["end"].iloc[:-1].to_numpy() - 1e-9).all()


def test_set_style():
    hpo.set_style(svg=False)
    assert matplotlib.rcParams["axes.spines.top"] is False


def test_plot_anytime(results):
    ax = hpo.plot_anytime(results.anytime())
    assert isinstance(ax, plt.Axes) and len(ax.lines) == 1
    agg = hpo.aggregate_anytime([results.anytime(), results.anytime()])
    ax = hpo.plot_anytime({"random": agg, "again": agg}, log_y=True)
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["random", "again"]


def test_plot_anytime_on_given_axes(results):
    _, ax = plt.subplots()
    assert hpo.plot_anytime(results.anytime(), ax=ax, x="n") is ax
    assert ax.get_xlabel() == "evaluations"


def test_plot_pareto(results):
    ax = hpo.plot_pareto(results.df, ["value", "time"])
    assert isinstance(ax, plt.Axes) and ax.get_xlabel() == "value"


def test_plot_learning_curves(results):
    ax = hpo.plot_learning_curves(results, max_trials=5, rungs=[1])
    assert isinstance(ax, plt.Axes) and len(ax.lines) == 5 + 1


def test_plot_timeline(results):
    ax = hpo.plot_timeline(results, max_time=500)
    assert isinstance(ax, plt.Axes) and len(ax.patches) == 12
    assert ax.get_xlim() == (0, 500)


def test_plot_timeline_draws_only_steps_that_start_before_max_time():
    rows = [step(0, 0, 10.0, 10.0), step(1, 0, 30.0, 20.0), step(2, 1, 50.0, 15.0)]
    ax = hpo.plot_timeline(Results("loss", rows=rows), max_time=20)
    assert len(ax.patches) == 2  # the step of trial 2 starts at 35
    assert list(ax.get_yticks()) == [0, 1]  # every worker keeps its row


def test_set_style_figure_format_from_the_environment(monkeypatch):
    monkeypatch.setenv("D2LHPO_FIGURE_FORMAT", "png")
    hpo.set_style()
    monkeypatch.setenv("D2LHPO_FIGURE_FORMAT", "gif")
    with pytest.raises(ValueError, match="D2LHPO_FIGURE_FORMAT.*'gif'"):
        hpo.set_style()
