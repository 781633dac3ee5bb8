"""Steps vs examples: the frontier fit, the exact step counter, the digits experiment."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.core.models import LinearRegression, SoftmaxRegression
from companion.measure.critical_batch import (
    CriticalBatchResult,
    FrontierFit,
    critical_batch_experiment,
    fit_frontier,
    steps_to_loss,
)

BATCHES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048])


def hyperbola(s_min: float, b_crit: float, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps = s_min * (1 + b_crit / b)
    return steps, b * steps


@settings(max_examples=50)
@given(s_min=st.floats(5.0, 5000.0), b_crit=st.floats(2.0, 500.0))
def test_fit_recovers_exact_hyperbola(s_min: float, b_crit: float) -> None:
    s, e = hyperbola(s_min, b_crit, BATCHES.astype(float))
    fit = fit_frontier(s, e)
    assert fit.s_min == pytest.approx(s_min, rel=1e-6)
    assert fit.e_min == pytest.approx(s_min * b_crit, rel=1e-6)
    assert fit.b_crit == pytest.approx(b_crit, rel=1e-6)
    assert fit.rms_log_residual < 1e-6


@pytest.mark.parametrize("seed", range(5))
def test_fit_recovers_b_crit_from_noisy_points(seed: int) -> None:
    # 5 % multiplicative noise on each of 12 points (as seen when measuring steps). The fit
    # has 2 parameters, so log B_crit is known to roughly 0.05·√(2/12)·(a few) ≈ 0.05–0.1:
    # a 25 % band is comfortably wide yet fails for a wrong fit (e.g. a factor of 2).
    rng = np.random.default_rng(seed)
    s, _ = hyperbola(120.0, 40.0, BATCHES.astype(float))
    s_noisy = s * np.exp(0.05 * rng.standard_normal(s.size))
    fit = fit_frontier(s_noisy, BATCHES * s_noisy)
    assert fit.b_crit == pytest.approx(40.0, rel=0.25)
    assert fit.s_min == pytest.approx(120.0, rel=0.15)
    assert 0.02 < fit.rms_log_residual < 0.1


def test_fit_ignores_points_that_never_reached_the_target() -> None:
    s, e = hyperbola(10.0, 8.0, BATCHES.astype(float))
    s[[0, 5]] = np.inf
    e[[0, 5]] = np.inf
    fit = fit_frontier(s, e)
    assert fit.n_points == 10
    assert fit.b_crit == pytest.approx(8.0, rel=1e-6)


def test_fitted_curve_lies_on_the_hyperbola() -> None:
    fit = FrontierFit(s_min=30.0, e_min=600.0, b_crit=20.0, rms_log_residual=0.0, n_points=5)
    e, s = fit.curve(1, 1000, n=50)
    assert np.allclose((s / 30 - 1) * (e / 600 - 1), 1.0)
    assert fit.steps(20.0) == pytest.approx(60.0)  # 2 S_min at B_crit …
    assert fit.examples(20.0) == pytest.approx(1200.0)  # … and 2 E_min


def test_fit_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least two finite points with different batch"):
        fit_frontier([10.0, np.inf], [10.0, np.inf])
    with pytest.raises(ValueError, match="at least two finite points"):
        fit_frontier([10.0, 20.0], [100.0, 200.0])  # same B = 10 twice
    with pytest.raises(ValueError, match="steps and examples must be > 0"):
        fit_frontier([10.0, -1.0], [10.0, 5.0])
    with pytest.raises(ValueError, match="steps and examples must have the same number"):
        fit_frontier([1.0, 2.0], [1.0])


# -- the step counter -----------------------------------------------------------------------


def test_full_batch_count_equals_plain_gradient_descent(digits_train: tuple) -> None:
    X, y = digits_train
    model = SoftmaxRegression(64, 10, seed=0)
    before = model.get_flat()
    s = steps_to_loss(model, X, y, len(X), 0.5, 0.6, max_steps=1000)
    assert np.array_equal(model.get_flat(), before)  # the model is not touched
    m = model.copy()
    k = 0
    while m.loss(X, y) > 0.6:
        _, g = m.loss_and_grad(X, y)
        for name in m.param_names:
            m.params[name] -= 0.5 * g[name]
        k += 1
    assert s == k


def test_replay_makes_the_count_exact(digits_train: tuple) -> None:
    # While the loss falls steadily (B=128, moderate lr), checking it after every step or
    # only every 7 or 10 steps (then replaying the last stretch) gives the same count.
    X, y = digits_train
    model = SoftmaxRegression(64, 10, seed=0)
    every_step = steps_to_loss(model, X, y, 128, 0.5, 0.5, check_every=1, seed=3)
    assert every_step is not None and every_step > 10
    for k in (7, 10, None):
        assert steps_to_loss(model, X, y, 128, 0.5, 0.5, check_every=k, seed=3) == every_step


def test_sparse_checks_follow_their_documented_rule(digits_train: tuple) -> None:
    # With B=8 the loss dips under the target and rises again before it stays under. Rebuild
    # the loss after every step by hand and check both definitions against it.
    from companion.core.batching import BatchPlan

    X, y = digits_train
    model = SoftmaxRegression(64, 10, seed=0)
    target, k = 0.5, 5
    plan = BatchPlan(len(X), 8, remainder="carry", shuffle=True, seed=3)
    batches = plan.epoch(0)
    m = model.copy()
    losses = [m.loss(X, y)]
    for idx in batches[:150]:
        _, g = m.loss_and_grad(X[idx], y[idx])
        for name in m.param_names:
            m.params[name] -= 0.4 * g[name]
        losses.append(m.loss(X, y))
    below = np.asarray(losses) <= target
    first_dip = int(np.argmax(below))
    first_check = next(c for c in range(k, 151, k) if below[c])
    refined = first_check - k + int(np.argmax(below[first_check - k + 1 : first_check + 1])) + 1
    every = steps_to_loss(model, X, y, 8, 0.4, target, check_every=1, seed=3)
    sparse = steps_to_loss(model, X, y, 8, 0.4, target, check_every=k, seed=3)
    assert every == first_dip
    assert sparse == refined
    assert every < sparse  # the first dip was brief: it had risen again by the next check


def test_counter_reports_divergence_and_budget(digits_train: tuple) -> None:
    X, y = digits_train
    model = SoftmaxRegression(64, 10, seed=0)
    assert steps_to_loss(model, X, y, 32, 1e-4, 0.3, max_steps=50) is None  # too slow
    assert steps_to_loss(model, X, y, 32, 500.0, 0.3, max_steps=500) is None  # blows up
    assert steps_to_loss(model, X, y, 32, 0.1, 10.0) == 0  # already below the target
    with pytest.raises(ValueError, match="at most n_samples=1347"):
        steps_to_loss(model, X, y, 2000, 0.1, 0.3)
    with pytest.raises(TypeError, match="model must be a companion.core.models model"):
        steps_to_loss(object(), X, y, 8, 0.1, 0.3)


# -- the experiment ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_result() -> CriticalBatchResult:
    return critical_batch_experiment(quick=True)


def test_quick_experiment_on_digits(quick_result: CriticalBatchResult) -> None:
    res = quick_result
    assert res.batch_sizes.tolist() == [1, 4, 16, 64, 256, 1024, 1347]
    assert res.n_samples == 1347 and res.repeats == 1
    assert np.all(np.isfinite(res.steps))
    assert np.array_equal(res.examples, res.batch_sizes * res.steps)
    # Bigger batches need fewer steps but more examples (the two ends of the frontier).
    assert res.steps[0] > 10 * res.steps[-1]
    assert res.examples[-1] > 10 * res.examples[0]
    assert 1 < res.b_crit < res.n_samples
    assert res.fit.s_min <= res.steps.min() * 1.5
    for i, lr in enumerate(res.best_lr):
        j = int(np.flatnonzero(res.lrs == lr)[0])
        assert res.steps_grid[i, j] == res.steps[i]
        assert np.nanmin(res.steps_grid[i]) == res.steps[i]
    assert res.b_simple_start is not None and res.b_simple_start > 0
    assert res.b_simple_end is not None and res.b_simple_end > res.b_simple_start
    lines = res.as_table().splitlines()
    assert len(lines) == 2 + 7 and "B_crit = E_min/S_min" in lines[0]


def test_experiment_accepts_a_model_and_grids(digits_train: tuple) -> None:
    X, y = digits_train
    onehot = np.eye(10)[y]
    res = critical_batch_experiment(
        X, onehot, model=LinearRegression(64, 10, seed=0), batch_sizes=[16, 128, 1347],
        lrs=[0.2, 0.4, 0.8], target_loss=0.08, noise_scale=False, repeats=1,
    )
    assert res.lrs.tolist() == [0.2, 0.4, 0.8]
    assert res.b_simple_start is None
    assert np.all(np.isfinite(res.steps)) and np.all(np.diff(res.steps) < 0)


def test_experiment_rejects_bad_arguments(digits_train: tuple) -> None:
    X, y = digits_train
    with pytest.raises(ValueError, match="X and y must be given together"):
        critical_batch_experiment(X)
    with pytest.raises(ValueError, match=r"batch_sizes\[0\] must be at most n_samples=1347"):
        critical_batch_experiment(X, y, batch_sizes=[2048])
    with pytest.raises(ValueError, match=r"lrs\[0\] must be a finite real number > 0; got 0.0"):
        critical_batch_experiment(X, y, lrs=[0.0])
    with pytest.raises(TypeError, match="quick must be True or False"):
        critical_batch_experiment(X, y, quick="yes")


@pytest.mark.parametrize("batch_size", [1, 8, 64, 200, 1347])
def test_lockstep_runs_count_the_steps_of_runs_made_one_at_a_time(digits_train, batch_size):
    """The experiment's lockstep counter (replayed stretches for small B, one fused pass per
    step where the loss is checked after every step, N // 8B <= 1) gives each run of a block the
    count steps_to_loss gives it alone; a rate far too large diverges in both."""
    import companion.measure.critical_batch as cb

    X, y = digits_train
    model = SoftmaxRegression(64, 10, seed=0)
    seeds = np.array([0, 1, 2, 3])
    target, cap = 0.6, 2000
    loss0 = float(model.loss(X, y))
    every = max(1, len(X) // (8 * batch_size))
    for lr in (0.1, 0.8, 400.0):
        together = cb._lockstep_steps(model, X, y, batch_size, np.full(4, lr), seeds, target,
                                      loss0, cap, every, 4, float(cap))
        alone = [steps_to_loss(model, X, y, batch_size, lr, target, max_steps=cap, seed=int(s))
                 for s in seeds]
        if lr > 100:
            assert alone == [None] * 4 and np.isinf(together).all()
        else:
            assert None not in alone and together.tolist() == [float(s) for s in alone]
