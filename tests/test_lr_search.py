"""The one learning-rate search (``walk_grid``) shared by lr_sweep, the critical batch and the NQM."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.measure.lr_search import walk_grid


def recorder(values):
    calls = []

    def evaluate(indices, best):
        calls.append((list(indices), best))
        return np.asarray(values, dtype=float)[indices]

    return evaluate, calls


def test_the_window_widens_towards_the_best_and_stops_after_patience_misses() -> None:
    evaluate, calls = recorder([9.0, 7.0, 5.0, 3.0, 4.0, 6.0, 8.0, 10.0, 1.0])
    out = walk_grid(evaluate, 9, start=2, patience=2)
    assert [c[0] for c in calls] == [[0, 1, 2, 3, 4], [5, 6]]
    assert calls[1][1] == 3.0  # the best so far is handed to evaluate (for cut-offs)
    assert np.isnan(out[7:]).all() and out[3] == 3.0


def test_without_a_finite_score_the_walk_goes_on_both_ways() -> None:
    values = [np.inf] * 9 + [2.0, 1.0, 3.0]
    evaluate, calls = recorder(values)
    out = walk_grid(evaluate, 12, start=0, patience=2)
    assert int(np.nanargmin(out)) == 10
    assert [c[0] for c in calls][:2] == [[0, 1, 2], [3, 4]]


def test_patience_none_is_the_whole_grid_in_one_call() -> None:
    evaluate, calls = recorder(np.arange(6.0))
    assert walk_grid(evaluate, 6, start=3, patience=None).tolist() == list(np.arange(6.0))
    assert len(calls) == 1


@settings(max_examples=100)
@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=30), st.data())
def test_the_best_tried_value_has_patience_untried_or_worse_neighbours(values, data) -> None:
    n = len(values)
    start = data.draw(st.integers(0, n - 1))
    patience = data.draw(st.integers(1, 4))
    evaluate, calls = recorder(values)
    out = walk_grid(evaluate, n, start, patience)
    tried = np.flatnonzero(~np.isnan(out))
    assert np.all(np.diff(tried) == 1)  # one contiguous window
    best = int(np.nanargmin(out))
    assert best - tried[0] >= patience or tried[0] == 0
    assert tried[-1] - best >= patience or tried[-1] == n - 1
    flat = [i for c in calls for i in c[0]]
    assert sorted(flat) == tried.tolist()  # every value evaluated exactly once


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="start must be an index into the grid of 3; got 3"):
        walk_grid(lambda i, b: [0.0] * len(i), 3, start=3)
    with pytest.raises(ValueError, match="patience must be a positive int or None; got 0"):
        walk_grid(lambda i, b: [0.0] * len(i), 3, start=0, patience=0)
