"""Random and grid search: reproducibility, no duplicates, exhaustion, given points first."""

import itertools

import numpy as np
import pytest

import d2lhpo as hpo

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


def test_bind_fills_only_what_is_missing():
    searcher = hpo.RandomSearcher(CONTINUOUS)
    searcher.bind("error", "max")
    assert (searcher.metric, searcher.mode) == ("error", "max")
    searcher.bind("loss", "min")
    assert (searcher.metric, searcher.mode) == ("error", "max")


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


@pytest.mark.parametrize("num_points", [0, -1, 2.5, "3"])
def test_grid_num_points_is_checked(num_points):
    with pytest.raises(ValueError, match="num_points"):
        hpo.GridSearcher(FINITE, num_points=num_points)
