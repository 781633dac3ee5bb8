"""How fast and how memory-hungry is one training step, per batch size?

One step is a forward and backward pass, ``model.loss_and_grad(X_batch, y_batch)``. Two
curves tell the story of the hardware side of the batch-size choice:

* **time per sample** falls steeply at first — a batch of 1 spends most of its time in
  Python and NumPy call overhead, and vectorised matrix products do 64 rows for little more
  than the price of one — and then flattens once the arithmetic itself dominates (the
  "vectorisation knee"); beyond it a larger batch buys no more throughput;
* **peak memory** of a step grows linearly with the batch, because every activation and
  every per-row temporary has one row per sample.

Times are the best of several repeats measured with ``time.perf_counter`` (the minimum is
the least disturbed by other processes); memory is the peak traced by ``tracemalloc``, which
sees every NumPy allocation. Batches larger than the data are made by repeating its rows.

>>> from companion.core.models import SoftmaxRegression
>>> X, y = np.random.default_rng(0).random((50, 4)), np.arange(50) % 3
>>> res = measure_speed(SoftmaxRegression(4, 3), X, y, [1, 64], repeats=2, min_time=1e-4)
>>> res.batch_sizes.tolist(), bool(res.peak_bytes[1] > res.peak_bytes[0])
([1, 64], True)
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from companion.core._validation import (
    check_batch_size,
    check_batch_sizes,
    check_bool,
    check_positive_int,
    check_real,
)
from companion.core.models import Model, check_model


def batch_rows(X: ArrayLike, y: ArrayLike, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``batch_size`` rows of ``(X, y)``, repeating the data if it is shorter.

    Args:
        X: Inputs, ``N`` rows.
        y: Targets, ``N`` rows.
        batch_size: Rows wanted (may exceed ``N``).

    Returns:
        Contiguous copies ``(X_b, y_b)`` with ``batch_size`` rows.

    >>> Xb, yb = batch_rows(np.arange(6.0).reshape(3, 2), np.array([0, 1, 2]), 5)
    >>> yb.tolist()
    [0, 1, 2, 0, 1]
    """
    b = check_batch_size(batch_size, "batch_size")
    X_arr, y_arr = np.asarray(X), np.asarray(y)
    if len(X_arr) == 0 or len(X_arr) != len(y_arr):
        raise ValueError(
            f"X and y must have the same, non-zero number of rows; got {len(X_arr)} and "
            f"{len(y_arr)}"
        )
    idx = np.arange(b) % len(X_arr)
    return np.ascontiguousarray(X_arr[idx]), np.ascontiguousarray(y_arr[idx])


def time_step(
    model: Model,
    X: ArrayLike,
    y: ArrayLike,
    batch_size: int,
    *,
    repeats: int = 5,
    min_time: float = 0.02,
) -> float:
    """Seconds for one forward+backward pass on a batch of ``batch_size`` rows (best of repeats).

    Each repeat calls ``model.loss_and_grad`` enough times in a row to take at least
    ``min_time`` seconds (the count is found first, doubling from 1), and the time per call
    of the fastest repeat is returned.

    Args:
        model: A :mod:`companion.core.models` model.
        X: Inputs (rows are repeated if fewer than ``batch_size``).
        y: Targets.
        batch_size: Rows per call.
        repeats: Number of timed repeats.
        min_time: Minimum duration of one repeat, in seconds.

    Returns:
        Seconds per call.

    A pass that sleeps 1 ms takes at least 1 ms per call (``time.sleep`` never wakes early),
    however many calls a repeat holds:

    >>> from companion.core.models import LinearRegression
    >>> class Slow(LinearRegression):
    ...     def loss_and_grad(self, X, y):
    ...         time.sleep(0.001)
    ...         return super().loss_and_grad(X, y)
    >>> t = time_step(Slow(3), np.ones((4, 3)), np.ones(4), 8, repeats=2, min_time=0.004)
    >>> t >= 0.001
    True
    """
    check_model(model)
    r = check_positive_int(repeats, "repeats")
    floor = check_real(min_time, "min_time", low=0.0)
    Xb, yb = batch_rows(X, y, batch_size)
    model.loss_and_grad(Xb, yb)  # warm up caches and lazy imports
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            model.loss_and_grad(Xb, yb)
        elapsed = time.perf_counter() - t0
        if elapsed >= floor or number >= 1 << 20:
            break
        number *= 2
    best = elapsed / number
    for _ in range(r - 1):
        t0 = time.perf_counter()
        for _ in range(number):
            model.loss_and_grad(Xb, yb)
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def peak_memory(model: Model, X: ArrayLike, y: ArrayLike, batch_size: int) -> int:
    """Peak bytes allocated during one forward+backward pass (``tracemalloc``).

    The batch is built before tracing starts, so only what the step itself allocates
    (activations, temporaries, the gradient) is counted. If ``tracemalloc`` was already
    tracing, its state is left as it was.

    Args:
        model: A :mod:`companion.core.models` model.
        X: Inputs.
        y: Targets.
        batch_size: Rows in the batch.

    Returns:
        Peak traced bytes above the level at the start of the step.

    >>> from companion.core.models import LinearRegression
    >>> m = LinearRegression(3)
    >>> peak_memory(m, np.ones((4, 3)), np.ones(4), 1000) > peak_memory(m, np.ones((4, 3)),
    ...                                                                 np.ones(4), 10)
    True
    """
    check_model(model)
    Xb, yb = batch_rows(X, y, batch_size)
    model.loss_and_grad(Xb, yb)  # allocate lazily created state outside the measurement
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        model.loss_and_grad(Xb, yb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return int(peak - base)


@dataclass(frozen=True)
class SpeedResult:
    """Time and memory of one forward+backward pass per batch size.

    Attributes:
        batch_sizes: The batch sizes ``B``.
        seconds_per_step: Best time of one ``loss_and_grad`` call.
        seconds_per_sample: ``seconds_per_step / B``.
        peak_bytes: Peak memory allocated by one call (``0`` where not measured).
        model: ``repr`` of the model measured.
        repeats: Timed repeats per batch size.
    """

    batch_sizes: np.ndarray
    seconds_per_step: np.ndarray
    seconds_per_sample: np.ndarray
    peak_bytes: np.ndarray
    model: str
    repeats: int

    @property
    def samples_per_second(self) -> np.ndarray:
        """Throughput ``B / seconds_per_step``."""
        return self.batch_sizes / self.seconds_per_step

    def as_table(self) -> str:
        """A plain-text table: B, µs per step, µs per sample, samples/s, peak KiB.

        Returns:
            The table as a string.
        """
        lines = [
            f"# {self.model}: best of {self.repeats} repeats",
            f"{'B':>6}   {'µs/step':<10}  {'µs/sample':<10}  {'samples/s':<10}  peak KiB",
        ]
        for b, t, ts, th, mem in zip(
            self.batch_sizes,
            self.seconds_per_step,
            self.seconds_per_sample,
            self.samples_per_second,
            self.peak_bytes,
            strict=True,
        ):
            lines.append(
                f"{int(b):>6}   {t * 1e6:<10.4g}  {ts * 1e6:<10.4g}  {th:<10.4g}  {mem / 1024:.1f}"
            )
        return "\n".join(lines)


#: Default batch sizes of :func:`measure_speed`.
DEFAULT_BATCH_SIZES: dict[bool, tuple[int, ...]] = {
    False: tuple(2**k for k in range(13)),
    True: (1, 16, 128, 1024),
}


def measure_speed(
    model: Model,
    X: ArrayLike,
    y: ArrayLike,
    batch_sizes: Sequence[int] | None = None,
    *,
    repeats: int | None = None,
    min_time: float | None = None,
    memory: bool = True,
    quick: bool = False,
) -> SpeedResult:
    """Time and peak memory of one forward+backward pass of ``model`` for each batch size.

    Args:
        model: A :mod:`companion.core.models` model (its parameters are not changed).
        X: Inputs; rows are repeated for batches larger than the data.
        y: Targets.
        batch_sizes: Default ``1, 2, 4, …, 4096`` (``1, 16, 128, 1024`` with ``quick``).
        repeats: Timed repeats per batch size (default 5, or 3 with ``quick``).
        min_time: Minimum seconds per repeat (default 0.02, or 0.002 with ``quick``).
        memory: Also measure peak memory (a separate, traced call).
        quick: Fewer batch sizes and shorter timings (well under a second).

    Returns:
        A :class:`SpeedResult`.
    """
    check_model(model)
    quick = check_bool(quick, "quick")
    memory = check_bool(memory, "memory")
    sizes = check_batch_sizes(
        DEFAULT_BATCH_SIZES[quick] if batch_sizes is None else batch_sizes, "batch_sizes"
    )
    r = check_positive_int(3 if quick else 5, "repeats") if repeats is None else (
        check_positive_int(repeats, "repeats")
    )
    floor = (0.002 if quick else 0.02) if min_time is None else check_real(
        min_time, "min_time", low=0.0
    )
    per_step = np.array(
        [time_step(model, X, y, int(b), repeats=r, min_time=floor) for b in sizes]
    )
    peaks = np.array(
        [peak_memory(model, X, y, int(b)) if memory else 0 for b in sizes], dtype=np.int64
    )
    return SpeedResult(
        batch_sizes=sizes,
        seconds_per_step=per_step,
        seconds_per_sample=per_step / sizes,
        peak_bytes=peaks,
        model=repr(model),
        repeats=r,
    )
