"""Any constructor arguments of a scheduler are refused with an error naming the argument,
or accepted, and then the scheduler can be driven with ask/tell without an internal error."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import d2lhpo as hpo

SPACE = {"x": hpo.uniform(0, 1)}
ODD = st.one_of(st.none(), st.booleans(), st.integers(-3, 100), st.just(2 ** 70),
                st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
                st.just([1]))
NAMES = {
    hpo.FIFOScheduler: ["max_resource", "mode", "metric", "seed"],
    hpo.MedianStopping: ["min_resource", "max_resource", "min_samples", "mode", "seed"],
    hpo.SuccessiveHalving: ["eta", "min_resource", "max_resource", "n_configs", "overlap",
                            "mode", "seed"],
    hpo.Hyperband: ["eta", "min_resource", "max_resource", "overlap", "mode", "seed",
                    "cost_aware", "rung_pvalue"],
    hpo.ASHA: ["type", "eta", "min_resource", "max_resource", "mode", "seed", "rung_pvalue"],
}
DEFAULTS = {"max_resource": 9, "metric": "loss", "mode": "min"}


def drive(scheduler, steps=30):
    """Ask for jobs and report made-up results until ``steps`` reports were told."""
    rng, running = np.random.default_rng(0), []
    for _ in range(steps):
        job = scheduler.ask()
        if job is not None:
            running.append(job)
        if not running:
            return
        job = running.pop(int(rng.integers(len(running))))
        # report where the job's grid says (as an objective must), ending at r1
        assert job.levels[-1] == job.r1 and all(job.r0 < r for r in job.levels)
        for resource in job.levels:
            decision = scheduler.tell(job.trial_id, {"resource": resource,
                                                      scheduler.metric: float(rng.random())},
                                      duration=float(rng.random()) * resource)
            if decision != hpo.Decision.CONTINUE:
                break
        else:
            scheduler.end(job.trial_id)


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(NAMES, key=lambda k: k.__name__)), data=st.data())
def test_constructor_refuses_clearly_or_works(kind, data):
    names = NAMES[kind]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
    kwargs = dict(DEFAULTS) if kind is not hpo.ASHA else {**DEFAULTS, "max_resource": 27}
    kwargs = {k: v for k, v in kwargs.items() if k in names or k == "metric"}
    for name in chosen:
        kwargs[name] = data.draw(ODD if name != "type" else st.sampled_from(
            ["stopping", "promotion", "x", None]))
    try:
        scheduler = kind(hpo.RandomSearcher(SPACE, seed=0), **kwargs)
        scheduler.ready()
    except (ValueError, TypeError) as err:
        assert any(name in str(err) for name in kwargs), (kwargs, err)
        return
    drive(scheduler)
