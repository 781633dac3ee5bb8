"""Tests of companion.measure.curvature: Hessian-vector products and the sharpness λ_max.

Both are checked against Hessians written out analytically, in float64: for linear
regression (loss mean((Wx + b − y)²)) H = (2/N) X̃ᵀX̃ with X̃ = [X, 1], exactly; for softmax
regression H = (1/N) Σ_i (x̃_i x̃_iᵀ) ⊗ (diag p_i − p_i p_iᵀ), laid out like the flat
parameter vector (W row-major, then b).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import data_shapes, small_seeds

from companion.core.datasets import linear, multi_class
from companion.core.models import LinearRegression, SoftmaxRegression
from companion.measure.curvature import hessian_vector_product, sharpness


def linear_hessian(X: np.ndarray) -> np.ndarray:
    Xt = np.c_[X, np.ones(len(X))]
    return 2.0 * Xt.T @ Xt / len(X)


def softmax_hessian(model: SoftmaxRegression, X: np.ndarray) -> np.ndarray:
    """Exact Hessian of the mean cross-entropy in the flat layout [W (d×k, C order), b (k)]."""
    n, d = X.shape
    k = model.n_classes
    logits = X @ model.params["W"] + model.params["b"]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    H = np.zeros((d * k + k, d * k + k))
    for i in range(n):
        a = np.diag(p[i]) - np.outer(p[i], p[i])  # k × k
        # ∂z_j/∂θ: W[r, j] contributes x_r; b[j] contributes 1.
        J = np.zeros((k, d * k + k))
        for j in range(k):
            J[j, np.arange(d) * k + j] = X[i]
            J[j, d * k + j] = 1.0
        H += J.T @ a @ J
    return H / n


@settings(max_examples=25)
@given(shape=data_shapes, seed=small_seeds)
def test_hvp_is_exact_for_linear_regression(shape: tuple[int, int], seed: int) -> None:
    n, d = shape
    X, y, _ = linear(n=n, d=d, seed=seed)
    model = LinearRegression(n_features=d, seed=seed)
    v = np.random.default_rng(seed).normal(size=model.n_params)
    # A quadratic loss: central differences are exact up to rounding (relative 1e-6 is ample).
    expected = linear_hessian(X) @ v
    got = hessian_vector_product(model, X, y, v)
    assert np.allclose(got, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_hvp_matches_the_analytic_softmax_hessian() -> None:
    X, y = multi_class(n=60, n_classes=3, seed=1)
    model = SoftmaxRegression(2, 3, seed=2)
    H = softmax_hessian(model, X)
    rng = np.random.default_rng(3)
    for _ in range(3):
        v = rng.normal(size=model.n_params)
        # Central differences have error O(eps²·‖∇³L‖) ≈ 1e-10 at eps = 1e-5.
        assert np.allclose(hessian_vector_product(model, X, y, v), H @ v, atol=1e-7)


def test_sharpness_is_the_top_eigenvalue() -> None:
    X, y = multi_class(n=80, n_classes=3, seed=0)
    model = SoftmaxRegression(2, 3, seed=0)
    top = np.linalg.eigvalsh(softmax_hessian(model, X))[-1]
    assert sharpness(model, X, y) == pytest.approx(top, rel=1e-6)
    Xl, yl, _ = linear(n=30, d=3, seed=4)
    lin = LinearRegression(3)
    assert sharpness(lin, Xl, yl) == pytest.approx(np.linalg.eigvalsh(linear_hessian(Xl))[-1],
                                                   rel=1e-7)


def test_parameters_are_left_unchanged() -> None:
    X, y = multi_class(n=50, n_classes=3, seed=0)
    model = SoftmaxRegression(2, 3, seed=5)
    before = model.get_flat()
    sharpness(model, X, y, max_iter=5)
    hessian_vector_product(model, X, y, np.ones(model.n_params))
    assert np.array_equal(model.get_flat(), before)


def test_zero_vector_and_seed_determinism() -> None:
    X, y = multi_class(n=50, n_classes=3, seed=0)
    model = SoftmaxRegression(2, 3)
    assert np.array_equal(hessian_vector_product(model, X, y, np.zeros(9)), np.zeros(9))
    assert sharpness(model, X, y, max_iter=3, seed=7) == sharpness(model, X, y, max_iter=3,
                                                                   seed=7)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vector": np.ones(3)}, ValueError, "vector must have length n_params=9; got shape"),
        ({"vector": "abc"}, TypeError, "vector must be an array-like"),
        ({"vector": np.ones(9), "eps": 0.0}, ValueError, "eps must be a finite real number > 0"),
    ],
)
def test_hvp_validation(kwargs: dict, error: type, match: str) -> None:
    X, y = multi_class(n=20, n_classes=3, seed=0)
    with pytest.raises(error, match=match):
        hessian_vector_product(SoftmaxRegression(2, 3), X, y, **kwargs)


def test_sharpness_validation() -> None:
    X, y = multi_class(n=20, n_classes=3, seed=0)
    with pytest.raises(TypeError, match=r"model must be a companion.core.models model .*got str, which lacks"):
        sharpness("model", X, y)
    with pytest.raises(ValueError, match="max_iter must be a positive int; got 0"):
        sharpness(SoftmaxRegression(2, 3), X, y, max_iter=0)
    with pytest.raises(TypeError, match="max_iter must be a positive int; got True"):
        sharpness(SoftmaxRegression(2, 3), X, y, max_iter=True)
    with pytest.raises(ValueError, match="tol must be a finite real number > 0; got -1.0"):
        sharpness(SoftmaxRegression(2, 3), X, y, tol=-1.0)
