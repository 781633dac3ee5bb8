"""Shared pytest configuration: deterministic hypothesis, a headless matplotlib, no stray copies."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

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


def _produce_once(tmp_path_factory: pytest.TempPathFactory, name: str,
                  produce: Callable[[Path], object], marker: str) -> tuple[Path, object]:
    """Run ``produce(folder)`` once per test session, even across xdist workers.

    The folder is shared by every worker (under the session's base temporary folder); the first
    worker to take the lock produces it and writes ``produce``'s JSON-able result to ``marker``;
    the others wait for the lock and read the result. Returns the folder and that result.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / name
    done = root / marker
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(root, ignore_errors=True)
                root.mkdir(parents=True)
                done.write_text(json.dumps(produce(root), indent=1), encoding="utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return root, json.loads(done.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def produce_once() -> Callable[..., tuple[Path, object]]:
    """:func:`_produce_once`, for session fixtures that build expensive artifacts (a release,
    a graded class) once for all xdist workers."""
    return _produce_once
