"""The simple noise scale: exact value, the two-batch-size estimator, with/without replacement."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import grad_sq_norms, noise_sample_counts, random_grads, trace_sigmas

from companion.measure.noise import batch_variance, covariance_trace
from companion.measure.noise_scale import (
    NoiseScaleEstimate,
    estimate_noise_scale,
    simple_noise_scale,
    two_batch_estimate,
    variance_factor,
)

# Tolerance: the estimate's standard error comes from the draws themselves (delta method
# for the ratio of the two averages, see NoiseScaleEstimate.b_simple_se); 5 standard errors
# make a false failure of a seeded test vanishingly unlikely.
Z = 5.0


def test_exact_b_simple() -> None:
    g = random_grads(200, 4, seed=1)
    big_g = g.mean(axis=0)
    assert simple_noise_scale(g) == pytest.approx(covariance_trace(g) / (big_g @ big_g))
    assert simple_noise_scale([[1.0], [-1.0]]) == float("inf")  # G = 0


@settings(max_examples=50)
@given(
    n=noise_sample_counts,
    data=st.data(),
    g_sq=grad_sq_norms,
    trace=trace_sigmas,
    replace=st.booleans(),
)
def test_estimator_inverts_the_expectation_exactly(
    n: int, data: st.DataObject, g_sq: float, trace: float, replace: bool
) -> None:
    # Feed the exact expectations E‖ĝ_B‖² = ‖G‖² + tr Σ·c(B): the estimator must return ‖G‖²
    # and tr Σ (it is the exact inverse of that 2×2 linear system).
    b_small = data.draw(st.integers(1, n - 1))
    b_big = data.draw(st.integers(b_small + 1, n))
    n_arg = None if replace else n
    s_small = g_sq + trace * variance_factor(b_small, n_arg)
    s_big = g_sq + trace * variance_factor(b_big, n_arg)
    est = two_batch_estimate([s_small], [s_big], b_small, b_big, n_samples=n_arg)
    assert est.grad_sq_norm == pytest.approx(g_sq, rel=1e-9, abs=1e-9)
    assert est.trace_sigma == pytest.approx(trace, rel=1e-9, abs=1e-7)
    assert est.b_simple == pytest.approx(trace / g_sq, rel=1e-6, abs=1e-6)


def test_variance_factor_matches_batch_variance() -> None:
    for b in (1, 7, 30):
        assert variance_factor(b) * 2.0 == batch_variance(2.0, 30, b, replace=True)
        assert variance_factor(b, 30) * 2.0 == pytest.approx(batch_variance(2.0, 30, b))
    assert variance_factor(30, 30) == 0.0


def test_numerator_and_denominator_are_averaged_before_dividing() -> None:
    small = np.array([3.0, 1.0, 4.0, 1.5])
    big = np.array([1.0, 0.9, 1.3, 1.1])
    est = two_batch_estimate(small, big, 2, 8)
    g_each = (8 * big - 2 * small) / 6
    t_each = (small - big) / (1 / 2 - 1 / 8)
    assert est.b_simple == pytest.approx(t_each.mean() / g_each.mean())
    assert est.b_simple != pytest.approx(np.mean(t_each / g_each))  # the biased alternative
    assert est.n_draws == 4
    assert isinstance(est, NoiseScaleEstimate)
    assert "B_small=2, B_big=8, 4 pairs, with replacement" in str(est)


@pytest.mark.parametrize("replace", [True, False])
def test_estimate_agrees_with_exact_on_synthetic_gradients(replace: bool) -> None:
    g = random_grads(200, 4, seed=1)
    est = estimate_noise_scale(g, 4, 64, n_draws=4000, replace=replace, seed=3)
    exact = simple_noise_scale(g)
    assert abs(est.b_simple - exact) < Z * est.b_simple_se
    assert est.b_simple_se < 0.1 * exact  # the check has teeth


def test_without_replacement_needs_the_correction() -> None:
    # Batches drawn without replacement but analysed with the with-replacement formulas: the
    # big batch (90 of 100) is far less noisy than tr Σ/90, so ‖G‖² is underestimated by
    # about 0.01·tr Σ, which matters when the noise is large compared with the signal: here
    # B_simple ≈ 32, so ‖G‖² comes out about a third low and B_simple about 50 % high.
    g = np.random.default_rng(5).normal(loc=0.2, size=(100, 4))
    exact = simple_noise_scale(g)
    right = estimate_noise_scale(g, 2, 90, n_draws=20000, replace=False, seed=0)
    assert abs(right.b_simple - exact) < Z * right.b_simple_se
    from companion.measure.noise import sample_batch_means

    s = (sample_batch_means(g, 2, 20000, replace=False, seed=0) ** 2).sum(axis=1)
    b = (sample_batch_means(g, 90, 20000, replace=False, seed=1) ** 2).sum(axis=1)
    wrong = two_batch_estimate(s, b, 2, 90, n_samples=None)
    assert wrong.b_simple > exact + Z * wrong.b_simple_se


@pytest.mark.parametrize("replace", [True, False])
def test_digits_estimate_agrees_with_exact(digits_grads: np.ndarray, replace: bool) -> None:
    exact = simple_noise_scale(digits_grads)
    est = estimate_noise_scale(digits_grads, 8, 128, n_draws=3000, replace=replace, seed=0)
    assert abs(est.b_simple - exact) < Z * est.b_simple_se
    assert est.b_simple_se < 0.1 * exact
    assert 1 < exact < len(digits_grads)  # a meaningful noise scale, not a degenerate one


def test_bad_arguments() -> None:
    g = random_grads(n=20)
    with pytest.raises(ValueError, match="b_big must be larger than b_small=8; got 8"):
        estimate_noise_scale(g, 8, 8)
    with pytest.raises(ValueError, match="at most n_samples=20 when sampling without"):
        estimate_noise_scale(g, 2, 21, replace=False)
    with pytest.raises(ValueError, match="sq_norm_small and sq_norm_big must have the same"):
        two_batch_estimate([1.0, 2.0], [1.0], 1, 2)
    with pytest.raises(ValueError, match="at least one squared norm"):
        two_batch_estimate([], [], 1, 2)
    with pytest.raises(ValueError, match="b_small must be a positive int; got 0"):
        two_batch_estimate([1.0], [1.0], 0, 2)
    with pytest.raises(ValueError, match="batch_size must be at most n_samples=5"):
        variance_factor(6, 5)
    est = two_batch_estimate([2.0], [1.0], 1, 2)
    assert np.isnan(est.b_simple_se)  # one pair: no spread to estimate
