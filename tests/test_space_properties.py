"""Any input to a domain's constructor is refused clearly or gives a domain that works.

For every domain type, hypothesis throws arguments at the constructor: floats
(NaN, infinities, huge and subnormal ones), ints beyond int64, strings, lists,
bools, None. Each call either raises ValueError/TypeError whose message names
the domain and one of its arguments, or returns a domain that samples, checks,
encodes into [0, 1]^dim and decodes back (exactly where the encoding is exact)
without an internal exception; sampled values also survive a JSON round trip.
"""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import d2lhpo as hpo
from d2lhpo.spaces import Space

# Derandomized: CI runs the same examples every time (raise max_examples to search wider).
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

EDGES = st.sampled_from([0, 1, -1, 2**53, 2**63 - 1, 2**63, -2**63, -2**63 - 1, 10**400,
                         1e308, -1e308, 5e-324, 1e-300, 0.5, float("nan"), float("inf"),
                         -float("inf"), True, False, None, "", "1", [], [1, 2]])
SCALAR = st.one_of(st.floats(), st.integers(), st.text(max_size=3), st.booleans(), st.none(),
                   EDGES)
ANYTHING = st.one_of(SCALAR, st.lists(SCALAR, max_size=3))
BOUND = st.one_of(ANYTHING, st.floats(-1e6, 1e6), st.integers(-1000, 1000))
# Ordered pairs of plain numbers too, so that the accepted path is exercised as well.
NUMBER = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.floats(-1e6, 1e6),
                   st.floats(1e-6, 1e6), st.integers(-2**64, 2**64), st.integers(-1000, 1000),
                   st.integers(1, 1000), st.integers(-2**63, 2**63 - 1), st.integers(1, 2**62))
SIZE = st.one_of(st.integers(-2, 60), ANYTHING, st.sampled_from([2**40, 2**40 + 1, 2.0]))
FLAG = st.one_of(st.booleans(), ANYTHING)


def bounds_and(anything=(), plain=()):
    """(lower, upper, *rest): half of any kind, half ordered plain numbers and ``plain``."""
    ordered = st.tuples(NUMBER, NUMBER).map(sorted)
    return st.one_of(st.tuples(BOUND, BOUND, *anything).map(tuple),
                     st.tuples(ordered, *plain).map(lambda t: (*t[0], *t[1:])))


SMALL = st.integers(2, 60)
FACTORIES = {
    "uniform": (hpo.uniform, bounds_and(), ["lower", "upper"]),
    "loguniform": (hpo.loguniform, bounds_and(), ["lower", "upper"]),
    "randint": (hpo.randint, bounds_and(), ["lower", "upper"]),
    "lograndint": (hpo.lograndint, bounds_and(), ["lower", "upper"]),
    "finrange": (hpo.finrange, bounds_and((SIZE, FLAG), (SMALL, st.booleans())),
                 ["lower", "upper", "size", "cast_int"]),
    "logfinrange": (hpo.logfinrange, bounds_and((SIZE, FLAG), (SMALL, st.booleans())),
                    ["lower", "upper", "size", "cast_int"]),
    "choice": (hpo.choice, st.tuples(st.one_of(st.lists(SCALAR, max_size=6), ANYTHING)),
               ["choice"]),
    "Float": (hpo.Float, bounds_and((FLAG,), (st.booleans(),)), ["lower", "upper", "log"]),
    "Integer": (hpo.Integer, bounds_and((FLAG,), (st.booleans(),)), ["lower", "upper", "log"]),
}


def _json_native(value):
    return value is None or isinstance(value, (bool, int, float, str))


def check_usable(domain):
    """Sample, check, encode, decode: no exception, values in the domain."""
    space = Space({"h": domain})
    rng = np.random.default_rng(0)
    for value in [space.sample(rng)["h"] for _ in range(5)] + domain.grid(3):
        assert value in domain
        assert space.check({"h": value}) == {"h": value}
        x = space.encode({"h": value})
        assert x.shape == (space.dim,) and np.all(np.isfinite(x))
        assert np.all((x >= -1e-9) & (x <= 1 + 1e-9))
        back = space.decode(x)["h"]
        assert back in domain
        if isinstance(domain, hpo.Float):
            width = float(domain.upper) - float(domain.lower)
            assert math.isclose(back, value, rel_tol=1e-9, abs_tol=1e-9 * width)
        elif isinstance(domain, hpo.Integer):
            if domain.upper - domain.lower <= 2**40 and (not domain.log or domain.upper <= 2**40):
                assert back == value
        elif not isinstance(domain, hpo.Categorical) or not isinstance(value, float) \
                or not math.isnan(value):
            assert back == value
        if _json_native(value):  # what a saved journal gives back is still in the space
            assert json.loads(json.dumps(value)) in domain
    for u in (0.0, 1.0, *rng.random(3)):
        assert space.decode(np.full(space.dim, u))["h"] in domain


@pytest.mark.parametrize("name", list(FACTORIES))
def test_any_constructor_input_is_refused_clearly_or_works(name):
    factory, arguments, argument_names = FACTORIES[name]

    @PROPERTY
    @given(arguments)
    def run(args):
        try:
            domain = factory(*args)
        except (ValueError, TypeError) as err:
            message = str(err)
            assert any(a in message for a in argument_names), message
            assert message.startswith(("uniform(", "loguniform(", "randint(", "lograndint(",
                                       "finrange(", "logfinrange(", "choice(")), message
            return
        check_usable(domain)

    run()


def test_the_property_test_reaches_both_outcomes():
    # A guard against a strategy that only ever builds refused (or accepted) domains.
    outcomes = {"accepted": 0, "refused": 0}

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(bounds_and())
    def run(args):
        try:
            hpo.uniform(*args)
            outcomes["accepted"] += 1
        except ValueError:
            outcomes["refused"] += 1

    run()
    assert outcomes["accepted"] >= 10 and outcomes["refused"] >= 10, outcomes
