"""The two-weight digits problem: gradients, optimum, batch gradients, descent paths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import weights_2d

from companion.core.batching import BatchPlan
from companion.measure.landscape import (
    Problem2D,
    descent_path,
    descent_paths,
    digits_problem,
    loss_grid,
    minibatch_gradients,
)
from companion.measure.noise import batch_variance, covariance_trace

Z = 5.0  # Monte-Carlo tolerance in standard errors (see tests/test_noise.py)


@pytest.fixture(scope="module")
def problem() -> Problem2D:
    return digits_problem()


def test_data_are_standardised(problem: Problem2D) -> None:
    assert problem.X.shape == (1797, 2) and problem.y.shape == (1797,)
    assert np.allclose(problem.X.mean(axis=0), 0) and np.allclose(problem.X.std(axis=0), 1)
    assert np.isclose(problem.y.mean(), 0) and np.isclose(problem.y.std(), 1)


def test_loss_is_half_mean_squared_residual(problem: Problem2D) -> None:
    w = np.array([0.3, -0.7])
    r = problem.X @ w - problem.y
    assert float(problem.loss(w)) == pytest.approx(0.5 * np.mean(r**2), rel=1e-12)
    stack = np.array([[0.3, -0.7], [1.0, 1.0]])
    assert problem.loss(stack).shape == (2,)


@settings(max_examples=30)
@given(w1=weights_2d, w2=weights_2d)
def test_gradient_matches_central_differences(w1: float, w2: float) -> None:
    p = digits_problem()
    w, eps = np.array([w1, w2]), 1e-6
    numeric = [
        (float(p.loss(w + eps * e)) - float(p.loss(w - eps * e))) / (2 * eps) for e in np.eye(2)
    ]
    assert np.allclose(p.grad(w), numeric, rtol=1e-6, atol=1e-8)
    assert np.allclose(p.per_sample_grads(w).mean(axis=0), p.grad(w), atol=1e-14)


def test_optimum_is_the_least_squares_solution(problem: Problem2D) -> None:
    expected, *_ = np.linalg.lstsq(problem.X, problem.y, rcond=None)
    assert np.allclose(problem.optimum, expected)
    assert np.allclose(problem.grad(problem.optimum), 0, atol=1e-14)
    assert problem.min_loss == pytest.approx(float(problem.loss(expected)))


def test_loss_grid(problem: Problem2D) -> None:
    g = loss_grid(problem, half_width=1.0, n=11)
    assert g.loss.shape == (11, 11)
    assert g.loss[5, 5] == pytest.approx(problem.min_loss)  # centre = optimum
    assert g.loss[2, 7] == pytest.approx(float(problem.loss([g.w1[7], g.w2[2]])))
    assert g.loss.min() == pytest.approx(problem.min_loss)


def test_minibatch_gradient_noise_matches_theory(problem: Problem2D) -> None:
    w = np.array([-0.7, -0.8])
    s = minibatch_gradients(problem, w, [1, 32, problem.n_samples], n_draws=3000, seed=0)
    assert np.allclose(s.full, problem.grad(w))
    assert np.allclose(s.by_batch[problem.n_samples], s.full)  # B = N: always G
    t = covariance_trace(problem.per_sample_grads(w))
    for b in (1, 32):
        err = ((s.by_batch[b] - s.full) ** 2).sum(axis=1)
        theory = batch_variance(t, problem.n_samples, b)
        assert abs(err.mean() - theory) < Z * err.std(ddof=1) / np.sqrt(len(err))
    cos = s.mean_cosine()
    assert cos[1] < cos[32] < cos[problem.n_samples] == pytest.approx(1.0)


def test_gradient_descent_path_is_exact(problem: Problem2D) -> None:
    w0, lr = np.array([-0.7, -0.8]), 0.3
    path = descent_path(problem, w0, problem.n_samples, lr, epochs=4)
    w = w0.copy()
    for k in range(4):
        w = w - lr * problem.grad(w)
        assert np.allclose(path.points[k + 1], w, atol=1e-13)
    assert path.steps == 4 and path.epoch_ends.tolist() == [1, 2, 3, 4]
    assert np.allclose(path.losses, problem.loss(path.points))


def test_paths_share_start_and_count_steps(problem: Problem2D) -> None:
    paths = descent_paths(problem, epochs=2)
    n = problem.n_samples
    assert [p.steps for p in paths] == [2, 2 * BatchPlan(n, 32).steps_per_epoch, 2 * n]
    assert all(np.array_equal(p.points[0], [-0.7, -0.8]) for p in paths)
    assert [p.batch_size for p in paths] == [n, 32, 1]
    # Same examples: SGD gets far closer to the minimum than 2 steps of GD.
    assert paths[2].losses[-1] < paths[0].losses[-1]


def test_mini_batch_path_follows_the_plan(problem: Problem2D) -> None:
    path = descent_path(problem, [0.0, 0.0], 500, 0.5, epochs=1, remainder="keep", seed=4)
    plan = BatchPlan(problem.n_samples, 500, remainder="keep", seed=4)
    w = np.zeros(2)
    for idx in plan.epoch(0):
        Xb = problem.X[idx]
        w = w - 0.5 * Xb.T @ (Xb @ w - problem.y[idx]) / len(idx)
    assert np.allclose(path.points[-1], w)
    assert path.steps == 4  # 3 × 500 + 297


def test_stability_limit(problem: Problem2D) -> None:
    n, w0 = problem.n_samples, [-0.7, -0.8]
    stable = descent_path(problem, w0, n, 0.95 * problem.max_lr, epochs=200)
    unstable = descent_path(problem, w0, n, 1.05 * problem.max_lr, epochs=200)
    assert stable.losses[-1] - problem.min_loss < 1e-6
    assert unstable.losses[-1] > unstable.losses[0]


def test_bad_arguments(problem: Problem2D) -> None:
    with pytest.raises(ValueError, match="X must have exactly 2 columns"):
        Problem2D(np.ones((5, 3)), np.ones(5))
    with pytest.raises(ValueError, match="linearly independent"):
        Problem2D(np.ones((5, 2)), np.ones(5))
    with pytest.raises(ValueError, match=r"point must be a point with 2 coordinates"):
        minibatch_gradients(problem, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="problem must be a Problem2D"):
        loss_grid("digits")
    with pytest.raises(ValueError, match="lr must be a finite real number > 0"):
        descent_path(problem, [0.0, 0.0], 8, 0.0)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        descent_path(problem, [0.0, 0.0], 0, 0.1)
