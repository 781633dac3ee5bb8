"""The lockstep trainer behind :func:`companion.core.sweep.sweep`: one group of runs at once.

A group is runs that share the model's architecture and dtype, the batch size, the remainder
policy, the accumulation and the optimiser's terms. :class:`_Lockstep` keeps their flat
parameters as the rows of one ``(K, P)`` array (:mod:`companion.core.stacked`), steps them
together, and keeps each run's events to itself: divergence, a callback stopping,
interrupting or failing its run. The rules it shares with
:func:`companion.core.training.fit` are each one function in the section "what fit does,
mirrored" at the top of this module, to keep them aligned with ``training.py`` (the History
and the updates per epoch come from :func:`companion.core.training.new_history` itself): the
samples per update, the divergence bound (``divergence_factor`` × the first batch loss), the test before an update, when the previous update is undone (its
row removed), the messages, and the optimiser state a run ends with. Each step's arithmetic
is :func:`companion.core.optim.sgd_update`, the function ``SGD.step`` calls; a run's
optimiser gets its final state through :meth:`SGD.load_state`.

>>> _update_sizes((4, 4, 2), k=2)
[8, 2]
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from companion.core.batching import BatchPlan
from companion.core.callbacks import Callback
from companion.core.history import History
from companion.core.models import Model
from companion.core.optim import SGD
from companion.core.stacked import Stack, row_sq_norms, sgd_update, signature
from companion.core.training import epoch_logs, new_history

_REFRESH_SECONDS = 0.25


# -- what fit does, mirrored: each rule in one function, to keep aligned with training.py ----
def _update_sizes(sizes: tuple[int, ...], k: int) -> list[int]:
    """Samples per update when ``k`` consecutive batches make one update (as fit)."""
    return [sum(sizes[i : i + k]) for i in range(0, len(sizes), k)]


def _divergence_bound(first_loss: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """fit's bound from each run's first batch loss: factor × loss, none (inf) if loss is 0."""
    return np.where(first_loss > 0, factor * first_loss, math.inf)


def _diverged_before(loss: np.ndarray, sq: np.ndarray, bound: np.ndarray) -> list[int]:
    """fit's test before an update: the runs whose batch loss or gradient norm is not
    finite, or whose batch loss exceeds its bound."""
    add = np.add.reduce
    if math.isfinite(add(loss) + add(sq)) and not np.greater(loss, bound).any():  # usually
        return []
    return np.flatnonzero(~(np.isfinite(loss) & np.isfinite(sq)) | (loss > bound)).tolist()


def _undoes_previous(loss: float, bound: float, params_finite: bool, rows: int) -> bool:
    """fit's rule: a diverged run's previous update is undone (and its row removed) when the
    loss is not finite or over the bound (the parameters that gave it are bad) or the
    parameters are not finite, if the run has an update to undo."""
    bad_params = not (math.isfinite(loss) and loss <= bound) or not params_finite
    return bad_params and rows > 0


def _diverged_before_message(row: int, epoch: int, loss: float, sq_norm: float, lr: float,
                             bound: float, factor: float, undone: bool) -> str:
    """fit's message when it stops before update ``row`` (0-based) as diverged."""
    if loss > bound and math.isfinite(loss):
        cause = (f"the batch loss {loss:.6g} exceeds {bound:.6g}, divergence_factor="
                 f"{factor:g} × the run's first batch loss {bound / factor:.6g}")
    else:
        cause = f"the batch loss is {loss!r} and the gradient norm is {math.sqrt(sq_norm)!r}"
    restored = (
        f" The parameters that gave this loss came from update {row}, so it was undone too "
        f"(and its row removed): the model is the one from before it." if undone else
        " The parameters were left as they were before this update."
    )
    return (f"Training diverged at step {row + 1} (epoch {epoch}): {cause}.{restored} "
            f"Try a smaller learning rate (lr was {lr:g}).")


def _diverged_after_message(rows: int, epoch: int, lr: float) -> str:
    """fit's message when an epoch's last update made the parameters non-finite (it is
    undone; ``rows`` counts the updates kept)."""
    return (
        f"Training diverged at step {rows + 1} (epoch {epoch}): the update made "
        f"the parameters non-finite, so it was undone. Try a smaller learning rate "
        f"(lr was {lr:g})."
    )


def _final_state(opt_start: dict[str, object], layout: tuple, rows: int,
                 buffer: np.ndarray | None) -> dict[str, object]:
    """The :attr:`SGD.state` fit leaves after ``rows`` updates from ``opt_start``:
    the update count moved on, the layout bound by the first update, the latest buffer."""
    if rows == 0:
        return opt_start
    return {"iterations": int(opt_start["iterations"]) + rows,  # type: ignore[call-overload]
            "layout": layout, "momentum_buffer": None if buffer is None else buffer.copy()}


def _interrupted_message(epoch: int, rows: int) -> str:
    return (
        f"Training interrupted (KeyboardInterrupt) in epoch {epoch} after "
        f"{rows} steps; the history so far is returned"
    )


def _early_stop_message(epoch: int, rows: int) -> str:
    return f"Training stopped by a callback in epoch {epoch} after {rows} steps"


# -- the runs ----------------------------------------------------------------------------------
@dataclass
class _Run:
    """One run's arguments, checked."""

    index: int
    model: Model
    optimizer: SGD
    batch_size: int | None
    epochs: int
    remainder: str
    shuffle: bool
    seed: int | None
    accumulate: int
    callbacks: list[Callback]
    divergence_factor: float | None
    plan: BatchPlan = field(init=False)

    @property
    def factor(self) -> float:
        """The divergence bound's multiple (inf when the bound is off)."""
        return math.inf if self.divergence_factor is None else float(self.divergence_factor)

    def describe(self) -> str:
        """The run's arguments in words, for error messages."""
        return (
            f"run {self.index} (model={self.model!r}, optimizer={self.optimizer!r}, "
            f"batch_size={self.batch_size}, epochs={self.epochs}, remainder={self.remainder!r}, "
            f"shuffle={self.shuffle}, seed={self.seed}, accumulate={self.accumulate}, "
            f"divergence_factor={self.divergence_factor})"
        )

    def group_key(self) -> tuple:
        opt = self.optimizer
        return (
            signature(self.model), self.plan.batch_size, self.plan.remainder, self.accumulate,
            opt.momentum > 0, opt.nesterov, opt.weight_decay > 0,
        )


@dataclass
class _Outcome:
    index: int
    history: History | None
    error: BaseException | None = None
    error_text: str = ""
    model: Model | None = None
    optimizer: SGD | None = None
    callbacks: list[Callback] | None = None


# -- one lockstep group ---------------------------------------------------------------------
class _RunState:
    """What the lockstep loop keeps per run besides its row of the stacked arrays."""

    def __init__(self, run: _Run, history: History, updates: list[int]) -> None:
        self.run, self.history, self.updates = run, history, updates
        self.n_epochs = len(updates)
        opt = run.optimizer
        self.t_start = opt.iterations
        self.opt_start = opt.state  # what the optimiser holds before the run
        self.schedule = callable(opt.lr)
        self.step_callbacks = [
            cb for cb in run.callbacks if type(cb).on_step_end is not Callback.on_step_end
        ]
        self.epoch = 0
        self.rows = 0
        self.flushed = 0  # rows already written into the history's StepLog
        self.first = 0  # row of the current epoch's first update
        self.done = False
        self.undone = False  # its latest update was undone (it stops)
        self.error: BaseException | None = None
        self.error_text = ""


class _Lockstep:
    """Train the runs of one group in lockstep (see the module docstring)."""

    def __init__(self, runs: list[_Run], X: Any, y: Any, val: Any,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
        template = runs[0].model
        self.stack = Stack(template)
        self.X, self.y = template.check_data(X, y)
        self.val = None if val is None else template.check_data(*val, "validation_data[0]",
                                                                "validation_data[1]")
        self.runs = runs
        self.on_progress = on_progress
        self.k = runs[0].accumulate
        opt0 = runs[0].optimizer
        self.momentum_on, self.nesterov, self.decay_on = (
            opt0.momentum > 0, opt0.nesterov, opt0.weight_decay > 0
        )
        self.dtype = template.dtype
        self.interrupted_all = False

    # -- setup -------------------------------------------------------------------------------
    def _start(self) -> None:
        self.states: list[_RunState] = []
        for run in self.runs:
            history, updates = new_history(run.model, run.plan, run.epochs, run.accumulate,
                                           run.optimizer, has_validation=self.val is not None,
                                           divergence_factor=run.divergence_factor)
            self.states.append(_RunState(run, history, updates))
        for st in self.states:
            for cb in st.run.callbacks:
                cb.history = st.history
            for cb in st.run.callbacks:
                if not self._call(st, cb.on_train_begin, st.history):
                    break
        plan = self.runs[0].plan
        self.n_epochs = max(st.n_epochs for st in self.states)
        self.micro_sizes = [tuple(plan.sizes(e)) for e in range(self.n_epochs)]
        self.update_sizes = [
            list(s) if self.k == 1 else _update_sizes(s, self.k) for s in self.micro_sizes
        ]
        total = sum(len(s) for s in self.update_sizes)
        self.g_epoch = np.repeat(np.arange(self.n_epochs), [len(s) for s in self.update_sizes])
        self.g_size = np.array([b for s in self.update_sizes for b in s], dtype=np.int64)
        self.g_seen = np.cumsum(self.g_size, dtype=np.int64)
        n_runs = len(self.runs)
        self.rec_loss = np.full((total, n_runs), np.nan)
        self.rec_norm = np.full((total, n_runs), np.nan)
        self.rec_lr = np.full((total, n_runs), np.nan)
        self.rec_time = np.zeros(total)
        self.rec_correct = (np.zeros((total, n_runs), dtype=np.int64) if self.stack.is_classifier
                            else None)
        # per-run rows of the stacked arrays, for the runs still training ("slots")
        self.slots = np.array([i for i, st in enumerate(self.states) if not st.done],
                              dtype=np.int64)
        dt = self.dtype
        self.theta = np.stack([r.model.params.vector for r in self.runs]).astype(dt, copy=False)
        self.theta = self.theta[self.slots].copy()
        self.prev = np.empty_like(self.theta)
        self.grad = np.empty_like(self.theta)
        self.micro = np.empty_like(self.theta) if self.k > 1 else self.grad
        opts = [self.states[s].run.optimizer for s in self.slots]
        self.lr_rec = np.array([o.current_lr if not callable(o.lr) else math.nan for o in opts])
        self.factor = np.array([self.states[s].run.factor for s in self.slots])
        self.bound = np.full(len(self.slots), math.inf)  # set from the first batch loss
        self.lr = self.lr_rec.astype(dt)[:, None]
        self._share_lr()
        self.mu = np.array([o.momentum for o in opts], dtype=dt)[:, None]
        self.wd = np.array([o.weight_decay for o in opts], dtype=dt)[:, None]
        self.buf = self.prev_buf = None
        if self.momentum_on:
            self.buf = np.zeros_like(self.theta)
            for row, o in enumerate(opts):
                start = o.state["momentum_buffer"]
                if start is not None:
                    self.buf[row] = start
            self.prev_buf = np.empty_like(self.buf)
        self.applying = -1  # row whose update is being applied (for Ctrl-C consistency)
        self.row = 0
        self._refresh_flags()
        self.t0 = time.perf_counter()

    # -- per-run bookkeeping --------------------------------------------------------------------
    def _call(self, st: _RunState, hook: Callable[..., Any], *args: Any) -> bool:
        """Call one run's callback hook; False if it ended that run (interrupt or error)."""
        try:
            hook(*args)
        except KeyboardInterrupt:
            self._mark_interrupted(st)
            return False
        except Exception as exc:  # the run fails alone
            st.error, st.error_text = exc, traceback.format_exc()
            st.done = True
            return False
        return True

    def _mark_interrupted(self, st: _RunState) -> None:
        h = st.history
        h.interrupted = True
        h.stop_reason = "interrupted"
        h.message = _interrupted_message(st.epoch, st.rows)
        warnings.warn(f"run {st.run.index}: {h.message}", UserWarning, stacklevel=2)
        st.done = True

    def _st(self, slot: int) -> _RunState:
        """The state of the run in ``slot`` (still training), its row count brought up to date
        (a run whose latest update was undone keeps its count)."""
        st = self.states[self.slots[slot]]
        if not st.undone:
            st.rows = self.row
        return st

    def _refresh_flags(self) -> None:
        active = [self.states[p] for p in self.slots]
        self.scheduled = [s for s, st in enumerate(active) if st.schedule]
        self.all_active = len(self.slots) == len(self.states)
        self.has_step_callbacks = any(st.step_callbacks for st in active)

    def _share_lr(self) -> None:
        """The rate the update is given: one float when every run has the same (several times
        faster than a column of equal rates, the same values), else the ``(K, 1)`` column."""
        lr = self.lr
        self.lr_arg = float(lr[0, 0]) if len(lr) and (lr == lr[0, 0]).all() else lr

    def _sync_model(self, slot: int) -> None:
        np.copyto(self.states[self.slots[slot]].run.model.params.vector, self.theta[slot])

    def _sync_back(self, slot: int) -> None:
        np.copyto(self.theta[slot], self.states[self.slots[slot]].run.model.params.vector)

    def _flush(self, st: _RunState, pos: int) -> None:
        """Write the run's rows recorded since the last flush into its History's StepLog."""
        a, n = st.flushed, st.rows
        log = st.history.steps
        if n > a:
            log.buffer("step")[a:n] = np.arange(a + 1, n + 1)
            log.buffer("epoch")[a:n] = self.g_epoch[a:n]
            log.buffer("batch_size")[a:n] = self.g_size[a:n]
            log.buffer("samples_seen")[a:n] = self.g_seen[a:n]
            log.buffer("loss")[a:n] = self.rec_loss[a:n, pos]
            log.buffer("grad_norm")[a:n] = self.rec_norm[a:n, pos]
            log.buffer("lr")[a:n] = self.rec_lr[a:n, pos]
            log.buffer("time")[a:n] = self.rec_time[a:n]
        st.flushed = n
        log.set_length(n)

    def _end_epoch(self, slot: int, epoch: int) -> None:
        """fit's ``_end_epoch`` for one run: metrics, validation, ``on_epoch_end``."""
        pos = int(self.slots[slot])
        st = self._st(slot)
        history, model = st.history, st.run.model
        a, b = st.first, st.rows
        updates = b - a
        n = self._samples(st)
        self._sync_model(slot)
        losses = self.rec_loss[a:b, pos]
        loss_sum = float(np.dot(self.g_size[a:b], losses))  # Σ n_b·loss_b, the sum fit forms
        correct = 0 if self.rec_correct is None else int(self.rec_correct[a:b, pos].sum())
        logs = epoch_logs(model, loss_sum, correct, n, self.val)
        for key, value in logs.items():
            history.history[key].append(value)
        history.history_batch_mean_loss.append(
            float(np.add.reduce(losses)) / updates if updates else math.nan
        )
        history.epoch.append(epoch)
        self._flush(st, pos)
        for cb in st.run.callbacks:
            if not self._call(st, cb.on_epoch_end, epoch, dict(logs)):
                break
        self._sync_back(slot)

    def _samples(self, st: _RunState) -> int:
        """Samples in the run's recorded updates of the current epoch."""
        if st.rows <= st.first:
            return 0
        return int(self.g_seen[st.rows - 1] - (self.g_seen[st.first - 1] if st.first else 0))

    def _undo_last(self, slot: int, st: _RunState) -> None:
        """fit's undo of a run's latest update: parameters and buffer from before it, its
        row removed (the epoch's sums are taken over the rows kept)."""
        row = st.rows - 1
        np.copyto(self.theta[slot], self.prev[slot])
        if self.momentum_on:
            np.copyto(self.buf[slot], self.prev_buf[slot])
        st.rows = row
        st.undone = True

    def _close_epoch(self, slot: int, epoch: int, finished: bool) -> None:
        """After a run's epoch (or the part it ran): the after-update check and the metrics."""
        st = self._st(slot)
        if st.history.stop_reason != "diverged" and st.rows > st.first and not np.isfinite(
            self.theta[slot]
        ).all():
            lr = float(self.rec_lr[st.rows - 1, self.slots[slot]])
            self._undo_last(slot, st)
            self._stop_diverged(st, _diverged_after_message(st.rows, epoch, lr))
        if finished or st.rows > st.first:
            self._end_epoch(slot, epoch)

    def _stop_diverged(self, st: _RunState, message: str) -> None:
        st.history.stop_reason, st.history.message = "diverged", message
        warnings.warn(f"run {st.run.index}: {message}", RuntimeWarning, stacklevel=2)

    def _wants_stop(self, st: _RunState) -> bool:
        return st.done or st.history.stop_training or st.history.stop_reason == "diverged"

    def _finish(self, st: _RunState, slot: int | None) -> None:
        """End one run: parameters and optimiser state out, history closed, on_train_end."""
        pos = self.states.index(st)
        run, history = st.run, st.history
        if slot is not None:
            self._sync_model(slot)
            buffer = self.buf[slot] if self.momentum_on else None
            run.optimizer.load_state(
                _final_state(st.opt_start, run.model.layout, st.rows, buffer)
            )
        self._flush(st, pos)
        st.done = True
        if st.error is not None:
            return
        if history.stop_reason == "running":
            history.stop_reason = "early_stopping" if history.stop_training else "completed"
            if history.stop_training and not history.message:
                history.message = _early_stop_message(st.epoch, st.rows)
        for cb in run.callbacks:
            if not self._call(st, cb.on_train_end, history):
                break
        if self.on_progress is not None:
            self.on_progress(1, 0)

    def _drop(self, slots: list[int]) -> None:
        """Remove finished runs from the stacked arrays."""
        keep = np.ones(len(self.slots), dtype=bool)
        keep[slots] = False
        for name in ("slots", "theta", "prev", "lr_rec", "lr", "mu", "wd", "factor", "bound"):
            setattr(self, name, getattr(self, name)[keep])
        self.grad = self.grad[keep]
        self.micro = self.micro[keep] if self.k > 1 else self.grad
        if self.momentum_on:
            self.buf, self.prev_buf = self.buf[keep], self.prev_buf[keep]
        if hasattr(self, "idx"):
            self.idx = self.idx[keep]
        self._share_lr()
        self._refresh_flags()

    def _end_runs(self, slots: list[int]) -> None:
        for slot in slots:
            st = self.states[self.slots[slot]]
            if not st.done and not st.undone:
                st.rows = self.row
            self._finish(st, slot)
        if slots:
            self._drop(slots)

    # -- the run -------------------------------------------------------------------------------
    def run(self, interrupt_now: bool = False) -> list[_Outcome]:
        self._start()
        try:
            if interrupt_now:
                raise KeyboardInterrupt
            with np.errstate(over="ignore", invalid="ignore"):
                self._epochs()
        except KeyboardInterrupt:
            self.interrupted_all = True
            if self.applying == self.row:
                # Ctrl-C after an update was begun but before it was recorded: undo it
                np.copyto(self.theta, self.prev)
                if self.momentum_on:
                    np.copyto(self.buf, self.prev_buf)
            for slot, pos in enumerate(self.slots):
                st = self.states[pos]
                st.rows = self.row
                self._mark_interrupted(st)
                self._finish(st, slot)
            self._drop(list(range(len(self.slots))))
        return [
            _Outcome(st.run.index, st.history, st.error, st.error_text, st.run.model,
                     st.run.optimizer, st.run.callbacks)
            for st in self.states
        ]

    def _epochs(self) -> None:
        # runs that failed in on_train_begin never train
        self._end_runs([s for s, p in enumerate(self.slots) if self.states[p].done])
        for epoch in range(self.n_epochs):
            if not len(self.slots):
                return
            ended = []
            for slot, pos in enumerate(self.slots):
                st = self.states[pos]
                st.epoch, st.first, st.rows = epoch, self.row, self.row
                for cb in st.run.callbacks:
                    if not self._call(st, cb.on_epoch_begin, epoch):
                        ended.append(slot)
                        break
            self._end_runs(ended)
            if not len(self.slots):
                return
            self._run_epoch(epoch)
            ended = []
            for slot in range(len(self.slots)):
                st = self._st(slot)
                self._close_epoch(slot, epoch, finished=True)
                if self._wants_stop(st) or epoch + 1 >= st.n_epochs:
                    ended.append(slot)
            self._end_runs(ended)

    def _epoch_indices(self, epoch: int) -> np.ndarray:
        """``(K, samples in the epoch's batches)``: each run's batches laid end to end."""
        return np.stack([self.states[pos].run.plan.epoch_stream(epoch) for pos in self.slots])

    def _run_epoch(self, epoch: int) -> None:
        self.idx = self._epoch_indices(epoch)
        micro_sizes, sizes, k = self.micro_sizes[epoch], self.update_sizes[epoch], self.k
        X, y, stack = self.X, self.y, self.stack
        cc = stack.is_classifier
        offset = 0
        next_refresh = time.perf_counter() + _REFRESH_SECONDS
        steps_since = 0
        for u, n_b in enumerate(sizes):
            if k == 1:
                idx = self.idx[:, offset : offset + n_b]
                offset += n_b
                loss, correct = stack.forward_backward(
                    self.theta, X.take(idx, 0), y.take(idx, 0), self.grad, cc
                )
            else:
                g, micro = self.grad, self.micro
                loss, correct = 0.0, 0
                for j, m in enumerate(micro_sizes[u * k : (u + 1) * k]):
                    idx = self.idx[:, offset : offset + m]
                    offset += m
                    part_loss, part_correct = stack.forward_backward(
                        self.theta, X.take(idx, 0), y.take(idx, 0), micro, cc
                    )
                    micro *= m
                    if j == 0:
                        g[...] = micro
                    else:
                        g += micro
                    loss = loss + m * part_loss
                    if cc:
                        correct = correct + part_correct
                g /= n_b
                loss = loss / n_b
            sq = row_sq_norms(self.grad)
            scheduled = self.scheduled
            failed = []
            for s in scheduled:
                st = self.states[self.slots[s]]
                try:
                    self.lr_rec[s] = st.run.optimizer.lr_at(st.t_start + self.row)
                except Exception as exc:
                    st = self.states[self.slots[s]]
                    st.error, st.error_text = exc, traceback.format_exc()
                    failed.append(s)
            if scheduled:
                self.lr[:, 0] = self.lr_rec
                self._share_lr()
            bad = _diverged_before(loss, sq, self.bound)
            if bad or failed:
                self._stop_before_update(sorted(set(bad) | set(failed)), epoch, loss, failed)
                if not len(self.slots):
                    return
                loss = np.delete(loss, sorted(set(bad) | set(failed)))
                if cc:
                    correct = np.delete(correct, sorted(set(bad) | set(failed)))
                sq = row_sq_norms(self.grad)
            if self.row == 0:
                self.bound = _divergence_bound(loss, self.factor)
            i = self.row
            # snapshot (fit's copy of the parameters before an update), then mark the update
            # begun: until self.row moves past i, Ctrl-C restores the snapshot
            np.copyto(self.prev, self.theta)
            if self.momentum_on:
                np.copyto(self.prev_buf, self.buf)
            self.applying = i
            sgd_update(
                self.theta, self.grad, self.lr_arg,
                weight_decay=self.wd if self.decay_on else None,
                momentum=self.mu if self.momentum_on else None,
                nesterov=self.nesterov, buffers=self.buf,
            )
            now = time.perf_counter()
            cols = slice(None) if self.all_active else self.slots
            self.rec_loss[i, cols] = loss
            self.rec_norm[i, cols] = np.sqrt(sq)
            self.rec_lr[i, cols] = self.lr_rec
            self.rec_time[i] = now - self.t0
            if cc:
                self.rec_correct[i, cols] = correct
            self.row = i + 1  # the update is recorded
            steps_since += len(self.slots)
            if self.has_step_callbacks:
                self._step_callbacks(epoch, n_b, loss, sq)
                if not len(self.slots):
                    return
            if self.on_progress is not None and now >= next_refresh:
                next_refresh = now + _REFRESH_SECONDS
                self.on_progress(0, steps_since)
                steps_since = 0
        if self.on_progress is not None and steps_since:
            self.on_progress(0, steps_since)

    def _stop_before_update(self, slots: list[int], epoch: int, loss: np.ndarray,
                            failed: list[int]) -> None:
        """Stop the runs of ``slots`` before the current update: as diverged (fit's rules,
        the previous update undone where fit undoes it), or failed (their schedule raised)."""
        for s in slots:
            if s in failed:
                continue
            st = self._st(s)
            g = self.grad[s]
            sq_norm, loss_s, bound = float(np.dot(g, g)), float(loss[s]), float(self.bound[s])
            undo = _undoes_previous(loss_s, bound, bool(np.isfinite(self.theta[s]).all()),
                                    st.rows)
            if undo:
                self._undo_last(s, st)
            self._stop_diverged(st, _diverged_before_message(
                self.row, epoch, loss_s, sq_norm, float(self.lr_rec[s]), bound,
                float(self.factor[s]), undo))
        for s in slots:
            if s not in failed:
                self._close_epoch(s, epoch, finished=False)
        self._end_runs(slots)

    def _step_callbacks(self, epoch: int, n_b: int, loss: np.ndarray, sq: np.ndarray) -> None:
        ended = []
        i = self.row
        for slot, pos in enumerate(self.slots):
            st = self.states[pos]
            if not st.step_callbacks:
                continue
            st.rows = self.row
            self._sync_model(slot)
            self._flush(st, int(pos))
            logs = {
                "epoch": epoch, "batch_size": n_b, "samples_seen": int(self.g_seen[i - 1]),
                "loss": float(loss[slot]), "grad_norm": math.sqrt(float(sq[slot])),
                "lr": float(self.lr_rec[slot]),
            }
            for cb in st.step_callbacks:
                if not self._call(st, cb.on_step_end, i, logs):
                    break
            self._sync_back(slot)
            if st.done:  # interrupted or failed: no epoch entry, as in fit
                ended.append(slot)
            elif st.history.stop_training:
                self._close_epoch(slot, epoch, finished=False)
                ended.append(slot)
        self._end_runs(ended)


def _train_groups(groups: list[list[_Run]], X: Any, y: Any, val: Any,
                  on_progress: Callable[[int, int], None] | None) -> list[_Outcome]:
    """Train groups one after the other (in this process or inside one executor task)."""
    out: list[_Outcome] = []
    interrupted = False
    for runs in groups:
        trainer = _Lockstep(runs, X, y, val, on_progress)
        out += trainer.run(interrupt_now=interrupted)
        interrupted = interrupted or trainer.interrupted_all
    return out
