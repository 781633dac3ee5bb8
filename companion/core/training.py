"""``fit``: mini-batch training of a :mod:`companion.core.models` model, recorded step by step.

>>> from companion.core.datasets import two_class
>>> from companion.core.models import SoftmaxRegression
>>> X, y = two_class(n=200, seed=0)
>>> history = fit(SoftmaxRegression(2, 2), X, y, batch_size=50, epochs=3, seed=0, progress=False)
>>> len(history.steps), history.stop_reason, len(history.history["loss"])
(12, 'completed', 3)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from companion.core._validation import check_bool, check_positive_int
from companion.core.batching import BatchPlan
from companion.core.callbacks import Callback
from companion.core.history import History
from companion.core.models import Model, check_model
from companion.core.optim import SGD

_REFRESH_SECONDS = 0.25  # the progress bar is redrawn at most 4 times a second


def _update_sizes(batch_sizes: tuple[int, ...], accumulate: int) -> list[int]:
    """Samples per update when ``accumulate`` consecutive batches make one update."""
    return [sum(batch_sizes[i : i + accumulate]) for i in range(0, len(batch_sizes), accumulate)]


def _check_callbacks(callbacks: Any) -> list[Callback]:
    if isinstance(callbacks, (tuple, list)) and not callbacks:
        return []
    if isinstance(callbacks, Callback) or not isinstance(callbacks, Iterable):
        raise TypeError(
            f"callbacks must be an iterable of Callback, e.g. [EarlyStopping()]; got {callbacks!r}"
        )
    checked = list(callbacks)
    for i, cb in enumerate(checked):
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks[{i}] must be a Callback; got {cb!r}")
    return checked


def _check_validation(model: Model, validation_data: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise TypeError(
            f"validation_data must be None or a pair (X_val, y_val); got {type(validation_data).__name__}"
            + (f" of length {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else "")
        )
    return model._check_Xy(*validation_data, "validation_data[0]", "validation_data[1]")


def fit(
    model: Model,
    X: Any,
    y: Any,
    batch_size: int | None = None,
    epochs: int = 1,
    optimizer: SGD | None = None,
    remainder: str = "keep",
    shuffle: bool = True,
    seed: int | None = None,
    validation_data: tuple[Any, Any] | None = None,
    accumulate: int = 1,
    callbacks: Iterable[Callback] = (),
    progress: bool = True,
) -> History:
    """Train ``model`` in place with mini-batch SGD and return its :class:`History`.

    The batches come from ``BatchPlan(len(X), batch_size, remainder, shuffle, seed)``
    (see :class:`~companion.core.batching.BatchPlan`). Each update computes the loss and its
    gradient on one batch in a single forward/backward pass, then calls the optimiser.

    Recording (see :class:`~companion.core.history.History`): ``history.steps`` has one row
    per update; ``history.history["loss"]`` (and ``"accuracy"`` for classifiers) holds
    per epoch the sample-weighted mean Σ n_b·loss_b / Σ n_b of the batch losses, each
    measured in the forward pass *before* that batch's update (as Keras reports it);
    ``"val_loss"``/``"val_accuracy"`` are computed on ``validation_data`` after each epoch.
    ``history.history_batch_mean_loss`` keeps the plain mean of the batch losses.

    Gradient accumulation: with ``accumulate=k`` the gradients of k consecutive batches
    of ``batch_size`` make one update, weighted by their sizes, Σ n_i·g_i / Σ n_i (the
    mean over all the update's samples, not a mean of means), and the parameters change
    only after the k-th batch. At the end of an epoch the leftover batches (fewer than
    k) make one smaller update, as in Hugging Face ``Trainer``. A plan's order depends
    only on (``n_samples``, ``seed``, epoch), so ``accumulate=k, batch_size=b`` and
    ``batch_size=k·b`` see the same samples in the same updates, with or without
    shuffling, whenever k·b divides N: their parameters agree to rounding error.
    ``history.steps`` has one row per update; its ``batch_size`` is the update's samples.

    Stopping: a callback may set ``history.stop_training``
    (``stop_reason="early_stopping"``). A non-finite batch loss or gradient stops
    training before that update is applied (``stop_reason="diverged"``, a
    ``RuntimeWarning`` naming the step and epoch); if an update made the parameters
    non-finite they are restored to before it. A KeyboardInterrupt (Ctrl-C) is caught:
    the history so far is returned with ``interrupted=True``. In every case the
    epochs that ran have their entry in ``history.history`` (a partial last epoch too,
    except after an interrupt) and ``on_train_end`` is called.

    Args:
        model: A :class:`~companion.core.models.Model`; updated in place (like Keras).
        X: Inputs, 2-D, finite, ``model.n_features`` columns.
        y: Targets: integer labels for classifiers, values for regression.
        batch_size: Samples per batch (positive int), None for 32.
        epochs: Passes over the data (positive int).
        optimizer: An :class:`~companion.core.optim.SGD` (its state carries over between
            runs); None for ``SGD(0.01)``.
        remainder: What to do with the last partial batch, see
            :data:`~companion.core.batching.REMAINDERS`.
        shuffle: New random order every epoch.
        seed: Seed of the shuffling; None draws one (stored in ``history.params``).
        validation_data: None or ``(X_val, y_val)``.
        accumulate: Batches per update (positive int).
        callbacks: :class:`~companion.core.callbacks.Callback` objects.
        progress: Show a ``tqdm`` progress bar (redrawn a few times a second).

    Returns:
        The :class:`~companion.core.history.History` of the run.

    >>> from companion.core.datasets import multi_class
    >>> from companion.core.models import MLP
    >>> X, y = multi_class(n=300, n_classes=3, seed=0)
    >>> h = fit(MLP([2, 8, 3]), X, y, batch_size=64, epochs=2, optimizer=SGD(0.1),
    ...         accumulate=2, seed=0, progress=False)
    >>> h.steps["batch_size"].tolist()  # 5 batches per epoch: 2 + 2 + 1 per update
    [128, 128, 44, 128, 128, 44]
    """
    check_model(model)
    Xc, yc = model._check_Xy(X, y)
    val = _check_validation(model, validation_data)
    n_epochs: int = check_positive_int(epochs, "epochs")  # type: ignore[assignment]
    k: int = check_positive_int(accumulate, "accumulate")  # type: ignore[assignment]
    if optimizer is None:
        optimizer = SGD(0.01)
    elif not isinstance(optimizer, SGD):
        raise TypeError(f"optimizer must be an SGD or None; got {type(optimizer).__name__}")
    cbs = _check_callbacks(callbacks)
    show = check_bool(progress, "progress")
    plan = BatchPlan(len(Xc), batch_size, remainder, shuffle, seed)

    if plan.remainder == "carry":
        updates = [-(-plan.steps_in_epoch(e) // k) for e in range(n_epochs)]
    else:
        updates = [-(-plan.steps_per_epoch // k)] * n_epochs
    metrics = ["loss"] + (["accuracy"] if model.is_classifier else [])
    metrics += ["val_" + m for m in metrics] if val is not None else []
    history = History(metrics, capacity=sum(updates))
    history.plan, history.model = plan, model
    history.params = {
        "n_samples": plan.n_samples, "batch_size": plan.batch_size, "epochs": n_epochs,
        "remainder": plan.remainder, "shuffle": plan.shuffle, "seed": plan.seed,
        "accumulate": k, "steps": sum(updates), "optimizer": repr(optimizer),
    }
    for cb in cbs:
        cb.history = history
    for cb in cbs:
        cb.on_train_begin(history)

    _Loop(model, Xc, yc, val, plan, optimizer, k, cbs, history, updates, show).run()

    for cb in cbs:
        cb.on_train_end(history)
    return history


class _Loop:
    """The training loop of :func:`fit`, kept lean: every per-step cost is counted."""

    def __init__(
        self, model: Model, X: np.ndarray, y: np.ndarray,
        val: tuple[np.ndarray, np.ndarray] | None, plan: BatchPlan, optimizer: SGD, k: int,
        callbacks: list[Callback], history: History, updates: list[int], progress: bool,
    ) -> None:
        self.model, self.X, self.y, self.val, self.plan = model, X, y, val, plan
        self.opt, self.k, self.history, self.updates = optimizer, k, history, updates
        self.callbacks = callbacks
        self.step_callbacks = [
            cb for cb in callbacks if type(cb).on_step_end is not Callback.on_step_end
        ]
        self.progress = progress
        self.rows = 0  # updates recorded so far
        self.epoch = 0
        theta = model._flat
        self.prev = np.empty_like(theta)  # parameters before the latest update
        self.grad = np.empty_like(theta)  # the update's gradient
        self.micro = np.empty_like(theta) if k > 1 else self.grad  # one batch's gradient
        self.applying = -1  # row whose update is being applied (for Ctrl-C consistency)

    # -- the run --------------------------------------------------------------------------
    def run(self) -> None:
        history = self.history
        self.t_start = self.opt.iterations
        self.bar = self._make_bar() if self.progress else None
        self.t0 = time.perf_counter()
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported instead
                self._run_epochs()
        except KeyboardInterrupt:
            self._interrupted()
        finally:
            history.steps._n = self.rows
            if self.bar is not None:
                self._refresh_bar()
                self.bar.close()
        if history.stop_reason == "running":
            history.stop_reason = "early_stopping" if history.stop_training else "completed"
            if history.stop_training and not history.message:
                history.message = (
                    f"Training stopped by a callback in epoch {self.epoch} after "
                    f"{self.rows} steps"
                )

    def _run_epochs(self) -> None:
        history = self.history
        for epoch in range(len(self.updates)):
            self.epoch = epoch
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch)
            finished = self._run_epoch(epoch)
            diverged = history.stop_reason == "diverged"
            if not diverged and self._epoch_updates and not np.isfinite(self.model._flat).all():
                self._diverged_after_update()
            if finished or self._epoch_updates:
                self._end_epoch(epoch)
            if history.stop_training or history.stop_reason == "diverged":
                break

    def _run_epoch(self, epoch: int) -> bool:
        """Run one epoch's updates; False if it stopped early."""
        model, X, y, k, opt, history = self.model, self.X, self.y, self.k, self.opt, self.history
        batches = self.plan.epoch(epoch)
        sizes = self.plan._sizes(epoch)
        if k > 1:
            sizes = _update_sizes(sizes, k)
        first = self.rows
        cols = history.steps._columns
        stop = first + len(sizes)
        cols["step"][first:stop] = np.arange(first + 1, stop + 1)
        cols["epoch"][first:stop] = epoch
        cols["batch_size"][first:stop] = sizes
        seen_before = int(cols["samples_seen"][first - 1]) if first else 0
        cols["samples_seen"][first:stop] = seen_before + np.cumsum(sizes, dtype=np.int64)
        loss_col, norm_col, lr_col, time_col = cols["loss"], cols["grad_norm"], cols["lr"], cols["time"]

        theta, prev, g, micro = model._flat, self.prev, self.grad, self.micro
        take_X, take_y = X.take, y.take  # faster than fancy indexing X[idx], same values
        forward_backward = model._forward_backward
        count_correct = model.is_classifier
        update, isfinite, perf_counter = opt._update, math.isfinite, time.perf_counter
        schedule = callable(opt.lr)
        lr = opt.current_lr
        step_callbacks, bar = self.step_callbacks, self.bar
        t0, next_refresh = self.t0, self.t0 + _REFRESH_SECONDS
        loss_sum = 0.0  # Σ n_b·loss_b
        batch_mean_sum = 0.0  # Σ loss_b (one per update)
        n_seen = n_correct = 0
        self._epoch_n = self._epoch_updates = 0
        i = first
        try:
            for u, n_b in enumerate(sizes):
                if k == 1:
                    idx = batches[u]
                    loss, correct = forward_backward(take_X(idx, 0), take_y(idx, 0), g, count_correct)
                else:
                    loss, correct = 0.0, 0
                    for j, idx in enumerate(batches[u * k : (u + 1) * k]):
                        part_loss, part_correct = forward_backward(
                            take_X(idx, 0), take_y(idx, 0), micro, count_correct
                        )
                        m = len(idx)
                        micro *= m
                        if j == 0:
                            g[...] = micro
                        else:
                            g += micro
                        loss += m * part_loss
                        correct += part_correct
                    g /= n_b
                    loss /= n_b
                sq_norm = float(np.dot(g, g))
                if schedule:
                    lr = opt.current_lr
                if not (isfinite(loss) and isfinite(sq_norm)):
                    self._diverged(i, epoch, loss, sq_norm, lr)
                    return False
                np.copyto(prev, theta)
                self.applying = i
                update("params", theta, g, lr)
                opt._t += 1
                now = perf_counter()
                loss_col[i] = loss
                norm_col[i] = math.sqrt(sq_norm)
                lr_col[i] = lr
                time_col[i] = now - t0
                i += 1
                self.rows = i
                loss_sum += n_b * loss
                batch_mean_sum += loss
                n_seen += n_b
                n_correct += correct
                if step_callbacks:
                    self._step_end(i, epoch, n_b, loss, sq_norm, lr)
                    if history.stop_training:
                        return False
                if bar is not None and now >= next_refresh:
                    next_refresh = now + _REFRESH_SECONDS
                    self._progress_stats = (epoch, loss_sum / n_seen)
                    self._refresh_bar()
        finally:
            self._epoch_n, self._epoch_updates = n_seen, i - first
            self._epoch_sums = (loss_sum, batch_mean_sum, n_correct)
            self._progress_stats = (epoch, loss_sum / n_seen if n_seen else math.nan)
        return True

    def _step_end(self, step: int, epoch: int, n_b: int, loss: float, sq_norm: float,
                  lr: float) -> None:
        cols = self.history.steps._columns
        logs = {
            "epoch": epoch, "batch_size": n_b, "samples_seen": int(cols["samples_seen"][step - 1]),
            "loss": loss, "grad_norm": math.sqrt(sq_norm), "lr": lr,
        }
        for cb in self.step_callbacks:
            cb.on_step_end(step, logs)

    def _end_epoch(self, epoch: int) -> None:
        """Record the epoch's metrics and call ``on_epoch_end``."""
        history, model = self.history, self.model
        loss_sum, batch_mean_sum, n_correct = self._epoch_sums
        n, updates = self._epoch_n, self._epoch_updates
        logs = {"loss": loss_sum / n if n else math.nan}
        if model.is_classifier:
            logs["accuracy"] = n_correct / n if n else math.nan
        if self.val is not None:
            val_loss, val_correct = model._evaluate(*self.val)
            logs["val_loss"] = val_loss
            if model.is_classifier:
                logs["val_accuracy"] = val_correct / len(self.val[1])
        for key, value in logs.items():
            history.history[key].append(value)
        history.history_batch_mean_loss.append(batch_mean_sum / updates if updates else math.nan)
        history.epoch.append(epoch)
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, dict(logs))

    # -- the ways training ends early -----------------------------------------------------------
    def _diverged(self, row: int, epoch: int, loss: float, sq_norm: float, lr: float) -> None:
        theta = self.model._flat
        restored = ""
        if not np.isfinite(theta).all() and self.rows:
            np.copyto(theta, self.prev)
            restored = " (the previous update had made them non-finite, so it was undone)"
        self._stop_diverged(
            f"Training diverged at step {row + 1} (epoch {epoch}): the batch loss is {loss!r} "
            f"and the gradient norm is {math.sqrt(sq_norm)!r}. "
            f"The parameters were left as they were before this update{restored}. "
            f"Try a smaller learning rate (lr was {lr:g}).",
            stacklevel=7,
        )

    def _diverged_after_update(self) -> None:
        np.copyto(self.model._flat, self.prev)
        self._stop_diverged(
            f"Training diverged at step {self.rows} (epoch {self.epoch}): the update made the "
            f"parameters non-finite, so it was undone. Try a smaller learning rate "
            f"(lr was {self.history.steps._columns['lr'][self.rows - 1]:g}).",
            stacklevel=6,
        )

    def _stop_diverged(self, message: str, stacklevel: int) -> None:
        history = self.history
        history.stop_reason, history.message = "diverged", message
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)

    def _interrupted(self) -> None:
        history = self.history
        if self.applying == self.rows:  # Ctrl-C landed inside an unrecorded update: undo it
            np.copyto(self.model._flat, self.prev)
        self.opt._t = self.t_start + self.rows
        history.interrupted = True
        history.stop_reason = "interrupted"
        history.message = (
            f"Training interrupted (KeyboardInterrupt) in epoch {self.epoch} after "
            f"{self.rows} steps; the history so far is returned"
        )
        warnings.warn(history.message, UserWarning, stacklevel=4)

    # -- progress bar ----------------------------------------------------------------------------
    def _make_bar(self) -> Any:
        from tqdm.auto import tqdm

        self._progress_stats = (0, math.nan)
        return tqdm(
            total=sum(self.updates), unit="step", mininterval=_REFRESH_SECONDS,
            desc=f"epoch 1/{len(self.updates)}",
        )

    def _refresh_bar(self) -> None:
        bar = self.bar
        epoch, running_loss = self._progress_stats
        bar.set_description_str(f"epoch {epoch + 1}/{len(self.updates)}", refresh=False)
        bar.set_postfix_str(f"loss={running_loss:.4f}", refresh=False)
        bar.update(self.rows - bar.n)
