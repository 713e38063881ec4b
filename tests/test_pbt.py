"""Population-based training: the paper's exploit/explore rule on a scripted population,
the checkpoint copy through the tuner on every backend, and resume by replay."""

import json
import logging

import numpy as np
import pytest
from scipy import stats

import d2lhpo as hpo
from d2lhpo.schedulers.pbt import explore, n_truncated, perturb, truncation_selection
from helper_pbt import SPACE, Climb

# Jaderberg et al. (2017), section 4 / appendix A, "truncation selection": rank the
# population; a member in the bottom 20% copies a member sampled uniformly from the top
# 20%. Ray Tune's PopulationBasedTraining uses the same rule with quantile_fraction=0.25
# (ceil(n * fraction) members, at most half), and explores with resample_probability=0.25
# and perturbation_factors=(1.2, 0.8). These tests take those numbers from there.
SCRIPTED = {0: 0.30, 1: 0.05, 2: 0.50, 3: 0.10, 4: 0.20, 5: 0.90, 6: 0.15, 7: 0.40}
# ranked best to worst (min): 1, 3, 6, 4, 0, 7, 2, 5 -> top 25%: {1, 3}; bottom: {5, 2}


@pytest.mark.parametrize("n, fraction, k", [(8, 0.25, 2), (10, 0.25, 3), (4, 0.25, 1),
                                             (2, 0.25, 1), (5, 0.5, 2), (20, 0.2, 4)])
def test_size_of_the_quantiles_is_ray_tunes(n, fraction, k):
    assert n_truncated(n, fraction) == k


def test_bottom_quarter_copies_a_uniformly_chosen_top_quarter_member():
    rng = np.random.default_rng(0)
    counts = {5: {1: 0, 3: 0}, 2: {1: 0, 3: 0}}
    for _ in range(2000):
        copies = truncation_selection(SCRIPTED, 0.25, rng, "min")
        assert list(copies) == [5, 2]   # worst first; nobody else is replaced
        for member, donor in copies.items():
            counts[member][donor] += 1
    for member in counts:   # uniform over the top 2: a binomial test at p = 1/2
        assert stats.binomtest(counts[member][1], 2000, 0.5).pvalue > 1e-3


def test_mode_max_turns_the_ranking_around():
    copies = truncation_selection(SCRIPTED, 0.25, np.random.default_rng(0), "max")
    assert set(copies) == {1, 3} and set(copies.values()) <= {5, 2}


def test_explore_multiplies_by_one_point_two_or_zero_point_eight():
    domain, rng = hpo.loguniform(1e-3, 10.0), np.random.default_rng(1)
    values = [perturb(domain, 0.1, rng, resample_probability=0.0) for _ in range(2000)]
    assert set(np.round(values, 12)) == {0.08, 0.12}
    assert stats.binomtest(int(np.isclose(values, 0.12).sum()), 2000, 0.5).pvalue > 1e-3


def test_explore_resamples_with_probability_a_quarter_from_the_prior():
    domain, rng = hpo.uniform(0.0, 1.0), np.random.default_rng(2)
    values = np.array([perturb(domain, 0.5, rng) for _ in range(4000)])
    resampled = values[~np.isclose(values, 0.4) & ~np.isclose(values, 0.6)]
    assert stats.binomtest(len(resampled), 4000, 0.25).pvalue > 1e-3
    assert stats.kstest(resampled, "uniform").pvalue > 1e-3   # drawn from the prior
    always = [perturb(domain, 0.5, rng, resample_probability=1.0) for _ in range(500)]
    assert stats.kstest(always, "uniform").pvalue > 1e-3


def test_explore_keeps_values_in_the_domain():
    rng = np.random.default_rng(3)
    assert perturb(hpo.uniform(0, 1), 0.95, rng, factors=(1.2,),
                   resample_probability=0) == 1.0
    assert perturb(hpo.randint(1, 100), 10, rng, factors=(1.2,),
                   resample_probability=0) == 12
    batch = hpo.logfinrange(32, 512, 5, cast_int=True)   # 32, 64, ..., 512
    moved = {perturb(batch, 128, rng, resample_probability=0) for _ in range(100)}
    assert moved == {64, 256}                            # a neighbouring value
    assert {perturb(batch, 512, rng, resample_probability=0)
            for _ in range(100)} == {256, 512}


def test_explore_changes_only_the_named_hyperparameters():
    space = hpo.Space(SPACE)
    new = explore({"lr": 0.1, "width": 2}, space, ["lr"], np.random.default_rng(0),
                  resample_probability=0)
    assert new["width"] == 2 and (np.isclose(new["lr"], 0.12) or np.isclose(new["lr"], 0.08))


@pytest.mark.parametrize("kwargs, message", [
    ({"population_size": 1}, "population_size must be an integer >= 2, got 1"),
    ({"population_size": 2.5}, "population_size must be an integer >= 2, got 2.5"),
    ({"interval": 0}, "interval must be a finite number > 0, got 0"),
    ({"interval": -1}, "interval must be a finite number > 0, got -1"),
    ({"fraction": 0}, r"fraction must be in \(0, 0.5\], got 0"),
    ({"fraction": 0.6}, r"fraction must be in \(0, 0.5\], got 0.6"),
    ({"hyperparameters": ["momentum"]}, "'momentum' is not a hyperparameter"),
    ({"hyperparameters": "lr"}, "hyperparameters must be a list of names, got 'lr'"),
    ({"resample_probability": 1.5}, r"resample_probability must be in \[0, 1\], got 1.5"),
    ({"factors": (1.2, -0.8)}, "factors must be a list of positive numbers"),
])
def test_bad_arguments_raise_at_construction(kwargs, message):
    args = {"hyperparameters": ["lr"], **kwargs}
    with pytest.raises(ValueError, match=message):
        hpo.PBT(hpo.RandomSearcher(SPACE, seed=0), **args)


def _by_hand():
    """A population of 4 driven through ask/tell, each member scored by its id."""
    pbt = hpo.PBT(hpo.RandomSearcher(SPACE, seed=0), ["lr"], population_size=4,
                  interval=2, metric="error", max_resource=6, seed=0,
                  resample_probability=0.0)
    jobs = [pbt.ask() for _ in range(4)]
    assert [(j.trial_id, j.r0, j.r1, j.checkpoint_from) for j in jobs] == [
        (i, 0, 2, None) for i in range(4)]
    assert pbt.ask() is None                      # nobody is at epoch 2 yet
    for j in jobs:
        pbt.tell(j.trial_id, {"resource": 1, "error": 0.5})
    for j in jobs[:3]:
        assert pbt.tell(j.trial_id, {"resource": 2, "error": j.trial_id / 10}) == \
            hpo.Decision.PAUSE
    assert pbt.ask() is None                      # trial 3 is still running
    pbt.tell(3, {"resource": 2, "error": 0.3})
    return pbt


def test_scheduler_by_hand_copies_the_best_into_the_worst():
    pbt = _by_hand()
    donor_config = dict(pbt.trials[0].config)
    first = pbt.ask()                              # the copy goes first
    assert (first.trial_id, first.r0, first.r1, first.checkpoint_from) == (3, 2, 4, 0)
    assert first.config["width"] == donor_config["width"]
    assert np.isclose(first.config["lr"] / donor_config["lr"], [0.8, 1.2]).any()
    assert pbt.trials[3].config is first.config   # the job's config is the trial's now
    rest = [pbt.ask() for _ in range(3)]
    assert sorted(j.trial_id for j in rest) == [0, 1, 2]
    assert all(j.checkpoint_from is None and j.r0 == 2 for j in rest)
    assert pbt.exploits == [{"resource": 2, "trial_id": 3, "donor": 0,
                             "old_config": pbt.exploits[0]["old_config"],
                             "config": first.config}]


def test_a_failed_member_leaves_the_population():
    pbt = _by_hand()
    pbt.fail(2, "boom")   # paused members can fail too (a lost worker)
    jobs = [pbt.ask(), pbt.ask()]
    assert [(j.trial_id, j.checkpoint_from) for j in jobs] == [(3, 0), (0, None)]
    pbt.fail(1, "boom")   # after its generation was planned: it gets no job
    assert pbt.ask() is None


def _copies_weights(results, pbt):
    """Every exploited member's next w is its donor's w plus its own new lr."""
    df = results.df.set_index(["trial_id", "resource"])
    assert pbt.exploits
    for e in pbt.exploits:
        r = e["resource"]
        w_donor, after = df.loc[(e["donor"], r), "w"], df.loc[(e["trial_id"], r + 1)]
        assert after["w"] == pytest.approx(w_donor + e["config"]["lr"], rel=1e-12)
        assert after["config_lr"] == e["config"]["lr"]   # each row records its config
        assert after["config_width"] == df.loc[(e["donor"], r), "config_width"]


def _run(backend, n_workers=2, **kwargs):
    pbt = hpo.PBT(hpo.RandomSearcher(SPACE, seed=0), ["lr"], population_size=4,
                  interval=2, seed=0)
    tuner = hpo.Tuner(Climb(6), pbt, backend=backend, n_workers=n_workers, seed=0,
                      progress=False, **kwargs)
    return tuner.run(max_trials=4), pbt


@pytest.mark.parametrize("backend, n_workers", [("simulated", 2), ("sequential", 1),
                                                ("process", 2)])
def test_tuner_copies_the_donors_checkpoint(backend, n_workers):
    results, pbt = _run(backend, n_workers)
    _copies_weights(results, pbt)
    assert len(results.finished()) == 4   # all four members reach epoch 6


def test_tuner_copies_the_donors_checkpoint_on_dask():
    pytest.importorskip("distributed")
    backend = hpo.DaskBackend(n_workers=2)
    results, pbt = _run(backend)
    _copies_weights(results, pbt)


def test_the_same_seed_gives_the_same_population_on_every_backend():
    a, pa = _run("simulated")
    b, pb = _run("sequential", 1)
    assert pa.exploits == pb.exploits
    cols = ["trial_id", "resource", "w", "config_lr"]
    key = ["trial_id", "resource"]
    assert a.df[cols].sort_values(key).reset_index(drop=True).equals(
        b.df[cols].sort_values(key).reset_index(drop=True))


def test_journal_holds_the_new_config_and_the_donor(tmp_path):
    _, pbt = _run("simulated", journal=tmp_path / "run.jsonl")
    jobs = hpo.Results.load(tmp_path / "run.jsonl").jobs
    copies = [j for j in jobs if "checkpoint_from" in j]
    assert [(j["trial_id"], j["r0"], j["checkpoint_from"], j["config"]) for j in copies] == [
        (e["trial_id"], e["resource"], e["donor"], e["config"]) for e in pbt.exploits]


def test_restore_replays_exploits_and_new_configs(tmp_path):
    done, pbt = _run("simulated", journal=tmp_path / "run.jsonl")
    old = hpo.Results.load(tmp_path / "run.jsonl")
    again = hpo.PBT(hpo.RandomSearcher(SPACE, seed=0), ["lr"], population_size=4,
                    interval=2, seed=0)
    again.bind("error", "min", 6)
    again.seed_from(0)
    assert again.restore(old.history()) == []
    assert again.exploits == pbt.exploits
    assert {i: t.config for i, t in again.trials.items()} == {
        i: t.config for i, t in pbt.trials.items()}


def test_restore_with_another_seed_follows_the_journal(tmp_path, caplog):
    _, pbt = _run("simulated", journal=tmp_path / "run.jsonl")
    other = hpo.PBT(hpo.RandomSearcher(SPACE, seed=0), ["lr"], population_size=4,
                    interval=2, seed=123)
    other.bind("error", "min", 6)
    with caplog.at_level(logging.WARNING):
        other.restore(hpo.Results.load(tmp_path / "run.jsonl").history())
    assert "journaled ones" in caplog.text
    assert other.exploits == pbt.exploits


@pytest.mark.parametrize("interrupt_at", [7, 13, 18])
def test_an_interrupted_run_resumes_to_the_same_result(tmp_path, interrupt_at):
    full, _ = _run("sequential", 1)
    journal, ckpt = tmp_path / "run.jsonl", tmp_path / "ckpt"

    def tuner(objective, resume=False):
        pbt = hpo.PBT(hpo.RandomSearcher(SPACE, seed=0), ["lr"], population_size=4,
                      interval=2, seed=0)
        return hpo.Tuner(objective, pbt, backend="sequential", seed=0, progress=False,
                         journal=journal, checkpoint_dir=ckpt, resume=resume)

    cut = tuner(Climb(6, interrupt_at=interrupt_at)).run(max_trials=4)
    assert 0 < len(cut) < len(full)
    resumed = tuner(Climb(6), resume=True).run(max_trials=4)
    cols, key = ["trial_id", "resource", "w", "config_lr"], ["trial_id", "resource"]
    assert resumed.df[cols].sort_values(key).reset_index(drop=True).equals(
        full.df[cols].sort_values(key).reset_index(drop=True))


def test_cnn_resumes_with_the_jobs_learning_rate_not_the_checkpoints(tmp_path):
    torch = pytest.importorskip("torch")
    from d2lhpo.objectives.cnn import CNNObjective
    cnn = CNNObjective(max_epochs=2)
    config = {"learning_rate": 0.1, "momentum": 0.5, "dropout": 0.0, "batch_size": 128,
              "weight_decay": 1e-4, "channels": 2, "hidden": 8}
    path = str(tmp_path / "ckpt")
    list(cnn(config, r0=0, r1=1, seed=0, checkpoint=path))
    saved = torch.load(path, weights_only=True)["optim"]["param_groups"][0]
    assert saved["lr"] == 0.1
    from d2lhpo.objectives import cnn as module
    model, trainer, _ = cnn.build({**config, "learning_rate": 0.02, "momentum": 0.9}, 0)
    module._load(path, model, trainer.optim, 1)
    group = trainer.optim.param_groups[0]
    assert (group["lr"], group["momentum"]) == (0.02, 0.9)
    assert json.dumps(group["weight_decay"]) == json.dumps(1e-4)
