"""Gradient statistics at a fixed θ: exact formulas, exhaustive checks, Monte Carlo vs theory."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import random_grads, small_seeds, tiny_grad_shapes

from companion.core._validation import check_batch_sizes
from companion.core.datasets import digits
from companion.core.models import SoftmaxRegression
from companion.measure.noise import (
    GradientNoise,
    batch_variance,
    covariance_trace,
    fpc,
    full_gradient,
    gradient_noise,
    measure_gradient_noise,
    sample_batch_means,
)
from companion.measure.sampling import powers_of_two

# Monte-Carlo tolerance used throughout: an average of R i.i.d. draws has standard error
# sd/√R, with sd estimated from the same draws; 5 standard errors put the chance of a false
# failure of one comparison below 1e-6 (normal tail; the means of R ≥ 300 draws of these
# bounded quantities are close to normal), so the seeded tests are stable yet sharp.
Z = 5.0


# -- exact formulas ------------------------------------------------------------------------------


def test_full_gradient_and_trace_match_numpy() -> None:
    g = random_grads()
    assert np.allclose(full_gradient(g), g.mean(axis=0))
    assert covariance_trace(g) == pytest.approx(np.trace(np.cov(g.T, bias=True)), rel=1e-12)


def test_trace_is_zero_when_all_gradients_agree() -> None:
    assert covariance_trace(np.tile([1.0, -2.0], (7, 1))) == 0.0


def test_batch_variance_edge_cases() -> None:
    t, n = 3.5, 20
    assert batch_variance(t, n, 1, replace=False) == t  # B = 1: one sample, tr Σ
    assert batch_variance(t, n, 1, replace=True) == t
    assert batch_variance(t, n, n, replace=False) == 0.0  # exactly 0 at B = N
    assert batch_variance(t, n, n, replace=True) == t / n
    assert batch_variance(t, n, 5, replace=True) == t / 5
    assert batch_variance(t, n, 5, replace=False) == pytest.approx(t / 5 * 15 / 19)
    assert fpc(1, 1) == 0.0


@settings(max_examples=60)
@given(shape=tiny_grad_shapes, seed=small_seeds)
def test_without_replacement_formula_by_enumerating_every_subset(shape: tuple[int, int],
                                                                   seed: int) -> None:
    n, p = shape
    g = random_grads(n, p, seed)
    big_g = g.mean(axis=0)
    t = covariance_trace(g)
    for b in range(1, n + 1):
        means = np.array([g[list(c)].mean(axis=0) for c in itertools.combinations(range(n), b)])
        exact = float(((means - big_g) ** 2).sum(axis=1).mean())  # all subsets equally likely
        assert batch_variance(t, n, b, replace=False) == pytest.approx(exact, rel=1e-9, abs=1e-12)


@settings(max_examples=40)
@given(shape=tiny_grad_shapes, seed=small_seeds)
def test_with_replacement_formula_by_enumerating_every_tuple(shape: tuple[int, int],
                                                              seed: int) -> None:
    n, p = shape
    g = random_grads(n, p, seed)
    big_g = g.mean(axis=0)
    t = covariance_trace(g)
    for b in (1, 2, 3):
        tuples = itertools.product(range(n), repeat=b)
        means = np.array([g[list(c)].mean(axis=0) for c in tuples])
        exact = float(((means - big_g) ** 2).sum(axis=1).mean())
        assert batch_variance(t, n, b, replace=True) == pytest.approx(exact, rel=1e-9, abs=1e-12)


# -- Monte Carlo -----------------------------------------------------------------------------------


@pytest.mark.parametrize("replace", [False, True])
def test_monte_carlo_matches_theory(replace: bool) -> None:
    g = random_grads(n=50, p=4)
    sizes = [1, 2, 5, 10, 25, 49]
    r = 2000
    res = gradient_noise(g, sizes, n_draws=r, replace=replace, seed=1)
    assert isinstance(res, GradientNoise)
    assert np.array_equal(res.batch_sizes, sizes)
    assert np.all(np.abs(res.mse - res.theory) < Z * res.mse_se)
    # The sample-covariance trace differs from the MSE by R/(R-1)·(MSE − ‖mean deviation‖²),
    # i.e. by O(theory/R) on average: allow that on top of the 5 standard errors.
    assert np.all(np.abs(res.variance - res.theory) < Z * res.mse_se + 5 * res.theory / r)


def test_b_equals_n_without_replacement_is_exactly_zero_and_b1_is_trace() -> None:
    g = random_grads(n=30)
    res = gradient_noise(g, [1, 30], n_draws=500, replace=False, seed=0)
    assert res.theory[1] == 0.0
    assert res.mse[1] == 0.0 and res.variance[1] == 0.0
    assert res.cosine[1] == pytest.approx(1.0, abs=1e-12)
    assert res.theory[0] == covariance_trace(g)
    assert abs(res.mse[0] - res.theory[0]) < Z * res.mse_se[0]


@pytest.mark.parametrize("replace", [False, True])
def test_expected_squared_norm_is_signal_plus_noise(replace: bool) -> None:
    g = random_grads(n=40, p=3, seed=3)
    big_g = g.mean(axis=0)
    t = covariance_trace(g)
    for b in (1, 4, 16):
        means = sample_batch_means(g, b, n_draws=3000, replace=replace, seed=b)
        sq = (means**2).sum(axis=1)
        theory = big_g @ big_g + batch_variance(t, 40, b, replace=replace)
        assert abs(sq.mean() - theory) < Z * sq.std(ddof=1) / np.sqrt(len(sq))


def test_batch_draws_have_the_right_composition() -> None:
    # Without replacement every batch holds B distinct rows: with g_i = e_i (one-hot rows) the
    # batch mean has exactly B entries equal to 1/B.
    g = np.eye(12)
    means = sample_batch_means(g, 5, n_draws=200, replace=False, seed=0)
    assert np.all(np.sort(means, axis=1)[:, -5:] == 0.2)
    assert np.all((means > 0).sum(axis=1) == 5)
    # With replacement the entries are counts/B summing to 1, repeats allowed.
    means = sample_batch_means(g, 5, n_draws=200, replace=True, seed=0)
    assert np.allclose(means.sum(axis=1), 1.0)
    assert np.all(np.isclose((means * 5) % 1, 0) | np.isclose((means * 5) % 1, 1))
    assert (means.max(axis=1) > 0.2 + 1e-12).any()  # some batch repeated a row


def test_same_seed_same_result_other_seed_differs() -> None:
    g = random_grads()
    a = gradient_noise(g, [4], n_draws=50, seed=7)
    b = gradient_noise(g, [4], n_draws=50, seed=7)
    c = gradient_noise(g, [4], n_draws=50, seed=8)
    assert a.mse[0] == b.mse[0] and a.cosine[0] == b.cosine[0]
    assert a.mse[0] != c.mse[0]


def test_chunked_draws_agree_with_unchunked(monkeypatch: pytest.MonkeyPatch) -> None:
    import companion.measure.sampling as noise

    g = random_grads(n=20)
    whole = sample_batch_means(g, 6, n_draws=37, seed=2)
    monkeypatch.setattr(noise, "_CHUNK_ENTRIES", 20 * 5)  # 5 draws per chunk
    chunked = sample_batch_means(g, 6, n_draws=37, seed=2)
    assert whole.shape == chunked.shape == (37, 3)
    # Chunking changes the order in which the generator is consumed, so the draws differ:
    # compare each with the theory instead.
    t = covariance_trace(g)
    for m in (whole, chunked):
        err = ((m - g.mean(axis=0)) ** 2).sum(axis=1)
        assert abs(err.mean() - batch_variance(t, 20, 6)) < Z * err.std(ddof=1) / np.sqrt(37)


def test_cosine_approximation_and_table(digits_grads: np.ndarray) -> None:
    n = len(digits_grads)
    res = gradient_noise(digits_grads, [1, 16, 256, n], n_draws=300, replace=False, seed=0)
    assert np.all(np.diff(res.cosine) > 0)  # bigger batches point closer to G
    assert np.all(np.abs(res.cosine - res.cosine_approx) < 0.05)
    assert np.all(np.abs(res.mse - res.theory) < Z * np.maximum(res.mse_se, 1e-300))
    table = res.as_table()
    assert table.splitlines()[0].startswith(f"# N={n}, P=650, without replacement, 300 draws")
    assert len(table.splitlines()) == 2 + 4
    rows = res.to_rows()
    assert [r["batch_size"] for r in rows] == [1, 16, 256, n]
    assert rows[-1]["theory"] == 0.0


def test_measure_gradient_noise_uses_the_model(digits_grads: np.ndarray) -> None:
    data = digits()
    model = SoftmaxRegression(64, 10, seed=0)
    res = measure_gradient_noise(model, data.X_train[:100], data.y_train[:100], n_draws=20)
    g = model.per_sample_grads(data.X_train[:100], data.y_train[:100])
    assert res.batch_sizes.tolist() == [1, 2, 4, 8, 16, 32, 64, 100]
    assert res.trace_sigma == pytest.approx(covariance_trace(g))
    assert res.b_simple == pytest.approx(covariance_trace(g) / float(g.mean(0) @ g.mean(0)))
    with pytest.raises(TypeError, match="model must have a per_sample_grads"):
        measure_gradient_noise(object(), data.X_train, data.y_train)


# -- validation -------------------------------------------------------------------------------------


def test_powers_of_two() -> None:
    assert powers_of_two(1347) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1347]
    assert powers_of_two(1) == [1]
    with pytest.raises(ValueError, match="n_samples must be a positive int; got 0"):
        powers_of_two(0)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ([1, 0], ValueError, r"batch_sizes\[1\] must be a positive int; got 0"),
        ([True], TypeError, r"batch_sizes\[0\] must be a positive int; got True"),
        ([2.0], TypeError, r"batch_sizes\[0\] must be a positive int; got 2.0"),
        ("8", TypeError, "batch_sizes must be a positive int or a sequence"),
        ([], ValueError, "at least one batch size"),
        ([-3], ValueError, r"got -3"),
    ],
)
def test_bad_batch_sizes(value: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        check_batch_sizes(value)


def test_bad_arguments_are_named() -> None:
    g = random_grads(n=10)
    with pytest.raises(ValueError, match=r"at most n_samples=10 when sampling without"):
        gradient_noise(g, [11], replace=False)
    gradient_noise(g, [11], n_draws=2, replace=True)  # allowed with replacement
    with pytest.raises(ValueError, match="n_draws must be a positive int >= 2"):
        gradient_noise(g, [2], n_draws=1)
    with pytest.raises(TypeError, match="replace must be True or False; got 1"):
        gradient_noise(g, [2], replace=1)
    with pytest.raises(ValueError, match="per_sample must be a 2-D array; got shape"):
        gradient_noise(np.ones(5), [1])
    with pytest.raises(ValueError, match="per_sample must not contain NaN"):
        covariance_trace([[1.0, np.nan]])
    with pytest.raises(ValueError, match="trace_sigma must be a finite real number >= 0"):
        batch_variance(-1.0, 5, 1)
    with pytest.raises(ValueError, match="seed must be a non-negative int; got -1"):
        gradient_noise(g, [2], seed=-1)
