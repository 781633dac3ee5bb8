"""Steps versus examples: measuring the critical batch size on real data.

McCandlish, Kaplan, Amodei et al. (2018) observed that, with the learning rate tuned for each
batch size ``B``, the number of optimizer steps ``S`` and of training examples ``E = B·S``
needed to reach a fixed loss lie on the hyperbola

    ``(S / S_min − 1)(E / E_min − 1) = 1``,

where ``S_min`` is the fewest steps any batch size can manage (very large batches) and
``E_min`` the fewest examples (very small batches). Equivalently
``S(B) = S_min (1 + B_crit / B)`` and ``E(B) = E_min (1 + B / B_crit)`` with the **critical
batch size** ``B_crit = E_min / S_min``: below it doubling ``B`` nearly halves the steps
(perfect scaling), above it the steps barely fall while the examples double. At
``B = B_crit`` training takes ``2·S_min`` steps and ``2·E_min`` examples.

This module runs that experiment (:func:`critical_batch_experiment`: SGD on softmax regression
over scikit-learn's digits by default, a grid of batch sizes, a small learning-rate grid per
batch size) and fits the hyperbola (:func:`fit_frontier`).

Protocol, in short: plain SGD from one fixed initialisation; every step uses exactly ``B``
samples (leftovers carry into the next epoch); "steps" is the first step at which the full
training loss reaches the target (checked about eight times per epoch and refined to the
step, see :func:`steps_to_loss`), averaged over a few batch orders; a run whose training
loss ever rises above its starting value counts as diverged; the best learning rate per
``B`` is the one with the fewest steps. On digits the stability limit of the learning rate
(set by the curvature early in training) caps the large-batch end, much as ``2/h_max`` does
in :mod:`companion.measure.nqm`, and the small-batch end follows ``E ≈ E_min``: the measured points
lie on the hyperbola within roughly 20 % (the fit's rms log residual is reported).

>>> fit = fit_frontier(steps=[1100, 200, 110], examples=[1100, 2000, 11000])
>>> round(fit.s_min), round(fit.e_min), round(fit.b_crit)
(100, 1000, 10)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from companion.core._validation import (
    check_array,
    check_batch_size,
    check_batch_sizes,
    check_bool,
    check_each,
    check_executor,
    check_nonnegative_int,
    check_positive_int,
    check_real,
    check_same_length,
    check_seed,
)
from companion.core.models import check_model
from companion.measure.lr_search import walk_grid
from companion.measure.sampling import powers_of_two


@dataclass(frozen=True)
class FrontierFit:
    """The fitted steps/examples hyperbola ``(S/S_min − 1)(E/E_min − 1) = 1``.

    Attributes:
        s_min: Fewest steps (the large-batch limit).
        e_min: Fewest examples (the small-batch limit).
        b_crit: Critical batch size ``E_min / S_min``.
        rms_log_residual: Root-mean-square of ``log S_i − log Ŝ(B_i)`` over the points (0 for
            a perfect fit; 0.05 means the points sit about 5 % off the curve).
        n_points: Number of points used.
    """

    s_min: float
    e_min: float
    b_crit: float
    rms_log_residual: float
    n_points: int

    def steps(self, batch_size: Any) -> np.ndarray:
        """Predicted steps ``S(B) = S_min + E_min / B``.

        >>> FrontierFit(100.0, 1000.0, 10.0, 0.0, 3).steps([10, 1000])
        array([200., 101.])
        """
        b = np.asarray(batch_size, dtype=float)
        return self.s_min + self.e_min / b

    def examples(self, batch_size: Any) -> np.ndarray:
        """Predicted examples ``E(B) = B · S(B) = E_min + S_min · B``.

        >>> FrontierFit(100.0, 1000.0, 10.0, 0.0, 3).examples([10])
        array([2000.])
        """
        b = np.asarray(batch_size, dtype=float)
        return b * self.steps(b)

    def curve(self, b_low: float, b_high: float, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """Points ``(E, S)`` along the hyperbola for ``B`` log-spaced in ``[b_low, b_high]``.

        >>> e, s = FrontierFit(100.0, 1000.0, 10.0, 0.0, 3).curve(1, 100, n=3)
        >>> s.tolist(), e.tolist()
        ([1100.0, 200.0, 110.0], [1100.0, 2000.0, 11000.0])
        """
        lo = check_real(b_low, "b_low", low=0.0, low_inclusive=False)
        hi = check_real(b_high, "b_high", low=lo)
        b = np.geomspace(lo, hi, check_positive_int(n, "n"))
        return self.examples(b), self.steps(b)


def fit_frontier(
    steps: Any, examples: Any, *, max_iter: int = 200, tol: float = 1e-12
) -> FrontierFit:
    """Fit ``(S/S_min − 1)(E/E_min − 1) = 1`` to measured (steps, examples) pairs.

    With ``B = E/S`` the hyperbola is ``S(B) = S_min + E_min/B``. The fit minimises the
    squared **log** residuals ``Σ_i (log S_i − log(S_min + E_min/B_i))²`` over
    ``(log S_min, log E_min)`` (so both stay positive) by Levenberg–Marquardt, started from
    the linear least-squares solution with relative weights. Because ``E = B·S``, the log
    residual of ``S`` equals that of ``E``: the fit treats both axes alike and every batch
    size counts the same whether it needs 10 or 10⁵ steps. Points that never reached the
    target (``inf`` or ``nan``) are ignored.

    Args:
        steps: Steps to target ``S_i`` (positive), one per batch size.
        examples: Examples to target ``E_i = B_i·S_i``, same length.
        max_iter: Maximum Levenberg–Marquardt iterations.
        tol: Stop when the parameters move less than this (in log units).

    Returns:
        A :class:`FrontierFit`.

    Raises:
        ValueError: Fewer than two usable points or fewer than two distinct batch sizes.

    >>> b = np.array([1, 4, 16, 64, 256])
    >>> s = 50 * (1 + 20 / b)  # S_min = 50, B_crit = 20
    >>> fit = fit_frontier(s, b * s)
    >>> round(fit.b_crit, 6), round(fit.s_min, 6)
    (20.0, 50.0)
    """
    s = np.ravel(check_array(steps, "steps", ndim=(0, 1), dtype_kind="f", allow_nan=True))
    e = np.ravel(check_array(examples, "examples", ndim=(0, 1), dtype_kind="f", allow_nan=True))
    check_same_length(s, e, "steps", "examples")
    iters = check_positive_int(max_iter, "max_iter")
    tolerance = check_real(tol, "tol", low=0.0, low_inclusive=False)
    ok = np.isfinite(s) & np.isfinite(e)
    if ((s[ok] <= 0) | (e[ok] <= 0)).any():
        raise ValueError("steps and examples must be > 0 (or inf/nan for 'not reached')")
    s, e = s[ok].astype(float), e[ok].astype(float)
    b = e / s
    if s.size < 2 or np.unique(np.round(b, 9)).size < 2:
        raise ValueError(
            "fit_frontier needs at least two finite points with different batch sizes E/S; "
            f"got {s.size} finite point(s)"
        )
    # Start: S_i ≈ a + c/B_i by least squares on the relative errors (divide rows by S_i).
    design = np.column_stack([np.ones_like(b), 1.0 / b]) / s[:, None]
    (a, c), *_ = np.linalg.lstsq(design, np.ones_like(s), rcond=None)
    a = a if a > 0 else 0.5 * s.min()
    c = c if c > 0 else 0.5 * float(np.min(e))
    params = np.log([a, c])
    log_s = np.log(s)

    def residuals(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model = np.exp(p[0]) + np.exp(p[1]) / b
        w = np.exp(p[0]) / model
        jac = -np.column_stack([w, 1.0 - w])  # d(log S_i − log model_i)/d(log a, log c)
        return log_s - np.log(model), jac

    damping = 1e-3
    r, jac = residuals(params)
    cost = float(r @ r)
    for _ in range(iters):
        jtj = jac.T @ jac
        step = np.linalg.solve(jtj + damping * np.diag(np.diag(jtj) + 1e-12), -jac.T @ r)
        trial = params + step
        r_new, jac_new = residuals(trial)
        cost_new = float(r_new @ r_new)
        if cost_new <= cost:
            params, r, jac, cost = trial, r_new, jac_new, cost_new
            damping = max(damping / 10, 1e-12)
            if np.max(np.abs(step)) < tolerance:
                break
        else:
            damping *= 10
            if damping > 1e12:
                break
    s_min, e_min = float(np.exp(params[0])), float(np.exp(params[1]))
    return FrontierFit(
        s_min=s_min,
        e_min=e_min,
        b_crit=e_min / s_min,
        rms_log_residual=float(np.sqrt(cost / s.size)),
        n_points=int(s.size),
    )


# --------------------------------------------------------------------------------------------
# The experiment
# --------------------------------------------------------------------------------------------


def steps_to_loss(
    model: Any,
    X: Any,
    y: Any,
    batch_size: int,
    lr: float,
    target_loss: float,
    *,
    max_steps: int = 100_000,
    seed: int | None = 0,
    check_every: int | None = None,
) -> int | None:
    """Plain SGD from ``model``'s parameters until the full training loss is ``≤ target_loss``.

    Batches come from a shuffled :class:`~companion.core.batching.BatchPlan` with
    ``remainder="carry"``, so every step uses exactly ``batch_size`` samples (the leftovers
    of an epoch start the next one) and ``B = N`` is full-batch gradient descent.

    The full training loss is checked every ``check_every`` steps (default
    ``max(1, N // (8B))``: about eight checks per epoch, the same number of samples between
    checks for every ``B``). At the first check at or below the target, the stretch since
    the previous check is replayed from a saved copy of the parameters with the loss
    evaluated after every step, and the first step at or below the target within that
    stretch is returned. So the count is exact to the step whenever the loss, once under
    the target, is still under it at the next check; a brief dip under the target that has
    risen again by the next check (small batches are noisy) is not counted. Evaluating the
    full loss after every step instead (``check_every=1``) makes every dip count but costs
    a full pass over the data per step.

    A run counts as diverged (and returns ``None``) if a check finds the loss not finite or
    above the starting loss: a learning rate that first makes things worse is too large,
    even if the loss later recovers by chance (softmax saturation lets huge steps "succeed"
    after wild swings). ``model`` itself is not changed.

    Args:
        model: A :mod:`companion.core.models` model (its parameters are the starting point).
        X: Training inputs ``(N, d)``.
        y: Training targets.
        batch_size: ``B`` (positive int, at most ``N``).
        lr: SGD learning rate.
        target_loss: Stop at the first step whose full training loss is at most this.
        max_steps: Give up after this many steps.
        seed: Seed of the batch order.
        check_every: Steps between full-loss checks (default ``max(1, N // (8B))``).

    Returns:
        The number of steps, or ``None`` if the target was not reached (or the loss diverged).
    """
    X, y = check_model(model).check_data(X, y)
    n = len(X)
    b = check_batch_size(batch_size, "batch_size", n_samples=n)
    rate = check_real(lr, "lr", low=0.0, low_inclusive=False)
    target = check_real(target_loss, "target_loss", low=0.0, low_inclusive=False)
    cap = check_positive_int(max_steps, "max_steps")
    every = max(1, n // (8 * b)) if check_every is None else check_positive_int(
        check_every, "check_every"
    )
    from companion.core.batching import BatchPlan

    m = model.copy()
    loss0 = float(m.loss(X, y))
    if loss0 <= target:
        return 0
    plan = BatchPlan(n, b, remainder="carry", shuffle=True, seed=check_seed(seed))
    names = list(m.param_names)
    stream: list[np.ndarray] = []
    epoch = 0

    def batch(k: int) -> np.ndarray:
        nonlocal epoch
        while len(stream) <= k:
            stream.extend(plan.epoch(epoch))
            epoch += 1
        return stream[k]

    def sgd_step(k: int) -> None:
        idx = batch(k)
        _, grads = m.loss_and_grad(X[idx], y[idx])
        for name in names:
            m.params[name] -= rate * grads[name]

    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below
        return _run_to_target(m, X, y, target, loss0, cap, every, names, sgd_step)


def _run_to_target(
    m: Any,
    X: Any,
    y: Any,
    target: float,
    loss0: float,
    cap: int,
    every: int,
    names: list[str],
    sgd_step: Callable[[int], None],
) -> int | None:
    saved = {name: m.params[name].copy() for name in names}
    saved_step = 0
    step = 0
    while step < cap:
        stop = min(cap, step + every)
        for k in range(step, stop):
            sgd_step(k)
        step = stop
        loss = float(m.loss(X, y))
        if not np.isfinite(loss) or loss > loss0:
            return None
        if loss <= target:
            if stop - saved_step == 1:
                return step
            for name in names:  # replay the last stretch one step at a time
                m.params[name][...] = saved[name]
            for k in range(saved_step, stop):
                sgd_step(k)
                if float(m.loss(X, y)) <= target:
                    return k + 1
            return step  # unreachable in exact arithmetic; kept for safety
        saved = {name: m.params[name].copy() for name in names}
        saved_step = step
    return None


@dataclass(frozen=True)
class CriticalBatchResult:
    """Steps and examples to a target loss per batch size, and the fitted frontier.

    Attributes:
        batch_sizes: The batch sizes ``B``.
        lrs: The learning-rate grid.
        steps_grid: Steps to target, shape ``(len(batch_sizes), len(lrs))``: ``inf`` where
            the run did not reach the target within its step budget, ``nan`` where the
            learning rate was not tried (the search walks the grid from the previous batch
            size's best value and stops in a direction after two learning rates in a row
            fail to improve).
        best_lr: The learning rate with the fewest steps for each ``B`` (``nan`` if none
            reached the target).
        steps: Fewest steps for each ``B`` (mean over the repeats; ``inf`` if none).
        examples: ``B · steps``.
        target_loss: The target training loss.
        n_samples: ``N``, training rows.
        fit: The fitted :class:`FrontierFit`.
        b_simple_start: The exact simple noise scale ``tr Σ / ‖G‖²`` at the starting
            parameters (``None`` if not computed).
        b_simple_end: ``B_simple`` where full-batch gradient descent (with its best learning
            rate) first reaches the target (``None`` if not computed or not reached).
        seconds: Wall-clock time of the experiment.
        repeats: Runs averaged per ``(B, lr)``.
        b_noise_start: McCandlish et al.'s ``B_noise = tr(HΣ) / GᵀHG`` at the starting
            parameters (:func:`companion.measure.noise_scale.hessian_noise_scale`; ``None``
            if not computed). ``B_simple`` is its ``H ∝ I`` approximation.
        b_noise_end: ``B_noise`` at the parameters of ``b_simple_end``.
    """

    batch_sizes: np.ndarray
    lrs: np.ndarray
    steps_grid: np.ndarray
    best_lr: np.ndarray
    steps: np.ndarray
    examples: np.ndarray
    target_loss: float
    n_samples: int
    fit: FrontierFit
    b_simple_start: float | None
    b_simple_end: float | None
    seconds: float
    repeats: int = 1
    b_noise_start: float | None = None
    b_noise_end: float | None = None

    @property
    def b_crit(self) -> float:
        """The measured critical batch size ``E_min / S_min``."""
        return self.fit.b_crit

    def as_table(self) -> str:
        """A plain-text table: B, best lr, steps, examples, and the fitted steps.

        Returns:
            The table as a string.
        """
        lines = [
            f"# target training loss {self.target_loss:g}, N = {self.n_samples}; fit: "
            f"S_min = {self.fit.s_min:.4g}, E_min = {self.fit.e_min:.4g}, "
            f"B_crit = E_min/S_min = {self.fit.b_crit:.3g} (rms log residual "
            f"{self.fit.rms_log_residual:.2f})"
            + ("" if self.b_simple_start is None else
               f"; B_simple = {self.b_simple_start:.3g} at the start")
            + ("" if self.b_simple_end is None else f", {self.b_simple_end:.3g} at the target")
            + ("" if self.b_noise_start is None else
               f"; B_noise = {self.b_noise_start:.3g} at the start")
            + ("" if self.b_noise_end is None else f", {self.b_noise_end:.3g} at the target"),
            f"{'B':>6}   {'best lr':<8}  {'steps':<8}  {'examples':<9}  {'fit steps':<9}",
        ]
        for b, lr, s, e in zip(
            self.batch_sizes, self.best_lr, self.steps, self.examples, strict=True
        ):
            fs = float(self.fit.steps(b))
            lines.append(f"{int(b):>6}   {lr:<8.3g}  {s:<8.6g}  {e:<9.6g}  {fs:<9.4g}".rstrip())
        return "\n".join(lines)


#: Settings of :func:`critical_batch_experiment` for ``quick=False`` and ``quick=True``.
DEFAULTS: dict[bool, dict[str, Any]] = {
    False: {
        "lrs": tuple(0.025 * 2.0 ** (k / 2) for k in range(23)),
        "every_other": False,
        "repeats": 4,
    },
    True: {"lrs": tuple(0.025 * 2.0**k for k in range(12)), "every_other": True, "repeats": 1},
}


def _lockstep_steps(
    model: Any, X: np.ndarray, y: np.ndarray, batch_size: int, lrs: np.ndarray, seeds: np.ndarray,
    target: float, loss0: float, cap: int, every: int, repeats: int, budget: float,
) -> np.ndarray:
    """Steps to ``target`` of many :func:`steps_to_loss` runs at once, trained in lockstep.

    Run ``r`` is plain SGD at ``lrs[r]`` with the batch order of ``seeds[r]`` (the plan of
    :func:`steps_to_loss`), all from ``model``'s parameters, as the rows of one stacked
    parameter array (:mod:`companion.core.stacked`). Every ``every`` steps the full training
    loss of each run is checked (diverged: not finite or above ``loss0``); a run under the
    target is replayed from its last check one step at a time to find the exact step, as
    :func:`steps_to_loss` does. Consecutive blocks of ``repeats`` runs share a learning rate
    and are scored by their mean: a block is cut off (every run scores ``inf``) as soon as a
    run in it diverges or passes ``cap``, or its mean can no longer come in at or under
    ``budget`` (which tightens as blocks finish), as the sequential search cut runs off.

    Returns:
        Steps per run (float), ``inf`` where a run's block was cut off or did not reach the
        target.
    """
    from companion.core.batching import BatchPlan
    from companion.core.stacked import Stack, sgd_update

    stack = Stack(model)
    n_runs = len(lrs)
    n = len(X)
    result = np.full(n_runs, np.inf)
    ids = np.arange(n_runs)  # the runs still training, in the order of the stacked rows
    theta = np.tile(model._flat, (n_runs, 1))
    grad = np.empty_like(theta)
    lr = lrs.astype(model.dtype)[:, None]
    # runs with the same seed share a batch order: one plan per distinct seed
    distinct, run_plan = np.unique(np.asarray(seeds, dtype=np.int64), return_inverse=True)
    plans = [BatchPlan(n, batch_size, remainder="carry", shuffle=True, seed=int(s))
             for s in distinct]
    epoch, stream, offset = 0, np.empty((n_runs, 0), dtype=np.int64), 0
    n_blocks = n_runs // repeats
    reached = np.zeros(n_blocks)  # Σ steps of the block's finished runs
    done = np.zeros(n_blocks, dtype=np.int64)  # how many of them
    closed = np.zeros(n_blocks, dtype=bool)  # every run of the block reached the target
    failed = np.zeros(n_blocks, dtype=bool)  # cut off
    best = budget

    def next_batches(count: int) -> np.ndarray:
        nonlocal epoch, stream, offset
        while stream.shape[1] - offset < count * batch_size:
            fresh = np.stack([p.epoch_stream(epoch) for p in plans])[run_plan]
            stream = np.concatenate([stream[:, offset:], fresh], axis=1)
            offset = 0
            epoch += 1
        out = stream[:, offset : offset + count * batch_size]
        offset += count * batch_size
        return out.reshape(n_runs, count, batch_size)

    def sgd(theta: np.ndarray, idx: np.ndarray, lr: np.ndarray) -> None:
        stack.forward_backward(theta, X.take(idx, 0), y.take(idx, 0), grad[: len(theta)])
        sgd_update(theta, grad[: len(theta)], lr)

    def settle(loss: np.ndarray, hit_at: np.ndarray, step: int) -> np.ndarray:
        """After a check at ``step``: record the runs that reached the target (at the steps
        ``hit_at`` of the checked rows), cut off blocks, and return the rows to keep."""
        nonlocal best, closed, failed
        bad = ~np.isfinite(loss) | (loss > loss0)
        hit = ~bad & (loss <= target)
        for row in np.flatnonzero(hit):
            first = int(hit_at[row])
            result[ids[row]] = first
            block = ids[row] // repeats
            reached[block] += first
            done[block] += 1
        block_of = ids // repeats
        dead = np.zeros(n_blocks, dtype=bool)
        dead[block_of[bad]] = True
        limit = np.floor(best * repeats)
        newly = (done == repeats) & ~closed
        dead |= newly & (reached > limit)  # finished, but over the budget
        for block in np.flatnonzero(newly & ~dead):
            best = min(best, reached[block] / repeats)
        closed |= newly
        limit = np.floor(best * repeats)
        dead |= ~closed & (reached + step * (repeats - done) > limit)  # cannot win any more
        dead &= ~failed
        failed |= dead
        return ~(bad | hit | dead[block_of])

    step = 0
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below
        if every == 1 and stack.fuses_full_loss:
            # The loss is checked after every step: one pass over the data gives the check
            # of the parameters reached so far and the gradient of the next batch.
            while ids.size:
                idx = next_batches(1)[ids, 0]  # (runs, B)
                loss = stack.loss_and_batch_grad(theta, X, y, idx, grad[: len(theta)])
                if step:
                    keep = settle(loss, np.full(len(ids), step), step)
                    ids, theta, lr = ids[keep], theta[keep], lr[keep]
                    if not ids.size or step >= cap:
                        break
                    grad[: len(theta)] = grad[: len(keep)][keep]
                sgd_update(theta, grad[: len(theta)], lr)
                step += 1
        while ids.size and step < cap:
            stop = min(cap, step + every)
            idx = next_batches(stop - step)[ids]  # (runs, steps, B)
            saved = theta.copy()
            for k in range(stop - step):
                sgd(theta, idx[:, k], lr)
            loss = stack.loss(theta, X, y)
            hit_at = np.full(len(ids), stop)
            rows = np.flatnonzero(np.isfinite(loss) & (loss <= min(target, loss0)))
            if rows.size and stop - step > 1:
                # Replay the stretch of these runs from the last check, 16 steps at a time:
                # keep the parameters after each step, evaluate the full loss of all of them
                # in one pass, and stop a run at its first step at or under the target.
                hit_at[rows] = _replay(stack, saved[rows], lr[rows], idx[rows], X, y, target,
                                       sgd) + step
            step = stop
            keep = settle(loss, hit_at, step)
            ids, theta, lr = ids[keep], theta[keep], lr[keep]
    blocks = result.reshape(n_blocks, repeats)
    blocks[failed | ~closed] = np.inf
    return blocks.ravel()


def _replay(stack: Any, start: np.ndarray, lr: np.ndarray, idx: np.ndarray, X: np.ndarray,
            y: np.ndarray, target: float, sgd: Callable[..., None], chunk: int = 16) -> np.ndarray:
    """For each row of ``start``, the first step (1-based) of the batches ``idx[row]`` after
    which its full training loss is at or under ``target``; the last step if none is (it is
    under the target by construction: the caller saw it there)."""
    theta, rate = start.copy(), lr
    width = idx.shape[1]
    first = np.full(len(start), width)
    active = np.arange(len(start))
    for block in range(0, width, chunk):
        steps = range(block, min(width, block + chunk))
        path = np.empty((len(active), len(steps), theta.shape[1]), dtype=theta.dtype)
        for j, k in enumerate(steps):
            sgd(theta, idx[active, k], rate)
            path[:, j] = theta
        under = (stack.loss(path.reshape(-1, theta.shape[1]), X, y)
                 .reshape(len(active), len(steps)) <= target)
        found = under.any(axis=1)
        first[active[found]] = block + 1 + np.argmax(under[found], axis=1)
        keep = ~found
        active, theta, rate = active[keep], theta[keep], rate[keep]
        if not active.size:
            break
    return first


def _check_lrs(lrs: Sequence[float]) -> np.ndarray:
    """The learning-rate grid as a sorted float64 array: every element a positive real (the
    error names the element), at least one."""
    grid = np.array(check_each(lrs, "lrs", check_real, low=0.0, low_inclusive=False,
                               example="[0.05, 0.1, 0.2]"), dtype=np.float64)
    if grid.size == 0:
        raise ValueError("lrs must hold at least one learning rate; got an empty sequence")
    return np.sort(grid)


def _training_data(X: Any, y: Any) -> tuple[np.ndarray, Any]:
    """``(X, y)`` as given (``X`` checked), or the digits' training split when both are None."""
    if (X is None) != (y is None):
        raise ValueError("X and y must be given together (or both left as None for digits)")
    if X is None:
        from companion.core.datasets import digits

        split = digits()
        X, y = split.X_train, split.y_train
    return check_array(X, "X", ndim=2, dtype_kind="f"), y


def _default_model(X: np.ndarray, y: Any, seed: int) -> Any:
    """``SoftmaxRegression`` with one output per class of ``y`` (at least two)."""
    from companion.core.models import SoftmaxRegression

    labels = check_array(y, "y", ndim=1, dtype_kind="iu" if np.asarray(y).dtype.kind in "iu"
                         else "f")
    if labels.size == 0:
        raise ValueError("y must hold at least one label; got an empty array")
    return SoftmaxRegression(X.shape[1], max(2, int(labels.max()) + 1), seed=seed)


def critical_batch_experiment(
    X: Any = None,
    y: Any = None,
    *,
    model: Any = None,
    batch_sizes: Sequence[int] | None = None,
    lrs: Sequence[float] | None = None,
    target_loss: float = 0.2,
    max_steps: int = 20_000,
    repeats: int | None = None,
    quick: bool = False,
    seed: int = 0,
    noise_scale: bool = True,
    b_noise: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CriticalBatchResult:
    """Measure steps and examples to a target loss per batch size; fit the frontier.

    For each ``B`` (largest first) SGD runs from the same starting parameters
    (:func:`steps_to_loss`) until the full training loss reaches ``target_loss``, for
    learning rates on a geometric grid: the search starts at the previous batch size's best
    learning rate, walks outwards, cuts every run off once it needs more steps than the best
    so far, and gives up a direction after two learning rates in a row that do not improve.
    The best learning rate is the one with the fewest steps. :func:`fit_frontier` then gives
    ``S_min``, ``E_min`` and ``B_crit``; for comparison ``B_simple`` is computed exactly at
    the parameters where full-batch gradient descent reaches the target, and with
    ``b_noise=True`` beside it ``B_noise = tr(HΣ)/GᵀHG`` (the noise scale McCandlish et al.
    relate to ``B_crit``) at the same two points.

    Args:
        X: Training inputs; default the training split of
            :func:`companion.core.datasets.digits` (with ``y``).
        y: Training labels.
        model: Starting model (copied, never changed); default
            ``SoftmaxRegression(d, n_classes, seed=0)``.
        batch_sizes: Default: powers of two up to ``N`` and ``N`` itself (every other power
            with ``quick=True``).
        lrs: Learning-rate grid; default ``0.025·√2^k`` for ``k = 0…22`` (0.025 to 51.2;
            with ``quick=True`` ``0.025·2^k`` for ``k = 0…11``).
        target_loss: Target full training loss.
        max_steps: Step budget of a single run.
        repeats: Runs (batch orders ``seed, seed + 1, …``) averaged for every
            ``(B, lr)``: the first time the loss dips under the target is noisy for small
            batches, and the mean over a few batch orders is much steadier. Default 4
            (1 with ``quick=True``).
        quick: Smaller grids and a single run per point, for tests and notebooks.
        seed: Seed of the first batch order (every ``(B, lr)`` uses the same orders).
        noise_scale: Also compute ``B_simple`` (needs ``per_sample_grads``).
        b_noise: Also compute ``B_noise = tr(HΣ)/GᵀHG`` at the same two points (needs
            ``noise_scale``; :func:`companion.measure.curvature.hessian` forms the Hessian,
            in closed form for softmax regression).
        progress: Called with a short message after each batch size (e.g. ``print``).

    Returns:
        A :class:`CriticalBatchResult`.
    """
    t0 = time.perf_counter()
    quick = check_bool(quick, "quick")
    noise_scale = check_bool(noise_scale, "noise_scale")
    b_noise = check_bool(b_noise, "b_noise")
    X, y = _training_data(X, y)
    if model is None:
        model = _default_model(X, y, seed=0)
    X, y = check_model(model).check_data(X, y)
    n = len(X)
    settings = DEFAULTS[quick]
    if batch_sizes is None:
        sizes = powers_of_two(n)
        if settings["every_other"]:
            sizes = sorted(set(sizes[::2]) | {n})
        sizes_arr = np.array(sizes, dtype=np.int64)
    else:
        sizes_arr = check_batch_sizes(batch_sizes, "batch_sizes", n_samples=n)
    grid = _check_lrs(settings["lrs"] if lrs is None else lrs)
    target = check_real(target_loss, "target_loss", low=0.0, low_inclusive=False)
    cap = check_positive_int(max_steps, "max_steps")
    repeats = settings["repeats"] if repeats is None else check_positive_int(repeats, "repeats")
    base = check_nonnegative_int(seed, "seed")

    table = np.full((sizes_arr.size, grid.size), np.nan)
    start = grid.size - 1
    Xm, ym = model._check_Xy(X, y)
    loss0 = float(model.loss(Xm, ym))
    seeds = base + np.arange(repeats)
    for i in np.argsort(-sizes_arr, kind="stable"):
        b = int(sizes_arr[i])

        def evaluate(indices: list[int], best: float, b: int = b) -> np.ndarray:
            # Every (lr, seed) of the window in lockstep; the score is the mean over seeds.
            if loss0 <= target:
                return np.zeros(len(indices))
            steps = _lockstep_steps(
                model, Xm, ym, b, np.repeat(grid[indices], repeats), np.tile(seeds, len(indices)),
                target, loss0, cap, max(1, n // (8 * b)), repeats, min(best, float(cap)),
            ).reshape(len(indices), repeats)
            return np.where(np.isfinite(steps).all(axis=1), steps.mean(axis=1), np.inf)

        table[i] = walk_grid(evaluate, grid.size, start, patience=2)
        if np.isfinite(table[i]).any():
            start = int(np.nanargmin(table[i]))
        if progress is not None:
            progress(f"B={b}: {np.nanmin(table[i]):g} steps")
    filled = np.where(np.isnan(table), np.inf, table)
    reached = np.isfinite(filled).any(axis=1)
    best_j = np.argmin(filled, axis=1)
    best_lr = np.where(reached, grid[best_j], np.nan)
    steps = np.where(reached, filled[np.arange(sizes_arr.size), best_j], np.inf)
    examples = sizes_arr * steps
    fit = fit_frontier(steps, examples)
    b_start = b_end = noise_start = noise_end = None
    if noise_scale:
        b_start, noise_start = _noise_scale_after(model, X, y, 0, 0.0, b_noise)
        if n in sizes_arr and reached[sizes_arr == n].any():
            j = int(np.flatnonzero(sizes_arr == n)[0])
            b_end, noise_end = _noise_scale_after(
                model, X, y, int(round(steps[j])), float(best_lr[j]), b_noise
            )
    return CriticalBatchResult(
        batch_sizes=sizes_arr,
        lrs=grid,
        steps_grid=table,
        best_lr=best_lr,
        steps=steps,
        examples=examples,
        target_loss=target,
        n_samples=n,
        fit=fit,
        b_simple_start=b_start,
        b_simple_end=b_end,
        seconds=time.perf_counter() - t0,
        repeats=repeats,
        b_noise_start=noise_start,
        b_noise_end=noise_end,
    )


def _noise_scale_after(
    model: Any, X: np.ndarray, y: np.ndarray, steps: int, lr: float, b_noise: bool
) -> tuple[float, float | None]:
    """``(B_simple, B_noise or None)`` after ``steps`` full-batch gradient-descent steps of size
    ``lr``."""
    from companion.measure.noise_scale import hessian_noise_scale, simple_noise_scale

    m = model.copy()
    for _ in range(steps):
        _, grads = m.loss_and_grad(X, y)
        for name in m.param_names:
            m.params[name] -= lr * grads[name]
    return (simple_noise_scale(m.per_sample_grads(X, y)),
            hessian_noise_scale(m, X, y) if b_noise else None)


@dataclass(frozen=True)
class BCritInterval:
    """``B_crit`` from several independent measurements, on a grid and on its refinement.

    Attributes:
        seeds: The first batch-order seed of each measurement (each uses ``repeats``
            consecutive orders from it, so no two measurements share an order); with the
            default model, measurement ``k`` also starts from its own initialisation
            ``SoftmaxRegression(..., seed=k)``.
        b_crit: ``B_crit`` per measurement on the learning-rate grid given.
        b_crit_refined: ``B_crit`` per measurement on the grid refined to half its log
            spacing (the geometric mean inserted between neighbours), or ``None``.
        lrs: The grid.
        results: The :class:`CriticalBatchResult` of each measurement (grid given).
        results_refined: The same on the refined grid, or ``None``.
    """

    seeds: tuple[int, ...]
    b_crit: np.ndarray
    b_crit_refined: np.ndarray | None
    lrs: np.ndarray
    results: tuple[CriticalBatchResult, ...]
    results_refined: tuple[CriticalBatchResult, ...] | None = None

    def pooled(self, refined: bool = False) -> CriticalBatchResult:
        """The measurements pooled into one result: per batch size the geometric mean of
        the steps over the measurements (``inf`` where one did not reach the target) and of
        the best learning rates, the mean steps grid, and the frontier fitted to the means.

        Args:
            refined: Pool the measurements on the refined grid.

        Returns:
            A :class:`CriticalBatchResult` (its ``repeats`` counts every batch order behind
            a point; noise scales are left out, they belong to each starting point).
        """
        results = self.results_refined if refined else self.results
        if results is None:
            raise ValueError("the refined grid was not measured (refine=False)")
        with np.errstate(divide="ignore"):
            steps = np.exp(np.log(np.stack([r.steps for r in results])).mean(axis=0))
            best_lr = np.exp(np.log(np.stack([r.best_lr for r in results])).mean(axis=0))
        first = results[0]
        examples = first.batch_sizes * steps
        return CriticalBatchResult(
            batch_sizes=first.batch_sizes, lrs=first.lrs,
            steps_grid=np.stack([r.steps_grid for r in results]).mean(axis=0),
            best_lr=best_lr, steps=steps, examples=examples, target_loss=first.target_loss,
            n_samples=first.n_samples, fit=fit_frontier(steps, examples), b_simple_start=None,
            b_simple_end=None, seconds=float(sum(r.seconds for r in results)),
            repeats=sum(r.repeats for r in results),
        )

    def interval(self, refined: bool = False, level: float = 0.95) -> tuple[float, float, float]:
        """Mean of ``log B_crit`` over the seeds with its Student-t interval, back in ``B``.

        Returns:
            ``(geometric mean, low, high)``.
        """
        from scipy.stats import t as student_t

        values = self.b_crit_refined if refined else self.b_crit
        if values is None:
            raise ValueError("the refined grid was not measured (refine=False)")
        logs = np.log(values)
        k = logs.size
        centre = float(logs.mean())
        if k < 2:
            return float(np.exp(centre)), float("nan"), float("nan")
        half = float(student_t.ppf(0.5 + level / 2, k - 1) * logs.std(ddof=1) / np.sqrt(k))
        return float(np.exp(centre)), float(np.exp(centre - half)), float(np.exp(centre + half))


def refine_grid(lrs: Sequence[float]) -> np.ndarray:
    """The grid with the geometric mean of each pair of neighbours inserted.

    >>> refine_grid([1.0, 4.0, 16.0]).tolist()
    [1.0, 2.0, 4.0, 8.0, 16.0]
    """
    grid = np.sort(np.asarray(lrs, dtype=np.float64))
    mids = np.sqrt(grid[:-1] * grid[1:])
    return np.sort(np.concatenate([grid, mids]))


def critical_batch_interval(
    X: Any = None,
    y: Any = None,
    *,
    n_seeds: int = 5,
    refine: bool = True,
    lrs: Sequence[float] | None = None,
    repeats: int = 4,
    executor: Executor | None = None,
    **settings: Any,
) -> BCritInterval:
    """``B_crit`` from ``n_seeds`` independent measurements, and again on a refined grid.

    Each measurement is :func:`critical_batch_experiment` with its own batch orders
    (seed ``k·repeats`` for measurement ``k``, so the ``repeats`` orders averaged per point
    never overlap between measurements) and, unless ``model`` is given, its own starting
    point ``SoftmaxRegression(d, n_classes, seed=k)``; the spread over measurements gives the
    interval (:meth:`BCritInterval.interval`), and repeating them on the grid refined to half
    its log spacing (:func:`refine_grid`) shows whether the answer still moves with the grid.

    Args:
        X: Training inputs (default: the digits, as in :func:`critical_batch_experiment`).
        y: Training labels.
        n_seeds: Independent measurements (>= 2 for an interval).
        refine: Also measure on the refined grid.
        lrs: The grid (default: the full setting's, 0.025·√2^k).
        repeats: Batch orders averaged per point in each measurement.
        executor: None to measure in this process, one after the other, or any
            ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor``, or a Dask cluster
            through ``distributed.Client.get_executor()``): every measurement, on both grids,
            is submitted to it at once and gathered in order. The results are the same. If
            one measurement raises (or on Ctrl-C) the others still pending are cancelled.
        **settings: Passed on to :func:`critical_batch_experiment` (``batch_sizes``,
            ``target_loss``, ``model``, ``max_steps``).

    Returns:
        A :class:`BCritInterval`.
    """
    k = check_positive_int(n_seeds, "n_seeds")
    refine = check_bool(refine, "refine")
    r = check_positive_int(repeats, "repeats")
    grid = _check_lrs(DEFAULTS[False]["lrs"] if lrs is None else lrs)
    seeds = tuple(i * r for i in range(k))
    settings.setdefault("noise_scale", False)

    X, y = _training_data(X, y)
    given = settings.pop("model", None)

    def start(i: int) -> Any:
        return given if given is not None else _default_model(X, y, seed=i)

    check_executor(executor)
    grids = [grid, refine_grid(grid)] if refine else [grid]
    jobs = [dict(model=start(i), lrs=g, repeats=r, seed=s, **settings)
            for g in grids for i, s in enumerate(seeds)]
    if executor is None:
        done = [critical_batch_experiment(X, y, **job) for job in jobs]
    else:
        futures = [executor.submit(critical_batch_experiment, X, y, **job) for job in jobs]
        try:
            done = [future.result() for future in futures]
        except BaseException:  # a measurement failed, or Ctrl-C: the rest are not started
            for future in futures:
                future.cancel()
            raise
    results = tuple(done[:k])
    refined = tuple(done[k:]) if refine else None
    return BCritInterval(
        seeds, np.array([res.b_crit for res in results]),
        None if refined is None else np.array([res.b_crit for res in refined]),
        grid, results, refined,
    )
