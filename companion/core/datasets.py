"""Data for the course: scikit-learn's bundled digits and small seeded synthetic sets.

Nothing is downloaded: ``digits`` reads the copy that ships inside scikit-learn.

>>> X, y = two_class(n=10, seed=0)
>>> X.shape, sorted(set(y.tolist()))
((10, 2), [0, 1])
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from companion.core._validation import check_float_dtype, check_positive_int, check_real, check_seed


class Split(NamedTuple):
    """A train/test split: ``X_train, y_train, X_test, y_test``.

    >>> X_train, y_train, X_test, y_test = digits()
    >>> len(X_train) + len(X_test)
    1797
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def digits(test_size: float = 0.25, seed: int | None = 0, dtype: DTypeLike = np.float64) -> Split:
    """The 8×8 handwritten digits (1797 images, 64 pixels, 10 classes), split for training.

    Pixels are scaled from 0…16 to [0, 1]; the split is stratified by class and seeded
    (scikit-learn's ``train_test_split``). With the default ``test_size=0.25`` there are
    1347 training and 450 test images.

    Args:
        test_size: Fraction of the images held out, strictly between 0 and 1.
        seed: Seed of the split (None for a random one).
        dtype: ``np.float32`` or ``np.float64`` for the pixels; labels are int64.

    Returns:
        A :class:`Split`.

    >>> data = digits()
    >>> data.X_train.shape, data.X_test.shape, float(data.X_train.max())
    ((1347, 64), (450, 64), 1.0)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    frac = check_real(test_size, "test_size", low=0.0, high=1.0, low_inclusive=False,
                      high_inclusive=False)
    seed = check_seed(seed)
    dt = check_float_dtype(dtype)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(dt)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y.astype(np.int64), test_size=frac, random_state=seed, stratify=y
    )
    return Split(X_train, y_train, X_test, y_test)


def linear(
    n: int = 200, d: int = 3, noise: float = 0.1, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A linear regression problem ``y = X @ w_true + noise · ε``.

    ``X`` and ``w_true`` are standard normal, ε standard normal noise.

    Args:
        n: Number of rows.
        d: Number of features.
        noise: Standard deviation of the noise (>= 0).
        seed: Seed of everything drawn.

    Returns:
        ``(X, y, w_true)`` with shapes (n, d), (n,), (d,).

    >>> X, y, w = linear(n=5, d=2, noise=0.0)
    >>> bool(np.allclose(X @ w, y))
    True
    """
    n = check_positive_int(n, "n")
    d = check_positive_int(d, "d")
    sigma = check_real(noise, "noise", low=0.0)
    rng = np.random.default_rng(check_seed(seed))
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = X @ w_true + sigma * rng.standard_normal(n)
    return X, y, w_true


def _blobs(
    n: int, centers: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Balanced Gaussian blobs (unit variance) around ``centers``, in shuffled order."""
    y = rng.permutation(np.arange(n) % len(centers)).astype(np.int64)
    X = centers[y] + rng.standard_normal((n, centers.shape[1]))
    return X, y


def two_class(n: int = 200, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping 2-D Gaussian blobs centred at (−1, −1) and (1, 1), labels 0 and 1.

    Args:
        n: Number of points (classes as balanced as n allows).
        seed: Seed of everything drawn.

    Returns:
        ``(X, y)`` with shapes (n, 2) and (n,), labels int64.

    >>> X, y = two_class(n=100)
    >>> int(y.sum())
    50
    """
    n = check_positive_int(n, "n")
    rng = np.random.default_rng(check_seed(seed))
    return _blobs(n, np.array([[-1.0, -1.0], [1.0, 1.0]]), rng)


def multi_class(
    n: int = 300, n_classes: int = 3, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` 2-D Gaussian blobs (unit variance) with centres on a circle of radius 2.5.

    Args:
        n: Number of points (classes as balanced as n allows).
        n_classes: Number of classes (>= 2).
        seed: Seed of everything drawn.

    Returns:
        ``(X, y)`` with shapes (n, 2) and (n,), labels ``0 … n_classes−1`` (int64).

    >>> X, y = multi_class(n=300, n_classes=3)
    >>> np.bincount(y).tolist()
    [100, 100, 100]
    """
    n = check_positive_int(n, "n")
    k = check_positive_int(n_classes, "n_classes")
    if k < 2:  # type: ignore[operator]
        raise ValueError(f"n_classes must be an int >= 2; got {k}")
    angles = 2 * math.pi * np.arange(k) / k  # type: ignore[operator]
    centers = 2.5 * np.column_stack([np.cos(angles), np.sin(angles)])
    rng = np.random.default_rng(check_seed(seed))
    return _blobs(n, centers, rng)
