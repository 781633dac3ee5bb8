"""Wall-clock time to a target training loss, with the clock's run-to-run noise.

"Which batch size trains fastest?" has an answer only on a given machine and for a given
target. :func:`time_to_target` answers it for one (batch size, learning rate, seed):

1. **Find the step.** Train a copy of the model with :func:`companion.fit`, checking the
   loss on the whole training set every ``check_every`` samples, until it is at or below
   ``target``. That gives the first checked step that reached it.
2. **Time the step.** Train fresh copies again, with the same seed and *no* callback, so
   that the clock sees nothing but training, and read ``history.steps["time"]`` at that
   step. The same seed repeats the same updates bit for bit, so the ``repeats`` timings
   differ only by the machine's noise, and their spread measures it.

Different seeds (other batch orders) change the step itself; run the function once per
seed to see that spread too.

>>> from companion.core.datasets import multi_class
>>> from companion.core.models import SoftmaxRegression
>>> X, y = multi_class(n=200, n_classes=3, seed=0)
>>> run = time_to_target(SoftmaxRegression(2, 3, seed=0), X, y, batch_size=20, lr=0.5,
...                      target=0.2, max_epochs=20, seed=0, repeats=2)
>>> run.reached, run.steps, run.samples, run.seconds.shape
(True, 7, 140, (2,))
>>> bool(run.loss <= 0.2 < run.loss_before)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from companion.core._validation import check_positive_int, check_real, check_seed
from companion.core.callbacks import Callback
from companion.core.models import Model, check_model
from companion.core.optim import SGD
from companion.core.training import fit

__all__ = ["TargetRun", "time_to_target"]


@dataclass(frozen=True)
class TargetRun:
    """When one training run first reached a target loss, and how long that took.

    Attributes:
        batch_size: Samples per update.
        lr: The SGD learning rate.
        seed: Seed of the batch order.
        target: The training-loss target.
        reached: Whether a check found the loss at or below ``target`` within the budget.
        steps: Updates until that check (the budget's total if not reached).
        samples: Samples processed until then.
        loss: Training-set loss at that check (at the end of the budget if not reached).
        loss_before: Training-set loss at the previous check (the start for the first).
        seconds: Training time until that step, one value per repeat (NaN if not reached).
    """

    batch_size: int
    lr: float
    seed: int | None
    target: float
    reached: bool
    steps: int
    samples: int
    loss: float
    loss_before: float
    seconds: np.ndarray

    @property
    def median_seconds(self) -> float:
        """The median of the repeated timings (NaN if the target was not reached)."""
        return float(np.median(self.seconds))


class _Watch(Callback):
    """Check the training-set loss every ``every`` samples; stop at the first ≤ target."""

    def __init__(self, X: np.ndarray, y: np.ndarray, target: float, every: int,
                 start_loss: float) -> None:
        self.X, self.y, self.target, self.every = X, y, target, every
        self.next_check = every
        self.loss, self.loss_before = start_loss, start_loss
        self.step, self.samples, self.reached = 0, 0, False

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        seen = logs["samples_seen"]
        if seen < self.next_check:
            return
        self.next_check = (seen // self.every + 1) * self.every
        self.loss_before, self.loss = self.loss, float(self.history.model.loss(self.X, self.y))
        self.step, self.samples = step, seen
        if self.loss <= self.target:
            self.reached = True
            self.history.stop_training = True


def time_to_target(
    model: Model,
    X: Any,
    y: Any,
    batch_size: int,
    lr: float,
    target: float,
    *,
    max_epochs: int = 20,
    seed: int | None = 0,
    check_every: int | None = None,
    repeats: int = 3,
) -> TargetRun:
    """Seconds of training until the training-set loss first reaches ``target``.

    Plain SGD with constant ``lr`` from a copy of ``model`` (never changed), batches from
    ``fit(..., batch_size, seed=seed)``. The loss on all of ``(X, y)`` is checked every
    ``check_every`` samples (after the first update at or past each multiple), so the answer
    is resolved to that many samples; the checks are left out of the timing (see the module
    docstring). The timings are ``fit``'s own clock, ``history.steps["time"]``, whatever
    the machine is doing meanwhile: run it twice to see your machine's noise.

    Args:
        model: A :mod:`companion.core.models` model: the starting point.
        X: Training inputs.
        y: Training targets.
        batch_size: Samples per update (positive int).
        lr: Learning rate (> 0).
        target: Training-loss target (> 0).
        max_epochs: Budget in epochs (positive int); past it the run counts as not reached.
        seed: Seed of the batch order.
        check_every: Samples between checks (positive int); None for a tenth of an epoch.
        repeats: Timed re-runs of the same updates (positive int).

    Returns:
        A :class:`TargetRun`.

    >>> from companion.core.datasets import multi_class
    >>> from companion.core.models import SoftmaxRegression
    >>> X, y = multi_class(n=100, n_classes=3, seed=0)
    >>> time_to_target(SoftmaxRegression(2, 3), X, y, 10, lr=1e-4, target=0.01,
    ...                max_epochs=2, repeats=1).reached
    False
    >>> time_to_target(SoftmaxRegression(2, 3), X, y, 10, lr=0.1, target=0)
    Traceback (most recent call last):
    ...
    ValueError: target must be a finite real number > 0; got 0.0
    """
    check_model(model)
    Xc, yc = model._check_Xy(X, y)
    b: int = check_positive_int(batch_size, "batch_size")  # type: ignore[assignment]
    rate = check_real(lr, "lr", low=0.0, low_inclusive=False)
    goal = check_real(target, "target", low=0.0, low_inclusive=False)
    budget: int = check_positive_int(max_epochs, "max_epochs")  # type: ignore[assignment]
    seed = check_seed(seed)
    every = check_positive_int(check_every, "check_every", allow_none=True)
    if every is None:
        every = max(1, len(Xc) // 10)
    n_repeats: int = check_positive_int(repeats, "repeats")  # type: ignore[assignment]

    start_loss = float(model.loss(Xc, yc))
    watch = _Watch(Xc, yc, goal, every, start_loss)
    probe = model.copy()
    history = fit(probe, Xc, yc, batch_size=b, epochs=budget, optimizer=SGD(rate), seed=seed,
                  callbacks=[watch], progress=False)
    if not watch.reached:
        end_loss = float(probe.loss(Xc, yc))
        return TargetRun(b, rate, seed, goal, False, len(history.steps),
                         int(history.steps["samples_seen"][-1]) if len(history.steps) else 0,
                         end_loss, watch.loss, np.full(n_repeats, math.nan))
    steps_per_epoch = history.plan.steps_per_epoch
    epochs = -(-watch.step // steps_per_epoch)
    seconds = np.empty(n_repeats)
    for r in range(n_repeats):
        timed = fit(model.copy(), Xc, yc, batch_size=b, epochs=epochs, optimizer=SGD(rate),
                    seed=seed, progress=False)
        seconds[r] = timed.steps["time"][watch.step - 1]
    return TargetRun(b, rate, seed, goal, True, watch.step, watch.samples, watch.loss,
                     watch.loss_before, seconds)
