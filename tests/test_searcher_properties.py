"""Any arguments to RandomSearcher and GridSearcher: refused clearly, or a searcher that works.

Hypothesis draws each keyword from a mix of valid values and junk (NaN,
huge ints, strings, lists, bools, None). A refusal is a ValueError whose
message names one of the arguments given; an accepted searcher suggests valid
configurations (or None once exhausted) and binds to a scheduler's metric.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import d2lhpo as hpo

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)

SPACE = {"x": hpo.uniform(0, 1), "n": hpo.randint(1, 3), "c": hpo.choice(["a", "b"]),
         "epochs": 3}
JUNK = st.one_of(st.floats(), st.integers(), st.text(max_size=3), st.booleans(), st.none(),
                 st.lists(st.integers(), max_size=2), st.sampled_from([2**64, -1, 1.5, "min"]))
POINT = st.dictionaries(st.sampled_from(["x", "n", "c", "epochs", "other"]),
                        st.one_of(st.sampled_from([0.5, 1, 2, "a", "b", 3]), JUNK), max_size=3)
ARGUMENTS = {
    "metric": st.one_of(st.sampled_from(["loss", None]), JUNK),
    "mode": st.one_of(st.sampled_from(["min", "max", None]), JUNK),
    "seed": st.one_of(st.integers(0, 2**70), st.none(), JUNK),
    "points_to_evaluate": st.one_of(st.lists(POINT, max_size=3), st.none(), JUNK, POINT),
}
OWN = {hpo.RandomSearcher: {"max_retries": st.one_of(st.integers(-2, 200), JUNK)},
       hpo.GridSearcher: {"num_points": st.one_of(st.integers(-2, 6), JUNK),
                          "shuffle": st.one_of(st.booleans(), JUNK)}}


@pytest.mark.parametrize("searcher", list(OWN), ids=lambda s: s.__name__)
def test_any_arguments_are_refused_clearly_or_work(searcher):
    keywords = st.fixed_dictionaries({}, optional={**ARGUMENTS, **OWN[searcher]})

    @PROPERTY
    @given(keywords)
    def run(kwargs):
        try:
            s = searcher(SPACE, **kwargs)
        except ValueError as err:
            assert any(name in str(err) for name in kwargs), (kwargs, str(err))
            return
        s.bind(s.metric or "loss", s.mode)  # what a scheduler without its own metric does
        assert s.metric == (kwargs.get("metric") or "loss") and s.mode in ("min", "max")
        for _ in range(4):
            config = s.suggest()
            if config is None:
                break
            assert s.space.check(config) == config
        assert isinstance(s.rng, np.random.Generator)

    run()
