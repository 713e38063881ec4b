"""FIFO: a new configuration per free worker, every trial to the maximum resource."""

import pytest

import d2lhpo as hpo
from d2lhpo.schedulers import Decision

SPACE = {"x": hpo.uniform(0, 1)}


class Recorder(hpo.RandomSearcher):
    """A random searcher that remembers what it was told."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.observed, self.failed = [], []

    def observe(self, config, result):
        self.observed.append((config, dict(result)))

    def evaluation_failed(self, config):
        super().evaluation_failed(config)
        self.failed.append(config)


def scheduler(max_resource=3, **kwargs):
    return hpo.FIFOScheduler(Recorder(SPACE, seed=0), metric="loss", mode="min",
                             max_resource=max_resource, **kwargs)


def test_ask_starts_new_trials_to_max_resource_with_ids_it_assigns():
    fifo = scheduler()
    j0, j1 = fifo.ask(), fifo.ask()
    assert (j0.trial_id, j0.r0, j0.r1) == (0, 0, 3) and (j1.trial_id, j1.r1) == (1, 3)
    assert not j0.resume and j0.config != j1.config
    assert {t: trial.config for t, trial in fifo.trials.items()} == {0: j0.config,
                                                                     1: j1.config}
    assert len(fifo.searcher.pending) == 2


def test_never_stops_and_observes_only_full_fidelity():
    fifo = scheduler()
    config = fifo.ask().config
    for r in (1, 2):
        assert fifo.tell(0, {"resource": r, "loss": 1.0 / r}) is Decision.CONTINUE
    assert fifo.searcher.observed == [] and len(fifo.searcher.pending) == 1
    assert fifo.tell(0, {"resource": 3, "loss": 0.1}) is Decision.CONTINUE
    assert fifo.searcher.observed == [(config, {"resource": 3, "loss": 0.1})]
    assert fifo.searcher.pending == {} and fifo.trials[0].status == "completed"
    fifo.end(0)  # harmless after the last result
    assert fifo.trials[0].status == "completed"


def test_an_early_end_completes_and_an_error_fails_and_both_clear_pending():
    fifo = scheduler()
    config0, config1 = fifo.ask().config, fifo.ask().config
    fifo.tell(0, {"resource": 1, "loss": 0.5})
    fifo.end(0)
    fifo.fail(1, "boom")
    assert fifo.searcher.pending == {} and fifo.searcher.failed == [config1]
    assert (fifo.trials[0].status, fifo.trials[0].resource) == ("completed", 1)
    assert fifo.trials[1].status == "failed" and config0 not in fifo.searcher.failed


def test_asking_twice_gives_two_trials_and_leaks_nothing():
    fifo = scheduler()
    a, b = fifo.ask(), fifo.ask()
    fifo.tell(a.trial_id, {"resource": 3, "loss": 0.2})
    fifo.fail(b.trial_id)
    assert fifo.searcher.pending == {}


def test_an_exhausted_searcher_ends_the_run():
    fifo = hpo.FIFOScheduler(hpo.GridSearcher({"c": hpo.choice(["a", "b"])}), metric="loss",
                             mode="min", max_resource=1)
    assert fifo.ask().config == {"c": "a"}
    assert fifo.ask().config == {"c": "b"}
    assert fifo.ask() is None and not fifo.new_trials


@pytest.mark.parametrize("report, match", [
    ({"resource": 0, "loss": 1.0}, "progress"),
    ({"resource": 4, "loss": 1.0}, "beyond"),
    ({"resource": "3", "loss": 1.0}, "finite number"),
    ({"resource": float("nan"), "loss": 1.0}, "finite number"),
    ({"resource": 1, "loss": float("nan")}, "no finite 'loss'"),
    ({"resource": 1}, "no finite 'loss'")])
def test_a_bad_report_fails_the_trial_with_a_clear_error(report, match):
    fifo = scheduler()
    fifo.ask()
    with pytest.raises(hpo.BadReport, match=match):
        fifo.tell(0, report)
    assert fifo.trials[0].status == "failed" and fifo.searcher.pending == {}


def test_a_report_without_progress_fails_instead_of_looping():
    fifo = scheduler()
    fifo.ask()
    fifo.tell(0, {"resource": 1, "loss": 1.0})
    with pytest.raises(hpo.BadReport, match="after 1"):
        fifo.tell(0, {"resource": 1, "loss": 1.0})


def test_bind_fills_what_was_not_given_and_refuses_conflicts():
    fifo = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE))
    fifo.bind("error", "max", 27)
    assert (fifo.metric, fifo.mode, fifo.max_resource) == ("error", "max", 27)
    assert (fifo.searcher.metric, fifo.searcher.mode) == ("error", "max")
    own = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE), metric="loss", mode="min",
                            max_resource=9)
    own.bind("error", "max", 27, defaults=True)  # an objective's defaults: the scheduler's win
    assert (own.metric, own.mode, own.max_resource) == ("loss", "min", 9)
    with pytest.raises(ValueError, match="metric is 'loss'"):
        own.bind("error")
    with pytest.raises(ValueError, match="mode is 'min'"):
        own.bind(mode="max")
    default = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE))
    default.ready()
    assert (default.metric, default.mode, default.max_resource) == ("objective", "min", 1)


def test_the_searcher_metric_and_mode_are_the_default():
    fifo = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE, metric="acc", mode="max"))
    fifo.bind("error", "min", 1, defaults=True)
    assert (fifo.metric, fifo.mode) == ("acc", "max")


def test_a_searcher_mode_without_a_metric_is_kept():
    fifo = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE, mode="max"))
    fifo.bind("error", None, 1, defaults=True)
    assert (fifo.metric, fifo.mode) == ("error", "max")
    assert fifo.searcher.mode == "max"


def test_a_tuner_metric_that_conflicts_with_the_scheduler_raises():
    fifo = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE), metric="loss")
    with pytest.raises(ValueError, match="metric is 'loss'"):
        hpo.Tuner(lambda c: c["x"], fifo, metric="other")


@pytest.mark.parametrize("kwargs, bad", [({"mode": "best"}, "'best'"),
                                         ({"mode": "MIN"}, "'MIN'"),
                                         ({"max_resource": 0}, "max_resource"),
                                         ({"max_resource": float("inf")}, "max_resource"),
                                         ({"seed": -1}, "seed"),
                                         ({"metric": 3}, "metric")])
def test_bad_arguments(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        hpo.FIFOScheduler(hpo.RandomSearcher(SPACE), **kwargs)


def test_a_scheduler_needs_a_searcher():
    with pytest.raises(ValueError, match="Searcher"):
        hpo.FIFOScheduler(SPACE)
