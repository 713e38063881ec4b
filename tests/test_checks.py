"""The shared argument checks: what each accepts, what it refuses, what the message says."""

import math
import re
from fractions import Fraction

import numpy as np
import pytest

from d2lhpo.checks import check_choice, check_int, check_mode, check_number, check_seed


def refused(check, *args, match, **kwargs):
    with pytest.raises(ValueError, match=match):
        check(*args, **kwargs)


# -- check_seed --------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 7, 2**64, np.int64(7), np.uint32(7)])
def test_seed_integers_give_numpys_generator(seed):
    rng = check_seed(seed)
    reference = np.random.default_rng(int(seed))  # numpy's own seeding is the reference
    assert isinstance(rng, np.random.Generator)
    assert rng.random() == reference.random()


def test_seed_generator_is_returned_as_it_is():
    rng = np.random.default_rng(3)
    assert check_seed(rng) is rng


def test_seed_none_seedsequence_and_bitgenerator():
    assert isinstance(check_seed(None), np.random.Generator)
    a = check_seed(np.random.SeedSequence(5)).random()
    assert a == np.random.default_rng(5).random()
    assert check_seed(np.random.PCG64(5)).random() == a


@pytest.mark.parametrize("seed", [-1, True, False, 1.0, 1.5, float("nan"), "0", b"0", [1, 2],
                                  {"seed": 1}, np.float32(1), np.bool_(True), object])
def test_bad_seeds_are_refused_naming_the_argument(seed):
    refused(check_seed, seed, match=r"^seed must be None, an integer >= 0 or a "
                                    r"numpy.random.Generator, got " + re.escape(repr(seed)))
    refused(check_seed, seed, name="sampler_seed", match=r"^sampler_seed must be")


# -- check_int -----------------------------------------------------------------------
def test_int_accepts_whole_numbers_within_bounds():
    assert check_int("n", 3) == 3
    assert type(check_int("n", np.int64(3))) is int
    assert check_int("n", 1, low=1) == 1 and check_int("n", 5, high=5) == 5
    assert check_int("n", 10**30, low=0) == 10**30


@pytest.mark.parametrize("value, kwargs, message", [
    (0, {"low": 1}, "n must be an integer >= 1, got 0"),
    (6, {"low": 1, "high": 5}, "n must be an integer >= 1 and <= 5, got 6"),
    (-1, {"high": -2}, "n must be an integer <= -2, got -1"),
    (2.5, {}, "n must be an integer, got 2.5"),
    (3.0, {}, "n must be an integer, got 3.0"),
    ("3", {"low": 1}, "n must be an integer >= 1, got '3'"),
    (True, {}, "n must be an integer, got True"),
    (None, {}, "n must be an integer, got None"),
    (float("nan"), {}, "n must be an integer, got nan"),
])
def test_int_refusals_say_what_was_expected(value, kwargs, message):
    refused(check_int, "n", value, match="^" + re.escape(message) + "$", **kwargs)


# -- check_number --------------------------------------------------------------------
def test_number_returns_the_value_unchanged():
    assert check_number("x", 3) == 3 and type(check_number("x", 3)) is int
    assert check_number("x", 0.5, low=0, high=1) == 0.5
    assert check_number("x", Fraction(1, 3)) == Fraction(1, 3)
    assert check_number("x", np.float32(2.0)) == 2.0
    assert check_number("x", math.inf, allow_inf=True) == math.inf
    assert check_number("x", 0, low=0) == 0  # low is inclusive unless low_open


@pytest.mark.parametrize("value, kwargs, message", [
    (0, {"low": 0, "low_open": True}, "x must be a finite number > 0, got 0"),
    (-0.1, {"low": 0}, "x must be a finite number >= 0, got -0.1"),
    (1.5, {"low": 0, "high": 1}, "x must be a finite number >= 0 and <= 1, got 1.5"),
    (math.nan, {}, "x must be a finite number, got nan"),
    (math.nan, {"allow_inf": True}, "x must be a number, got nan"),
    (math.inf, {}, "x must be a finite number, got inf"),
    (-math.inf, {}, "x must be a finite number, got -inf"),
    (math.inf, {"allow_inf": True, "high": 10}, "x must be a number <= 10, got inf"),
    (10**400, {}, "x must be a finite number, got 1000000000"),
    ("1.5", {}, "x must be a finite number, got '1.5'"),
    (True, {}, "x must be a finite number, got True"),
    (None, {}, "x must be a finite number, got None"),
    (1j, {}, "x must be a finite number, got 1j"),
])
def test_number_refusals_say_what_was_expected(value, kwargs, message):
    refused(check_number, "x", value, match="^" + re.escape(message), **kwargs)


def test_a_huge_int_is_infinite_only_where_inf_is_allowed():
    assert check_number("x", 10**400, allow_inf=True) == 10**400
    refused(check_number, "x", 10**400, allow_inf=True, high=1e300, match="<= 1e"),


def test_messages_shorten_huge_values():
    with pytest.raises(ValueError) as info:
        check_int("n", 10**400, high=10)
    assert len(str(info.value)) < 150 and "401 characters" in str(info.value)


# -- check_choice --------------------------------------------------------------------
def test_choice_returns_the_option():
    assert check_choice("acquisition", "ei", ["ei", "lcb"]) == "ei"
    assert check_choice("n", 2.0, (1, 2)) == 2


@pytest.mark.parametrize("value", ["EI", "", None, 1, True, ["ei"]])
def test_choice_refuses_other_values(value):
    refused(check_choice, "acquisition", value, ("ei", "lcb"),
            match="^" + re.escape(f"acquisition must be one of 'ei', 'lcb', got {value!r}"))


def test_choice_does_not_take_a_bool_for_a_number():
    refused(check_choice, "n", True, [1, 2], match="got True")
    assert check_choice("flag", True, [True, False]) is True
    refused(check_choice, "flag", 1, [True, False], match="got 1")


def test_choice_survives_values_that_do_not_compare():
    refused(check_choice, "x", np.array([1, 2]), ["a"], match="x must be one of 'a'")


# -- check_mode ----------------------------------------------------------------------
def test_mode_accepts_exactly_min_and_max():
    assert check_mode("min") == "min" and check_mode("max") == "max"


@pytest.mark.parametrize("mode", ["MIN", "Max", "minimize", " min", "", None, 0, ["min"]])
def test_mode_refuses_anything_else(mode):
    refused(check_mode, mode, match="^" + re.escape(f"mode must be 'min' or 'max', got {mode!r}"))
    refused(check_mode, mode, name="modes[1]", match=r"^modes\[1\] must be")
