"""Learning rate versus batch size: the scaling rules, and a tuned learning rate per batch size.

Two rules of thumb say how to change the learning rate ``η`` when the batch grows from ``B₀``
to ``B`` (:func:`scaled_lr`):

* the **linear** rule ``η = η₀ · B/B₀`` (Goyal et al. 2017): ``k`` times the batch, ``k``
  times the step, so that ``k`` small steps and one large step move about as far;
* the **square-root** rule ``η = η₀ · √(B/B₀)``: it keeps the variance of an update,
  ``η² tr Σ / B``, constant.

:func:`lr_sweep` measures what a problem actually wants: for each batch size it trains copies
of the same starting model for the same number of epochs with learning rates on a grid and
keeps the one with the lowest training loss. :func:`loglog_slope` then says whether the tuned
rate grew like ``B`` (slope 1), like ``√B`` (slope ½) or stopped growing (slope 0), and
:func:`companion.display.plots.plot_lr_sweep` draws the result next to both rules.

>>> float(scaled_lr(0.1, base_batch=256, batch_size=8192))  # Goyal et al.: 0.1 · kn/256
3.2
>>> float(scaled_lr(0.1, base_batch=256, batch_size=1024, rule="sqrt"))
0.2
>>> loglog_slope([1, 4, 16], [0.1, 0.4, 1.6])
1.0
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from companion.core._validation import (
    check_array,
    check_batch_sizes,
    check_bool,
    check_choice,
    check_each,
    check_positive_int,
    check_real,
    check_same_length,
    check_seed,
)
from companion.core.models import check_model
from companion.measure.lr_search import walk_grid

#: The scaling rules understood by :func:`scaled_lr`, with the exponent of ``B/B₀``.
RULES: dict[str, float] = {"linear": 1.0, "sqrt": 0.5}


def scaled_lr(base_lr: float, base_batch: int, batch_size: Any, rule: str = "linear") -> Any:
    """The learning rate a scaling rule gives for ``batch_size``, from ``base_lr`` at ``base_batch``.

    Args:
        base_lr: A learning rate that works at ``base_batch`` (> 0).
        base_batch: The batch size ``B₀`` it was tuned for (a positive int).
        batch_size: The new batch size ``B`` (a positive int or a sequence of them).
        rule: ``"linear"`` (``η₀·B/B₀``) or ``"sqrt"`` (``η₀·√(B/B₀)``).

    Returns:
        A float for a single ``B``, else an array with one rate per ``B``.

    >>> scaled_lr(0.05, base_batch=16, batch_size=[16, 64, 256]).tolist()
    [0.05, 0.2, 0.8]
    >>> scaled_lr(0.05, 16, [16, 64, 256], rule="sqrt").tolist()
    [0.05, 0.1, 0.2]
    >>> scaled_lr(0.05, 16, 64, rule="cubic")
    Traceback (most recent call last):
    ...
    ValueError: rule must be one of 'linear', 'sqrt'; got 'cubic'
    """
    lr = check_real(base_lr, "base_lr", low=0.0, low_inclusive=False)
    b0 = check_positive_int(base_batch, "base_batch")
    power = RULES[check_choice(rule, "rule", tuple(RULES))]
    sizes = check_batch_sizes(batch_size, "batch_size")
    out = lr * (sizes / b0) ** power
    if isinstance(batch_size, (Sequence, np.ndarray)):
        return out
    return float(out[0])


def loglog_slope(x: Any, y: Any) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the exponent ``p`` in ``y ∝ x^p``.

    Args:
        x: Positive values, at least two of them distinct.
        y: Positive values, same length.

    Returns:
        The slope as a float.

    >>> loglog_slope([1, 4, 16, 64], [3.0, 1.5, 0.75, 0.375])
    -0.5
    >>> loglog_slope([1, 2], [1.0, 0.0])
    Traceback (most recent call last):
    ...
    ValueError: x and y must be > 0 (a log-log slope); got 1 value(s) <= 0
    """
    xs = check_array(x, "x", ndim=1, dtype_kind="f").astype(np.float64)
    ys = check_array(y, "y", ndim=1, dtype_kind="f").astype(np.float64)
    check_same_length(xs, ys, "x", "y")
    bad = int((xs <= 0).sum() + (ys <= 0).sum())
    if bad:
        raise ValueError(f"x and y must be > 0 (a log-log slope); got {bad} value(s) <= 0")
    if np.unique(xs).size < 2:
        raise ValueError(f"x must hold at least two distinct values; got {xs.tolist()}")
    slope = np.polyfit(np.log(xs), np.log(ys), 1)[0]
    return round(float(slope), 12)


@dataclass(frozen=True)
class LRSweep:
    """Training loss after a fixed number of epochs, per batch size and learning rate.

    Attributes:
        batch_sizes: The batch sizes ``B``, increasing.
        lrs: The learning-rate grid, increasing.
        loss: Shape ``(len(batch_sizes), len(lrs))``: the training loss of the last epoch as
            :func:`companion.fit` reports it (the sample-weighted mean of the batch losses
            seen during that epoch); ``inf`` where training diverged, ``nan`` where the
            search did not try that learning rate.
        epochs: Epochs per run (the same for every ``B``: the budget of Goyal et al.).
        seed: Seed of the batch order (the same for every run).
    """

    batch_sizes: np.ndarray
    lrs: np.ndarray
    loss: np.ndarray
    epochs: int
    seed: int | None

    @property
    def best_index(self) -> np.ndarray:
        """Index into ``lrs`` of the best learning rate for each ``B`` (-1 if none trained)."""
        filled = np.where(np.isnan(self.loss), np.inf, self.loss)
        idx = np.argmin(filled, axis=1)
        return np.where(np.isfinite(filled.min(axis=1)), idx, -1)

    @property
    def best_lr(self) -> np.ndarray:
        """The tuned learning rate for each ``B`` (``nan`` if every run diverged)."""
        idx = self.best_index
        return np.where(idx >= 0, self.lrs[np.maximum(idx, 0)], np.nan)

    @property
    def best_loss(self) -> np.ndarray:
        """The lowest loss for each ``B`` (``inf`` if every run diverged)."""
        filled = np.where(np.isnan(self.loss), np.inf, self.loss)
        return filled.min(axis=1)

    @property
    def runs(self) -> int:
        """Number of training runs the search made."""
        return int((~np.isnan(self.loss)).sum())

    def as_table(self) -> str:
        """A plain-text table: B, steps per run, tuned lr, its loss, runs tried.

        >>> sweep = LRSweep(np.array([2, 4]), np.array([0.1, 0.2]),
        ...                 np.array([[0.5, 0.4], [np.nan, 0.3]]), epochs=1, seed=0)
        >>> print(sweep.as_table())
        # 1 epochs per run; the loss is the training loss of the last epoch
             B   tuned lr   loss       runs
             2   0.2        0.4        2
             4   0.2        0.3        1
        """
        lines = [
            f"# {self.epochs} epochs per run; the loss is the training loss of the last epoch",
            f"{'B':>6}   {'tuned lr':<9}  {'loss':<9}  runs",
        ]
        for b, lr, loss, row in zip(
            self.batch_sizes, self.best_lr, self.best_loss, self.loss, strict=True
        ):
            tried = int((~np.isnan(row)).sum())
            lines.append(f"{int(b):>6}   {lr:<9.4g}  {loss:<9.4g}  {tried}")
        return "\n".join(lines)


def _scores(model: Any, X: Any, y: Any, batch_size: int, lrs: Sequence[float], epochs: int,
            seed: int | None) -> list[float]:
    """Last-epoch training loss of fresh copies of ``model``, one per learning rate, trained
    together by :func:`companion.core.sweep.sweep`; ``inf`` where training diverged."""
    from companion.core.optim import SGD
    from companion.core.sweep import sweep

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # divergence is recorded as inf
        histories = sweep([model.copy() for _ in lrs], X, y, batch_size=batch_size,
                          epochs=epochs, optimizers=[SGD(float(lr)) for lr in lrs], seeds=seed,
                          progress=False)
    out = []
    for history in histories:
        loss = history.history["loss"][-1] if history.history["loss"] else np.inf
        diverged = history.stop_reason == "diverged" or not np.isfinite(loss)
        out.append(float(np.inf) if diverged else float(loss))
    return out


def lr_sweep(
    model: Any,
    X: Any,
    y: Any,
    batch_sizes: Sequence[int],
    lrs: Sequence[float],
    *,
    epochs: int = 3,
    seed: int | None = 0,
    start_lr: float | None = None,
    search: bool = True,
    patience: int = 2,
) -> LRSweep:
    """Tune the SGD learning rate for each batch size on a grid, with a fixed budget of epochs.

    Every run trains a fresh copy of ``model`` (so all start from the same parameters) with
    :func:`companion.fit` for ``epochs`` epochs, batches drawn with ``seed``, and scores it
    by the training loss of its last epoch (the number ``fit`` reports); a run that
    diverges scores ``inf``.

    With ``search=True`` the grid is not run in full: the batch sizes are taken in increasing
    order, and each search starts at the grid value nearest to what the **linear rule**
    predicts from the previous batch size's tuned rate (the first starts at ``start_lr``,
    default the grid's middle) and widens until ``patience`` rates on each side of the best
    fail to beat it (:func:`companion.measure.lr_search.walk_grid`). On a loss that is
    U-shaped in ``log η`` this finds the grid's best rate in a handful of runs.
    ``search=False`` runs every ``(B, η)`` pair. The runs of one batch size train together
    in lockstep (:func:`companion.core.sweep.sweep`), with the results of separate ``fit``
    calls.

    Args:
        model: A :mod:`companion.core.models` model: the starting point (never changed).
        X: Training inputs.
        y: Training targets.
        batch_sizes: Batch sizes to tune (positive ints; sorted increasingly).
        lrs: The learning-rate grid (positive; sorted increasingly), e.g. powers of √2.
        epochs: Epochs per run.
        seed: Seed of the batch order of every run.
        start_lr: Where the search for the smallest batch size starts (nearest grid value).
        search: Walk the grid (True) or run all of it (False).
        patience: Rates beyond the best to try on each side.

    Returns:
        An :class:`LRSweep`.

    >>> from companion.core.datasets import multi_class
    >>> from companion.core.models import SoftmaxRegression
    >>> X, y = multi_class(n=120, n_classes=3, seed=0)
    >>> sweep = lr_sweep(SoftmaxRegression(2, 3), X, y, [4, 32], [0.01, 0.1, 1.0], epochs=2,
    ...                  search=False)
    >>> sweep.loss.shape, sweep.runs
    ((2, 3), 6)
    >>> sweep.best_lr.tolist()
    [1.0, 1.0]
    """
    check_model(model)
    sizes = np.sort(check_batch_sizes(batch_sizes, "batch_sizes"))
    grid = np.sort(np.array(check_each(lrs, "lrs", check_real, low=0.0, low_inclusive=False,
                                       example="[0.05, 0.1, 0.2]")))
    if grid.size == 0:
        raise ValueError("lrs must hold at least one learning rate; got an empty sequence")
    n_epochs = check_positive_int(epochs, "epochs")
    seed = check_seed(seed)
    search = check_bool(search, "search")
    wait = check_positive_int(patience, "patience")
    log_grid = np.log(grid)
    if start_lr is None:
        start = grid.size // 2
    else:
        first = check_real(start_lr, "start_lr", low=0.0, low_inclusive=False)
        start = int(np.argmin(np.abs(log_grid - np.log(first))))
    table = np.full((sizes.size, grid.size), np.nan)
    for i, b in enumerate(sizes):

        def evaluate(indices: list[int], best: float, b: int = int(b)) -> list[float]:
            return _scores(model, X, y, b, grid[indices], n_epochs, seed)

        if search and i > 0:
            prev = LRSweep(sizes[:i], grid, table[:i], n_epochs, seed).best_lr[-1]
            if np.isfinite(prev):
                guess = np.log(prev * b / sizes[i - 1])
                start = int(np.argmin(np.abs(log_grid - guess)))
        table[i] = walk_grid(evaluate, grid.size, start, wait if search else None)
    return LRSweep(sizes, grid, table, n_epochs, seed)
