"""Random and grid search: reproducibility, no duplicates, exhaustion, given points first."""

import itertools
import math
import re
import tracemalloc

import numpy as np
import pytest

import d2lhpo as hpo
from d2lhpo.searchers import grid as grid_module

FINITE = {"opt": hpo.choice(["sgd", "adam", "adamw"]), "layers": hpo.randint(1, 4),
          "epochs": 10}
N_FINITE = 3 * 4
CONTINUOUS = {"lr": hpo.loguniform(1e-4, 1e-1), "dropout": hpo.uniform(0, 0.5)}


def values(config):
    return tuple(config.values())


def drain(searcher, limit=1000):
    configs = []
    while (config := searcher.suggest()) is not None and len(configs) < limit:
        configs.append(config)
    return configs


# -- random search -----------------------------------------------------------------
def test_random_same_seed_same_sequence():
    a = [hpo.RandomSearcher(CONTINUOUS, seed=7).suggest() for _ in range(2)]
    assert a[0] == a[1]
    one, two = hpo.RandomSearcher(CONTINUOUS, seed=7), hpo.RandomSearcher(CONTINUOUS, seed=7)
    assert [one.suggest() for _ in range(20)] == [two.suggest() for _ in range(20)]
    other = hpo.RandomSearcher(CONTINUOUS, seed=8)
    assert other.suggest() != hpo.RandomSearcher(CONTINUOUS, seed=7).suggest()


def test_random_takes_a_generator():
    a = hpo.RandomSearcher(CONTINUOUS, seed=np.random.default_rng(3))
    b = hpo.RandomSearcher(CONTINUOUS, seed=np.random.default_rng(3))
    assert [a.suggest() for _ in range(5)] == [b.suggest() for _ in range(5)]


def test_random_configs_are_valid_and_complete():
    searcher = hpo.RandomSearcher(FINITE, seed=0)
    for config in drain(searcher):
        assert searcher.space.check(config) == config
        assert list(config) == ["opt", "layers", "epochs"] and config["epochs"] == 10


def test_random_exhausts_a_finite_space_without_duplicates():
    searcher = hpo.RandomSearcher(FINITE, seed=1)
    configs = drain(searcher)
    expected = {(opt, layers, 10) for opt, layers in itertools.product(
        ["sgd", "adam", "adamw"], [1, 2, 3, 4])}
    assert len(configs) == N_FINITE and {values(c) for c in configs} == expected
    assert searcher.suggest() is None  # and stays exhausted


def test_random_never_repeats_in_a_continuous_space():
    configs = drain(hpo.RandomSearcher(CONTINUOUS, seed=0), limit=500)
    assert len(configs) == 500 and len({values(c) for c in configs}) == 500


def test_points_to_evaluate_come_first_and_are_completed():
    points = [{"opt": "adam", "layers": 2}, {"layers": 3}]
    searcher = hpo.RandomSearcher(FINITE, seed=0, points_to_evaluate=points)
    first, second = searcher.suggest(), searcher.suggest()
    assert first == {"opt": "adam", "layers": 2, "epochs": 10}
    assert list(second) == ["opt", "layers", "epochs"]
    assert second["layers"] == 3 and second["opt"] in ("sgd", "adam", "adamw")
    # The given points count as seen: the rest of the space comes once each.
    rest = drain(searcher)
    assert len(rest) == N_FINITE - 2
    assert len({values(c) for c in [first, second, *rest]}) == N_FINITE


def test_points_to_evaluate_are_validated():
    with pytest.raises(ValueError, match="'layers'.*7"):
        hpo.RandomSearcher(FINITE, points_to_evaluate=[{"layers": 7}])
    with pytest.raises(ValueError, match="'width'"):
        hpo.RandomSearcher(FINITE, points_to_evaluate=[{"width": 64}])
    with pytest.raises(ValueError, match="'opt'.*'rmsprop'"):
        hpo.GridSearcher(FINITE, points_to_evaluate=[{"opt": "rmsprop"}])


def test_mode_is_checked():
    with pytest.raises(ValueError, match="'maximize'"):
        hpo.RandomSearcher(CONTINUOUS, mode="maximize")
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'MIN'"):
        hpo.RandomSearcher(CONTINUOUS, mode="MIN")
    with pytest.raises(ValueError, match="'MAX'"):
        hpo.RandomSearcher(CONTINUOUS).bind("error", "MAX")


@pytest.mark.parametrize("metric", [5, "", ["a"]])
def test_metric_must_be_a_name(metric):
    with pytest.raises(ValueError, match="metric must be"):
        hpo.RandomSearcher(CONTINUOUS, metric=metric)


# The old test locked in the bug of issue 9 item 4 (a conflicting bind was silently
# ignored); bind now fills what is missing and refuses a conflict.
def test_bind_fills_only_what_is_missing():
    searcher = hpo.RandomSearcher(CONTINUOUS)
    assert (searcher.metric, searcher.mode) == (None, None)
    searcher.bind("error", "max")
    assert (searcher.metric, searcher.mode) == ("error", "max")
    searcher.bind("error", "max")  # the same again is fine
    searcher.bind(None, None)
    assert (searcher.metric, searcher.mode) == ("error", "max")
    with pytest.raises(ValueError,
                       match=r"searcher optimizes 'error' \(max\), the scheduler 'loss' \(min\)"):
        searcher.bind("loss", "min")
    with pytest.raises(ValueError, match=r"'error' \(max\).*'error' \(min\)"):
        searcher.bind("error", "min")


def test_a_mode_without_a_metric_is_kept():
    # issue 9 item 4: RandomSearcher(space, mode="max") ended up with mode "min"
    searcher = hpo.RandomSearcher(CONTINUOUS, mode="max")
    assert (searcher.metric, searcher.mode) == (None, "max")
    searcher.bind("acc", None)
    assert (searcher.metric, searcher.mode) == ("acc", "max")
    with pytest.raises(ValueError, match=r"searcher optimizes None \(max\).*'acc' \(min\)"):
        hpo.RandomSearcher(CONTINUOUS, mode="max").bind("acc", "min")


def test_a_metric_without_a_mode_is_minimized_unless_the_scheduler_says_otherwise():
    searcher = hpo.GridSearcher(CONTINUOUS, metric="acc")
    assert (searcher.metric, searcher.mode) == ("acc", "min")  # usable without a scheduler
    searcher.bind("acc", "max")
    assert (searcher.metric, searcher.mode) == ("acc", "max")
    with pytest.raises(ValueError, match="'acc'.*'loss'"):
        hpo.GridSearcher(CONTINUOUS, metric="acc").bind("loss", None)


def test_bound_with_nothing_the_mode_is_min():
    searcher = hpo.RandomSearcher(CONTINUOUS)
    searcher.bind(None, None)
    assert (searcher.metric, searcher.mode) == (None, "min")
    searcher.bind("loss", None)
    assert (searcher.metric, searcher.mode) == ("loss", "min")


@pytest.mark.parametrize("seed", [-1, 1.5, 2.0, "0", True, False, [1, 2], np.float64(3)])
def test_bad_seeds_are_refused_naming_the_seed(seed):
    for searcher in (hpo.RandomSearcher, hpo.GridSearcher):
        with pytest.raises(ValueError, match=r"seed must be .* got " + re.escape(repr(seed))):
            searcher(CONTINUOUS, seed=seed)


@pytest.mark.parametrize("seed", [np.int64(3), np.uint8(3), np.random.SeedSequence(3)])
def test_numpy_seeds_are_accepted(seed):
    a = hpo.RandomSearcher(CONTINUOUS, seed=seed).suggest()
    assert a == hpo.RandomSearcher(CONTINUOUS, seed=3).suggest()


@pytest.mark.parametrize("points, fragment", [
    ("abc", "points_to_evaluate must be a list of dicts, got 'abc'"),
    ({"layers": 2}, "points_to_evaluate must be a list of dicts, got {'layers': 2}"),
    (5, "points_to_evaluate must be a list of dicts, got 5"),
    ([{"layers": 2}, "x"], "got 'x' at position 1"),
    ([{"layers": 2}, {"width": 64, "depth": 3}],
     "points_to_evaluate[1] has unknown hyperparameters ['width', 'depth']"),
    ([{"layers": 9}], "points_to_evaluate[0]: hyperparameter 'layers': value 9"),
])
def test_bad_points_to_evaluate_are_refused_clearly(points, fragment):
    for searcher in (hpo.RandomSearcher, hpo.GridSearcher):
        with pytest.raises(ValueError) as info:
            searcher(FINITE, points_to_evaluate=points)
        assert fragment in str(info.value)


@pytest.mark.parametrize("kind", [tuple, iter])
def test_points_to_evaluate_may_be_any_iterable_of_mappings(kind):
    points = [{"opt": "sgd", "layers": 1}, {"opt": "adam", "layers": 4}]
    searcher = hpo.RandomSearcher(FINITE, seed=0, points_to_evaluate=kind(points))
    assert [searcher.suggest() for _ in points] == [{**p, "epochs": 10} for p in points]


@pytest.mark.parametrize("max_retries", [0, -1, 1.5, "3", None, True])
def test_max_retries_is_checked(max_retries):
    with pytest.raises(ValueError, match="max_retries must be an integer >= 1"):
        hpo.RandomSearcher(FINITE, max_retries=max_retries)


def test_pending_bookkeeping():
    searcher = hpo.RandomSearcher(CONTINUOUS, seed=0)
    a, b = searcher.suggest(), searcher.suggest()
    searcher.register_pending(a)
    searcher.register_pending(b)
    assert sorted(map(values, searcher.pending.values())) == sorted([values(a), values(b)])
    searcher.remove_pending(a)
    searcher.evaluation_failed(b)
    searcher.remove_pending(b)  # removing twice is harmless
    assert searcher.pending == {}


# -- grid search -----------------------------------------------------------------
def test_grid_size_order_and_exhaustion():
    space = {"x": hpo.uniform(0, 1), "opt": hpo.choice(["a", "b"]), "epochs": 3}
    searcher = hpo.GridSearcher(space, num_points=3)
    configs = drain(searcher)
    expected = [{"x": x, "opt": o, "epochs": 3} for x in (0.0, 0.5, 1.0) for o in ("a", "b")]
    assert configs == expected
    assert searcher.suggest() is None


def test_grid_sizes():
    assert len(hpo.GridSearcher(FINITE).grid) == N_FINITE
    assert len(hpo.GridSearcher(FINITE, num_points=2).grid) == 3 * 2
    assert len(hpo.GridSearcher(CONTINUOUS, num_points=4).grid) == 16


def test_grid_shuffle_is_a_seeded_permutation():
    ordered = drain(hpo.GridSearcher(FINITE))
    a = drain(hpo.GridSearcher(FINITE, shuffle=True, seed=0))
    b = drain(hpo.GridSearcher(FINITE, shuffle=True, seed=0))
    assert a == b and a != ordered
    assert sorted(map(values, a)) == sorted(map(values, ordered))


def test_grid_points_to_evaluate_first():
    searcher = hpo.GridSearcher(FINITE, points_to_evaluate=[{"opt": "adamw"}])
    first = searcher.suggest()
    assert first["opt"] == "adamw" and first["layers"] in (1, 2, 3, 4)
    assert len(drain(searcher)) == N_FINITE


@pytest.mark.parametrize("num_points", [0, -1, 2.5, "3", 10**6 + 1, 10**30, True])
def test_grid_num_points_is_checked(num_points):
    with pytest.raises(ValueError, match="num_points"):
        hpo.GridSearcher(FINITE, num_points=num_points)


@pytest.mark.parametrize("shuffle", ["yes", 1, None])
def test_grid_shuffle_is_checked(shuffle):
    with pytest.raises(ValueError, match="shuffle must be True or False"):
        hpo.GridSearcher(FINITE, shuffle=shuffle)


def test_grid_len_size_and_indexing():
    searcher = hpo.GridSearcher(FINITE)
    assert len(searcher) == searcher.size == len(searcher.grid) == N_FINITE
    assert list(searcher.grid) == drain(hpo.GridSearcher(FINITE))
    assert searcher.grid[-1] == {"opt": "adamw", "layers": 4, "epochs": 10}
    with pytest.raises(IndexError):
        searcher.grid[N_FINITE]


def test_a_huge_grid_is_enumerated_lazily_in_product_order():
    # issue 10 item 11: the full product of 1000**3 points would need ~200 GB
    space = {"a": hpo.uniform(0, 1), "b": hpo.loguniform(1e-3, 1), "c": hpo.uniform(-1, 1),
             "epochs": 3}
    tracemalloc.start()
    searcher = hpo.GridSearcher(space, num_points=1000)
    first = [searcher.suggest() for _ in range(1001)]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5e6 and searcher.size == 10**9 and len(searcher) == 10**9
    # The reference order: itertools.product of numpy's linspace / geomspace.
    axes = [np.linspace(0, 1, 1000), np.geomspace(1e-3, 1, 1000), np.linspace(-1, 1, 1000)]
    expected = itertools.islice(itertools.product(*axes), 1001)
    for config, (a, b, c) in zip(first, expected):
        assert list(config) == ["a", "b", "c", "epochs"] and config["epochs"] == 3
        assert math.isclose(config["a"], a) and math.isclose(config["b"], b, rel_tol=1e-9)
        assert math.isclose(config["c"], c)
    assert first[1000]["b"] == pytest.approx(axes[1][1])  # the middle axis moved once


def test_a_grid_beyond_len_still_has_a_size():
    space = {f"x{i}": hpo.uniform(0, 1) for i in range(7)}
    searcher = hpo.GridSearcher(space, num_points=1000, shuffle=True, seed=0)
    assert searcher.size == 1000**7 and bool(searcher)
    with pytest.raises(OverflowError):
        len(searcher)
    config = searcher.suggest()
    assert searcher.space.check(config) == config


def test_a_huge_shuffled_grid_is_seeded_distinct_and_valid():
    space = {"a": hpo.uniform(0, 1), "b": hpo.randint(1, 1000), "opt": hpo.choice(["x", "y"])}
    one = hpo.GridSearcher(space, num_points=1000, shuffle=True, seed=0)
    assert one.size == 2 * 10**6 > grid_module.PERMUTE_UP_TO
    a = [one.suggest() for _ in range(2000)]
    again = hpo.GridSearcher(space, num_points=1000, shuffle=True, seed=0)
    assert [again.suggest() for _ in range(2000)] == a
    assert hpo.GridSearcher(space, num_points=1000, shuffle=True, seed=1).suggest() != a[0]
    assert len({values(x) for x in a}) == 2000
    assert all(one.space.check(x) == x for x in a)
    assert a[0] != hpo.GridSearcher(space, num_points=1000).suggest()


@pytest.mark.parametrize("space", [FINITE, {"a": hpo.randint(1, 3), "b": hpo.randint(1, 4),
                                            "c": hpo.choice(list("pqrst"))}])
def test_the_affine_shuffle_visits_every_point_once(space, monkeypatch):
    monkeypatch.setattr(grid_module, "PERMUTE_UP_TO", 0)  # as for a grid too big to permute
    ordered = drain(hpo.GridSearcher(space))
    runs = [drain(hpo.GridSearcher(space, shuffle=True, seed=s)) for s in range(4)]
    for shuffled in runs:
        assert sorted(map(values, shuffled)) == sorted(map(values, ordered))
    assert len({tuple(map(values, r)) for r in runs + [ordered]}) > 1


def test_grid_shuffle_keeps_its_order_for_small_grids():
    # The order is the one of shuffling the list of the grid: seeds give the runs they gave
    grid = hpo.Space(FINITE).grid(5)
    order = np.random.default_rng(3).permutation(len(grid))
    assert drain(hpo.GridSearcher(FINITE, shuffle=True, seed=3)) == [grid[i] for i in order]


@pytest.mark.parametrize("make", [
    lambda seed: hpo.RandomSearcher(CONTINUOUS, seed=seed),
    lambda seed: hpo.GridSearcher(CONTINUOUS, shuffle=True, seed=seed),
], ids=["random", "grid"])
def test_a_master_seed_seeds_a_searcher_without_its_own(make):
    def run(master, own=None):
        searcher = make(own)
        searcher.seed_from(master)
        return drain(searcher, limit=10)

    assert run(master=1) == run(master=1) != run(master=2)
    assert run(master=1, own=5) == run(master=2, own=5) == drain(make(5), limit=10)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        make(None).seed_from(-1)


def test_a_tuner_seed_makes_a_run_with_an_unseeded_searcher_reproducible():
    def configs(seed):
        scheduler = hpo.FIFOScheduler(hpo.RandomSearcher(CONTINUOUS))
        tuner = hpo.Tuner(lambda c: c["lr"], scheduler, seed=seed, progress=False)
        return tuner.run(max_trials=5).df["config_lr"].tolist()

    assert configs(3) == configs(3) != configs(4)
