"""Hyperband: bracket sizes against the paper, and the bracket cycle on a simulated clock."""

import pytest

import d2lhpo as hpo
from d2lhpo.schedulers import Hyperband
from d2lhpo.schedulers.rungs import hyperband_brackets


class Curves:
    """A synthetic learning curve: error = x + 1/epoch, one simulated second per epoch;
    each report carries the ``r0`` its segment started from."""

    space = {"x": hpo.uniform(0, 1)}
    metric, mode, max_resource = "error", "min", 9

    def __call__(self, config, r0, r1):
        for epoch in range(int(r0) + 1, int(r1) + 1):
            yield {"resource": epoch, "error": config["x"] + 1 / epoch, "cost": 1.0, "r0": r0}


def test_brackets_match_table_1_of_the_paper():
    # Li et al., "Hyperband", JMLR 18 (2018), Table 1: R = 81, eta = 3, (n_i, r_i) per bracket
    table_1 = {
        4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        3: [(34, 3), (11, 9), (3, 27), (1, 81)],
        2: [(15, 9), (5, 27), (1, 81)],
        1: [(8, 27), (2, 81)],
        0: [(5, 81)],
    }
    assert hyperband_brackets(81, 3) == [table_1[s] for s in (4, 3, 2, 1, 0)]
    assert hyperband_brackets(81, 3, min_resource=1) == hyperband_brackets(81, 3)


def test_brackets_by_hand():
    # R = 27, eta = 3: s_max = 3; n = ceil(4 / (s + 1) * 3**s) = 27, 12, 6, 4
    assert hyperband_brackets(27, 3) == [
        [(27, 1), (9, 3), (3, 9), (1, 27)],
        [(12, 3), (4, 9), (1, 27)],
        [(6, 9), (2, 27)],
        [(4, 27)],
    ]
    # R = 8 in units of min_resource 2 (max_resource 16), eta = 2: s_max = 3;
    # n = ceil(4 / (s + 1) * 2**s) = 8, 6, 4, 4
    assert hyperband_brackets(16, 2, min_resource=2) == [
        [(8, 2), (4, 4), (2, 8), (1, 16)],
        [(6, 4), (3, 8), (1, 16)],
        [(4, 8), (2, 16)],
        [(4, 16)],
    ]


@pytest.mark.parametrize("args, name", [
    ((81, 1), "eta"), ((81, 3, 0), "min_resource"), ((81, 3, 81), "min_resource"),
    ((-3, 3), "max_resource"),
])
def test_brackets_bad_settings(args, name):
    with pytest.raises(ValueError, match=name):
        hyperband_brackets(*args)


class FreshFits:
    """A fidelity that cannot resume (a training-set fraction): every report is a
    fit from scratch at that resource, costing the resource, and only where the
    job's report grid (``levels``) asks."""

    space = {"x": hpo.uniform(0, 1)}
    metric, mode, max_resource = "error", "min", 27

    def __init__(self):
        self.fits = []  # (trial seed, resource) of every fit

    def __call__(self, config, r0, r1, levels, seed):
        for resource in levels:
            self.fits.append((seed, resource))
            yield {"resource": resource, "error": config["x"] + 1 / resource,
                   "cost": float(resource)}


def test_brackets_start_at_their_own_rung():
    # issue 14, item 3: a trial of bracket s reports first at r_s, so one cycle of
    # Hyperband (R = 27, eta = 3) costs sum(n_i * r_i) = 108 + 99 + 108 + 108 = 423
    # resource units with fresh fits (reporting at every lower rung first: 511)
    objective = FreshFits()
    scheduler = Hyperband(hpo.RandomSearcher(objective.space, seed=0), overlap=False)
    n_trials = sum(bracket[0][0] for bracket in hyperband_brackets(27, 3))
    df = hpo.Tuner(objective, scheduler, backend="simulated", n_workers=1, seed=0,
                   progress=False).run(max_trials=n_trials).df
    assert n_trials == 49 and df.trial_id.nunique() == 49
    assert sum(r for _, r in objective.fits) == 423
    assert df.time.max() == pytest.approx(423)   # one worker: the clock is the cost
    first = df.groupby("trial_id").resource.min()
    starts = [r for bracket in hyperband_brackets(27, 3) for r in [bracket[0][1]] * bracket[0][0]]
    assert first.tolist() == starts       # 27 at 1, 12 at 3, 6 at 9, 4 at 27


def test_jobs_carry_their_report_grid():
    space = {"x": hpo.uniform(0, 1)}
    hb = Hyperband(hpo.RandomSearcher(space, seed=0), metric="error", mode="min",
                   max_resource=27, overlap=True)
    first = {}
    for _ in range(60):
        job = hb.ask()
        first.setdefault(job.r1, job)
    assert {r: job.levels for r, job in first.items()} == {1: (1,), 3: (3,), 9: (9,),
                                                          27: (27,)}
    asha = hpo.ASHA(hpo.RandomSearcher(space, seed=0), type="stopping", metric="error",
                    mode="min", max_resource=27)
    assert asha.ask().levels == (1, 3, 9, 27)
    promo = hpo.ASHA(hpo.RandomSearcher(space, seed=0), type="promotion", metric="error",
                     mode="min", max_resource=27)
    assert promo.ask().levels == (1,)
    fifo = hpo.FIFOScheduler(hpo.RandomSearcher(space, seed=0), metric="error", mode="min",
                             max_resource=27)
    assert fifo.ask().levels == (27,)


def test_hyperband_cycles_through_its_brackets():
    scheduler = Hyperband(hpo.RandomSearcher(Curves.space, seed=0), eta=3, seed=0)
    results = hpo.Tuner(Curves(), scheduler, backend="simulated", n_workers=3,
                        progress=False).run(max_time=150)
    df = results.df
    # R = 9, eta = 3: s = 2: 9 configs at 1, 3 at 3, 1 at 9; s = 1: 5 at 3, 1 at 9;
    # s = 0: 3 at 9. New trials take consecutive ids: 0-8, 9-13, 14-16, then 17-25, ...
    assert scheduler.brackets == [[(9, 1), (3, 3), (1, 9)], [(5, 3), (1, 9)], [(3, 9)]]
    assert scheduler.n_brackets > 4
    reached = df.groupby("trial_id").resource.max()
    first_target = df[df.r0 == 0].groupby("trial_id").resource.max()
    x = df.groupby("trial_id").config_x.first()
    for start, plan in [(0, [(9, 1), (3, 3), (1, 9)]), (9, [(5, 3), (1, 9)]), (14, [(3, 9)]),
                        (17, [(9, 1), (3, 3), (1, 9)])]:
        ids = range(start, start + plan[0][0])
        # every new trial of the bracket starts at the bracket's lowest rung ...
        assert set(first_target[ids]) == {plan[0][1]}
        # ... and the best n_i of them reach rung r_i
        for n, r in plan:
            assert set(reached[ids][reached[ids] >= r].index) == set(x[ids].nsmallest(n).index)
    assert reached.max() == 9
    resumed = df[df.r0 > 0]
    assert len(resumed) and set(resumed.r0) <= {1, 3}


def test_hyperband_bad_settings():
    with pytest.raises(ValueError, match="eta"):
        Hyperband(hpo.RandomSearcher(Curves.space), eta=1)
    scheduler = Hyperband(hpo.RandomSearcher(Curves.space), min_resource=9)
    with pytest.raises(ValueError, match="min_resource"):  # the objective's max is 9
        hpo.Tuner(Curves(), scheduler, backend="simulated", progress=False)


class StartUp(FreshFits):
    """Fresh fits that cost ``startup + rate * resource`` simulated seconds."""

    def __init__(self, startup, rate=0.15):
        super().__init__()
        self.startup, self.rate = startup, rate

    def __call__(self, config, r0, r1, levels, seed):
        for report in super().__call__(config, r0, r1, levels, seed):
            yield report | {"cost": self.startup + self.rate * report["resource"]}


def cost_aware_run(objective, max_time=200):
    scheduler = Hyperband(hpo.RandomSearcher(objective.space, seed=0), seed=0, cost_aware=True)
    df = hpo.Tuner(objective, scheduler, backend="simulated", n_workers=2, seed=0,
                   progress=False).run(max_time=max_time).df
    return scheduler, df.groupby("trial_id").resource.min()


def test_cost_aware_hyperband_skips_the_brackets_whose_first_rung_is_too_dear():
    # closed form, R = 27, eta = 3, a fit costs 1 + 0.15 r: a full one 5.05 s. A bracket
    # is too dear when its first rung costs more than the plan gives the rung above,
    # 5.05 * r_above / 27: rung 1 (1.15 s > 0.56) is, rung 3 (1.45 < 1.68) and rung 9
    # (2.35 < 5.05) are not. The cycle starts at its last bracket, 4 trials at 27
    # (two workers: 2 by 2, all 4 measured at 10.1 s), then the bracket at rung 1
    # starts trials until 3 are measured there (2 at 11.25 s, 2 more by 12.4 s) and
    # stops; later cycles skip it before it starts.
    scheduler, first = cost_aware_run(StartUp(startup=1.0))
    assert scheduler.seconds_at(1, 0.25) == pytest.approx(1.15)
    assert scheduler.seconds_at(27, 0.75) == pytest.approx(5.05)
    assert [scheduler.too_dear(b) for b in scheduler.brackets] == [True, False, False, False]
    assert first.tolist()[:8] == [27] * 4 + [1] * 4
    assert (first == 1).sum() == 4 and set(first) == {1, 3, 9, 27}
    assert scheduler.n_skipped >= 2   # cut short once, skipped in the next cycle


def test_cost_aware_hyperband_keeps_every_bracket_when_cost_follows_the_resource():
    scheduler, first = cost_aware_run(StartUp(startup=0.0))
    assert scheduler.n_skipped == 0 and set(first) == {1, 3, 9, 27}
    assert scheduler.seconds_at(9) == pytest.approx(1.35)


def test_cost_aware_hyperband_by_hand_without_durations_skips_nothing():
    # ask/tell by hand with no duration: nothing measured, every bracket runs
    hb = Hyperband(hpo.RandomSearcher({"x": hpo.uniform(0, 1)}, seed=0), metric="error",
                   mode="min", max_resource=27, cost_aware=True, overlap=True)
    targets = []
    for _ in range(60):
        job = hb.ask()
        targets.append(job.r1)
        hb.tell(job.trial_id, {"resource": job.r1, "error": job.config["x"]})
    assert hb.seconds_at(1) is None and hb.n_skipped == 0
    assert targets[:5] == [27] * 4 + [1] and targets.count(1) == 27


def test_cost_aware_must_be_a_bool():
    with pytest.raises(ValueError, match="cost_aware must be True or False, got 'yes'"):
        Hyperband(hpo.RandomSearcher(Curves.space), cost_aware="yes")


# -- rung_pvalue: a bracket through a rung that does not predict the next is skipped ----------

class Reversal(FreshFits):
    """Fresh fits whose ranking reverses after the first rung: error x at resource 1,
    1 - x + 1/resource above it (so rungs 3, 9 and 27 rank alike)."""

    def __init__(self, reverse=True):
        super().__init__()
        self.reverse = reverse

    def __call__(self, config, r0, r1, levels, seed):
        for report in super().__call__(config, r0, r1, levels, seed):
            if self.reverse and report["resource"] > 1:
                report["error"] = 1 - config["x"] + 1 / report["resource"]
            yield report


def rung_pvalue_run(objective, rung_pvalue):
    scheduler = Hyperband(hpo.RandomSearcher(objective.space, seed=0), seed=0,
                          rung_pvalue=rung_pvalue)
    df = hpo.Tuner(objective, scheduler, backend="simulated", n_workers=2, seed=0,
                   progress=False).run(max_time=700).df   # more than 3 cycles of 423 / 2 s
    return scheduler, df.groupby("trial_id").resource.min()


def runs_of(first):
    """(first rung, how many consecutive trials started there), in trial order."""
    runs = []
    for r in first.tolist():
        if runs and runs[-1][0] == r:
            runs[-1][1] += 1
        else:
            runs.append([r, 1])
    return [tuple(run) for run in runs]


def test_a_bracket_through_a_rung_that_does_not_predict_the_next_is_skipped():
    # the first bracket (R = 27, eta = 3) starts its 27 trials at rung 1 before any
    # reaches rung 3; there the 9 best at rung 1 (the smallest x) rank exactly in
    # reverse: Kendall's tau -1, one-sided p-value 1. Rungs 3 -> 9 -> 27 agree (tau 1,
    # p = 1 / n!), so the brackets that start at 3, 9 and 27 run in every cycle. The
    # bracket at rung 1 is skipped in the second cycle; in each later turn it starts
    # one trial (which, alone, goes through every rung) and is skipped again.
    scheduler, first = rung_pvalue_run(Reversal(), 0.16)
    assert not scheduler.predicts(1)
    assert scheduler.predicts(3) and scheduler.predicts(9) and scheduler.predicts(27)
    shared = [t for t in scheduler.rung_results[1] if t in scheduler.rung_results[3]]
    assert len(shared) >= 9
    runs = runs_of(first)
    assert runs[:7] == [(1, 27), (3, 12), (9, 6), (27, 4), (3, 12), (9, 6), (27, 4)]
    assert [n for r, n in runs[7:] if r == 1] == [1, 1]
    assert scheduler.n_skipped == 3 and scheduler.n_brackets > 12


def test_rung_pvalue_keeps_every_bracket_where_rungs_agree_and_by_default():
    for objective, pvalue in [(Reversal(reverse=False), 0.16), (Reversal(), None)]:
        scheduler, first = rung_pvalue_run(objective, pvalue)
        assert scheduler.n_skipped == 0 and scheduler.predicts(1)
        assert (first == 1).sum() >= 2 * 27


@pytest.mark.parametrize("value", [0, 1, -0.1, True, "0.1", float("nan")])
def test_rung_pvalue_must_be_a_significance_level(value):
    with pytest.raises(ValueError, match=f"rung_pvalue must be a number in \\(0, 1\\) or "
                                         f"None, got {value!r}"):
        Hyperband(hpo.RandomSearcher(Curves.space), rung_pvalue=value)
