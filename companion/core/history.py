"""What :func:`companion.fit` records: per-epoch metrics (Keras-shaped) and one row per update.

>>> log = StepLog(capacity=3)
>>> len(log), log.fields[:3]
(0, ('step', 'epoch', 'batch_size'))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from companion.core._validation import _describe, check_each, check_nonnegative_int

if TYPE_CHECKING:
    from companion.core.batching import BatchPlan
    from companion.core.models import Model


def _check_metric(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a metric name (a non-empty str); got {_describe(value)}")
    return value

STEP_FIELDS: dict[str, type] = {
    "step": np.int64,
    "epoch": np.int64,
    "batch_size": np.int64,
    "samples_seen": np.int64,
    "loss": np.float64,
    "grad_norm": np.float64,
    "lr": np.float64,
    "time": np.float64,
}
"""The columns of :class:`StepLog` and their dtypes."""


class StepLog:
    """One row per parameter update, in preallocated NumPy columns.

    Columns (see :data:`STEP_FIELDS`):

    * ``step`` — 1-based number of the update (the k-th update has step k);
    * ``epoch`` — 0-based epoch the update belongs to;
    * ``batch_size`` — samples in the update (all micro-batches when accumulating);
    * ``samples_seen`` — samples processed up to and including this update;
    * ``loss`` — mean loss of the update's samples, from the forward pass before it;
    * ``grad_norm`` — L2 norm of the update's gradient (before weight decay);
    * ``lr`` — learning rate used;
    * ``time`` — seconds since ``fit`` started (``time.perf_counter``), after the update.

    ``log["loss"]`` returns the column trimmed to the rows written (a read-only view);
    ``log[i]`` returns row ``i`` as a dict; ``len(log)`` counts the rows.

    Args:
        capacity: Number of rows to allocate.

    >>> log = StepLog(capacity=4)
    >>> log.append(epoch=0, batch_size=32, loss=2.3, grad_norm=1.0, lr=0.1, time=0.01)
    >>> len(log), log["loss"].tolist(), log["samples_seen"].tolist()
    (1, [2.3], [32])
    """

    def __init__(self, capacity: int) -> None:
        n = check_nonnegative_int(capacity, "capacity")
        self._columns = {name: np.empty(n, dtype=dt) for name, dt in STEP_FIELDS.items()}
        self._n = 0

    @property
    def capacity(self) -> int:
        """Number of rows allocated."""
        return len(self._columns["step"])

    def buffer(self, field: str) -> np.ndarray:
        """The whole preallocated, writable column ``field`` (for fast loops such as fit's).

        Rows ``len(log)`` and beyond are scratch: a loop writes row ``i`` there, then
        calls :meth:`set_length` with ``i + 1`` to record it.

        >>> log = StepLog(capacity=2); log.buffer("loss")[0] = 0.5; log.set_length(1)
        >>> log["loss"].tolist()
        [0.5]
        """
        if field not in self._columns:
            raise KeyError(f"unknown field {field!r}; fields are {list(STEP_FIELDS)}")
        return self._columns[field]

    def set_length(self, n: int) -> None:
        """Record the first ``n`` rows of the buffers (0 <= n <= capacity).

        >>> log = StepLog(capacity=1); log.set_length(2)
        Traceback (most recent call last):
        ...
        ValueError: n must be <= capacity=1; got 2
        """
        k = check_nonnegative_int(n, "n")
        if k > self.capacity:
            raise ValueError(f"n must be <= capacity={self.capacity}; got {k}")
        self._n = k

    @property
    def fields(self) -> tuple[str, ...]:
        """The column names."""
        return tuple(STEP_FIELDS)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, key: str | int) -> np.ndarray | dict[str, int | float]:
        if isinstance(key, str):
            if key not in self._columns:
                raise KeyError(f"unknown field {key!r}; fields are {list(STEP_FIELDS)}")
            view = self._columns[key][: self._n]
            view.flags.writeable = False
            return view
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            i = int(key) + (self._n if key < 0 else 0)
            if not 0 <= i < self._n:
                raise IndexError(f"row index out of range: {key} (the log has {self._n} rows)")
            return {name: col[i].item() for name, col in self._columns.items()}
        raise TypeError(f"index must be a field name (str) or a row number (int); got {key!r}")

    def as_dict(self) -> dict[str, np.ndarray]:
        """Every column, trimmed, as independent (writable) copies.

        >>> sorted(StepLog(capacity=2).as_dict())[:2]
        ['batch_size', 'epoch']
        """
        return {name: col[: self._n].copy() for name, col in self._columns.items()}

    def append(self, *, epoch: int, batch_size: int, loss: float, grad_norm: float,
               lr: float, time: float) -> None:
        """Add one row (``step`` and ``samples_seen`` follow); for hand-written loops."""
        i, c = self._n, self._columns
        if i == len(c["step"]):
            raise IndexError(f"the log is full ({i} rows)")
        c["step"][i] = i + 1
        c["epoch"][i] = epoch
        c["batch_size"][i] = batch_size
        c["samples_seen"][i] = (c["samples_seen"][i - 1] if i else 0) + batch_size
        c["loss"][i], c["grad_norm"][i], c["lr"][i], c["time"][i] = loss, grad_norm, lr, time
        self._n = i + 1

    def __repr__(self) -> str:
        return f"StepLog({self._n} rows; fields {', '.join(STEP_FIELDS)})"


class History:
    """The record of one :func:`companion.fit` run, shaped like Keras's ``History``.

    Attributes:
        history: Per-epoch metrics, ``{"loss": [...], "val_loss": [...], ...}``. ``loss``
            (and ``accuracy`` for classifiers) is the sample-weighted mean over the epoch's
            batches, Σ n_b·loss_b / Σ n_b, as Keras >= 3.2 and scikit-learn report it.
        history_batch_mean_loss: Per epoch, the plain mean of the batch losses (one per
            update), as older Keras and many hand-written loops report it — kept to show
            the difference.
        epoch: Epoch numbers that have an entry in ``history`` (0-based).
        steps: The :class:`StepLog`, one row per update.
        settings: The run's settings (n_samples, batch_size, epochs, remainder, shuffle,
            seed, accumulate, steps, optimizer, divergence_factor). (``model.params`` are
            the weights; these are the arguments of the run.)
        plan: The :class:`~companion.core.batching.BatchPlan` used.
        model: The model trained (updated in place).
        stop_training: Set it to True (e.g. from a callback) to stop after the current step.
        stop_reason: ``"completed"``, ``"early_stopping"``, ``"diverged"`` or
            ``"interrupted"`` (``"running"`` during fit).
        message: Why training stopped, in words (empty when it completed).
        interrupted: True when a KeyboardInterrupt ended the run.

    >>> h = History(metrics=["loss", "val_loss"])
    >>> h.history, h.stop_reason
    ({'loss': [], 'val_loss': []}, 'running')
    >>> History(metrics="loss")
    Traceback (most recent call last):
    ...
    TypeError: metrics must be a sequence, e.g. ["loss", "val_loss"]; got 'loss'
    """

    def __init__(self, metrics: Sequence[str] = ("loss",), capacity: int = 0) -> None:
        names = check_each(metrics, "metrics", _check_metric, example='["loss", "val_loss"]')
        if len(set(names)) != len(names):
            raise ValueError(f"metrics must not repeat a name; got {names}")
        self.history: dict[str, list[float]] = {m: [] for m in names}
        self.history_batch_mean_loss: list[float] = []
        self.epoch: list[int] = []
        self.steps = StepLog(capacity)
        self.settings: dict[str, object] = {}
        self.plan: BatchPlan | None = None
        self.model: Model | None = None
        self.stop_training = False
        self.stop_reason = "running"
        self.message = ""
        self.interrupted = False

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return (
            f"History(epochs={len(self.epoch)}, steps={len(self.steps)}, "
            f"stop_reason={self.stop_reason!r}, last={last})"
        )
