"""Hooks into :func:`companion.fit`: a :class:`Callback` base class and :class:`EarlyStopping`.

A callback stops training by setting ``self.history.stop_training = True`` (fit gives
every callback the run's :class:`~companion.core.history.History` as ``self.history`` before
``on_train_begin``); it may also explain why in ``self.history.message``.

>>> from companion import SGD, fit
>>> from companion.core.datasets import two_class
>>> from companion.core.models import SoftmaxRegression
>>> class StopAfter(Callback):
...     def __init__(self, n):
...         self.n = n
...     def on_step_end(self, step, logs):
...         if step == self.n:
...             self.history.stop_training = True
>>> X, y = two_class(n=100, seed=0)
>>> h = fit(SoftmaxRegression(2, 2), X, y, batch_size=10, epochs=5, callbacks=[StopAfter(3)])
>>> len(h.steps), h.stop_reason, h.epoch
(3, 'early_stopping', [0])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from companion.core._validation import check_bool, check_nonnegative_int, check_real
from companion.core.history import History


class Callback:
    """Base class of fit's hooks; override the ones you need (the others cost nothing).

    Hooks, in the order fit calls them:

    * ``on_train_begin(history)`` — once, before the first epoch;
    * ``on_epoch_begin(epoch)`` — 0-based epoch number;
    * ``on_step_end(step, logs)`` — after each update; ``step`` is 1-based and ``logs``
      holds ``epoch, batch_size, samples_seen, loss, grad_norm, lr`` of that update;
    * ``on_epoch_end(epoch, logs)`` — ``logs`` holds the epoch's metrics (``loss``,
      ``val_loss``, ...);
    * ``on_train_end(history)`` — once, however training ended.

    Attributes:
        history: The :class:`~companion.core.history.History` of the current run (set by fit).

    >>> from companion import fit
    >>> from companion.core.datasets import two_class
    >>> from companion.core.models import SoftmaxRegression
    >>> class Order(Callback):
    ...     def __init__(self):
    ...         self.calls = []
    ...     def on_train_begin(self, history):
    ...         self.calls.append("begin")
    ...     def on_epoch_end(self, epoch, logs):
    ...         self.calls.append(f"epoch {epoch}")
    ...     def on_train_end(self, history):
    ...         self.calls.append(history.stop_reason)
    >>> X, y = two_class(n=40, seed=0)
    >>> order = Order(); _ = fit(SoftmaxRegression(2, 2), X, y, epochs=2, callbacks=[order])
    >>> order.calls
    ['begin', 'epoch 0', 'epoch 1', 'completed']
    """

    history: History

    def on_train_begin(self, history: History) -> None:
        """Called once before training."""

    def on_epoch_begin(self, epoch: int) -> None:
        """Called at the start of every epoch."""

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        """Called after every update (only if a subclass overrides it)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Called at the end of every epoch with its metrics."""

    def on_train_end(self, history: History) -> None:
        """Called once after training, however it ended."""


class EarlyStopping(Callback):
    """Stop when a monitored metric has stopped improving (Keras's rule).

    After each epoch the monitored value improves if it beats the best so far by more
    than ``min_delta`` (lower is better, or higher for names containing ``"acc"``).
    Each epoch without improvement adds one to a counter that improvement resets;
    training stops when the counter reaches ``patience`` (``patience=0`` stops at the
    first epoch without improvement, like ``patience=1``, as in Keras).

    Args:
        monitor: A key of ``history.history``, e.g. ``"val_loss"`` (needs
            ``validation_data``), ``"loss"`` or ``"val_accuracy"``.
        patience: Epochs without improvement to tolerate (non-negative int).
        min_delta: Smallest change that counts as an improvement (>= 0).
        restore_best: When training ends (stopped early or not), put back the parameters
            of the best epoch. (Keras restores only when it stops early.)

    Attributes:
        best: Best monitored value so far.
        best_epoch: Epoch of ``best`` (None before the first epoch).
        stopped_epoch: Epoch at which it stopped training (None if it did not).

    >>> stopper = EarlyStopping(monitor="val_loss", patience=2)
    >>> stopper.mode
    'min'
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        restore_best: bool = False,
    ) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a metric name (str); got {monitor!r}")
        self.monitor = monitor
        self.patience = check_nonnegative_int(patience, "patience")
        self.min_delta = check_real(min_delta, "min_delta", low=0.0)
        self.restore_best = check_bool(restore_best, "restore_best")
        self.mode = "max" if "acc" in monitor else "min"
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0
        self._best_params: np.ndarray | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value + self.min_delta < self.best
        return value - self.min_delta > self.best

    def on_train_begin(self, history: History) -> None:
        """Check that the monitored metric will exist and reset the counters."""
        if self.monitor not in history.history:
            raise ValueError(
                f"EarlyStopping monitor={self.monitor!r} is not recorded by this fit; "
                f"available: {list(history.history)} (val_* metrics need validation_data)"
            )
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Update the best value and stop training when patience runs out."""
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self._best_params = self.history.model.get_flat()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.history.stop_training = True
            self.history.message = (
                f"EarlyStopping: {self.monitor} did not improve by more than {self.min_delta:g} "
                f"for {self.wait} epoch(s); best {self.best:.6g} at epoch {self.best_epoch}"
            )

    def on_train_end(self, history: History) -> None:
        """Restore the best epoch's parameters if asked to."""
        if self.restore_best and self._best_params is not None:
            history.model.set_flat(self._best_params)
            if history.message:
                history.message += f"; restored the parameters of epoch {self.best_epoch}"

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, restore_best={self.restore_best})"
        )
