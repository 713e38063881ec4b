"""The median stopping rule: the rule by hand, and a run on a simulated clock."""

import numpy as np
import pytest

import d2lhpo as hpo
from d2lhpo.schedulers import Decision, MedianStopping
from d2lhpo.schedulers.median_stopping import median_rule


class Curves:
    """A synthetic learning curve: error = x + 1/epoch, one simulated second per epoch."""

    space = {"x": hpo.uniform(0, 1)}
    metric, mode, max_resource = "error", "min", 9

    def __call__(self, config, r0, r1):
        for epoch in range(int(r0) + 1, int(r1) + 1):
            yield {"resource": epoch, "error": config["x"] + 1 / epoch, "cost": 1.0}


def test_median_rule():
    assert median_rule(0.5, [0.1, 0.2, 0.9])               # median 0.2 < 0.5: stop
    assert not median_rule(0.2, [0.1, 0.2, 0.9])           # not strictly worse
    assert not median_rule(0.5, [0.1, 0.2, 0.9], "max")    # larger is better
    assert median_rule(0.3, [0.2, 0.4, 0.6, 0.8], "max")   # median 0.5


def test_median_stopping_by_hand():
    s = MedianStopping(hpo.RandomSearcher(Curves.space, seed=0), min_resource=2,
                       max_resource=9, min_samples=2, metric="error", mode="min")
    assert [s.ask().r1 for i in range(4)] == [9] * 4
    for i, error in enumerate([0.4, 0.2, 0.6]):            # resource 1: grace period
        assert s.tell(i, {"resource": 1, "error": error}) == Decision.CONTINUE
    assert s.tell(0, {"resource": 2, "error": 0.2}) == Decision.CONTINUE  # none yet
    assert s.tell(1, {"resource": 2, "error": 0.1}) == Decision.CONTINUE  # 1 other
    # trial 2: best so far 0.6; others' running averages at 2: 0.3 and 0.15 -> stop
    assert s.tell(2, {"resource": 2, "error": 0.6}) == Decision.STOP
    assert s.trials[2].status == "stopped"
    assert s.tell(3, {"resource": 1, "error": 0.9}) == Decision.CONTINUE


def test_median_stopping_run():
    scheduler = MedianStopping(hpo.RandomSearcher(Curves.space, seed=0), min_resource=2)
    df = hpo.Tuner(Curves(), scheduler, backend="simulated", n_workers=4,
                   progress=False).run(max_time=100).df
    last = df.groupby("trial_id").tail(1)
    assert (last.status == "stopped").any() and (last.status == "completed").any()
    assert (last[last.status == "stopped"].resource >= 2).all()
    assert df.resource.max() == 9
    # stopped trials are worse than those that completed, on average
    x = df.groupby("trial_id").config_x.first()
    assert np.median(x[last[last.status == "stopped"].trial_id]) > np.median(
        x[last[last.status == "completed"].trial_id])


@pytest.mark.parametrize("kwargs, name", [
    ({"min_resource": 0}, "min_resource"), ({"min_resource": 9, "max_resource": 9},
                                            "min_resource"),
    ({"min_samples": 0}, "min_samples"),
])
def test_median_stopping_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MedianStopping(hpo.RandomSearcher(Curves.space), **kwargs)


def test_min_resource_above_the_objectives_max_is_refused_at_construction():
    with pytest.raises(ValueError, match="min_resource"):  # the objective's max is 9
        hpo.Tuner(Curves(), MedianStopping(hpo.RandomSearcher(Curves.space), min_resource=30),
                  backend="simulated")


def test_resumed_median_stopping_keeps_its_running_averages(tmp_path):
    def tuner(resume):
        s = MedianStopping(hpo.RandomSearcher(Curves.space, seed=0), min_resource=2)
        return hpo.Tuner(Curves(), s, backend="simulated", n_workers=2, seed=0,
                         journal=tmp_path / "run.jsonl", resume=resume, progress=False)

    first = tuner(False)
    first.run(max_trials=10)
    resumed = tuner(True)
    for s in (first.scheduler, resumed.scheduler):  # the rule sees the same history
        s.allow_new_trials()
    for _ in range(3):
        a, b = first.scheduler.ask(), resumed.scheduler.ask()
        assert a.trial_id == b.trial_id
        for r in (1, 2):
            report = {"resource": r, "error": 5.0 + a.trial_id}
            assert first.scheduler.tell(a.trial_id, report) == resumed.scheduler.tell(
                b.trial_id, report)
    assert first.scheduler.trials[10].status == "stopped"
