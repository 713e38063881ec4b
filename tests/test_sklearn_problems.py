"""LearnerChoice: the non-resumable learner-choice problem of the robustness benchmark."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

import d2lhpo as hpo  # noqa: E402
from d2lhpo.objectives.sklearn_problems import LearnerChoice  # noqa: E402


def _best_per_learner(problem, resource, n=12, seed=0):
    space, rng = hpo.Space(problem.space), np.random.default_rng(seed)
    best = {}
    for learner in ("linear", "trees", "mlp"):
        configs = [dict(space.sample(rng), learner=learner) for _ in range(n)]
        best[learner] = min(problem.evaluate(c, resource)["error"] for c in configs)
    return best


def test_the_ranking_of_the_learners_reverses_with_the_training_fraction():
    problem = LearnerChoice()
    low, full = _best_per_learner(problem, 1), _best_per_learner(problem, 27)
    assert low["linear"] < min(low["trees"], low["mlp"])
    assert max(full["trees"], full["mlp"]) < full["linear"]


def test_a_job_fits_only_at_its_report_grid():
    problem = LearnerChoice()
    config = hpo.Space(problem.space).sample(np.random.default_rng(0))
    assert [r["resource"] for r in problem(config, 0, 27, levels=())] == [27]
    assert [r["resource"] for r in problem(config, 3, 27, levels=(1, 3, 9, 27))] == [9, 27]
    assert [r["resource"] for r in problem(config, 0, 9)] == [1, 3, 9]   # its own grid


def test_the_cost_grows_with_the_rows_from_a_second_of_start_up():
    problem = LearnerChoice()
    config = dict(hpo.Space(problem.space).sample(np.random.default_rng(0)), learner="linear")
    assert problem.cost(config, 27) == pytest.approx(1 + 810 / 100 * 0.1)
    assert problem.cost(config, 1) == pytest.approx(1 + 30 / 100 * 0.1)


def test_a_tuner_passes_the_schedulers_grid():
    problem = LearnerChoice()
    tuner = hpo.Tuner(problem, hpo.FIFOScheduler(hpo.RandomSearcher(problem.space, seed=0)),
                      backend="simulated", n_workers=2, seed=0, progress=False)
    results = tuner.run(max_trials=4)
    assert set(results.df["resource"]) == {27}   # FIFO: one fit per trial


@pytest.mark.parametrize("kwargs, match", [({"metric": "auc"}, "metric must be"),
                                           ({"n_train": 5}, "n_train must be")])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LearnerChoice(**kwargs)


def test_the_start_up_is_a_choice_and_bad_values_are_refused():
    problem = LearnerChoice(startup=0.1)
    config = hpo.Space(problem.space).sample(np.random.default_rng(0)) | {"learner": "linear"}
    assert problem.cost(config, 27) == pytest.approx(0.1 + 810 / 100 * 0.1)
    assert problem.cost(config, 1) == pytest.approx(0.1 + 30 / 100 * 0.1)
    for bad in (-1, float("nan"), "1", True, None):
        with pytest.raises((ValueError, TypeError), match="startup"):
            LearnerChoice(startup=bad)
