"""ASHA: the promotion rule, stopping vs promotion, and runs on a simulated clock."""

import numpy as np
import pytest
from optuna.pruners._successive_halving import _is_trial_promotable_to_next_rung
from optuna.study import StudyDirection

import d2lhpo as hpo
from d2lhpo.schedulers import ASHA, Decision
from d2lhpo.schedulers.asha import _Rung
from d2lhpo.schedulers.rungs import is_promotable, n_promotable, rung_agreement

PAUSE, STOP, CONTINUE = Decision.PAUSE, Decision.STOP, Decision.CONTINUE


class Curves:
    """A synthetic learning curve: error = x + 1/epoch, one simulated second per epoch;
    each report carries the ``r0`` its segment started from."""

    space = {"x": hpo.uniform(0, 1)}
    metric, mode, max_resource = "error", "min", 27

    def __call__(self, config, r0, r1):
        for epoch in range(int(r0) + 1, int(r1) + 1):
            yield {"resource": epoch, "error": config["x"] + 1 / epoch, "cost": 1.0, "r0": r0}


class Crossing(Curves):
    """Learning curves that cross: fast starters (small x) end worse than slow ones."""

    def __call__(self, config, r0, r1):
        x = config["x"]
        for epoch in range(int(r0) + 1, int(r1) + 1):
            error = 0.5 * (1 - x) + 0.5 * np.exp(-epoch * (1.5 - x)) + 0.2 * x
            yield {"resource": epoch, "error": error, "cost": 1.0 + x, "r0": r0}


class Recorder(hpo.RandomSearcher):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.observed = []

    def observe(self, config, result):
        self.observed.append((config["x"], result["resource"]))


def asha(type, max_resource=9, **kwargs):
    return ASHA(hpo.RandomSearcher(Curves.space, seed=0), type=type, eta=3, min_resource=1,
                max_resource=max_resource, metric="error", mode="min", seed=0, **kwargs)


def report(scheduler, trial_id, resource, error):
    return scheduler.tell(trial_id, {"resource": resource, "error": error})


def ask(scheduler):
    """(trial id, r0, r1) of the next job."""
    job = scheduler.ask()
    return job.trial_id, job.r0, job.r1


# -- the rule -----------------------------------------------------------------------------

def test_n_promotable():
    assert [n_promotable(n, 3) for n in range(8)] == [0, 0, 0, 1, 1, 1, 2, 2]
    assert [n_promotable(n, 3, at_least_one=True) for n in range(8)] == [0, 1, 1, 1, 1, 1, 2, 2]
    assert n_promotable(16, 4) == 4


def test_is_promotable_by_hand():
    values = [0.5, 0.3, 0.9]                            # top 1/3 of 3: just 0.3
    assert is_promotable(0.3, values, 3)
    assert not is_promotable(0.5, values, 3)
    assert is_promotable(0.9, values, 3, mode="max")
    assert not is_promotable(0.3, [0.3, 0.5], 3)        # 2 // 3 = 0: nobody yet ...
    assert is_promotable(0.3, [0.3, 0.5], 3, at_least_one=True)  # ... unless the best goes on
    assert is_promotable(0.1, [0.1, 0.1, 0.5, 0.6, 0.7, 0.9], 3)  # ties count in its favour


@pytest.mark.parametrize("eta", [2, 3, 4])
def test_is_promotable_agrees_with_optuna(eta):
    # Optuna's SuccessiveHalvingPruner rule: the best goes on while fewer than eta are in
    rng = np.random.default_rng(eta)
    for _ in range(300):
        values = list(np.round(rng.random(rng.integers(1, 20)), 1))  # rounding makes ties
        value = values[rng.integers(len(values))]
        for mode, direction in [("min", StudyDirection.MINIMIZE),
                                ("max", StudyDirection.MAXIMIZE)]:
            expected = _is_trial_promotable_to_next_rung(value, list(values), eta, direction)
            assert is_promotable(value, values, eta, mode, at_least_one=True) == expected


# -- scripted sequences, worked out by hand --------------------------------------------------

def test_promotion_by_hand():
    s = asha("promotion")                       # rungs 1, 3, 9
    # three new trials start at the lowest rung; nothing is recorded yet
    assert [ask(s) for _ in range(3)] == [(0, 0, 1), (1, 0, 1), (2, 0, 1)]
    assert report(s, 0, 1, 0.5) == PAUSE        # rung 1: [0.5]; 1 // 3 = 0 promotable
    assert report(s, 1, 1, 0.3) == PAUSE        # rung 1: [0.3, 0.5]; still 0
    assert ask(s) == (3, 0, 1)                  # nothing to promote: new trial 3 at rung 1
    assert report(s, 2, 1, 0.9) == PAUSE        # rung 1: [0.3, 0.5, 0.9]; top 1: trial 1
    job = s.ask()                               # trial 1 resumes from 1, up to rung 3
    assert (job.trial_id, job.r0, job.r1, job.config) == (1, 1, 3, s.trials[1].config)
    assert ask(s) == (4, 0, 1)                  # trial 1 was promoted; 0.5 is not top 1
    assert report(s, 3, 1, 0.1) == PAUSE        # rung 1: [0.1, 0.3, 0.5, 0.9]; top 1: 0.1
    assert report(s, 4, 1, 0.4) == PAUSE        # 5 // 3 = 1: top 1 is still trial 3
    assert ask(s) == (3, 1, 3)                  # trial 3 resumes to rung 3
    assert ask(s) == (5, 0, 1)                  # best unpromoted: 0.4, two better: new trial
    assert report(s, 1, 2, 0.25) == CONTINUE    # between rungs: nothing to decide
    assert report(s, 1, 3, 0.2) == PAUSE        # rung 3: [0.2]
    assert report(s, 5, 1, 0.45) == PAUSE       # rung 1: 6 values, top 2 = trials 3, 1: done
    assert ask(s) == (6, 0, 1)                  # rung 3: 1 // 3 = 0; rung 1: none -> new 6
    assert report(s, 6, 1, 0.05) == PAUSE       # rung 1: 7 values; top 2: 0.05 (6), 0.1 (3)
    assert report(s, 3, 2, 0.09) == CONTINUE
    assert report(s, 3, 3, 0.08) == PAUSE       # rung 3: [0.08, 0.2]
    assert ask(s) == (6, 1, 3)                  # rung 3: 2 // 3 = 0; rung 1: trial 6
    assert ask(s) == (7, 0, 1)                  # new trial 7
    assert report(s, 7, 1, 0.01) == PAUSE       # rung 1: 8 values; top 2: 0.01 (7), 0.05 (6)
    assert report(s, 6, 3, 0.03) == PAUSE       # rung 3: [0.03, 0.08, 0.2]; top 1: trial 6
    assert ask(s) == (6, 3, 9)                  # both rungs have a candidate: highest first
    assert ask(s) == (7, 1, 3)                  # rung 3: 0.08 has one better; rung 1: trial 7
    assert report(s, 6, 9, 0.02) == CONTINUE    # the last rung: it runs to its end
    assert s.trials[6].status == "completed"
    assert {t.status for t in s.trials.values()} == {"paused", "running", "completed"}


def test_stopping_by_hand():
    s = asha("stopping")
    assert [ask(s) for _ in range(3)] == [(0, 0, 9), (1, 0, 9), (2, 0, 9)]  # straight to max
    assert report(s, 0, 1, 0.5) == CONTINUE     # rung 1: [0.5]: the best so far goes on
    assert report(s, 1, 1, 0.3) == CONTINUE     # [0.3, 0.5]: best so far
    assert report(s, 2, 1, 0.9) == STOP         # [0.3, 0.5, 0.9]: top 1 is 0.3
    assert s.trials[2].status == "stopped"
    assert report(s, 0, 2, 0.45) == CONTINUE    # between rungs
    assert report(s, 0, 3, 0.4) == CONTINUE     # rung 3: [0.4]
    s.ask()
    assert report(s, 3, 1, 0.4) == STOP         # rung 1: [0.3, 0.4, 0.5, 0.9]; top 1: 0.3
    assert report(s, 1, 2, 0.25) == CONTINUE
    assert report(s, 1, 3, 0.2) == CONTINUE     # rung 3: [0.2, 0.4]: best so far
    s.ask(), s.ask()
    assert report(s, 4, 1, 0.35) == STOP        # 5 values, top 1: 0.3
    assert report(s, 5, 1, 0.32) == CONTINUE    # 6 values, top 2: 0.3, 0.32
    for r in range(4, 9):
        report(s, 0, r, 0.3)
    assert report(s, 0, 9, 0.1) == CONTINUE     # the last rung
    assert s.trials[0].status == "completed"


def test_a_scheduler_needs_no_bind_to_be_driven_by_hand():
    for type in ("stopping", "promotion"):
        s = ASHA(hpo.RandomSearcher(Curves.space, seed=0), type=type, metric="error",
                 mode="min", max_resource=27, eta=3)
        job = s.ask()
        assert (job.trial_id, job.r0) == (0, 0)
        assert s.tell(job.trial_id, {"resource": 1, "error": 0.4}) in (CONTINUE, PAUSE)


def test_same_results_stopping_vs_promotion():
    # the same results, one trial after the other: stopping lets the best so far run on,
    # promotion pauses everyone and promotes only once eta results are in
    stopping, promotion = asha("stopping"), asha("promotion")
    for i in range(4):
        stopping.ask(), promotion.ask()
    for i, error in enumerate([0.5, 0.3, 0.9, 0.1]):
        assert report(promotion, i, 1, error) == PAUSE
        expected = [CONTINUE, CONTINUE, STOP, CONTINUE][i]
        assert report(stopping, i, 1, error) == expected
    assert promotion.ask().trial_id == 3  # top 1 of [0.1, 0.3, 0.5, 0.9]


def test_stopping_decisions_follow_the_pure_rule():
    s = asha("stopping", max_resource=27)
    rng = np.random.default_rng(0)
    values = []
    for i, error in enumerate(np.round(rng.random(200), 2)):
        s.ask()
        values.append(error)
        expected = is_promotable(error, values, 3, at_least_one=True)
        assert (report(s, i, 1, error) == CONTINUE) == expected


def test_promotion_max_mode():
    s = ASHA(hpo.RandomSearcher(Curves.space, seed=0), type="promotion", max_resource=9,
             mode="max")
    s.bind("accuracy", None, None)
    for i, acc in enumerate([0.5, 0.9, 0.2]):
        s.ask()
        s.tell(i, {"resource": 1, "accuracy": acc})
    assert s.ask().trial_id == 1


# -- end to end on the simulated backend ------------------------------------------------------

def run(type, objective=None, max_time=120, n_workers=4, seed=0):
    objective = objective or Curves()
    searcher = Recorder(Curves.space, seed=seed)
    scheduler = ASHA(searcher, type=type, eta=3, seed=seed)
    results = hpo.Tuner(objective, scheduler, backend="simulated", n_workers=n_workers,
                        progress=False).run(max_time=max_time)
    return results.df, scheduler, searcher


def test_promotion_resumes_paused_trials_from_their_rung():
    df, scheduler, _ = run("promotion")
    assert scheduler.levels == [1, 3, 9, 27]
    assert df.resource.max() == 27 and (df.resource <= 27).all()
    # each segment runs from one rung to the next, resuming where the trial paused
    for lo, hi in [(0, 1), (1, 3), (3, 9), (9, 27)]:
        assert (df[(df.resource > lo) & (df.resource <= hi)].r0 == lo).all()
    assert set(df[df.resource.isin([1, 3, 9])].status) == {"paused"}
    assert set(df[df.resource == 27].status) == {"completed"}
    paused = df[df.status == "paused"]
    resumed = df[(df.r0 > 0) & (df.resource == df.r0 + 1)]
    # every resumed segment starts where that trial last paused, after it paused
    for _, row in resumed.iterrows():
        before = paused[(paused.trial_id == row.trial_id) & (paused.resource == row.r0)]
        assert len(before) == 1 and before.time.iloc[0] <= row.time - 1.0


def test_stopping_runs_trials_once_from_zero():
    df, _, _ = run("stopping")
    assert (df.r0 == 0).all() and (df.resource <= 27).all()
    last = df.groupby("trial_id").tail(1)
    stopped = last[last.status == "stopped"]
    assert len(stopped) and set(stopped.resource) <= {1, 3, 9}
    assert df[df.resource == 27].status.eq("completed").all()


@pytest.mark.parametrize("type", ["stopping", "promotion"])
def test_asha_keeps_every_worker_busy(type):
    # one simulated second per epoch: 4 busy workers report 4 results a second
    df, _, _ = run(type, max_time=60)
    assert len(df) == 4 * 60


@pytest.mark.parametrize("type", ["stopping", "promotion"])
def test_asha_observes_every_rung_result(type):
    df, _, searcher = run(type, Crossing(), max_time=100)
    rungs = df[df.resource.isin([1, 3, 9, 27])]
    assert sorted(searcher.observed) == sorted(zip(rungs.config_x, rungs.resource))
    assert len(searcher.pending) <= 4


def test_asha_same_seed_same_run():
    a, _, _ = run("promotion", Crossing(), max_time=50, seed=5)
    b, _, _ = run("promotion", Crossing(), max_time=50, seed=5)
    assert a.equals(b)


# -- bad settings ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, name", [
    ({"eta": 1}, "eta"), ({"eta": 1.9}, "eta"), ({"type": "median"}, "type"),
    ({"min_resource": 0}, "min_resource"), ({"min_resource": -2}, "min_resource"),
    ({"min_resource": 9, "max_resource": 3}, "min_resource"),
    ({"max_resource": 0}, "max_resource"),
    ({"rung_pvalue": 0}, "rung_pvalue"), ({"rung_pvalue": 1}, "rung_pvalue"),
    ({"rung_pvalue": -0.1}, "rung_pvalue"), ({"rung_pvalue": True}, "rung_pvalue"),
    ({"rung_pvalue": "0.1"}, "rung_pvalue"), ({"rung_pvalue": float("nan")}, "rung_pvalue"),
])
def test_asha_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ASHA(hpo.RandomSearcher(Curves.space), **kwargs)


def test_asha_bad_settings_from_the_objective():
    class OneEpoch(Curves):
        max_resource = 1

    with pytest.raises(ValueError, match="min_resource"):
        hpo.Tuner(OneEpoch(), ASHA(hpo.RandomSearcher(Curves.space)), backend="simulated",
                  progress=False)


@pytest.mark.parametrize("type", ["stopping", "promotion"])
def test_asha_objective_that_skips_a_rung_raises(type):
    class EveryOtherEpoch(Curves):  # reports at 2, 4, 6, ... but the rungs are 1, 3, 9, 27
        def __call__(self, config, r0, r1):
            for epoch in range(int(r0) + 2, int(r1) + 2, 2):
                yield {"resource": epoch, "error": config["x"], "cost": 1.0}

    tuner = hpo.Tuner(EveryOtherEpoch(), ASHA(hpo.RandomSearcher(Curves.space), type=type),
                      backend="simulated", n_workers=2, progress=False)
    df = tuner.run(max_trials=5).df
    assert (df.status == "failed").all() and len(df) == 5
    # stopping: one job to max_resource past rung 1; promotion: a job to rung 1
    problem = ("skipping the rung at resource 1" if type == "stopping"
               else "reported resource 2 beyond the job's r1 = 1")
    assert df.error.str.contains(problem).all()


def test_asha_promotion_objective_that_stops_short_completes_where_it_got_to():
    def nothing(config, r0, r1):  # ignores r1, never reports
        return iter(())

    scheduler = ASHA(hpo.RandomSearcher(Curves.space), type="promotion", max_resource=9)
    tuner = hpo.Tuner(nothing, scheduler, backend="simulated", metric="error", progress=False)
    results = tuner.run(max_trials=4)
    assert results.trials().status.tolist() == ["completed"] * 4
    assert (results.df.resource == 0).all()


def test_promotion_with_max_trials_promotes_after_the_last_new_trial():
    # 27 new trials, then no new ones: the top third of each rung still goes up,
    # as the promotion rule of a rung of 27, 9 and 3 results says.
    scheduler = ASHA(hpo.RandomSearcher(Curves.space, seed=0), type="promotion", eta=3,
                     seed=0)
    df = hpo.Tuner(Curves(), scheduler, backend="simulated", n_workers=4,
                   progress=False).run(max_trials=27).df
    assert df.trial_id.nunique() == 27
    reached = df.groupby("trial_id").resource.max()
    assert [(reached >= level).sum() for level in [1, 3, 9, 27]] == [27, 9, 3, 1]
    best = df.groupby("trial_id").error.min().idxmin()
    assert reached[best] == 27


def test_an_objective_whose_resource_never_grows_fails_its_trials_instead_of_looping():
    def stuck(config, r0, r1):  # always reports resource 1, whatever it is asked
        while True:
            yield {"resource": 1, "error": config["x"], "cost": 1.0}

    scheduler = ASHA(hpo.RandomSearcher(Curves.space, seed=0), type="promotion", eta=3,
                     max_resource=9, seed=0)
    df = hpo.Tuner(stuck, scheduler, backend="simulated", n_workers=2, metric="error",
                   progress=False).run(max_trials=12).df
    assert df.trial_id.nunique() == 12 and len(df) < 40
    failed = df[df.status == "failed"]
    assert len(failed) and failed.error.str.contains("must make progress").all()


# -- rung_pvalue: a rung whose ranking does not predict the next one's judges nobody ----------

def test_rung_agreement_exact_pvalues():
    low, high = _Rung(), _Rung()
    for trial, score in enumerate([0.5, 0.4, 0.3, 0.2, 0.1]):
        low.add(score, trial)
        high.add(score / 10, trial)
    # five pairs in the same order: tau 1, and 1 of the 5! orderings is as concordant
    assert rung_agreement(low.by_trial, high.by_trial) == pytest.approx((1.0, 1 / 120, 5))
    reverse = _Rung()
    for trial in range(5):
        reverse.add(-low.by_trial[trial], trial)
    tau, pvalue, n = rung_agreement(low.by_trial, reverse.by_trial)
    assert (tau, pvalue, n) == pytest.approx((-1.0, 1.0, 5))
    flat = _Rung()
    for trial in range(5):
        flat.add(0.9, trial)
    assert rung_agreement(flat.by_trial, high.by_trial)[1:] == (1.0, 5)   # ranks nothing
    assert rung_agreement(low.by_trial, {})[1:] == (1.0, 0)


def five_through_rung_one(s, order):
    """Trials 0-4 pass rung 1 (each the best so far there: 0.9, 0.8, ... 0.5); their
    rung-3 results follow ``order`` (the same order as at rung 1, or reversed)."""
    for trial in range(5):
        assert ask(s)[0] == trial
        assert report(s, trial, 1, 0.9 - 0.1 * trial) == CONTINUE
    for trial in range(5):
        report(s, trial, 2, 0.5)
        rank = trial if order == "same" else 4 - trial
        report(s, trial, 3, 0.5 - 0.05 * rank)


@pytest.mark.parametrize("order, pvalue, decision", [
    ("reversed", None, STOP),      # the default: every rung judges
    ("reversed", 0.16, CONTINUE),  # rung 1 ranks the opposite of rung 3: it stops nobody
    ("same", 0.16, STOP),          # rung 1 predicts rung 3 (p = 1/120): it judges
])
def test_stopping_rung_that_does_not_predict_the_next_stops_nobody(order, pvalue, decision):
    s = asha("stopping", rung_pvalue=pvalue)
    five_through_rung_one(s, order)
    assert s.judges(1) == (decision == STOP) and s.judges(3)
    assert ask(s)[0] == 5
    assert report(s, 5, 1, 0.95) == decision   # the worst at rung 1 so far


@pytest.mark.parametrize("order, promoted", [("reversed", True), ("same", False)])
def test_promotion_rung_that_does_not_predict_the_next_promotes_every_paused_trial(
        order, promoted):
    s = asha("promotion", rung_pvalue=0.16)
    assert [ask(s) for _ in range(15)] == [(trial, 0, 1) for trial in range(15)]
    for trial in range(15):                       # 15 at rung 1: the top 5 get promoted
        report(s, trial, 1, 0.01 * trial + 0.5 * (trial >= 5))
    for trial in range(5):
        assert ask(s) == (trial, 1, 3)
    for trial in range(5):
        report(s, trial, 2, 0.5)
        report(s, trial, 3, 0.3 + 0.05 * (trial if order == "same" else 4 - trial))
    assert ask(s)[1:] == (3, 9)                   # rung 3's best goes on first
    # trials 5-14 pause at rung 1, none in its top third
    trial_id, r0, r1 = ask(s)
    assert (trial_id in range(5, 15) and (r0, r1) == (1, 3)) == promoted
    assert promoted or (trial_id, r0, r1) == (15, 0, 1)


class FlatFirstEpoch(Curves):
    """Epoch 1 scores every configuration 1.0 (plus noise of the trial's own); from
    epoch 2 on, error = x + 1/epoch."""

    def __call__(self, config, r0, r1):
        noise = 1e-3 * np.random.default_rng(int(config["x"] * 2 ** 32)).random()
        for epoch in range(int(r0) + 1, int(r1) + 1):
            error = 1.0 + noise if epoch == 1 else config["x"] + 1 / epoch
            yield {"resource": epoch, "error": error, "cost": 1.0}


@pytest.mark.parametrize("type", ["stopping", "promotion"])
def test_a_flat_first_rung_stops_judging_and_more_trials_reach_the_next(type):
    reached = {}
    for pvalue in (None, 0.16):
        s = ASHA(hpo.RandomSearcher(Curves.space, seed=1), type=type, eta=3, seed=1,
                 rung_pvalue=pvalue)
        tuner = hpo.Tuner(FlatFirstEpoch(), s, backend="simulated", n_workers=2, seed=1,
                          progress=False)
        df = tuner.run(max_time=300).df
        reached[pvalue] = (df.groupby("trial_id").resource.max() >= 3).mean()
        if pvalue is not None:
            assert not s.judges(1) and s.judges(3)   # rung 3 ranks as the end does
    assert reached[0.16] > 2 * reached[None]
