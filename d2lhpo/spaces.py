"""Search spaces: domains that sample, check membership and encode to [0, 1].

A search space is a plain dict mapping hyperparameter names to domains (or to
constants). Model-based searchers see every domain through its encoding, a
point of the unit box: continuous values scaled (on a log scale where asked),
integers relaxed to cells and rounded back, categoricals one-hot.

Example:
    >>> space = Space({"lr": loguniform(1e-4, 1e-1), "bs": choice([64, 128])})
    >>> config = space.sample(np.random.default_rng(0))
    >>> space.decode(space.encode(config)) == config
    True
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .checks import check_int, short_repr

INT64 = (-2**63, 2**63 - 1)   # what numpy's integer sampling can draw from
MAX_SIZE = 2**40              # finite ranges beyond this lose their exact index encoding


def _is_number(x) -> bool:
    if type(x) is float or type(x) is int:   # the common case, without the ABC check
        return True
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _as_float(x) -> float | None:
    """``float(x)``, or None for an int too large for a float."""
    try:
        return float(x)
    except OverflowError:
        return None


class Domain:
    """A set of values one hyperparameter may take.

    A domain checks its arguments when it is made, and raises ``ValueError``
    naming the domain, the argument and the bad value. A :class:`Space`
    checks its domains again, with the hyperparameter's name in the message.
    ``dim`` is the length of its encoding.
    """

    dim = 1

    def __post_init__(self):
        problem = self._problem()
        if problem:
            raise ValueError(f"{self._call()}: {problem}")

    def validate(self, name: str = "<unnamed>") -> None:
        """Raise ``ValueError`` naming hyperparameter ``name`` if the domain is invalid."""
        problem = self._problem()
        if problem:
            raise ValueError(f"hyperparameter {name!r}: {problem} (got {self!r})")

    def _problem(self) -> str | None:  # pragma: no cover - overridden
        return None

    def _call(self) -> str:
        """The domain as the call that makes it, such as ``uniform(lower=1, upper=0)``."""
        args = ", ".join(f"{f.name}={short_repr(getattr(self, f.name))}" for f in fields(self)
                         if f.init and f.name != "log")
        return f"{'log' if getattr(self, 'log', False) else ''}{self._factory}({args})"

    _factory = "domain"

    def sample(self, rng: np.random.Generator):
        raise NotImplementedError

    def __contains__(self, value) -> bool:
        raise NotImplementedError

    def encode(self, value) -> np.ndarray:
        raise NotImplementedError

    def decode(self, x: np.ndarray):
        raise NotImplementedError

    def grid(self, n: int) -> list:
        """At most ``n`` values spread evenly over the domain (all if fewer)."""
        raise NotImplementedError


def _unit(x) -> float:
    """``x[0]`` clipped to [0, 1], as a float (``np.clip`` is slow on one number)."""
    return min(max(float(x[0]), 0.0), 1.0)


def _bounds_problem(lower, upper, log: bool, integer: bool = False) -> str | None:
    """What is wrong with bounds [lower, upper] (None if nothing)."""
    if not isinstance(log, (bool, np.bool_)):
        return f"log must be True or False, got {log!r}"
    for name, value in (("lower", lower), ("upper", upper)):
        if not _is_number(value):
            return f"{name} must be a number, got {short_repr(value)}"
        if integer:
            as_float = 0.0 if isinstance(value, numbers.Integral) else _as_float(value)
            if as_float is None or not math.isfinite(as_float) or not as_float.is_integer():
                return f"{name} must be a whole number, got {short_repr(value)}"
            if not INT64[0] <= int(value) <= INT64[1]:
                return f"{name} must be within the int64 range [-2**63, 2**63 - 1], " \
                       f"got {short_repr(value)}"
        else:
            as_float = _as_float(value)
            if as_float is None or not math.isfinite(as_float):
                return f"{name} must be a finite number, got {short_repr(value)}"
    if not (lower < upper if integer else float(lower) < float(upper)):
        return f"lower={short_repr(lower)} must be smaller than upper={short_repr(upper)}"
    if log and lower <= 0:
        return f"a log scale needs lower > 0, got lower={short_repr(lower)}"
    if not integer and not math.isfinite(float(upper) - float(lower)):
        return (f"the width upper - lower of lower={short_repr(lower)}, "
                f"upper={short_repr(upper)} overflows a float; use narrower bounds or a log scale")
    return None


@dataclass(eq=True)
class Float(Domain):
    """Real values in [lower, upper], uniform on a linear or a log scale."""

    lower: float
    upper: float
    log: bool = False
    _factory = "uniform"

    def __post_init__(self):
        super().__post_init__()
        # As floats: an int bound such as 2**54 + 1 has no float, and samples are floats.
        self.lower, self.upper = float(self.lower), float(self.upper)

    def _problem(self):
        return _bounds_problem(self.lower, self.upper, self.log)

    def _scale(self, v):
        return math.log(v) if self.log else v

    def sample(self, rng):
        # rng.random() scaled is rng.uniform(lo, hi), bit for bit, and 5x faster on scalars
        lower, upper = self.lower, self.upper
        if self.log:
            lo, hi = math.log(lower), math.log(upper)
            return float(min(max(math.exp(lo + (hi - lo) * rng.random()), lower), upper))
        return float(min(max(lower + (upper - lower) * rng.random(), lower), upper))

    def __contains__(self, value):
        return _is_number(value) and self.lower <= value <= self.upper

    def encode(self, value):
        lo, hi = self._scale(self.lower), self._scale(self.upper)
        # Bounds one rounding step apart can have the same logarithm: all is lower then.
        return np.array([(self._scale(value) - lo) / (hi - lo) if hi > lo else 0.0])

    def decode(self, x):
        lo, hi = self._scale(self.lower), self._scale(self.upper)
        u = lo + _unit(x) * (hi - lo)
        return float(min(max(math.exp(u) if self.log else u, self.lower), self.upper))

    def grid(self, n):
        if n == 1:
            return [self.decode(np.array([0.5]))]
        return [self.decode(np.array([t])) for t in np.linspace(0, 1, n)]


@dataclass(eq=True)
class Integer(Domain):
    """Whole numbers in [lower, upper], both ends included (within int64).

    Each integer v owns the interval [v - 1/2, v + 1/2], and the encoding
    scales [lower - 1/2, upper + 1/2] onto [0, 1], so every point of [0, 1]
    decodes to a valid integer. Linearly, the cells have equal width and v is
    encoded at the center of its cell. With ``log=True`` the scaling is on
    log x: the intervals keep their equal *linear* width, so their cells
    shrink like log((v + 1/2) / (v - 1/2)) ~ 1/v, and v is encoded at log v,
    slightly above the center of its cell (log of the geometric mean of its
    ends). Sampling draws a uniform point of [0, 1] and decodes it, so P(v)
    is the width of v's cell. Whole-number float bounds (``3.0``) are kept as
    ints.
    """

    lower: int
    upper: int
    log: bool = False
    _factory = "randint"

    def __post_init__(self):
        super().__post_init__()
        self.lower, self.upper = int(self.lower), int(self.upper)

    def _problem(self):
        problem = _bounds_problem(self.lower, self.upper, self.log, integer=True)
        if problem is None and self.log and self.lower < 1:
            return f"a log scale needs lower >= 1, got lower={self.lower!r}"
        return problem

    def _edges(self):
        lo, hi = self.lower - 0.5, self.upper + 0.5
        return (math.log(lo), math.log(hi)) if self.log else (lo, hi)

    def sample(self, rng):
        if not self.log:
            return int(rng.integers(self.lower, self.upper, endpoint=True))
        return self.decode([rng.random()])

    def __contains__(self, value):
        return (_is_number(value) and float(value).is_integer()
                and self.lower <= value <= self.upper)

    def encode(self, value):
        lo, hi = self._edges()
        v = math.log(value) if self.log else value
        return np.array([(v - lo) / (hi - lo)])

    def decode(self, x):
        lo, hi = self._edges()
        u = lo + _unit(x) * (hi - lo)
        v = round(math.exp(u)) if self.log else round(u)
        return int(min(max(v, self.lower), self.upper))

    def grid(self, n):
        count = self.upper - self.lower + 1
        if count <= n:
            return list(range(self.lower, self.upper + 1))
        t = np.linspace(0.5 / count, 1 - 0.5 / count, n)
        return sorted({self.decode(np.array([v])) for v in t})


@dataclass(eq=True)
class FiniteRange(Domain):
    """``size`` evenly spaced values from lower to upper (log-spaced if ``log``).

    Encoded like an integer index, so a model sees one ordered dimension, not
    ``size`` one-hot columns. A value is computed from its index when needed,
    so a range of a million values costs no memory until ``values`` is read.
    """

    lower: float
    upper: float
    size: int
    log: bool = False
    cast_int: bool = False
    _factory = "finrange"
    _values: tuple | None = field(init=False, repr=False, compare=False, default=None)

    def _problem(self):
        problem = _bounds_problem(self.lower, self.upper, self.log)
        if problem:
            return problem
        if not isinstance(self.cast_int, (bool, np.bool_)):
            return f"cast_int must be True or False, got {self.cast_int!r}"
        size = self.size
        if not isinstance(size, numbers.Integral) or isinstance(size, (bool, np.bool_)) or not (
                2 <= size <= MAX_SIZE):
            return f"size must be an integer from 2 to 2**40, size is {size!r}"
        if self.cast_int:
            return self._cast_int_problem()
        if size > 2:  # adjacent values must stay apart after rounding (see _value)
            if self.log:
                close = (math.log(self.upper) - math.log(self.lower)) / (size - 1) <= 1e-12
            else:
                close = (float(self.upper) - float(self.lower)) / (size - 1) <= 1e-13 * max(
                    abs(float(self.lower)), abs(float(self.upper)))
            if close:
                return (f"size={size!r} values between {self.lower!r} and {self.upper!r} "
                        f"are closer than float precision and would repeat")
        return None

    def _cast_int_problem(self):
        for name, value in (("lower", self.lower), ("upper", self.upper)):
            if not (float(value).is_integer() and abs(value) <= 2**53):
                return f"cast_int needs whole-number bounds within ±2**53, got {name}={value!r}"
        repeat = self.size > self.upper - self.lower + 1  # more values than integers
        if not repeat and self.log:
            # Gaps grow along a log range: values more than 1 apart round apart, so
            # only the first ones can repeat; check those (they repeat soon if at all).
            lo, hi = math.log(self.lower), math.log(self.upper)
            raw = [math.exp(lo + i * (hi - lo) / (self.size - 1)) for i in range(2)]
            for i in range(1, min(self.size, 10**5)):
                if self._value(i) == self._value(i - 1):
                    repeat = True
                    break
                if raw[1] - raw[0] > 1:
                    break
                raw = [raw[1], math.exp(lo + (i + 1) * (hi - lo) / (self.size - 1))]
            else:
                repeat = self.size > 10**5
        if repeat:
            return f"cast_int makes values repeat: size={self.size!r} is too many"
        return None

    def _value(self, i: int):
        """The ``i``-th value, computed as numpy's linspace / geomspace would."""
        if i == 0 or i == self.size - 1:  # the bounds exactly as given
            v = self.lower if i == 0 else self.upper
        elif self.log:
            lo, hi = math.log(self.lower), math.log(self.upper)
            v = math.exp(lo + i * (hi - lo) / (self.size - 1))
        else:
            v = self.lower + i * ((self.upper - self.lower) / (self.size - 1))
        if self.cast_int:
            return int(round(v))
        if 0 < i < self.size - 1:  # 15 significant digits hide rounding noise (0.1 + 0.2)
            v = float(f"{v:.15g}")
        return float(v)

    @property
    def values(self) -> tuple:
        """The ``size`` values, in order (made on first use)."""
        if self._values is None:
            self._values = tuple(self._value(i) for i in range(self.size))
        return self._values

    def _index(self, value):
        """Position of ``value`` among the values (up to rounding error), else None."""
        v = _as_float(value)
        if v is None or not math.isfinite(v) or (self.log and v <= 0):
            return None
        lo, hi = (math.log(self.lower), math.log(self.upper)) if self.log else (
            self.lower, self.upper)
        position = ((math.log(v) if self.log else v) - lo) / (hi - lo) * (self.size - 1) \
            if hi > lo else 0.0
        if not math.isfinite(position):
            return None
        guess = min(max(round(position), 0), self.size - 1)
        near = range(max(guess - 2, 0), min(guess + 3, self.size))
        # a short range keeps its values (the same numbers as _value's)
        value = self.values.__getitem__ if self.size <= 4096 else self._value
        i = min(near, key=lambda j: abs(value(j) - v))
        # Rounding error is judged against the spacing, not an absolute 1e-12
        # (which would merge all values of finrange(0, 1e-20, 3)).
        spacing = value(min(i + 1, self.size - 1)) - value(max(i - 1, 0))
        return i if abs(value(i) - v) <= 1e-9 * abs(spacing) else None

    def sample(self, rng):
        return self._value(int(rng.integers(self.size)))

    def __contains__(self, value):
        return _is_number(value) and self._index(value) is not None

    def encode(self, value):
        i = self._index(value) if _is_number(value) else None
        if i is None:
            raise ValueError(f"{value!r} is not one of the values of {self!r}")
        return np.array([(i + 0.5) / self.size])

    def decode(self, x):
        i = min(int(_unit(x) * self.size), self.size - 1)
        return self._value(i)

    def grid(self, n):
        if self.size <= n:
            return list(self.values)
        idx = np.unique(np.round(np.linspace(0, self.size - 1, n)).astype(int))
        return [self._value(int(i)) for i in idx]


def _is_nan(value) -> bool:
    return _is_number(value) and not isinstance(value, numbers.Integral) and value != value


@dataclass(eq=True)
class Categorical(Domain):
    """One of a list of values; one-hot encoded (one dimension per value)."""

    categories: tuple
    _factory = "choice"

    def __post_init__(self):
        if isinstance(self.categories, Sequence) and not isinstance(
                self.categories, (str, bytes)):
            self.categories = tuple(self.categories)
        super().__post_init__()

    @property
    def dim(self):
        return len(self.categories)

    def _problem(self):
        if not isinstance(self.categories, tuple):
            return f"choices must be a list, got {self.categories!r}"
        if len(self.categories) == 0:
            return "choices must not be empty"
        for c in self.categories:
            if _is_nan(c):
                return f"choice {c!r} can never be found again (nan != nan): use None or 'nan'"
        return _duplicate_problem(self.categories)

    def sample(self, rng):
        return self.categories[int(rng.integers(len(self.categories)))]

    def _index(self, value):
        for i, c in enumerate(self.categories):
            if c == value and type(c) is type(value):
                return i
        for i, c in enumerate(self.categories):
            if c == value:
                return i
        return None

    def __contains__(self, value):
        return self._index(value) is not None

    def encode(self, value):
        i = self._index(value)
        if i is None:
            raise ValueError(f"{value!r} is not one of the choices of {self!r}")
        x = np.zeros(len(self.categories))
        x[i] = 1.0
        return x

    def decode(self, x):
        return self.categories[int(np.argmax(x))]

    def grid(self, n):
        return list(self.categories)


def _duplicate_problem(categories) -> str | None:
    """A choice that equals another (1 == 1.0 == True), or one that cannot be compared."""
    by_hash: dict[int, list] = {}
    unhashable = []
    for c in categories:
        try:
            if not isinstance(c == c, (bool, np.bool_)):  # numpy arrays compare elementwise
                raise TypeError
            others = by_hash.setdefault(hash(c), [])
        except (TypeError, ValueError):
            if not isinstance(c, (list, dict, set)):
                return f"choice {c!r} cannot be compared with == (use a tuple or a string)"
            others = unhashable
        if any(c == other for other in others):
            return f"duplicate choice {c!r}"
        others.append(c)
    return None


def uniform(lower: float, upper: float) -> Float:
    """Real values uniformly distributed in [lower, upper]."""
    return Float(lower, upper)


def loguniform(lower: float, upper: float) -> Float:
    """Real values whose logarithm is uniform: as likely in [1e-4, 1e-3] as in [1e-2, 1e-1]."""
    return Float(lower, upper, log=True)


def randint(lower: int, upper: int) -> Integer:
    """Integers in [lower, upper], both included."""
    return Integer(lower, upper)


def lograndint(lower: int, upper: int) -> Integer:
    """Integers in [lower, upper], both included, drawn like a log-uniform value
    in [lower - 1/2, upper + 1/2] rounded to the nearest integer: P(v) is
    about proportional to 1/v. Encoded at log v (see :class:`Integer`)."""
    return Integer(lower, upper, log=True)


def choice(categories: Sequence) -> Categorical:
    """One of ``categories`` (unordered)."""
    return Categorical(categories)


def finrange(lower: float, upper: float, size: int, cast_int: bool = False) -> FiniteRange:
    """``size`` evenly spaced values from lower to upper, both included."""
    return FiniteRange(lower, upper, size, cast_int=cast_int)


def logfinrange(lower: float, upper: float, size: int, cast_int: bool = False) -> FiniteRange:
    """``size`` values from lower to upper, evenly spaced on a log scale."""
    return FiniteRange(lower, upper, size, log=True, cast_int=cast_int)


_FACTORIES = (uniform, loguniform, randint, lograndint, choice, finrange, logfinrange)


class Space(Mapping):
    """A search space: hyperparameter names mapped to domains or constants.

    Checks every domain on construction (errors name the hyperparameter),
    samples whole configurations, checks configurations against the space,
    and encodes them to points of [0, 1]^dim and back.

    Args:
        space: dict of name -> Domain, or name -> constant value.

    Example:
        >>> space = Space({"x": uniform(0, 1), "n": randint(1, 4), "epochs": 10})
        >>> space.dim
        2
    """

    def __init__(self, space: Mapping[str, Any]):
        if isinstance(space, Space):
            space = space._items
        if not isinstance(space, Mapping):
            raise ValueError(f"a search space must be a dict of name -> domain, got {space!r}")
        self._items = dict(space)
        for name, domain in self._items.items():
            if not isinstance(name, str):
                raise ValueError(f"hyperparameter names must be strings, got {name!r}")
            if isinstance(domain, Domain):
                domain.validate(name)
            elif any(domain is f for f in _FACTORIES) or (
                    isinstance(domain, type) and issubclass(domain, Domain)):
                raise ValueError(f"hyperparameter {name!r}: {domain.__name__} makes a domain "
                                 f"when called, such as {domain.__name__}(0, 1); got the "
                                 f"{'class' if isinstance(domain, type) else 'function'} itself")
        self.domains = {k: v for k, v in self._items.items() if isinstance(v, Domain)}
        self.constants = {k: v for k, v in self._items.items() if not isinstance(v, Domain)}
        self.slices = {}
        start = 0
        for name, domain in self.domains.items():
            self.slices[name] = slice(start, start + domain.dim)
            start += domain.dim
        self.dim = start

    def __getitem__(self, name):
        return self._items[name]

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        return f"Space({self._items!r})"

    def sample(self, rng: np.random.Generator) -> dict:
        """One configuration drawn at random (constants included)."""
        config = {name: domain.sample(rng) for name, domain in self.domains.items()}
        if not self.constants:
            return config
        config.update(self.constants)
        return {name: config[name] for name in self._items}

    def check(self, config: Mapping) -> dict:
        """Return ``config`` as a dict if it is a valid point of this space.

        Raises:
            ValueError: naming the hyperparameter for an unknown or missing key,
                or a value outside its domain.
        """
        if not isinstance(config, Mapping):
            raise ValueError(f"a configuration must be a dict, got {short_repr(config)}")
        unknown = [k for k in config if k not in self._items]
        if unknown:
            raise ValueError(f"unknown hyperparameter {unknown[0]!r} = {config[unknown[0]]!r}; "
                             f"the space has {list(self._items)}")
        missing = [k for k in self.domains if k not in config]
        if missing:
            raise ValueError(f"hyperparameter {missing[0]!r} is missing from {dict(config)!r}")
        for name, domain in self.domains.items():
            if config[name] not in domain:
                raise ValueError(f"hyperparameter {name!r}: value {config[name]!r} "
                                 f"is not in {domain!r}")
        for name, value in self.constants.items():
            if name in config and config[name] != value:
                raise ValueError(f"hyperparameter {name!r} is the constant {value!r}, "
                                 f"got {config[name]!r}")
        full = dict(self.constants)
        full.update(config)
        return {name: full[name] for name in self._items}

    def encode(self, config: Mapping) -> np.ndarray:
        """The point of [0, 1]^dim that stands for ``config``."""
        if self.dim == 0:
            return np.zeros(0)
        try:
            return np.concatenate([d.encode(config[k]) for k, d in self.domains.items()])
        except (ValueError, KeyError):  # name the hyperparameter that is wrong
            for name, domain in self.domains.items():
                if name not in config:
                    raise ValueError(f"hyperparameter {name!r} is missing from "
                                     f"{dict(config)!r}") from None
                try:
                    domain.encode(config[name])
                except ValueError as err:
                    raise ValueError(f"hyperparameter {name!r}: {err}") from None
            raise

    def decode(self, x: np.ndarray) -> dict:
        """The configuration a point of [0, 1]^dim stands for (rounded to valid values)."""
        x = np.asarray(x, dtype=float)
        if x.shape != (self.dim,):
            raise ValueError(f"expected a vector of length {self.dim}, got shape {x.shape}")
        config = {k: d.decode(x[self.slices[k]]) for k, d in self.domains.items()}
        config.update(self.constants)
        return {name: config[name] for name in self._items}

    def grid(self, n: int) -> list[dict]:
        """The Cartesian product of each domain's ``grid(n)``, in order.

        The whole list is made at once: fine for a figure, not for a large
        grid (:class:`~d2lhpo.searchers.GridSearcher` enumerates lazily).
        """
        n = check_int("n", n, low=1)
        names = list(self.domains)
        values = [self.domains[k].grid(n) for k in names]
        configs = []
        for combo in itertools.product(*values):
            config = dict(zip(names, combo))
            config.update(self.constants)
            configs.append({name: config[name] for name in self._items})
        return configs


def config_key(config: Mapping) -> frozenset:
    """A hashable key for a configuration (for duplicate checks).

    Equal values make equal keys (3 and 3.0 are the same point of an integer
    domain, as they are the same choice of a categorical); unhashable values
    (lists) are keyed by their ``repr``.
    """
    # A frozenset needs no sorting and computes its hash once (a tuple's, on every use).
    try:
        key = frozenset(config.items())
        hash(key)
    except TypeError:
        key = frozenset((k, repr(v)) for k, v in config.items())
    return key
