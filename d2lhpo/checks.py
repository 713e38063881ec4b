"""Argument checks shared by the package: each returns the value or raises a clear error.

Every check raises ``ValueError`` (for a wrong type too, so that callers catch
one exception) with a message that names the argument and shows the bad value,
such as ``num_points must be an integer >= 1, got 2.5``.

Example:
    >>> check_int("num_points", 5, low=1)
    5
    >>> check_mode("max")
    'max'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

__all__ = ["check_seed", "check_int", "check_number", "check_choice", "check_mode"]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def short_repr(value) -> str:
    """``repr(value)``, shortened to fit an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:45] + f"... ({len(text)} characters)"


def _range_text(low, high, low_open=False, high_open=False) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return " and ".join(parts)


def check_seed(seed, name: str = "seed") -> np.random.Generator:
    """The ``numpy.random.Generator`` a seed stands for.

    Args:
        seed: None (fresh entropy), an integer >= 0 (numpy integers too), a
            ``numpy.random.Generator`` (returned as it is, so its state is
            shared), or a ``SeedSequence`` / ``BitGenerator``.
        name: the argument's name, for the error message.

    Raises:
        ValueError: for bools, negative numbers, floats, strings and the rest.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.BitGenerator)):
        return np.random.default_rng(seed)
    if _is_int(seed) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise ValueError(f"{name} must be None, an integer >= 0 or a numpy.random.Generator, "
                     f"got {short_repr(seed)}")


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` if it is a whole number (not a bool) in [low, high].

    Args:
        name: the argument's name, for the error message.
        value: the value to check (Python and numpy integers; not ``3.0``).
        low, high: inclusive bounds, None for no bound.
    """
    if not _is_int(value) or (low is not None and value < low) or (
            high is not None and value > high):
        bounds = _range_text(low, high)
        raise ValueError(f"{name} must be an integer{' ' + bounds if bounds else ''}, "
                         f"got {short_repr(value)}")
    return int(value)


def check_number(name: str, value, low: float | None = None, high: float | None = None,
                 low_open: bool = False, allow_inf: bool = False):
    """``value`` if it is a real number (not a bool, not NaN) in its range.

    Args:
        name: the argument's name, for the error message.
        value: the value to check; returned unchanged (an int stays an int).
        low, high: bounds, None for no bound; ``high`` is inclusive.
        low_open: exclude ``low`` itself (``low=0, low_open=True``: positive).
        allow_inf: accept infinite values (within the bounds).
    """
    ok = _is_real(value)
    if ok:
        try:
            v = float(value)
        except OverflowError:  # an int beyond the float range is finite but too big
            v = math.inf if value > 0 else -math.inf
            ok = allow_inf
        ok = ok and not math.isnan(v) and (allow_inf or math.isfinite(v))
        ok = ok and (low is None or (v > low if low_open else v >= low))
        ok = ok and (high is None or v <= high)
    if not ok:
        bounds = _range_text(low, high, low_open)
        kind = "a number" if allow_inf else "a finite number"
        raise ValueError(f"{name} must be {kind}{' ' + bounds if bounds else ''}, "
                         f"got {short_repr(value)}")
    return value


def check_choice(name: str, value, options: Iterable):
    """``value`` if it is one of ``options`` (compared with ``==``, same type family).

    A bool is not taken for 1 or 0 (``True == 1`` in Python), nor a number for
    a string.

    Args:
        name: the argument's name, for the error message.
        value: the value to check.
        options: the allowed values.
    """
    options = list(options)
    for option in options:
        if isinstance(value, (bool, np.bool_)) != isinstance(option, (bool, np.bool_)):
            continue
        try:
            if value == option:
                return option
        except Exception:  # noqa: BLE001 - a value that cannot be compared is no option
            continue
    shown = ", ".join(repr(o) for o in options)
    raise ValueError(f"{name} must be one of {shown}, got {short_repr(value)}")


def check_mode(mode, name: str = "mode") -> str:
    """``mode`` if it is exactly ``"min"`` or ``"max"`` (``"MIN"`` is refused)."""
    if not (isinstance(mode, str) and mode in ("min", "max")):
        raise ValueError(f"{name} must be 'min' or 'max', got {short_repr(mode)}")
    return mode
