"""Synchronous successive halving: rung levels, the plan, and runs on a simulated clock."""

import pytest

import d2lhpo as hpo
from d2lhpo.schedulers import Decision, SuccessiveHalving
from d2lhpo.schedulers.rungs import halving_plan, rung_levels, top_k


class Curves:
    """A synthetic learning curve: error = x + 1/epoch, one simulated second per epoch.

    The ranking of configurations is the same at every epoch (smaller x is
    better), so which trials a rung must promote is known in advance. Each
    report carries the ``r0`` its segment started from, to check resumption.
    """

    space = {"x": hpo.uniform(0, 1)}
    metric, mode, max_resource = "error", "min", 27

    def __call__(self, config, r0, r1):
        for epoch in range(int(r0) + 1, int(r1) + 1):
            yield {"resource": epoch, "error": config["x"] + 1 / epoch, "cost": 1.0, "r0": r0}


class EveryOtherEpoch(Curves):
    """Reports at epochs 2, 4, 6, ... only: it never reports at rungs 1, 3 or 9."""

    def __call__(self, config, r0, r1):
        for epoch in range(int(r0) + 1, int(r1) + 2):
            if epoch % 2 == 0:
                yield {"resource": epoch, "error": config["x"], "cost": 1.0}


class Recorder(hpo.RandomSearcher):
    """A random searcher that logs what the scheduler tells it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.observed, self.max_pending = [], 0

    def observe(self, config, result):
        self.observed.append((config["x"], result["resource"]))

    def register_pending(self, config):
        super().register_pending(config)
        self.max_pending = max(self.max_pending, len(self.pending))


def run_sh(max_time=200, n_workers=4, seed=0, overlap=False, **kwargs):
    searcher = Recorder(Curves.space, seed=seed)
    scheduler = SuccessiveHalving(searcher, eta=3, min_resource=1, seed=seed, overlap=overlap,
                                  **kwargs)
    results = hpo.Tuner(Curves(), scheduler, backend="simulated", n_workers=n_workers,
                        progress=False).run(max_time=max_time)
    return results.df, scheduler, searcher


# -- pure functions ----------------------------------------------------------------------

def test_rung_levels():
    # the grid of the Hyperband paper (Li et al. 2018): max_resource * eta**-k down
    # to min_resource; the same as min_resource * eta**k when R = r_min * eta**k
    assert rung_levels(1, 81, 3) == [1, 3, 9, 27, 81]
    assert rung_levels(1, 27, 3) == [1, 3, 9, 27]
    assert rung_levels(2, 16, 2) == [2, 4, 8, 16]
    # otherwise anchored at the top, rounded for integer resources (issue 14, item 4:
    # 81 configurations judged at epoch 1 of 52 were at chance level)
    assert rung_levels(1, 52, 3) == [2, 6, 17, 52]
    assert rung_levels(1, 100, 3) == [1, 4, 11, 33, 100]
    assert rung_levels(1, 10, 4) == [3, 10]
    assert rung_levels(1, 2, 3) == [2]        # s_max = floor(log_3 2) = 0: one rung
    assert rung_levels(1.0, 10.0, 4) == [10 / 16 * 4 / 4 * 4, 10.0]  # floats stay exact
    # anchored at the bottom: min_resource * eta**k, then max_resource itself
    assert rung_levels(1, 52, 3, anchor="min") == [1, 3, 9, 27, 52]
    assert rung_levels(1, 100, 3, anchor="min") == [1, 3, 9, 27, 81, 100]
    assert rung_levels(1, 10, 4, anchor="min") == [1, 4, 10]
    assert rung_levels(1, 2, 3, anchor="min") == [1, 2]
    with pytest.raises(ValueError, match="anchor.*'top'"):
        rung_levels(1, 81, 3, anchor="top")


@pytest.mark.parametrize("args, name", [
    ((1, 81, 1), "eta"), ((1, 81, 1.5), "eta"), ((1, 81, 0), "eta"), ((1, 81, "3"), "eta"),
    ((0, 81, 3), "min_resource"), ((-1, 81, 3), "min_resource"),
    ((1, 0, 3), "max_resource"), ((1, -5, 3), "max_resource"),
    ((81, 81, 3), "min_resource"), ((9, 3, 3), "min_resource"),
])
def test_rung_levels_bad_settings(args, name):
    with pytest.raises(ValueError, match=name):
        rung_levels(*args)


def test_halving_plan():
    # Hyperband paper, Table 1 (R = 81, eta = 3), bracket s = 4
    assert halving_plan(81, [1, 3, 9, 27, 81], 3) == [(81, 1), (27, 3), (9, 9), (3, 27),
                                                      (1, 81)]
    # floor(10/3) = 3, floor(10/9) = 1, then at least one goes on
    assert halving_plan(10, [1, 3, 9, 27], 3) == [(10, 1), (3, 3), (1, 9), (1, 27)]
    with pytest.raises(ValueError, match="n "):
        halving_plan(0, [1, 3], 3)


def test_top_k():
    assert top_k([0.5, 0.1, 0.3, 0.1], 2) == [1, 3]          # ties: the earlier first
    assert top_k([0.5, 0.1, 0.3, 0.1], 2, mode="max") == [0, 2]
    assert top_k([0.5, 0.1], 5) == [1, 0]
    assert top_k([], 3) == []


# -- the scheduler by hand ---------------------------------------------------------------

def sh(max_resource=9, n_configs=3, mode="min", metric="error", **kwargs):
    return SuccessiveHalving(hpo.RandomSearcher(Curves.space, seed=0), eta=3,
                             max_resource=max_resource, n_configs=n_configs, metric=metric,
                             mode=mode, **kwargs)


def test_sh_by_hand_waits_for_the_whole_rung():
    scheduler = sh(overlap=False)  # plan: 3 configs at 1, 1 at 3, 1 at 9
    starts = [scheduler.ask() for _ in range(3)]
    assert [(j.trial_id, j.r0, j.r1) for j in starts] == [(0, 0, 1), (1, 0, 1), (2, 0, 1)]
    assert scheduler.ask() is None                # the rung is full
    assert scheduler.tell(0, {"resource": 1, "error": 0.5}) == Decision.PAUSE
    assert scheduler.tell(1, {"resource": 1, "error": 0.2}) == Decision.PAUSE
    assert scheduler.ask() is None                # trial 2 has not reported: wait
    assert scheduler.tell(2, {"resource": 1, "error": 0.9}) == Decision.PAUSE
    promoted = scheduler.ask()                    # the best of 3 (trial 1) resumes to 3
    assert (promoted.trial_id, promoted.r0, promoted.r1) == (1, 1, 3)
    assert scheduler.ask() is None
    assert scheduler.tell(1, {"resource": 2, "error": 0.1}) == Decision.CONTINUE
    assert scheduler.tell(1, {"resource": 3, "error": 0.1}) == Decision.PAUSE
    last = scheduler.ask()
    assert (last.trial_id, last.r0, last.r1) == (1, 3, 9)
    for r in range(4, 9):
        scheduler.tell(1, {"resource": r, "error": 0.05})
    assert scheduler.tell(1, {"resource": 9, "error": 0.0}) == Decision.CONTINUE
    assert scheduler.trials[1].status == "completed"
    new = scheduler.ask()                         # the next bracket starts
    assert (new.trial_id, new.r0, new.r1, scheduler.n_brackets) == (3, 0, 1, 2)


def test_sh_with_overlap_starts_the_next_bracket_instead_of_waiting():
    scheduler = sh()  # overlap=True: the default
    assert [scheduler.ask().trial_id for _ in range(3)] == [0, 1, 2]
    job = scheduler.ask()                         # bracket 1's rung is full: bracket 2
    assert (job.trial_id, job.r1, scheduler.n_brackets) == (3, 1, 2)
    for t, error in [(0, 0.5), (1, 0.2), (2, 0.9)]:
        scheduler.tell(t, {"resource": 1, "error": error})
    job = scheduler.ask()                         # the older bracket goes first
    assert (job.trial_id, job.r0, job.r1) == (1, 1, 3)


def test_sh_max_mode_promotes_the_largest():
    scheduler = sh(max_resource=3, mode="max", metric="accuracy")
    for i, acc in enumerate([0.5, 0.9, 0.2]):
        scheduler.ask()
        scheduler.tell(i, {"resource": 1, "accuracy": acc})
    assert scheduler.ask().trial_id == 1


def test_sh_failed_trial_is_not_promoted_and_does_not_block():
    scheduler = sh(max_resource=3)
    for i in range(3):
        scheduler.ask()
    scheduler.fail(0, "boom")
    scheduler.tell(1, {"resource": 1, "error": 0.5})
    scheduler.tell(2, {"resource": 1, "error": 0.7})
    assert scheduler.ask().trial_id == 1


def test_one_promotion_rule_whether_the_searcher_ran_out_or_max_trials_was_reached():
    # the same 9 trials: a searcher of 9 configurations, or max_trials=9 of many
    configs = [{"x": x} for x in [0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4]]

    class Given(hpo.Searcher):
        def _suggest(self):
            return None

    def promoted(scheduler, max_trials=None):
        jobs = []
        while (job := scheduler.ask()) is not None:
            jobs.append(job)
            if max_trials and len(scheduler.trials) == max_trials:
                scheduler.stop_new_trials()
            if len(jobs) == len(configs):
                for j in jobs:
                    scheduler.tell(j.trial_id, {"resource": 1, "error": j.config["x"]})
        return sorted(j.config["x"] for j in jobs[len(configs):])

    ran_out = sh(max_resource=27, n_configs=27)
    ran_out.searcher = Given(Curves.space, points_to_evaluate=configs)
    capped = sh(max_resource=27, n_configs=27)
    capped.searcher = Given(Curves.space, points_to_evaluate=configs + configs)
    assert promoted(ran_out) == promoted(capped, max_trials=9) == [0.1, 0.2, 0.3]


# -- end to end on the simulated backend -------------------------------------------------

def test_sh_follows_its_plan():
    df, scheduler, _ = run_sh(max_time=200)
    assert scheduler.levels == [1, 3, 9, 27]
    plan = scheduler.bracket_plan(0)
    assert plan == [(27, 1), (9, 3), (3, 9), (1, 27)]
    assert scheduler.n_brackets >= 3
    for bracket in range(2):  # the first two brackets finished within the budget
        ids = range(27 * bracket, 27 * (bracket + 1))
        rows = df[df.trial_id.isin(ids)]
        reached = rows.groupby("trial_id").resource.max()
        assert [(int((reached >= r).sum()), r) for _, r in plan] == plan
        # the survivors of each rung are its best trials (smaller x is better at every epoch)
        x = rows.groupby("trial_id").config_x.first()
        for n, r in plan:
            assert set(reached[reached >= r].index) == set(x.nsmallest(n).index)


def test_sh_promoted_trials_resume_and_never_exceed_max_resource():
    df, _, _ = run_sh(max_time=200)
    assert df.resource.max() == 27
    assert df.groupby("trial_id").resource.max().le(27).all()
    # a segment that goes from rung r_k to r_{k+1} starts from r0 = r_k, not from 0
    levels = [0, 1, 3, 9, 27]
    for lo, hi in zip(levels[:-1], levels[1:]):
        segment = df[(df.resource > lo) & (df.resource <= hi)]
        assert (segment.r0 == lo).all()
    assert (df[df.resource > 1].r0 > 0).all()


def test_sh_is_synchronous_and_workers_go_idle():
    df, _, _ = run_sh(max_time=200)
    first = df[df.trial_id < 27]
    for lo, hi in [(1, 3), (3, 9), (9, 27)]:
        rung_done = first[first.resource == lo].time.max()
        next_start = (first[first.resource == lo + 1].time - 1.0).min()  # cost 1 per epoch
        assert next_start >= rung_done
    # bracket 0: 27 + 9*2 + 3*6 + 1*18 = 81 epochs on 4 workers, but rungs wait for
    # their slowest trial, and the last rung runs on one worker: 7 + 6 + 6 + 18 = 37 s
    assert first.time.max() == 37.0
    assert 81 < 4 * 37


def busy_fraction(df, n_workers, until):
    """Share of worker-seconds spent training up to ``until`` (one second per epoch)."""
    return (df.time <= until).sum() / (n_workers * until)


def test_sh_with_overlapping_brackets_keeps_workers_busy():
    one, _, _ = run_sh(max_time=200)
    overlapping, scheduler, _ = run_sh(max_time=200, overlap=True)
    assert busy_fraction(one, 4, 200) < 0.8
    assert busy_fraction(overlapping, 4, 200) == 1.0
    assert scheduler.n_brackets > 3
    # still synchronous: no trial of a bracket goes past a rung before the rung is complete
    first = overlapping[overlapping.trial_id < 27]
    for lo in [1, 3, 9]:
        assert (first[first.resource == lo + 1].time - 1.0).min() >= first[
            first.resource == lo].time.max()


def test_sh_statuses_and_searcher_integration():
    df, scheduler, searcher = run_sh(max_time=200)
    done = df[df.trial_id < 27]
    assert set(done[done.resource.isin([1, 3, 9])].status) == {"paused"}
    assert set(done[done.resource == 27].status) == {"completed"}
    # every rung result, and only those, is observed, with its resource
    rung_rows = df[df.resource.isin([1, 3, 9, 27])]
    assert sorted(searcher.observed) == sorted(zip(rung_rows.config_x, rung_rows.resource))
    assert searcher.max_pending <= 4                # only running trials are pending


def test_sh_one_worker_sequential_backend():
    searcher = hpo.RandomSearcher(Curves.space, seed=1)
    scheduler = SuccessiveHalving(searcher, eta=3, max_resource=9, seed=1)
    objective = Curves()

    def plain(config, r0, r1):  # no cost needed on the wall clock
        yield from objective(config, r0, r1)

    results = hpo.Tuner(plain, scheduler, n_workers=1, metric="error", mode="min",
                        progress=False).run(max_time=0.5)
    first = results.df[results.df.trial_id < 9]
    assert first.groupby("trial_id").resource.max().value_counts().to_dict() == {1: 6, 3: 2,
                                                                                  9: 1}


def test_sh_same_seed_same_run():
    a, _, _ = run_sh(max_time=60, seed=3)
    b, _, _ = run_sh(max_time=60, seed=3)
    assert a.equals(b)


# -- bad settings ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, name", [
    ({"eta": 1}, "eta"), ({"min_resource": 0}, "min_resource"),
    ({"min_resource": 27, "max_resource": 27}, "min_resource"),
    ({"max_resource": -1}, "max_resource"), ({"n_configs": 0}, "n_configs"),
])
def test_sh_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SuccessiveHalving(hpo.RandomSearcher(Curves.space), **kwargs)


def test_sh_bad_settings_from_the_objective():
    scheduler = SuccessiveHalving(hpo.RandomSearcher(Curves.space), min_resource=30)
    with pytest.raises(ValueError, match="min_resource"):  # the objective's max is 27
        hpo.Tuner(Curves(), scheduler, backend="simulated", progress=False)


def test_sh_objective_that_skips_a_rung_fails_its_trials():
    scheduler = SuccessiveHalving(hpo.RandomSearcher(Curves.space, seed=0), max_resource=9)
    tuner = hpo.Tuner(EveryOtherEpoch(), scheduler, backend="simulated", n_workers=2,
                      progress=False)
    df = tuner.run(max_trials=4).df
    assert (df.status == "failed").all()
    # each job of successive halving runs to the next rung (r1 = 1 here), and the
    # objective's first report, at 2, is past it
    assert df.error.str.contains("reported resource 2 beyond the job's r1 = 1").all()



def test_sh_objective_that_stops_short_of_its_rung_completes_and_does_not_block():
    def short(config, r0, r1):  # ignores r1 and stops after one epoch
        yield {"resource": r0 + 1, "error": config["x"], "cost": 1.0}

    scheduler = SuccessiveHalving(hpo.RandomSearcher(Curves.space, seed=0), max_resource=9,
                                  min_resource=3)
    tuner = hpo.Tuner(short, scheduler, backend="simulated", metric="error", progress=False)
    results = tuner.run(max_trials=6)
    assert (results.trials().status == "completed").all()
    assert len(results.trials()) == 6


def test_sh_ends_when_the_searcher_runs_out():
    space = {"x": hpo.choice([0.1, 0.2, 0.3, 0.4, 0.5])}  # only 5 configurations exist
    scheduler = SuccessiveHalving(hpo.RandomSearcher(space, seed=0, max_retries=20),
                                  max_resource=9)
    df = hpo.Tuner(Curves(), scheduler, backend="simulated", n_workers=2,
                   progress=False).run(max_time=10_000).df
    # plan 9, 3, 1 with only 5 configurations: 5 at rung 1, the best 5 // 3 = 1 at 3 and 9
    reached = df.groupby("config_x").resource.max()
    assert reached.to_dict() == {0.1: 9, 0.2: 1, 0.3: 1, 0.4: 1, 0.5: 1}
    assert df.time.max() < 100


@pytest.mark.parametrize("n_trials, reached", [(27, [27, 9, 3, 1]), (10, [10, 3, 1, 1])])
def test_max_trials_finishes_the_bracket_with_the_trials_started(n_trials, reached):
    # max_trials=10 cuts the first bracket (27 at the lowest rung) short: each rung
    # then promotes a third of what it has (at least one) and no bracket follows.
    space = {"x": hpo.uniform(0, 1)}

    def curves(config, r0, r1):
        for epoch in range(int(r0) + 1, int(r1) + 1):
            yield {"resource": epoch, "error": config["x"] + 1 / epoch, "cost": 1.0}

    scheduler = hpo.SuccessiveHalving(hpo.RandomSearcher(space, seed=0), eta=3,
                                      min_resource=1, max_resource=27, seed=0)
    df = hpo.Tuner(curves, scheduler, backend="simulated", n_workers=4, metric="error",
                   mode="min", progress=False).run(max_trials=n_trials).df
    by_trial = df.groupby("trial_id")
    assert df.trial_id.nunique() == n_trials
    assert [(by_trial.resource.max() >= lv).sum() for lv in [1, 3, 9, 27]] == reached
    assert by_trial.resource.max()[by_trial.error.min().idxmin()] == 27


def test_a_journaled_run_resumes(tmp_path):
    space = {"x": hpo.uniform(0, 1)}

    def curves(config, r0, r1):
        for epoch in range(int(r0) + 1, int(r1) + 1):
            yield {"resource": epoch, "error": config["x"] + 1 / epoch, "cost": 1.0}

    def tuner(resume=False, journal=tmp_path / "run.jsonl"):
        scheduler = hpo.SuccessiveHalving(hpo.RandomSearcher(space, seed=0), eta=3,
                                          max_resource=9, seed=0)
        return hpo.Tuner(curves, scheduler, backend="simulated", metric="error", mode="min",
                         journal=journal, resume=resume, progress=False)

    tuner().run(max_time=5)
    resumed = tuner(resume=True).run(max_time=40).df
    whole = tuner(journal=None).run(max_time=40).df
    assert len(resumed) == len(whole)
    assert not resumed.duplicated(["trial_id", "resource"]).any()


def test_too_many_rungs_are_refused_clearly():
    with pytest.raises(ValueError, match="more than 64 rungs"):
        rung_levels(1e-300, 1e300, 3)
    with pytest.raises(ValueError, match="min_resource"):
        SuccessiveHalving(hpo.RandomSearcher(Curves.space), min_resource=1e-300,
                          max_resource=1e300)
