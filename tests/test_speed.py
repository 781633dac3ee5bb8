"""Speed and memory per batch size: structure and memory growth (times are never asserted)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from companion.core.models import MLP, SoftmaxRegression
from companion.measure.speed import (
    SpeedResult,
    batch_rows,
    measure_speed,
    peak_memory,
    time_step,
)


def test_result_structure(digits_train: tuple) -> None:
    X, y = digits_train
    model = SoftmaxRegression(64, 10, seed=0)
    before = model.get_flat()
    res = measure_speed(model, X, y, [1, 16, 1024, 4096], repeats=2, min_time=1e-4)
    assert isinstance(res, SpeedResult)
    assert res.batch_sizes.tolist() == [1, 16, 1024, 4096]
    assert np.all(res.seconds_per_step > 0) and np.all(np.isfinite(res.seconds_per_step))
    assert np.allclose(res.seconds_per_sample, res.seconds_per_step / res.batch_sizes)
    assert np.allclose(res.samples_per_second, res.batch_sizes / res.seconds_per_step)
    assert res.repeats == 2 and res.model.startswith("SoftmaxRegression(")
    assert np.array_equal(model.get_flat(), before)  # timing never trains
    lines = res.as_table().splitlines()
    assert len(lines) == 2 + 4 and lines[1].split()[0] == "B"


def test_peak_memory_grows_with_the_batch(digits_train: tuple) -> None:
    X, y = digits_train
    model = MLP([64, 128, 10], seed=0)
    m16, m1024, m4096 = (peak_memory(model, X, y, b) for b in (16, 1024, 4096))
    # The hidden activations alone take B·128·8 bytes: 1 MiB more at B=1024 than at 16.
    assert m1024 - m16 > (1024 - 16) * 128 * 8
    assert m4096 > 3 * m1024 > 0  # close to linear growth


def test_memory_is_measured_in_quick_mode_too(digits_train: tuple) -> None:
    X, y = digits_train
    res = measure_speed(SoftmaxRegression(64, 10), X, y, quick=True)
    assert res.batch_sizes.tolist() == [1, 16, 128, 1024]
    assert res.peak_bytes[-1] > res.peak_bytes[1] > 0
    no_mem = measure_speed(SoftmaxRegression(64, 10), X, y, [2, 4], memory=False,
                           repeats=1, min_time=0.0)
    assert no_mem.peak_bytes.tolist() == [0, 0]


def test_tracemalloc_state_is_restored(digits_train: tuple) -> None:
    X, y = digits_train
    model = SoftmaxRegression(64, 10)
    assert not tracemalloc.is_tracing()
    peak_memory(model, X, y, 8)
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        peak_memory(model, X, y, 8)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


def test_batch_rows_repeats_the_data() -> None:
    X = np.arange(8.0).reshape(4, 2)
    Xb, yb = batch_rows(X, np.arange(4), 10)
    assert yb.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert np.array_equal(Xb[4], X[0]) and Xb.flags["C_CONTIGUOUS"]
    with pytest.raises(ValueError, match="same, non-zero number of rows"):
        batch_rows(X, np.arange(3), 2)


def test_bad_arguments(digits_train: tuple) -> None:
    X, y = digits_train
    model = SoftmaxRegression(64, 10)
    with pytest.raises(TypeError, match=r"model must be a companion.core.models model .*got object, which lacks param_names"):
        measure_speed(object(), X, y)
    with pytest.raises(ValueError, match=r"batch_sizes\[1\] must be a positive int; got 0"):
        measure_speed(model, X, y, [1, 0])
    with pytest.raises(ValueError, match="repeats must be a positive int; got 0"):
        time_step(model, X, y, 4, repeats=0)
    with pytest.raises(ValueError, match="min_time must be a finite real number >= 0"):
        time_step(model, X, y, 4, min_time=-1.0)
