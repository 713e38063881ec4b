"""The objective contract: what a trial runs and what it reports.

A *stepwise* objective is a callable ``objective(config, r0, r1, **context)``
that trains from resource ``r0`` to ``r1`` (say, epochs) and yields one dict
per step::

    {"resource": 3, "error": 0.12, "n_params": 61706, "cost": 1.8}

with the resource reached, any number of metrics (numbers, named freely;
constraint values are metrics too) and, optionally, ``"cost"``: the seconds
the step took. The simulated backend advances its clock by ``cost``; the
real backends measure wall-clock time themselves. ``context`` may hold
``seed`` (an int for this trial), ``checkpoint`` (a file path private to
the trial, to save to on pause and load from on resume) and ``levels`` (the
job's report grid: the resources in ``(r0, r1]`` the scheduler needs a
result at, ending with ``r1``; an objective whose fidelity cannot resume,
such as a training-set fraction, trains only at those); an objective takes
those it names in its signature.

A *plain* function ``f(config) -> float`` (or ``-> dict`` of metrics) is the
simplest objective: one step at resource 1.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

def _parameters(fn) -> dict:
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return {}


@dataclass(frozen=True)
class CallSpec:
    """How to call an objective, read once from its signature.

    Backends build one per run (``inspect.signature`` costs more than a
    simulated trial) and pass it to :func:`run_objective`.

    Args:
        stepwise: the objective takes ``r0`` and ``r1``.
        takes: the parameter names it has, or None if it takes ``**kwargs``.
    """

    stepwise: bool
    takes: frozenset | None = None

    @classmethod
    def of(cls, objective) -> "CallSpec":
        params = _parameters(objective)
        stepwise = "r0" in params and "r1" in params
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return cls(stepwise, None)
        return cls(stepwise, frozenset(params))


def run_objective(objective, config: dict, r0: float, r1: float, metric: str,
                  spec: CallSpec | None = None, **context) -> Iterator[dict]:
    """Run ``objective`` on ``config`` from ``r0`` to ``r1``, yielding normalized reports.

    A plain function's float result is reported under ``metric``. ``spec``
    is ``CallSpec.of(objective)``, computed here when not given.
    """
    spec = spec or CallSpec.of(objective)
    if spec.stepwise:
        kwargs = {k: v for k, v in context.items() if spec.takes is None or k in spec.takes}
        for report in objective(config, r0=r0, r1=r1, **kwargs):
            yield normalize_report(report, metric, default_resource=r1)
    else:
        yield normalize_report(objective(config), metric, default_resource=1)


def normalize_report(report, metric: str, default_resource: float = 1) -> dict:
    """A report as a dict with ``resource``; a bare number becomes ``{metric: value}``.

    Raises TypeError or ValueError (which fail the trial) for a report that is neither,
    or whose resource is not a finite number >= 0.
    """
    if not isinstance(report, dict):  # a dict is the usual case; ABC checks are slow
        if isinstance(report, numbers.Real) and not isinstance(report, bool):
            return {"resource": default_resource, metric: float(report)}
        if not isinstance(report, Mapping):
            raise TypeError(f"an objective must return a number or a dict of metrics, "
                            f"got {type(report).__name__}: {report!r}")
    out = dict(report)
    resource = out.setdefault("resource", default_resource)
    if resource.__class__ is not int and resource.__class__ is not float and (
            isinstance(resource, bool) or not isinstance(resource, numbers.Real)):
        raise TypeError(f"a report's 'resource' must be a number, got "
                        f"{type(resource).__name__} {resource!r} in {report!r}")
    if not 0 <= resource < math.inf:  # also false for NaN
        raise ValueError(f"a report's 'resource' must be finite and >= 0, got {resource!r} "
                         f"in {report!r}")
    return out


def bad_metrics(report: Mapping, metrics) -> list[str]:
    """Names of the ``metrics`` that are missing, non-numeric, NaN or infinite."""
    bad = []
    for name in metrics:
        value = report.get(name)
        number = isinstance(value, float) or isinstance(value, numbers.Real)  # float: fast
        if not (number and math.isfinite(value)):
            bad.append(f"{name}={value!r}")
    return bad


class Objective:
    """Base class for objectives that know their space, metric and budget.

    Subclasses set ``space``, ``metric``, ``mode`` and ``max_resource`` and
    implement ``__call__(config, r0, r1, ...)`` as a generator of reports.
    The tuner takes metric, mode and max_resource from here when the
    scheduler does not set them.
    """

    space: dict
    metric: str = "objective"
    mode: str = "min"
    max_resource: float = 1

    def __call__(self, config, r0=0, r1=1):  # pragma: no cover - interface
        raise NotImplementedError
