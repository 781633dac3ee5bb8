"""Data sets: digits split, synthetic generators, seeding and checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from companion.core.datasets import Split, digits, linear, multi_class, two_class


def test_digits_split_shapes_scale_and_labels() -> None:
    data = digits()
    assert isinstance(data, Split)
    assert data.X_train.shape == (1347, 64) and data.X_test.shape == (450, 64)
    assert data.y_train.shape == (1347,) and data.y_test.shape == (450,)
    assert data.X_train.dtype == np.float64 and data.y_train.dtype == np.int64
    assert data.X_train.min() == 0.0 and data.X_train.max() == 1.0
    assert set(np.unique(data.y_train).tolist()) == set(range(10))
    # every pixel value is a multiple of 1/16
    np.testing.assert_array_equal(data.X_train * 16, np.round(data.X_train * 16))


def test_digits_is_stratified() -> None:
    data = digits()
    full = np.bincount(np.concatenate([data.y_train, data.y_test]))
    test = np.bincount(data.y_test, minlength=10)
    # stratification keeps each class's share: counts within one of 25 %
    assert np.all(np.abs(test - 0.25 * full) <= 1)
    assert full.sum() == 1797


def test_digits_seeded_and_float32() -> None:
    a, b, c = digits(seed=0), digits(seed=0), digits(seed=1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.y_train, c.y_train)
    small = digits(test_size=0.5, dtype=np.float32)
    assert small.X_train.dtype == np.float32 and len(small.X_test) in (898, 899)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"test_size": 0.0}, ValueError, r"test_size must be a finite real number > 0 and < 1"),
        ({"test_size": 1}, ValueError, r"test_size must be a finite real number > 0 and < 1"),
        ({"test_size": "a"}, TypeError, r"test_size must be a finite real number"),
        ({"seed": -1}, ValueError, r"seed must be a non-negative int; got -1"),
        ({"dtype": np.int32}, ValueError, r"dtype must be np.float32 or np.float64; got int32"),
    ],
)
def test_digits_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        digits(**kwargs)


def test_linear_generator() -> None:
    X, y, w = linear(n=50, d=4, noise=0.0, seed=3)
    assert X.shape == (50, 4) and y.shape == (50,) and w.shape == (4,)
    np.testing.assert_allclose(X @ w, y)
    X2, y2, w2 = linear(n=50, d=4, noise=0.0, seed=3)
    np.testing.assert_array_equal(X, X2)
    # with noise 0.5 the residuals have variance 0.25; 4000 draws give se of the variance
    # sqrt(2/4000)*0.25 ~ 0.0056, so 5 se is 0.028
    X, y, w = linear(n=4000, d=2, noise=0.5, seed=0)
    assert np.var(y - X @ w) == pytest.approx(0.25, abs=0.028)


def test_blobs() -> None:
    X, y = two_class(n=201, seed=0)
    assert X.shape == (201, 2) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [101, 100]
    # class means near (-1,-1) and (1,1): se of a mean of 100 unit-variance draws is 0.1
    assert X[y == 1].mean(axis=0) == pytest.approx([1.0, 1.0], abs=0.5)
    assert X[y == 0].mean(axis=0) == pytest.approx([-1.0, -1.0], abs=0.5)
    X, y = multi_class(n=400, n_classes=4, seed=1)
    assert np.bincount(y).tolist() == [100] * 4
    centres = np.array([X[y == k].mean(axis=0) for k in range(4)])
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.5, atol=0.5)
    np.testing.assert_array_equal(multi_class(seed=5)[0], multi_class(seed=5)[0])
    assert not np.array_equal(two_class(seed=1)[0], two_class(seed=2)[0])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: linear(n=0), ValueError, r"n must be a positive int; got 0"),
        (lambda: linear(d=2.5), TypeError, r"d must be a positive int; got 2.5"),
        (lambda: linear(noise=-1.0), ValueError, r"noise must be a finite real number >= 0"),
        (lambda: two_class(n=-2), ValueError, r"n must be a positive int; got -2"),
        (lambda: multi_class(n_classes=1), ValueError, r"n_classes must be an int >= 2; got 1"),
        (lambda: multi_class(seed="x"), TypeError, r"seed must be a non-negative int"),
    ],
)
def test_generator_bad_arguments(call: Callable[[], object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()
