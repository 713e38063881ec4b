"""Analytic test functions against the optima published for them.

Reference values: Surjanovic & Bingham, Virtual Library of Simulation Experiments
(sfu.ca/~ssurjano: branin.html, hart3.html, hart6.html), after Dixon & Szegő (1978).
"""

import math

import numpy as np
import pytest

import d2lhpo as hpo
from d2lhpo.objectives import AnalyticFunction, branin, hartmann3, hartmann6

BRANIN_MIN = 0.397887
BRANIN_ARGMINS = [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)]
HARTMANN3_MIN, HARTMANN3_ARGMIN = -3.86278, (0.114614, 0.555649, 0.852547)
HARTMANN6_MIN = -3.32237
HARTMANN6_ARGMIN = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)

CASES = [(branin, BRANIN_MIN, argmin) for argmin in BRANIN_ARGMINS] + [
    (hartmann3, HARTMANN3_MIN, HARTMANN3_ARGMIN),
    (hartmann6, HARTMANN6_MIN, HARTMANN6_ARGMIN)]


def evaluate(function, point, **context):
    config = dict(zip(function.space, point))
    report, = list(function(config, r0=0, r1=1, **context))
    return report


@pytest.mark.parametrize("function, optimum, argmin", CASES)
def test_optimum_at_the_published_argmin(function, optimum, argmin):
    assert evaluate(function, argmin)["value"] == pytest.approx(optimum, abs=1e-5)
    assert function.optimum == pytest.approx(optimum, abs=1e-6)
    assert function.regret(optimum + 0.5) == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("function", [branin, hartmann3, hartmann6])
def test_nothing_in_a_random_sample_beats_the_optimum(function):
    rng = np.random.default_rng(0)
    box = np.array([(d.lower, d.upper) for d in function.space.values()])
    points = box[:, 0] + (box[:, 1] - box[:, 0]) * rng.random((10_000, len(box)))
    values = np.array([function.fn(x) for x in points])
    assert values.min() >= function.optimum - 1e-5
    assert values.min() < function.optimum + 5  # and the sample gets somewhere near


def test_the_argmin_lies_in_the_box():
    for function, _, argmin in CASES:
        hpo.Space(function.space).check(dict(zip(function.space, argmin)))


@pytest.mark.parametrize("function", [branin, hartmann3, hartmann6])
def test_reports_one_step_with_a_cost_in_range(function):
    rng = np.random.default_rng(1)
    space = hpo.Space(function.space)
    costs = []
    for _ in range(200):
        report = next(function(space.sample(rng), r0=0, r1=1))
        assert set(report) == {"resource", "value", "cost"} and report["resource"] == 1
        costs.append(report["cost"])
    lo, hi = function.cost_range
    assert lo <= min(costs) and max(costs) <= hi and max(costs) - min(costs) > (hi - lo) / 2
    assert (function.metric, function.mode, function.max_resource) == ("value", "min", 1)


def test_noise_is_seeded_by_the_trial_seed():
    noisy = AnalyticFunction("noisy Branin", branin.fn, branin.space, branin.optimum,
                             branin.argmin, noise=1.0)
    point = BRANIN_ARGMINS[0]
    a, b = evaluate(noisy, point, seed=1), evaluate(noisy, point, seed=1)
    c = evaluate(noisy, point, seed=2)
    assert a == b and a["value"] != c["value"]
    assert a["value"] != pytest.approx(BRANIN_MIN, abs=1e-3)


def test_a_box_is_required():
    with pytest.raises(ValueError, match="'x2'"):
        AnalyticFunction("f", sum, {"x1": hpo.uniform(0, 1), "x2": hpo.loguniform(1, 2)},
                         optimum=0.0, argmin=(0.0, 1.0))
