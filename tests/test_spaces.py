"""Search spaces: sampling, membership, the [0, 1]^d encoding, errors and grids."""

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

import d2lhpo as hpo
from d2lhpo.spaces import Space, config_key

SEEDS = st.integers(0, 2**32 - 1)
FLOATS = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
POSITIVE = st.floats(1e-12, 1e12, allow_subnormal=False)
# No deadline: the machine may be busy. Derandomized: CI runs the same examples every
# time (a failure is reproducible); raise max_examples locally to search wider.
FAST = settings(max_examples=40, deadline=None, derandomize=True)

MIXED = {
    "lr": hpo.loguniform(1e-5, 1e-1),
    "dropout": hpo.uniform(0.0, 0.5),
    "layers": hpo.randint(1, 4),
    "width": hpo.lograndint(16, 1024),
    "batch": hpo.logfinrange(16, 512, 6, cast_int=True),
    "momentum": hpo.finrange(0.8, 0.99, 5),
    "optimizer": hpo.choice(["sgd", "adam", "adamw"]),
    "epochs": 10,
}


@st.composite
def float_bounds(draw, values=FLOATS):
    lower, upper = sorted([draw(values), draw(values)])
    assume(lower < upper)
    return lower, upper


@st.composite
def int_bounds(draw, lowest=-1000):
    lower = draw(st.integers(lowest, 1000))
    return lower, lower + draw(st.integers(1, 1000))


def samples(domain, seed, n=20):
    space = Space({"h": domain})
    rng = np.random.default_rng(seed)
    return [space.sample(rng)["h"] for _ in range(n)]


# -- sampling ------------------------------------------------------------------
@FAST
@given(float_bounds(), SEEDS)
def test_uniform_samples_in_bounds(bounds, seed):
    for v in samples(hpo.uniform(*bounds), seed):
        assert type(v) is float and bounds[0] <= v <= bounds[1]


@FAST
@given(float_bounds(POSITIVE), SEEDS)
def test_loguniform_samples_in_bounds(bounds, seed):
    for v in samples(hpo.loguniform(*bounds), seed):
        assert type(v) is float and bounds[0] <= v <= bounds[1]


@FAST
@given(int_bounds(), SEEDS)
def test_randint_samples_in_bounds(bounds, seed):
    for v in samples(hpo.randint(*bounds), seed):
        assert type(v) is int and bounds[0] <= v <= bounds[1]


@FAST
@given(int_bounds(lowest=1), SEEDS)
def test_lograndint_samples_in_bounds(bounds, seed):
    for v in samples(hpo.lograndint(*bounds), seed):
        assert type(v) is int and bounds[0] <= v <= bounds[1]


@FAST
@given(st.lists(st.text(max_size=5), min_size=1, max_size=8, unique=True), SEEDS)
def test_choice_samples_are_choices(categories, seed):
    assert set(samples(hpo.choice(categories), seed)) <= set(categories)


@FAST
@given(float_bounds(), st.integers(2, 50), SEEDS)
def test_finrange_samples_are_its_values(bounds, size, seed):
    domain = hpo.finrange(*bounds, size)
    values = samples(domain, seed)
    # The values are numpy's linspace (to rounding), with the bounds exactly.
    expected = np.linspace(*bounds, size)
    np.testing.assert_allclose(domain.values, expected, rtol=1e-9,
                               atol=1e-9 * max(map(abs, bounds)))
    assert domain.values[0] == bounds[0] and domain.values[-1] == bounds[1]
    assert set(values) <= set(domain.values)


@FAST
@given(float_bounds(POSITIVE), st.integers(2, 50), SEEDS)
def test_logfinrange_values_are_geometric(bounds, size, seed):
    domain = hpo.logfinrange(*bounds, size)
    np.testing.assert_allclose(domain.values, np.geomspace(*bounds, size), rtol=1e-9)
    assert set(samples(domain, seed)) <= set(domain.values)


def test_logfinrange_cast_int():
    domain = hpo.logfinrange(1, 1024, 11, cast_int=True)
    Space({"h": domain})
    assert domain.values == tuple(2**i for i in range(11))
    assert all(type(v) is int for v in domain.values)


def test_constants_are_kept_and_not_encoded():
    Space({"x": hpo.uniform(0, 1), "weights": np.ones(3), "act": math.tanh})  # any constant
    space = Space({"x": hpo.uniform(0, 1), "epochs": 10, "name": "cnn"})
    assert space.dim == 1 and space.constants == {"epochs": 10, "name": "cnn"}
    assert list(space.domains) == ["x"]
    config = space.sample(np.random.default_rng(0))
    assert list(config) == ["x", "epochs", "name"]
    assert config["epochs"] == 10 and config["name"] == "cnn"
    assert space.decode(space.encode(config)) == config


def test_loguniform_is_uniform_in_log_space():
    rng = np.random.default_rng(0)
    lower, upper = 1e-4, 1e-1
    logs = np.log([hpo.loguniform(lower, upper).sample(rng) for _ in range(2000)])
    reference = stats.uniform(loc=math.log(lower), scale=math.log(upper / lower))
    assert stats.kstest(logs, reference.cdf).pvalue > 0.01
    # The test has power: linear-uniform samples fail it.
    linear = np.log([hpo.uniform(lower, upper).sample(rng) for _ in range(2000)])
    assert stats.kstest(linear, reference.cdf).pvalue < 1e-6


def test_uniform_is_uniform():
    rng = np.random.default_rng(1)
    x = [hpo.uniform(-5, 10).sample(rng) for _ in range(2000)]
    assert stats.kstest(x, stats.uniform(loc=-5, scale=15).cdf).pvalue > 0.01


@pytest.mark.parametrize("domain, ends", [(hpo.randint(0, 3), {0, 3}),
                                          (hpo.randint(-2, 2), {-2, 2}),
                                          (hpo.lograndint(1, 8), {1, 8}),
                                          (hpo.finrange(0, 1, 3), {0.0, 1.0})])
def test_int_domains_include_both_ends(domain, ends):
    drawn = set(samples(domain, seed=0, n=300))
    assert ends <= drawn
    if isinstance(domain, hpo.Integer) and not domain.log:
        assert drawn == set(range(domain.lower, domain.upper + 1))


def test_sampling_leaves_the_global_rng_alone():
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    Space(MIXED).sample(np.random.default_rng(0))
    assert np.array_equal(np.random.get_state()[1], state)


def test_same_seed_same_samples():
    a = [Space(MIXED).sample(np.random.default_rng(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]


# -- encoding ------------------------------------------------------------------
def _close(a, b, lower, upper, log):
    if log:
        return math.isclose(a, b, rel_tol=1e-12)
    # 1e-12 relative to the scale of the domain (a value near 0 in [-5, 10] has no
    # meaningful relative error of its own).
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12 * max(abs(lower), abs(upper)))


@FAST
@given(float_bounds(), st.floats(0, 1), st.booleans())
def test_float_round_trip(bounds, t, at_end):
    lower, upper = bounds
    value = upper if at_end else lower + t * (upper - lower)
    value = min(max(value, lower), upper)
    domain = hpo.uniform(lower, upper)
    x = domain.encode(value)
    assert x.shape == (1,) and -1e-12 <= x[0] <= 1 + 1e-12
    assert _close(domain.decode(x), value, lower, upper, log=False)


@FAST
@given(float_bounds(POSITIVE), st.floats(0, 1))
def test_loguniform_round_trip(bounds, t):
    lower, upper = bounds
    value = min(max(math.exp(math.log(lower) + t * math.log(upper / lower)), lower), upper)
    domain = hpo.loguniform(lower, upper)
    assert _close(domain.decode(domain.encode(value)), value, lower, upper, log=True)


@FAST
@given(int_bounds(), st.data())
def test_randint_round_trip_is_exact(bounds, data):
    value = data.draw(st.integers(*bounds))
    domain = hpo.randint(*bounds)
    x = domain.encode(value)
    assert 0 < x[0] < 1
    assert domain.decode(x) == value and type(domain.decode(x)) is int


@FAST
@given(st.integers(1, 10**6), st.integers(1, 10**6), st.data())
def test_lograndint_round_trip_is_exact(a, b, data):
    assume(a != b)
    lower, upper = min(a, b), max(a, b)
    value = data.draw(st.integers(lower, upper))
    domain = hpo.lograndint(lower, upper)
    assert domain.decode(domain.encode(value)) == value


@FAST
@given(st.lists(st.one_of(st.integers(), st.text(max_size=3), st.none()), min_size=1,
                max_size=6, unique_by=repr), st.data())
def test_choice_round_trip_is_exact(categories, data):
    assume(len({str(c) for c in categories}) == len(categories))  # no 1 == True
    domain = hpo.choice(categories)
    Space({"h": domain})
    value = data.draw(st.sampled_from(categories))
    x = domain.encode(value)
    assert x.shape == (len(categories),) and x.sum() == 1
    assert domain.decode(x) == value and type(domain.decode(x)) is type(value)


@FAST
@given(float_bounds(), st.integers(2, 30), st.booleans(), st.data())
def test_finrange_round_trip_is_exact(bounds, size, log, data):
    if log:
        assume(bounds[0] > 0)
    domain = hpo.logfinrange(*bounds, size) if log else hpo.finrange(*bounds, size)
    Space({"h": domain})
    value = data.draw(st.sampled_from(domain.values))
    assert domain.decode(domain.encode(value)) == value


@FAST
@given(SEEDS)
def test_space_round_trip(seed):
    space = Space(MIXED)
    config = space.sample(np.random.default_rng(seed))
    x = space.encode(config)
    assert x.shape == (space.dim,) and np.all((x >= 0) & (x <= 1))
    back = space.decode(x)
    assert list(back) == list(config)
    for name, value in config.items():
        domain = space[name]
        if isinstance(domain, hpo.Float):
            assert _close(back[name], value, domain.lower, domain.upper, domain.log)
        else:
            assert back[name] == value and type(back[name]) is type(value)


def test_space_dim_counts_one_hot_columns():
    assert Space(MIXED).dim == 6 + 3  # six ordered dims, three one-hot columns


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_decode_of_any_point_is_valid(data):
    space = Space(MIXED)
    x = data.draw(st.lists(st.floats(0, 1), min_size=space.dim, max_size=space.dim))
    config = space.decode(np.array(x))
    assert space.check(config) == config


def test_decode_checks_the_shape():
    with pytest.raises(ValueError, match="length 9"):
        Space(MIXED).decode(np.zeros(3))


# -- errors name the domain, the argument and the bad value ----------------------
def assert_rejected(make, *fragments):
    """``make()`` raises ValueError at construction, with every fragment in the message."""
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@FAST
@given(FLOATS, FLOATS)
def test_lower_not_below_upper_is_rejected(a, b):
    lower, upper = max(a, b), min(a, b)
    assert_rejected(lambda: hpo.uniform(lower, upper), "uniform", repr(lower), repr(upper))


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("factory, args, fragments", [
    (hpo.uniform, (2.0, 1.0), ["uniform", "lower=2.0", "upper=1.0"]),
    (hpo.uniform, (1, 1), ["lower=1", "upper=1"]),
    (hpo.uniform, (-1e308, 1e308), ["uniform", "overflows", "1e+308"]),
    (hpo.uniform, ("a", 1.0), ["lower", "'a'"]),
    (hpo.uniform, (0.0, None), ["upper", "None"]),
    (hpo.uniform, (True, 2.0), ["lower", "True"]),
    (hpo.uniform, (NAN, 1.0), ["lower", "nan"]),
    (hpo.uniform, (0.0, INF), ["upper", "inf"]),
    (hpo.uniform, (0, 10**400), ["upper", "finite"]),
    (hpo.loguniform, (0.0, 1.0), ["loguniform", "lower=0.0"]),
    (hpo.loguniform, (-1e-3, 1.0), ["loguniform", "-0.001"]),
    (hpo.randint, (5, 3), ["randint", "lower=5", "upper=3"]),
    (hpo.randint, (5, 2), ["randint", "lower=5", "upper=2"]),
    (hpo.randint, (1.5, 3), ["lower", "1.5"]),
    (hpo.randint, (0, 2**63), ["upper", "int64", str(2**63)]),
    (hpo.randint, (-2**63 - 1, 0), ["lower", "int64"]),
    (hpo.randint, (0, 1e20), ["upper", "int64", "1e+20"]),
    (hpo.randint, ("1", 3), ["lower", "'1'"]),
    (hpo.lograndint, (0, 10), ["lograndint", "lower=0"]),
    (hpo.lograndint, (-4, 10), ["lograndint", "-4"]),
    (hpo.lograndint, (3, 2), ["lograndint", "lower=3"]),
    (hpo.logfinrange, (-1, 10, 4), ["logfinrange", "-1"]),
    (hpo.choice, (["a", "b", "a"],), ["choice", "duplicate", "'a'"]),
    (hpo.choice, ([1, 2, 2],), ["duplicate", "2"]),
    (hpo.choice, ([1, True],), ["duplicate", "True"]),  # 1 == True: one choice twice
    (hpo.choice, ([],), ["choice", "empty"]),
    (hpo.choice, ("abc",), ["'abc'"]),  # a string is not a list of choices
    (hpo.choice, (5,), ["list", "5"]),
    (hpo.choice, ([NAN],), ["choice", "nan"]),  # nan != nan: never found again
    (hpo.choice, ([1.0, NAN],), ["nan"]),
    (hpo.choice, ([np.array([1, 2])],), ["array([1, 2])", "=="]),
    (hpo.finrange, (0, 1, 1), ["finrange", "size is 1"]),
    (hpo.finrange, (0, 1, 0), ["size is 0"]),
    (hpo.finrange, (0, 1, 2.5), ["size", "2.5"]),
    (hpo.finrange, (0, 1, True), ["size", "True"]),
    (hpo.finrange, (0, 1, 2**41), ["size", str(2**41)]),
    (hpo.finrange, (1, 0, 3), ["finrange", "lower=1", "upper=0"]),
    (hpo.finrange, (-1e308, 1e308, 3), ["overflows"]),
    (hpo.finrange, (1.0, 1.0 + 2**-52, 5), ["precision", "size=5"]),
    (lambda *a: hpo.finrange(*a, cast_int=True), (1, 3, 5), ["cast_int", "repeat"]),
    (lambda *a: hpo.finrange(*a, cast_int=True), (0.5, 3, 3), ["cast_int", "lower=0.5"]),
    (lambda *a: hpo.finrange(*a, cast_int=True), (0, 1e300, 3), ["cast_int", "1e+300"]),
    (lambda *a: hpo.logfinrange(*a, cast_int=True), (1, 10, 20), ["cast_int", "repeat"]),
    (lambda *a: hpo.finrange(*a, cast_int="yes"), (0, 10, 3), ["cast_int", "'yes'"]),
    (lambda *a: hpo.Float(*a, log="yes"), (1, 10), ["log", "'yes'"]),
])
def test_bad_domains_are_rejected_at_construction(factory, args, fragments):
    assert_rejected(lambda: factory(*args), *fragments)


def test_a_space_names_the_hyperparameter_of_a_domain_broken_after_construction():
    domain = hpo.uniform(0, 1)
    domain.lower = 2  # dataclass fields can be set: the space checks again
    with pytest.raises(ValueError, match=r"hyperparameter 'my_hp'.*lower=2"):
        Space({"my_hp": domain})


@pytest.mark.parametrize("domain", [
    hpo.uniform(-1e300, 1e300), hpo.uniform(0, 5e-324), hpo.loguniform(5e-324, 1e308),
    hpo.randint(-2**63, 2**63 - 1), hpo.randint(1.0, 3.0), hpo.randint(np.int64(0), 9),
    hpo.lograndint(1, 2**62), hpo.finrange(0, 1e-20, 3), hpo.finrange(np.float32(0), 1, 3),
    hpo.logfinrange(1, 1024, 11, cast_int=True), hpo.logfinrange(1, 100, 10, cast_int=True),
    hpo.finrange(0, 2**53, 3, cast_int=True), hpo.finrange(0, 1, 10**6),
    hpo.choice([None, "", "NaN", (1, 2), [3]]), hpo.choice([True, False]), hpo.choice(["x"]),
])
def test_edge_domains_are_accepted_and_usable(domain):
    space = Space({"h": domain})
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = space.sample(rng)
        assert space.check(config) == config
        back = space.decode(space.encode(config))
        assert back["h"] in domain


def test_a_big_finite_range_costs_no_memory_until_its_values_are_read():
    domain = hpo.finrange(0, 1, 2**39 + 1)  # a tuple of its values would take 4 TB
    assert 0.5 in domain and domain.decode(domain.encode(0.5)) == 0.5
    assert domain.sample(np.random.default_rng(0)) in domain
    assert domain.grid(3) == [0.0, 0.5, 1.0]
    assert domain._values is None


def test_finite_range_values_match_numpy_and_the_exact_bounds():
    domain = hpo.finrange(0.1, 0.7, 7)
    np.testing.assert_allclose(domain.values, np.linspace(0.1, 0.7, 7), rtol=1e-12)
    assert domain.values[3] == 0.4  # 15 significant digits: not 0.39999999999999997
    assert (domain.values[0], domain.values[-1]) == (0.1, 0.7)
    assert all(domain.decode(domain.encode(v)) == v for v in domain.values)


def test_check_rejects_unknown_missing_and_bad_values():
    space = Space({"lr": hpo.loguniform(1e-4, 1e-1), "opt": hpo.choice(["sgd", "adam"]),
                   "epochs": 10})
    good = {"lr": 1e-3, "opt": "adam"}
    assert space.check(good) == {"lr": 1e-3, "opt": "adam", "epochs": 10}
    cases = [({**good, "momentum": 0.9}, ["'momentum'", "0.9"]),
             ({"opt": "sgd"}, ["'lr'"]),
             ({**good, "lr": 0.5}, ["'lr'", "0.5"]),
             ({**good, "opt": "rmsprop"}, ["'opt'", "'rmsprop'"]),
             ({**good, "epochs": 20}, ["'epochs'", "20"])]
    for config, fragments in cases:
        with pytest.raises(ValueError) as info:
            space.check(config)
        for fragment in fragments:
            assert fragment in str(info.value)


def test_check_wants_a_dict():
    with pytest.raises(ValueError, match="a configuration must be a dict, got 'abc'"):
        Space(MIXED).check("abc")


@pytest.mark.parametrize("seed", range(5))
def test_a_json_round_trip_keeps_configs_in_the_space(seed):
    # What a JSON journal gives back (floats by repr, ints, strings, None, bools) still
    # checks; tuples would come back as lists, which Results has to keep apart.
    space = Space({**MIXED, "tag": hpo.choice([None, "", "NaN", True, 1.5, "None"])})
    config = space.sample(np.random.default_rng(seed))
    loaded = json.loads(json.dumps(config))
    assert space.check(loaded) == config
    assert space.decode(space.encode(loaded)) == space.decode(space.encode(config))


@pytest.mark.parametrize("forgotten", [hpo.uniform, hpo.choice, hpo.Float])
def test_a_domain_maker_that_was_not_called_is_refused(forgotten):
    with pytest.raises(ValueError, match=rf"hyperparameter 'lr': {forgotten.__name__} makes"):
        Space({"lr": forgotten})


def test_bad_spaces_are_rejected():
    with pytest.raises(ValueError, match="1"):
        Space({1: hpo.uniform(0, 1)})
    with pytest.raises(ValueError, match="dict"):
        Space([("x", hpo.uniform(0, 1))])


def test_membership():
    assert 3 in hpo.randint(1, 5) and 3.0 in hpo.randint(1, 5)
    assert 3.5 not in hpo.randint(1, 5) and 6 not in hpo.randint(1, 5)
    assert True not in hpo.uniform(0, 2) and "1" not in hpo.uniform(0, 2)
    assert 0.5 in hpo.finrange(0, 1, 3) and 0.4 not in hpo.finrange(0, 1, 3)
    assert "a" in hpo.choice(["a", "b"]) and "c" not in hpo.choice(["a", "b"])


def test_config_key():
    assert config_key({"a": 1, "b": "x"}) == config_key({"b": "x", "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})
    assert config_key({"a": [1, 2]}) == config_key({"a": [1, 2]})  # unhashable values
    hash(config_key({"a": [1, 2], "b": {"c": 1}}))


# -- grids -----------------------------------------------------------------------
def test_domain_grids_against_numpy():
    np.testing.assert_allclose(hpo.uniform(0, 1).grid(5), np.linspace(0, 1, 5))
    np.testing.assert_allclose(hpo.loguniform(1e-4, 1).grid(5), np.geomspace(1e-4, 1, 5),
                               rtol=1e-12)
    assert hpo.uniform(0, 1).grid(1) == [0.5]
    assert hpo.randint(1, 10).grid(4) == [1, 4, 7, 10]
    assert hpo.randint(1, 3).grid(5) == [1, 2, 3]
    assert hpo.randint(1.0, 3.0).grid(5) == [1, 2, 3]
    assert hpo.choice(["a", "b", "c"]).grid(2) == ["a", "b", "c"]
    domain = hpo.finrange(0, 1, 11)
    Space({"h": domain})
    assert domain.grid(3) == [0.0, 0.5, 1.0]
    assert domain.grid(20) == list(domain.values)


def test_space_grid_order_and_size():
    space = Space({"a": hpo.choice(["x", "y"]), "b": hpo.randint(1, 2), "c": 5})
    assert space.grid(3) == [{"a": "x", "b": 1, "c": 5}, {"a": "x", "b": 2, "c": 5},
                             {"a": "y", "b": 1, "c": 5}, {"a": "y", "b": 2, "c": 5}]
    assert len(Space(MIXED).grid(3)) == 3 * 3 * 3 * 3 * 3 * 3 * 3
    for config in Space(MIXED).grid(2):
        Space(MIXED).check(config)


@pytest.mark.parametrize("domain, bad", [(hpo.choice(["a", "b"]), "z"),
                                         (hpo.finrange(0, 1, 3), 0.7),
                                         (hpo.finrange(0, 1, 3), "x")])
def test_encoding_a_value_outside_the_domain_names_it(domain, bad):
    space = hpo.Space({"h": domain, "x": hpo.uniform(0, 1)})
    with pytest.raises(ValueError, match=r"hyperparameter 'h'.*" + repr(bad)):
        space.encode({"h": bad, "x": 0.5})
    with pytest.raises(ValueError, match="hyperparameter 'x' is missing"):
        space.encode({"h": domain.grid(1)[0]})


def test_loguniform_with_bounds_one_rounding_step_apart():
    # found by hypothesis: log(1e-12) == log(1.0000000000000002e-12)
    domain = hpo.loguniform(1e-12, 1.0000000000000002e-12)
    hpo.Space({"h": domain})
    for value in (domain.lower, domain.upper):
        assert domain.decode(domain.encode(value)) in domain


def test_lograndint_encodes_log_v_and_draws_its_cell_width():
    # Closed forms: v owns [v - 1/2, v + 1/2]; on a log scale over
    # [a - 1/2, b + 1/2] its cell is log((v + 1/2) / (v - 1/2)) / log(...) wide,
    # v is encoded at log v (above the cell's center), and P(v) = the width.
    d = hpo.lograndint(1, 8)
    lo, hi = np.log(0.5), np.log(8.5)
    v = np.arange(1, 9)
    width = np.log((v + 0.5) / (v - 0.5)) / (hi - lo)
    center = (np.log(v - 0.5) + np.log(v + 0.5)) / 2
    encoded = np.array([d.encode(int(k))[0] for k in v])
    assert np.allclose(encoded, (np.log(v) - lo) / (hi - lo))
    assert np.all(encoded > (center - lo) / (hi - lo))
    assert np.all(np.diff(width) < 0) and np.isclose(width.sum(), 1)
    rng = np.random.default_rng(0)
    counts = np.bincount([d.sample(rng) for _ in range(20_000)], minlength=9)[1:]
    assert stats.chisquare(counts, 20_000 * width).pvalue > 1e-3
