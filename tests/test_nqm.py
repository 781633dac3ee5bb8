"""The noisy quadratic model: closed form vs recursion and simulation; the three regimes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import lr_fractions, nqm_batch_sizes, nqm_dims, target_fractions

from companion.measure.nqm import (
    NoisyQuadratic,
    expected_loss,
    make_nqm,
    nqm_batch_scaling,
    simulate,
    steady_state_loss,
    steps_to_target,
    tune_lr,
)

# Monte-Carlo tolerance: the mean loss over R independent runs has standard error sd/√R
# (sd estimated from the runs at that step); 5 standard errors per comparison.
Z = 5.0


@settings(max_examples=50)
@given(
    dim=nqm_dims,
    lr_frac=lr_fractions,
    b=nqm_batch_sizes,
    init=st.floats(0.0, 5.0),
)
def test_closed_form_equals_the_recursion(dim: int, lr_frac: float, b: int, init: float) -> None:
    q = make_nqm(dim, init=init)
    lr = lr_frac * q.max_lr
    s = q.init.copy()
    expected = [0.5 * q.curvature @ s]
    for _ in range(30):
        s = (1 - lr * q.curvature) ** 2 * s + lr**2 * q.noise / b
        expected.append(0.5 * q.curvature @ s)
    assert np.allclose(expected_loss(q, lr, b, 30), expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("lr", "b"), [(0.5, 1), (1.5, 4), (0.1, 32)])
def test_closed_form_matches_simulated_sgd(lr: float, b: int) -> None:
    q = make_nqm(8, init=2.0)
    runs = simulate(q, lr, b, steps=40, n_runs=4000, seed=11)
    mean = runs.mean(axis=0)
    se = runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    theory = expected_loss(q, lr, b, 40)
    assert np.allclose(runs[:, 0], q.initial_loss, rtol=1e-14)  # deterministic start
    assert np.all(np.abs(mean[1:] - theory[1:]) < Z * se[1:])


def test_simulation_is_seeded() -> None:
    q = make_nqm(3)
    a = simulate(q, 0.3, 2, 5, n_runs=10, seed=1)
    assert np.array_equal(a, simulate(q, 0.3, 2, 5, n_runs=10, seed=1))
    assert not np.array_equal(a, simulate(q, 0.3, 2, 5, n_runs=10, seed=2))


def test_steady_state_is_the_limit() -> None:
    q = make_nqm(5)
    floor = steady_state_loss(q, 0.4, 8)
    assert expected_loss(q, 0.4, 8, 5000)[-1] == pytest.approx(floor, rel=1e-9)
    assert floor == pytest.approx(sum(0.4 * c / (2 * 8 * (2 - 0.4 * h))
                                      for h, c in zip(q.curvature, q.noise, strict=True)))


@settings(max_examples=60)
@given(
    dim=nqm_dims,
    lr_frac=lr_fractions,
    b=nqm_batch_sizes,
    target_frac=target_fractions,
)
def test_steps_to_target_is_the_first_crossing(
    dim: int, lr_frac: float, b: int, target_frac: float
) -> None:
    # Brute force over the closed form (including learning rates where some coordinate's
    # loss rises towards its floor, i.e. a non-monotone expected loss).
    q = make_nqm(dim)
    lr = lr_frac * q.max_lr
    target = target_frac * q.initial_loss
    s = steps_to_target(q, lr, b, target, max_steps=3000)
    curve = expected_loss(q, lr, b, 3000)
    hits = np.flatnonzero(curve <= target)
    if hits.size == 0:
        assert s is None
    else:
        assert s == int(hits[0])


def test_unreachable_target() -> None:
    q = make_nqm(1)
    assert steady_state_loss(q, 0.5, 1) == pytest.approx(1 / 6)
    assert steps_to_target(q, 0.5, 1, 0.1) is None
    assert steps_to_target(q, 0.5, 1, 0.6) == 0  # already there


def test_three_regimes_in_steps_to_target() -> None:
    q = make_nqm(1000)
    sizes = [2**k for k in range(15)]
    res = nqm_batch_scaling(q, sizes, target=0.01 * q.initial_loss)
    up = res.speedup()
    # Perfect scaling: doubling B halves the steps at small B (within 2 %).
    assert np.all(np.abs(up[:4] - 2.0) < 0.04)
    # Diminishing returns in between, (almost) no benefit at the end.
    assert np.all((up[6:9] > 1.1) & (up[6:9] < 1.9))
    assert np.all(up[-3:] < 1.05) and up[-1] < 1.02
    assert np.all(np.diff(res.steps) <= 0)  # never worse with a bigger batch
    # The optimal step size grows linearly with B at first, then saturates below 2/h_max.
    ratio = res.lrs[1:4] / res.lrs[:3]
    assert np.all(np.abs(ratio - 2.0) < 0.05)
    assert np.all(res.lrs < q.max_lr) and res.lrs[-1] > 0.9 * q.max_lr
    assert np.array_equal(res.examples, res.batch_sizes * res.steps)


def test_tuned_lr_beats_the_grid_neighbours() -> None:
    q = make_nqm(50)
    lr, steps = tune_lr(q, 16, 0.05)
    assert steps == steps_to_target(q, lr, 16, 0.05)
    for other in (lr * 0.9, lr * 1.1):
        s = steps_to_target(q, min(other, 0.999 * q.max_lr), 16, 0.05)
        assert s is None or s >= steps
    grid = [0.01, 0.1, 1.0]
    lr_grid, steps_grid = tune_lr(q, 16, 0.05, lrs=grid)
    each = {v: steps_to_target(q, v, 16, 0.05) for v in grid}
    reached = {v: s for v, s in each.items() if s is not None}
    assert reached and steps_grid == min(reached.values())  # the best of the grid, not any
    assert lr_grid == min(v for v, s in reached.items() if s == steps_grid)  # ties: smaller lr
    assert steps_grid >= steps
    lr_q, steps_q = tune_lr(q, 16, 0.05, quick=True)
    assert steps <= steps_q <= 1.5 * steps


def test_table() -> None:
    res = nqm_batch_scaling(make_nqm(5), [1, 2], target=0.2)
    lines = res.as_table().splitlines()
    assert lines[0] == "# NQM dim=5, target E ℓ = 0.2, stability limit α < 2"
    assert len(lines) == 4


def test_bad_arguments() -> None:
    q = make_nqm(3)
    with pytest.raises(ValueError, match=r"lr must be a finite real number > 0 and < 2; got 2.0"):
        expected_loss(q, 2.0, 1, 5)
    with pytest.raises(ValueError, match="target must be below the initial loss"):
        nqm_batch_scaling(q, [1], target=10.0)
    with pytest.raises(ValueError, match="curvature must be > 0 everywhere"):
        NoisyQuadratic(np.array([1.0, 0.0]), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"noise must have the same shape as curvature \(2,\)"):
        NoisyQuadratic(np.ones(2), np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match="nqm must be a NoisyQuadratic"):
        expected_loss("nqm", 0.1, 1, 1)
    with pytest.raises(ValueError, match="noise must be 'curvature' or an array"):
        make_nqm(3, noise="isotropic")
    with pytest.raises(ValueError, match="batch_size must be a positive int; got 0"):
        steps_to_target(q, 0.1, 0, 0.1)
    with pytest.raises(ValueError, match="theta must have last dimension 3"):
        q.loss([1.0, 2.0])
