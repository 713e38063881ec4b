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
    fifo = hpo.FIFOScheduler(Recorder(SPACE, seed=0), metric="loss", **kwargs)
    fifo.bind(None, None, max_resource)
    return fifo


def test_suggest_starts_new_trials_to_max_resource():
    fifo = scheduler()
    s0, s1 = fifo.suggest(0), fifo.suggest(1)
    assert s0.resource == s1.resource == 3 and not s0.resume and s0.trial_id is None
    assert fifo.configs == {0: s0.config, 1: s1.config} and s0.config != s1.config
    assert len(fifo.searcher.pending) == 2


def test_never_stops_and_observes_only_full_fidelity():
    fifo = scheduler()
    config = fifo.suggest(0).config
    for r in (1, 2):
        assert fifo.on_result(0, {"resource": r, "loss": 1.0 / r}) is Decision.CONTINUE
    assert fifo.searcher.observed == [] and len(fifo.searcher.pending) == 1
    assert fifo.on_result(0, {"resource": 3, "loss": 0.1}) is Decision.CONTINUE
    assert fifo.searcher.observed == [(config, {"resource": 3, "loss": 0.1})]
    assert fifo.searcher.pending == {}
    fifo.on_complete(0, {"resource": 3, "loss": 0.1})  # harmless after the last result
    assert fifo.searcher.pending == {}


def test_an_early_end_or_an_error_clears_pending():
    fifo = scheduler()
    config0, config1 = fifo.suggest(0).config, fifo.suggest(1).config
    fifo.on_complete(0, {"resource": 1, "loss": 0.5})
    fifo.on_error(1)
    assert fifo.searcher.pending == {} and fifo.searcher.failed == [config1]
    assert config0 not in fifo.searcher.failed


def test_an_exhausted_searcher_ends_the_run():
    fifo = hpo.FIFOScheduler(hpo.GridSearcher({"c": hpo.choice(["a", "b"])}))
    fifo.bind("loss", "min", 1)
    assert fifo.suggest(0).config == {"c": "a"}
    assert fifo.suggest(1).config == {"c": "b"}
    assert fifo.suggest(2) is None


def test_bind_takes_what_was_not_given():
    fifo = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE))
    fifo.bind("error", "max", 27)
    assert (fifo.metric, fifo.mode, fifo.max_resource) == ("error", "max", 27)
    assert (fifo.searcher.metric, fifo.searcher.mode) == ("error", "max")
    own = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE), metric="loss", mode="min",
                            max_resource=9)
    own.bind("error", "max", 27)
    assert (own.metric, own.mode, own.max_resource) == ("loss", "min", 9)
    default = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE))
    default.bind(None, None, None)
    assert (default.metric, default.mode, default.max_resource) == ("objective", "min", 1)


def test_the_searcher_metric_is_the_default():
    fifo = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE, metric="acc", mode="max"))
    fifo.bind("error", "min", 1)
    assert (fifo.metric, fifo.mode) == ("acc", "max")


@pytest.mark.parametrize("kwargs, bad", [({"mode": "best"}, "'best'"),
                                         ({"max_resource": 0}, "max_resource")])
def test_bad_arguments(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        fifo = hpo.FIFOScheduler(hpo.RandomSearcher(SPACE), **kwargs)
        fifo.bind("loss", "min", 1)


def test_a_scheduler_needs_a_searcher():
    with pytest.raises(ValueError, match="Searcher"):
        hpo.FIFOScheduler(SPACE)
