"""``fit``: mini-batch training of a :mod:`companion.core.models` model, recorded step by step.

>>> from companion.core.datasets import two_class
>>> from companion.core.models import SoftmaxRegression
>>> X, y = two_class(n=200, seed=0)
>>> history = fit(SoftmaxRegression(2, 2), X, y, batch_size=50, epochs=3, seed=0)
>>> len(history.steps), history.stop_reason, len(history.history["loss"])
(12, 'completed', 3)

:func:`train_by_hand` is the same training written with the public API only, in the
order a course shows it (plan → batch → loss and gradient → optimiser step → record);
``fit`` computes exactly what it computes (a test holds them equal to 1e-12), faster.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from companion.core._validation import check_bool, check_positive_int, check_real
from companion.core.batching import BatchPlan
from companion.core.callbacks import Callback
from companion.core.history import History
from companion.core.models import Model, check_model, flatten
from companion.core.optim import SGD
from companion.core.progress import bars_enabled

if TYPE_CHECKING:
    from tqdm import tqdm

_REFRESH_SECONDS = 0.25  # the progress bar is redrawn at most 4 times a second
PROGRESS_DELAY_SECONDS = 2.0
"""The progress bar appears only once a run has lasted this long (``tqdm(delay=...)``)."""
DEFAULT_DIVERGENCE_FACTOR = 1e3
"""fit stops as diverged when a batch loss exceeds this multiple of the run's first batch loss."""


def new_history(model: Model, plan: BatchPlan, epochs: int, accumulate: int, optimizer: SGD, *,
                has_validation: bool, divergence_factor: float | None) -> tuple[History, list[int]]:
    """The empty History a run starts with, and its number of updates in each epoch.

    One place for what :func:`fit` and :func:`companion.sweep` record before training: the
    metrics (``loss``, ``accuracy`` for a classifier, their ``val_`` twins with validation data),
    room for every update, the plan, the model and the run's ``settings``. With ``carry`` an
    epoch's count depends on the epoch; otherwise it is ``ceil(steps_per_epoch / accumulate)``.

    >>> from companion.core.models import SoftmaxRegression
    >>> plan = BatchPlan(10, 4, remainder="carry", shuffle=False)
    >>> history, updates = new_history(SoftmaxRegression(2, 3), plan, 4, 1, SGD(0.1),
    ...                                has_validation=True, divergence_factor=None)
    >>> updates, history.settings["steps"], list(history.history)
    ([2, 3, 2, 3], 10, ['loss', 'accuracy', 'val_loss', 'val_accuracy'])
    """
    if plan.remainder == "carry":
        updates = [-(-plan.steps_in_epoch(e) // accumulate) for e in range(epochs)]
    else:
        updates = [-(-plan.steps_per_epoch // accumulate)] * epochs
    metrics = ["loss"] + (["accuracy"] if model.is_classifier else [])
    metrics += ["val_" + m for m in metrics] if has_validation else []
    history = History(metrics, capacity=sum(updates))
    history.plan, history.model = plan, model
    history.settings = {
        "n_samples": plan.n_samples, "batch_size": plan.batch_size, "epochs": epochs,
        "remainder": plan.remainder, "shuffle": plan.shuffle, "seed": plan.seed,
        "accumulate": accumulate, "steps": sum(updates), "optimizer": repr(optimizer),
        "divergence_factor": divergence_factor,
    }
    return history, updates


def epoch_logs(model: Model, loss_sum: float, n_correct: int, n: int,
               validation: tuple[np.ndarray, np.ndarray] | None) -> dict[str, float]:
    """One epoch's metrics, as :func:`fit` and :func:`companion.sweep` record them.

    The epoch loss and accuracy are sample-weighted over the ``n`` samples the epoch trained on
    (NaN for an epoch without samples); with ``validation`` data the model is evaluated on it.

    >>> from companion.core.models import SoftmaxRegression
    >>> epoch_logs(SoftmaxRegression(2, 3), loss_sum=6.0, n_correct=3, n=4, validation=None)
    {'loss': 1.5, 'accuracy': 0.75}
    """
    logs = {"loss": loss_sum / n if n else math.nan}
    if model.is_classifier:
        logs["accuracy"] = n_correct / n if n else math.nan
    if validation is not None:
        val_loss, val_correct = model.loss_and_correct(*validation)
        logs["val_loss"] = val_loss
        if model.is_classifier:
            logs["val_accuracy"] = val_correct / len(validation[1])
    return logs


def _update_sizes(batch_sizes: tuple[int, ...], accumulate: int) -> list[int]:
    """Samples per update when ``accumulate`` consecutive batches make one update."""
    return [sum(batch_sizes[i : i + accumulate]) for i in range(0, len(batch_sizes), accumulate)]


def _check_callbacks(callbacks: object) -> list[Callback]:
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


def _check_validation(model: Model, validation_data: object) -> tuple[np.ndarray, np.ndarray] | None:
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise TypeError(
            f"validation_data must be None or a pair (X_val, y_val); got {type(validation_data).__name__}"
            + (f" of length {len(validation_data)}" if isinstance(validation_data, (tuple, list)) else "")
        )
    return model.check_data(*validation_data, "validation_data[0]", "validation_data[1]")


def fit(
    model: Model,
    X: ArrayLike,
    y: ArrayLike,
    batch_size: int | None = None,
    epochs: int = 1,
    optimizer: SGD | None = None,
    remainder: str = "keep",
    shuffle: bool = True,
    seed: int | None = 0,
    validation_data: tuple[ArrayLike, ArrayLike] | None = None,
    accumulate: int = 1,
    callbacks: Iterable[Callback] = (),
    progress: bool = True,
    divergence_factor: float | None = DEFAULT_DIVERGENCE_FACTOR,
) -> History:
    """Train ``model`` in place with mini-batch SGD and return its :class:`History`.

    What it computes is :func:`train_by_hand`, the loop written with the public API:
    the batches come from ``BatchPlan(len(X), batch_size, remainder, shuffle, seed)``
    (see :class:`~companion.core.batching.BatchPlan`); each update computes the loss and
    its gradient on one batch in a single forward/backward pass
    (:meth:`~companion.core.models.Model.forward_backward`), then calls
    :meth:`optimizer.step(model.params, gradient) <companion.core.optim.SGD.step>`, the
    method a hand-written loop calls, so the optimiser's state carries over between hand
    steps and fits.

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

    Every step is atomic: the model and the optimiser's state always equal their state
    after the last row of ``history.steps``, however the run ends.

    * A callback may set ``history.stop_training`` (``stop_reason="early_stopping"``).
    * Divergence (``stop_reason="diverged"``, a ``RuntimeWarning`` naming the step and
      epoch): a batch loss or gradient that is not finite, or a batch loss above
      ``divergence_factor`` × the run's first batch loss, stops training before that
      update. If the loss itself is the problem, the parameters that produced it are bad
      too, so the previous update is undone and its row removed: the model returned is the
      last one whose batch loss was finite and within the bound. If the last update of an
      epoch made the parameters non-finite it is undone the same way.
    * A KeyboardInterrupt (Ctrl-C), wherever it lands, is caught: an update in progress is
      rolled back (parameters and optimiser state), the history so far is returned with
      ``interrupted=True``, ``stop_reason="interrupted"``.
    * Any other exception (e.g. raised by a callback) ends the run the same way with
      ``stop_reason="error"``, calls ``on_train_end``, and is re-raised with the history
      attached as ``exc.history``.

    The epochs that ran have their entry in ``history.history`` (a partial last epoch too,
    except after an interrupt or an error) and ``on_train_end`` is called in every case.

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
        seed: Seed of the shuffling (default 0); None draws one (stored in
            ``history.settings``).
        validation_data: None or ``(X_val, y_val)``.
        accumulate: Batches per update (positive int).
        callbacks: :class:`~companion.core.callbacks.Callback` objects.
        progress: Show a ``tqdm`` progress bar for runs that last longer than
            :data:`PROGRESS_DELAY_SECONDS` (shorter runs print nothing), unless the
            environment sets ``BATCHWISE_PROGRESS=0`` (:mod:`companion.core.progress`).
        divergence_factor: The bound of the divergence test, a multiple (> 1) of the first
            batch loss (default :data:`DEFAULT_DIVERGENCE_FACTOR`); None stops only on
            non-finite values. A first batch loss of 0 disables the bound.

    Returns:
        The :class:`~companion.core.history.History` of the run.

    >>> from companion.core.datasets import multi_class
    >>> from companion.core.models import MLP
    >>> X, y = multi_class(n=300, n_classes=3, seed=0)
    >>> h = fit(MLP([2, 8, 3]), X, y, batch_size=64, epochs=2, optimizer=SGD(0.1),
    ...         accumulate=2, seed=0)
    >>> h.steps["batch_size"].tolist()  # 5 batches per epoch: 2 + 2 + 1 per update
    [128, 128, 44, 128, 128, 44]
    """
    check_model(model)
    Xc, yc = model.check_data(X, y)
    val = _check_validation(model, validation_data)
    n_epochs: int = check_positive_int(epochs, "epochs")  # type: ignore[assignment]
    k: int = check_positive_int(accumulate, "accumulate")  # type: ignore[assignment]
    if optimizer is None:
        optimizer = SGD(0.01)
    elif not isinstance(optimizer, SGD):
        raise TypeError(f"optimizer must be an SGD or None; got {type(optimizer).__name__}")
    cbs = _check_callbacks(callbacks)
    show = check_bool(progress, "progress") and bars_enabled()
    factor = math.inf if divergence_factor is None else check_real(
        divergence_factor, "divergence_factor", low=1.0, low_inclusive=False
    )
    plan = BatchPlan(len(Xc), batch_size, remainder, shuffle, seed)

    history, updates = new_history(model, plan, n_epochs, k, optimizer,
                                   has_validation=val is not None,
                                   divergence_factor=divergence_factor)
    for cb in cbs:
        cb.history = history
    loop = _Loop(model, Xc, yc, val, plan, optimizer, k, cbs, history, updates, show, factor)
    try:
        for cb in cbs:
            cb.on_train_begin(history)
        loop.run()
    except Exception as exc:
        history.stop_reason = "error"
        history.message = (
            f"Training stopped by an error in epoch {loop.epoch} after {len(history.steps)} "
            f"steps: {type(exc).__name__}: {exc}"
        )
        for cb in cbs:
            cb.on_train_end(history)
        exc.history = history  # type: ignore[attr-defined]
        raise
    for cb in cbs:
        cb.on_train_end(history)
    return history


def train_by_hand(
    model: Model, X: ArrayLike, y: ArrayLike, plan: BatchPlan, epochs: int, optimizer: SGD,
    accumulate: int = 1,
) -> History:
    """What :func:`fit` does, written as a course writes it, with the public API only.

    The reference loop: for each epoch, for each group of ``accumulate`` batches of the
    plan, add up the size-weighted gradients, take one optimiser step, and record the
    step; at the end of the epoch record the sample-weighted mean loss (and accuracy).
    ``fit(model, X, y, batch_size, epochs, optimizer, remainder, shuffle, seed,
    accumulate=k)`` gives the same parameters, step losses, gradient norms and epoch
    metrics to rounding error (1e-12), with ``plan = BatchPlan(len(X), batch_size,
    remainder, shuffle, seed)``. It has no validation data, callbacks or stopping rules.

    >>> from companion.core.datasets import two_class
    >>> from companion.core.models import SoftmaxRegression
    >>> X, y = two_class(n=100, seed=0)
    >>> h = train_by_hand(SoftmaxRegression(2, 2), X, y, BatchPlan(100, 30, seed=0), 2, SGD(0.1))
    >>> h.steps["batch_size"].tolist(), len(h.history["loss"])
    ([30, 30, 30, 10, 30, 30, 30, 10], 2)
    """
    X, y = model.check_data(X, y)
    k = check_positive_int(accumulate, "accumulate")
    history = History(["loss", "accuracy"] if model.is_classifier else ["loss"],
                      capacity=sum(-(-plan.steps_in_epoch(e) // k) for e in range(epochs)))
    for epoch in range(epochs):
        batches = plan.epoch(epoch)
        loss_sum = correct = seen = 0.0
        for start in range(0, len(batches), k):
            group = batches[start : start + k]
            n_update = sum(len(idx) for idx in group)
            grad = {name: np.zeros_like(p) for name, p in model.params.items()}
            update_loss = 0.0
            for idx in group:
                loss, grads = model.loss_and_grad(X[idx], y[idx])
                for name in grad:
                    grad[name] += len(idx) * grads[name]
                update_loss += len(idx) * loss
                if model.is_classifier:
                    correct += np.count_nonzero(model.predict(X[idx]) == y[idx])
            grad = {name: g / n_update for name, g in grad.items()}
            lr = optimizer.current_lr
            optimizer.step(model.params, grad)
            norm = float(np.linalg.norm(flatten(grad, model.param_names)))
            history.steps.append(epoch=epoch, batch_size=n_update, loss=update_loss / n_update,
                                 grad_norm=norm, lr=lr, time=0.0)
            loss_sum += update_loss
            seen += n_update
        history.history["loss"].append(loss_sum / seen)
        if model.is_classifier:
            history.history["accuracy"].append(correct / seen)
        history.epoch.append(epoch)
    history.stop_reason = "completed"
    return history


class _Loop:
    """The training loop of :func:`fit`, kept lean: every per-step cost is counted.

    It uses only public methods of the model (``params``, ``forward_backward``,
    ``loss_and_correct``), the plan (``epoch``, ``sizes``), the optimiser (``step``,
    ``state``, ``load_state``, ``current_lr``, ``iterations``) and the step log
    (``buffer``, ``set_length``).
    """

    def __init__(
        self, model: Model, X: np.ndarray, y: np.ndarray,
        val: tuple[np.ndarray, np.ndarray] | None, plan: BatchPlan, optimizer: SGD, k: int,
        callbacks: list[Callback], history: History, updates: list[int], progress: bool,
        factor: float,
    ) -> None:
        self.model, self.X, self.y, self.val, self.plan = model, X, y, val, plan
        self.opt, self.k, self.history, self.updates = optimizer, k, history, updates
        self.callbacks = callbacks
        self.step_callbacks = [
            cb for cb in callbacks if type(cb).on_step_end is not Callback.on_step_end
        ]
        self.progress = progress
        self.factor = factor
        self.bound = math.inf  # set from the first batch loss
        self.rows = 0  # updates recorded so far: the commit point of a step
        self.epoch = 0
        self.params = model.params
        theta = self.params.vector
        self.prev = np.empty_like(theta)  # parameters before the latest update
        self.saved: dict[str, object] = optimizer.state  # optimiser state before it
        self.started = -1  # index of the latest update begun (== rows while uncommitted)
        self.grad = np.empty_like(theta)  # the update's gradient
        self.micro = np.empty_like(theta) if k > 1 else self.grad  # one batch's gradient
        self.last = (0, 0.0, 0)  # (samples, loss, correct) of the latest recorded update
        self.bar = None

    # -- the run --------------------------------------------------------------------------
    def run(self) -> None:
        history = self.history
        self.t0 = time.perf_counter()
        try:
            self.bar = self._make_bar() if self.progress else None
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported instead
                self._run_epochs()
        except BaseException as exc:
            self._roll_back_unrecorded()
            if not isinstance(exc, KeyboardInterrupt):
                raise
            self._interrupted()
        finally:
            history.steps.set_length(self.rows)
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

    def _roll_back_unrecorded(self) -> None:
        """Undo an update that began but was not recorded, and a half-recorded epoch."""
        if self.started == self.rows:
            np.copyto(self.params.vector, self.prev)
            self.opt.load_state(self.saved)
            self.started = self.rows - 1
        history, n = self.history, len(self.history.epoch)
        for values in history.history.values():
            del values[n:]
        del history.history_batch_mean_loss[n:]

    def _run_epochs(self) -> None:
        history = self.history
        for epoch in range(len(self.updates)):
            self.epoch = epoch
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch)
            finished = self._run_epoch(epoch)
            diverged = history.stop_reason == "diverged"
            if not diverged and self._epoch_updates and not np.isfinite(self.params.vector).all():
                self._diverged_after_update()
            if finished or self._epoch_updates:
                self._end_epoch(epoch)
            if history.stop_training or history.stop_reason == "diverged":
                break

    def _run_epoch(self, epoch: int) -> bool:
        """Run one epoch's updates; False if it stopped early."""
        model, X, y, k, opt, history = self.model, self.X, self.y, self.k, self.opt, self.history
        batches = self.plan.epoch(epoch)
        sizes = self.plan.sizes(epoch)
        if k > 1:
            sizes = _update_sizes(sizes, k)
        first = self.rows
        log = history.steps
        stop = first + len(sizes)
        log.buffer("step")[first:stop] = np.arange(first + 1, stop + 1)
        log.buffer("epoch")[first:stop] = epoch
        log.buffer("batch_size")[first:stop] = sizes
        seen_col = log.buffer("samples_seen")
        seen_before = int(seen_col[first - 1]) if first else 0
        seen_col[first:stop] = seen_before + np.cumsum(sizes, dtype=np.int64)
        loss_col, norm_col = log.buffer("loss"), log.buffer("grad_norm")
        lr_col, time_col = log.buffer("lr"), log.buffer("time")

        params = self.params
        theta, prev, g, micro = params.vector, self.prev, self.grad, self.micro
        take_X, take_y = X.take, y.take  # faster than fancy indexing X[idx], same values
        forward_backward = model.forward_backward
        count_correct = model.is_classifier
        step, isfinite, perf_counter = opt.step, math.isfinite, time.perf_counter
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
                if not (isfinite(loss) and isfinite(sq_norm)) or loss > self.bound:
                    if self._diverged(i, epoch, loss, sq_norm, lr) and i > first:
                        n_last, loss_last, correct_last = self.last
                        i -= 1
                        loss_sum -= n_last * loss_last
                        batch_mean_sum -= loss_last
                        n_seen -= n_last
                        n_correct -= correct_last
                    return False
                if i == 0 and loss > 0:
                    self.bound = self.factor * loss
                # snapshot, then mark the update begun: until self.rows moves past i, any
                # exception or interrupt restores prev and saved (see _roll_back_unrecorded)
                np.copyto(prev, theta)
                self.saved = opt.state
                self.started = i
                step(params, g)
                now = perf_counter()
                loss_col[i] = loss
                norm_col[i] = math.sqrt(sq_norm)
                lr_col[i] = lr
                time_col[i] = now - t0
                self.last = (n_b, loss, correct)
                i += 1
                self.rows = i  # the commit: the update is recorded
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
        logs = {
            "epoch": epoch, "batch_size": n_b,
            "samples_seen": int(self.history.steps.buffer("samples_seen")[step - 1]),
            "loss": loss, "grad_norm": math.sqrt(sq_norm), "lr": lr,
        }
        for cb in self.step_callbacks:
            cb.on_step_end(step, logs)

    def _end_epoch(self, epoch: int) -> None:
        """Record the epoch's metrics and call ``on_epoch_end``."""
        history, model = self.history, self.model
        loss_sum, batch_mean_sum, n_correct = self._epoch_sums
        n, updates = self._epoch_n, self._epoch_updates
        logs = epoch_logs(model, loss_sum, n_correct, n, self.val)
        for key, value in logs.items():
            history.history[key].append(value)
        history.history_batch_mean_loss.append(batch_mean_sum / updates if updates else math.nan)
        history.epoch.append(epoch)  # last: an interrupt before it drops the partial entries
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, dict(logs))

    # -- the ways training ends early -----------------------------------------------------------
    def _undo_last_update(self) -> None:
        """Put back the parameters and optimiser state from before the latest update."""
        np.copyto(self.params.vector, self.prev)
        self.opt.load_state(self.saved)
        self.rows -= 1
        self.started = self.rows - 1

    def _diverged(self, row: int, epoch: int, loss: float, sq_norm: float, lr: float) -> bool:
        """Stop as diverged before update ``row``; True if the previous update was undone."""
        theta = self.params.vector
        bad_params = not (math.isfinite(loss) and loss <= self.bound) or not np.isfinite(theta).all()
        undo = bad_params and self.rows > 0 and self.started == self.rows - 1
        if undo:
            self._undo_last_update()
        if loss > self.bound and math.isfinite(loss):
            cause = (f"the batch loss {loss:.6g} exceeds {self.bound:.6g}, divergence_factor="
                     f"{self.factor:g} × the run's first batch loss {self.bound / self.factor:.6g}")
        else:
            cause = f"the batch loss is {loss!r} and the gradient norm is {math.sqrt(sq_norm)!r}"
        restored = (
            f" The parameters that gave this loss came from update {row}, so it was undone too "
            f"(and its row removed): the model is the one from before it." if undo else
            " The parameters were left as they were before this update."
        )
        self._stop_diverged(
            f"Training diverged at step {row + 1} (epoch {epoch}): {cause}.{restored} "
            f"Try a smaller learning rate (lr was {lr:g}).",
            stacklevel=7,
        )
        return undo

    def _diverged_after_update(self) -> None:
        lr = self.history.steps.buffer("lr")[self.rows - 1]
        n_last, loss_last, correct_last = self.last
        self._undo_last_update()
        loss_sum, batch_mean_sum, n_correct = self._epoch_sums
        self._epoch_sums = (loss_sum - n_last * loss_last, batch_mean_sum - loss_last,
                            n_correct - correct_last)
        self._epoch_n -= n_last
        self._epoch_updates -= 1
        self._stop_diverged(
            f"Training diverged at step {self.rows + 1} (epoch {self.epoch}): the update made "
            f"the parameters non-finite, so it was undone. Try a smaller learning rate "
            f"(lr was {lr:g}).",
            stacklevel=6,
        )

    def _stop_diverged(self, message: str, stacklevel: int) -> None:
        history = self.history
        history.stop_reason, history.message = "diverged", message
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)

    def _interrupted(self) -> None:
        history = self.history
        history.interrupted = True
        history.stop_reason = "interrupted"
        history.message = (
            f"Training interrupted (KeyboardInterrupt) in epoch {self.epoch} after "
            f"{self.rows} steps; the history so far is returned"
        )
        warnings.warn(history.message, UserWarning, stacklevel=4)

    # -- progress bar ----------------------------------------------------------------------------
    def _make_bar(self) -> tqdm:
        from tqdm.auto import tqdm

        self._progress_stats = (0, math.nan)
        return tqdm(
            total=sum(self.updates), unit="step", mininterval=_REFRESH_SECONDS,
            delay=PROGRESS_DELAY_SECONDS, desc=f"epoch 1/{len(self.updates)}",
        )

    def _refresh_bar(self) -> None:
        bar = self.bar
        epoch, running_loss = self._progress_stats
        bar.set_description_str(f"epoch {epoch + 1}/{len(self.updates)}", refresh=False)
        bar.set_postfix_str(f"loss={running_loss:.4f}", refresh=False)
        bar.update(self.rows - bar.n)
