"""Shared pytest configuration: deterministic hypothesis, a headless matplotlib, no stray copies."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from hypothesis import HealthCheck, settings  # noqa: E402

# Deterministic property tests: the same examples on every machine, no example database on disk.
settings.register_profile(
    "batchwise",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "batchwise"))


@pytest.fixture(scope="session")
def digits_train() -> tuple[np.ndarray, np.ndarray]:
    """The digits training split (inputs, labels) that several test modules measure on."""
    from companion.core.datasets import digits

    split = digits()
    return split.X_train, split.y_train


@pytest.fixture(scope="session")
def digits_grads(digits_train: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Per-sample gradients of softmax regression on digits at one fixed θ (after two epochs
    of SGD with B=32, seed 0): the matrix the noise and noise-scale tests measure."""
    from companion.core.models import SoftmaxRegression
    from companion.core.training import fit

    X, y = digits_train
    model = SoftmaxRegression(64, 10, seed=0)
    fit(model, X, y, batch_size=32, epochs=2, seed=0)
    return model.per_sample_grads(X, y)
