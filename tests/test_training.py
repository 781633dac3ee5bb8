"""fit: counts, the recorded losses, accumulation, determinism, stopping, callbacks, checks."""

from __future__ import annotations

import math
import re
import sys
import warnings
from typing import Any

import numpy as np
import pytest

from companion import SGD, BatchPlan, Callback, EarlyStopping, History, StepLog, fit
from companion.core import optim, training
from companion.core.datasets import linear, multi_class, two_class
from companion.core.models import MLP, LinearRegression, SoftmaxRegression
from companion.core.schedules import step_decay
from companion.core.training import train_by_hand

X3, Y3 = multi_class(n=1050, n_classes=3, seed=1)
XV, YV = multi_class(n=120, n_classes=3, seed=2)


def quiet_fit(model: Any, X: Any, y: Any, **kwargs: Any) -> History:
    kwargs.setdefault("progress", False)
    return fit(model, X, y, **kwargs)


# -- counting ------------------------------------------------------------------------------------


def test_1050_by_100_gives_11_steps_per_epoch() -> None:
    h = quiet_fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=100, epochs=3, seed=0)
    steps = h.steps
    assert len(steps) == 33
    assert steps["step"].tolist() == list(range(1, 34))
    assert steps["epoch"].tolist() == [0] * 11 + [1] * 11 + [2] * 11
    assert steps["batch_size"].tolist() == ([100] * 10 + [50]) * 3
    assert steps["samples_seen"].tolist() == np.cumsum(([100] * 10 + [50]) * 3).tolist()
    assert h.epoch == [0, 1, 2]
    assert h.settings["steps"] == 33 and h.settings["batch_size"] == 100


@pytest.mark.parametrize(("remainder", "steps"), [("keep", 33), ("drop", 30), ("fill", 33),
                                                  ("carry", 31), ("even", 33)])
def test_remainder_policies_reach_fit(remainder: str, steps: int) -> None:
    h = quiet_fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=100, epochs=3, seed=0,
                  remainder=remainder)
    assert len(h.steps) == steps == h.plan.total_steps(3)
    assert h.steps["samples_seen"][-1] == sum(
        sum(len(b) for b in h.plan.epoch(e)) for e in range(3)
    )


def test_default_batch_size_is_32() -> None:
    h = quiet_fit(SoftmaxRegression(2, 3), X3, Y3, seed=0)
    assert h.settings["batch_size"] == 32
    assert len(h.steps) == math.ceil(1050 / 32)
    assert h.settings["epochs"] == 1


# -- what is recorded ----------------------------------------------------------------------------


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses() -> None:
    h = quiet_fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=100, epochs=3,
                  optimizer=SGD(0.5), seed=0)
    loss, n, epoch = h.steps["loss"], h.steps["batch_size"], h.steps["epoch"]
    for e in range(3):
        rows = epoch == e
        weighted = np.sum(n[rows] * loss[rows]) / np.sum(n[rows])
        assert h.history["loss"][e] == pytest.approx(weighted, rel=1e-12)
        assert h.history_batch_mean_loss[e] == pytest.approx(loss[rows].mean(), rel=1e-12)
    # the small last batch makes the two means differ
    assert h.history["loss"][0] != pytest.approx(h.history_batch_mean_loss[0], rel=1e-6)


def test_records_match_the_manual_loop() -> None:
    """Batch losses are taken before each update; accuracy from the same forward pass."""
    model = MLP([2, 8, 3], seed=4)
    twin = model.copy()
    opt = SGD(0.2, momentum=0.9, weight_decay=1e-3)
    h = quiet_fit(model, X3, Y3, batch_size=64, epochs=2, optimizer=opt, seed=7)
    ref = train_by_hand(twin, X3, Y3, BatchPlan(1050, 64, seed=7), 2,
                        SGD(0.2, momentum=0.9, weight_decay=1e-3))
    np.testing.assert_allclose(model.get_flat(), twin.get_flat(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h.steps["loss"], ref.steps["loss"], rtol=1e-12)
    np.testing.assert_allclose(h.steps["grad_norm"], ref.steps["grad_norm"], rtol=1e-12)  # before decay
    np.testing.assert_array_equal(h.steps["lr"], ref.steps["lr"])
    np.testing.assert_array_equal(h.steps["samples_seen"], ref.steps["samples_seen"])
    np.testing.assert_allclose(h.history["loss"], ref.history["loss"], rtol=1e-12)
    np.testing.assert_allclose(h.history["accuracy"], ref.history["accuracy"], rtol=1e-12)


@pytest.mark.parametrize("remainder", ["keep", "drop", "fill", "carry", "even"])
@pytest.mark.parametrize("accumulate", [1, 3])
def test_fit_equals_the_reference_loop_train_by_hand(remainder: str, accumulate: int) -> None:
    model, twin = MLP([2, 6, 3], seed=2, activation="tanh"), MLP([2, 6, 3], seed=2, activation="tanh")
    opt = SGD(step_decay(0.3, step_size=5, gamma=0.5), momentum=0.8, nesterov=True)
    h = quiet_fit(model, X3, Y3, batch_size=70, epochs=3, optimizer=opt, seed=4,
                  remainder=remainder, accumulate=accumulate)
    ref_opt = SGD(step_decay(0.3, step_size=5, gamma=0.5), momentum=0.8, nesterov=True)
    ref = train_by_hand(twin, X3, Y3, BatchPlan(1050, 70, remainder, seed=4), 3, ref_opt,
                        accumulate=accumulate)
    assert len(h.steps) == len(ref.steps) == opt.iterations == ref_opt.iterations
    np.testing.assert_allclose(model.get_flat(), twin.get_flat(), rtol=1e-12, atol=1e-13)
    for field in ("loss", "grad_norm"):
        np.testing.assert_allclose(h.steps[field], ref.steps[field], rtol=1e-12)
    for field in ("step", "epoch", "batch_size", "samples_seen", "lr"):
        np.testing.assert_array_equal(h.steps[field], ref.steps[field])
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(h.history[key], ref.history[key], rtol=1e-12)


def test_validation_metrics_use_the_end_of_epoch_parameters() -> None:
    model = SoftmaxRegression(2, 3)
    h = quiet_fit(model, X3, Y3, batch_size=50, epochs=2, seed=0, validation_data=(XV, YV))
    assert list(h.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert h.history["val_loss"][-1] == pytest.approx(model.loss(XV, YV), rel=1e-14)
    assert h.history["val_accuracy"][-1] == pytest.approx(model.score(XV, YV), rel=1e-14)
    assert all(len(v) == 2 for v in h.history.values())


def test_regression_records_loss_only() -> None:
    X, y, _ = linear(n=300, d=3, noise=0.1, seed=0)
    model = LinearRegression(3)
    h = quiet_fit(model, X, y, batch_size=30, epochs=20, optimizer=SGD(0.05), seed=0,
                  validation_data=(X[:50], y[:50]))
    assert list(h.history) == ["loss", "val_loss"]
    assert h.history["loss"][-1] < 0.02 < h.history["loss"][0]  # noise variance is 0.01
    assert model.score(X, y) == pytest.approx(model.loss(X, y))


def test_lr_schedule_is_recorded() -> None:
    h = quiet_fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=100, epochs=1, seed=0,
                  optimizer=SGD(step_decay(1.0, step_size=4, gamma=0.5)))
    assert h.steps["lr"].tolist() == [1.0] * 4 + [0.5] * 4 + [0.25] * 3


def test_optimizer_state_carries_over() -> None:
    opt = SGD(0.1, momentum=0.9)
    model = SoftmaxRegression(2, 3)
    quiet_fit(model, X3, Y3, batch_size=100, seed=0, optimizer=opt)
    quiet_fit(model, X3, Y3, batch_size=100, seed=0, optimizer=opt)
    assert opt.iterations == 22
    # the same 22 updates in one run: the momentum buffer did not restart between fits
    twin, twin_opt = SoftmaxRegression(2, 3), SGD(0.1, momentum=0.9)
    for _ in range(2):  # a hand-written continuation of the same two runs
        ref = train_by_hand(twin, X3, Y3, BatchPlan(1050, 100, seed=0), 1, twin_opt)
    assert len(ref.steps) == 11 and twin_opt.iterations == 22
    np.testing.assert_allclose(model.get_flat(), twin.get_flat(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opt.state["momentum_buffer"], twin_opt.state["momentum_buffer"],
                               rtol=1e-12, atol=1e-14)
    fresh, fresh_opt = SoftmaxRegression(2, 3), SGD(0.1, momentum=0.9)
    quiet_fit(fresh, X3, Y3, batch_size=100, seed=0, optimizer=fresh_opt)
    quiet_fit(fresh, X3, Y3, batch_size=100, seed=0, optimizer=SGD(0.1, momentum=0.9))
    assert np.abs(fresh.get_flat() - model.get_flat()).max() > 1e-3  # a restart would show


def test_step_log_access() -> None:
    h = quiet_fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=500, epochs=2, seed=0)
    steps = h.steps
    assert len(steps) == 6
    assert steps.fields == ("step", "epoch", "batch_size", "samples_seen", "loss", "grad_norm",
                            "lr", "time")
    assert steps[0]["step"] == 1 and steps[-1]["samples_seen"] == 2100
    assert np.all(np.diff(steps["time"]) >= 0)
    with pytest.raises(ValueError, match="read-only"):
        steps["loss"][0] = 0.0
    copy = steps.as_dict()
    copy["loss"][0] = 0.0
    assert steps["loss"][0] != 0.0
    with pytest.raises(KeyError, match="unknown field 'accuracy'"):
        steps["accuracy"]
    with pytest.raises(IndexError, match="row index out of range"):
        steps[6]
    assert "History(epochs=2, steps=6, stop_reason='completed'" in repr(h)


def test_float32_model_trains_in_float32() -> None:
    model = MLP([2, 8, 3], dtype=np.float32)
    h = quiet_fit(model, X3, Y3, batch_size=64, epochs=2, optimizer=SGD(0.1), seed=0)
    assert model.get_flat().dtype == np.float32
    assert h.steps["loss"].dtype == np.float64 and np.isfinite(h.steps["loss"]).all()
    assert h.history["loss"][1] < h.history["loss"][0]


def test_carry_with_empty_epochs() -> None:
    X, y = two_class(n=30, seed=0)
    h = quiet_fit(SoftmaxRegression(2, 2), X, y, batch_size=50, epochs=4, remainder="carry",
                  seed=0)
    assert h.steps["epoch"].tolist() == [1, 3]  # batches complete at positions 49 and 99
    assert math.isnan(h.history["loss"][0]) and math.isnan(h.history["loss"][2])
    assert not math.isnan(h.history["loss"][1])


# -- accumulation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
def test_accumulation_equals_the_big_batch(shuffle: bool) -> None:
    X, y = multi_class(n=1000, n_classes=3, seed=5)
    small, big = MLP([2, 6, 3], seed=1), MLP([2, 6, 3], seed=1)
    h_small = quiet_fit(small, X, y, batch_size=25, accumulate=4, epochs=2, seed=3,
                        shuffle=shuffle, optimizer=SGD(0.3, momentum=0.5))
    h_big = quiet_fit(big, X, y, batch_size=100, epochs=2, seed=3, shuffle=shuffle,
                      optimizer=SGD(0.3, momentum=0.5))
    np.testing.assert_allclose(small.get_flat(), big.get_flat(), rtol=1e-12, atol=1e-12)
    assert h_small.steps["batch_size"].tolist() == [100] * 20
    np.testing.assert_allclose(h_small.steps["loss"], h_big.steps["loss"], rtol=1e-12)
    np.testing.assert_allclose(h_small.steps["grad_norm"], h_big.steps["grad_norm"], rtol=1e-10)
    np.testing.assert_allclose(h_small.history["loss"], h_big.history["loss"], rtol=1e-12)
    np.testing.assert_allclose(h_small.history["accuracy"], h_big.history["accuracy"], rtol=1e-12)


def test_accumulation_leftovers_make_one_smaller_update() -> None:
    model, twin = SoftmaxRegression(2, 3, seed=2), SoftmaxRegression(2, 3, seed=2)
    h = quiet_fit(model, X3, Y3, batch_size=100, accumulate=4, epochs=2, seed=1,
                  optimizer=SGD(0.5))
    # 11 batches per epoch -> updates of 4, 4 and 3 batches: 400, 400, 250 samples
    assert h.steps["batch_size"].tolist() == [400, 400, 250] * 2
    ref = train_by_hand(twin, X3, Y3, BatchPlan(1050, 100, seed=1), 2, SGD(0.5), accumulate=4)
    np.testing.assert_allclose(model.get_flat(), twin.get_flat(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.steps["loss"], ref.steps["loss"], rtol=1e-12)
    np.testing.assert_allclose(h.history["loss"], ref.history["loss"], rtol=1e-12)


# -- determinism -----------------------------------------------------------------------------------


def test_same_seed_same_history_and_parameters() -> None:
    runs = []
    for _ in range(2):
        model = MLP([2, 8, 3], seed=0)
        h = quiet_fit(model, X3, Y3, batch_size=32, epochs=2, seed=9, optimizer=SGD(0.1, 0.9),
                      validation_data=(XV, YV))
        runs.append((model.get_flat(), h))
    (p1, h1), (p2, h2) = runs
    np.testing.assert_array_equal(p1, p2)
    assert h1.history == h2.history
    for field in h1.steps.fields:
        if field != "time":
            np.testing.assert_array_equal(h1.steps[field], h2.steps[field])


def test_seed_none_is_recorded_and_replays() -> None:
    m1 = SoftmaxRegression(2, 3)
    h1 = quiet_fit(m1, X3, Y3, batch_size=64, seed=None)
    assert isinstance(h1.settings["seed"], int)
    m2 = SoftmaxRegression(2, 3)
    quiet_fit(m2, X3, Y3, batch_size=64, seed=h1.settings["seed"])
    np.testing.assert_array_equal(m1.get_flat(), m2.get_flat())


def test_different_seeds_differ() -> None:
    m1, m2 = SoftmaxRegression(2, 3), SoftmaxRegression(2, 3)
    quiet_fit(m1, X3, Y3, batch_size=64, seed=1)
    quiet_fit(m2, X3, Y3, batch_size=64, seed=2)
    assert not np.array_equal(m1.get_flat(), m2.get_flat())


# -- stopping --------------------------------------------------------------------------------------


def test_divergence_stops_with_history_and_finite_parameters() -> None:
    X, y, _ = linear(n=200, d=3, seed=0)
    X = X * 10.0
    model = LinearRegression(3)
    with pytest.warns(RuntimeWarning, match=r"diverged at step \d+ \(epoch \d+\).*smaller learning rate") as record:
        h = quiet_fit(model, X, y, batch_size=20, epochs=50, optimizer=SGD(0.05), seed=0)
    assert record[0].filename == __file__  # the warning points at the caller
    assert h.stop_reason == "diverged"
    assert "diverged" in h.message and h.message == str(record[0].message)
    assert re.search(r"exceeds [0-9.e+]+, divergence_factor=1000 × the run.s first batch loss", h.message)
    assert 0 < len(h.steps) < 500
    assert np.isfinite(model.get_flat()).all()
    losses = h.steps["loss"]
    assert np.isfinite(losses).all() and losses.max() <= 1000 * losses[0]
    assert len(h.history["loss"]) == h.steps["epoch"][-1] + 1  # the partial epoch is recorded


def test_divergence_bound_stops_long_before_overflow_and_returns_a_model_within_it() -> None:
    X, y, _ = linear(n=100, d=3, seed=0)
    X = X * 10.0
    # full batch: each step's batch loss is the loss of the whole data set at the model
    with pytest.warns(RuntimeWarning, match="diverged"):
        unbounded = quiet_fit(LinearRegression(3), X, y, batch_size=100, epochs=400,
                              optimizer=SGD(0.02), shuffle=False, divergence_factor=None)
    model = LinearRegression(3)
    with pytest.warns(RuntimeWarning, match=r"exceeds 162.656, divergence_factor=10 × the run.s first batch loss 16.2656. .*so it was undone too"):
        h = quiet_fit(model, X, y, batch_size=100, epochs=400, optimizer=SGD(0.02),
                      shuffle=False, divergence_factor=10)
    first = h.steps["loss"][0]
    assert len(h.steps) == 1 and len(unbounded.steps) == 265  # overflow came 264 steps later
    assert unbounded.steps["loss"].max() > 1e300 * first  # only overflow stopped it
    # the next loss (step 3's, 686 > 10 x 16.3) condemned update 2, so it was undone:
    assert unbounded.steps["loss"][2] > 10 * first >= unbounded.steps["loss"][1]
    assert model.loss(X, y) == pytest.approx(unbounded.steps["loss"][1], rel=1e-12)
    replay = LinearRegression(3)
    quiet_fit(replay, X, y, batch_size=100, epochs=len(h.steps), optimizer=SGD(0.02),
              shuffle=False, divergence_factor=None)
    np.testing.assert_array_equal(model.get_flat(), replay.get_flat())  # the model after the last row


@pytest.mark.parametrize("factor", [1.0, 0.5, "big", math.nan])
def test_bad_divergence_factor(factor: object) -> None:
    error = TypeError if isinstance(factor, str) else ValueError
    with pytest.raises(error, match=r"divergence_factor must be a finite real number > 1"):
        quiet_fit(SoftmaxRegression(2, 3), X3, Y3, divergence_factor=factor)


def test_divergence_keeps_the_parameters_before_the_bad_update() -> None:
    X, y, _ = linear(n=200, d=3, seed=0)
    model = LinearRegression(3)
    with pytest.warns(RuntimeWarning, match="diverged"):
        h = quiet_fit(model, X * 10, y, batch_size=20, epochs=50, optimizer=SGD(0.05), seed=0)
    k = len(h.steps)
    assert k > 0
    replay = LinearRegression(3)
    stopper = StopAt(k)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the replay stops before diverging
        quiet_fit(replay, X * 10, y, batch_size=20, epochs=50, optimizer=SGD(0.05), seed=0,
                  callbacks=[stopper])
    np.testing.assert_array_equal(model.get_flat(), replay.get_flat())


def test_update_that_overflows_is_undone() -> None:
    X, y, _ = linear(n=40, d=2, seed=0)
    X = X * 100.0  # gradients of order 1e2-1e4, so lr * gradient overflows to inf
    start = LinearRegression(2)
    # the bad update is followed by another step: that step's loss reveals it
    model = start.copy()
    with pytest.warns(RuntimeWarning, match="so it was undone"):
        h = quiet_fit(model, X, y, batch_size=20, epochs=3, optimizer=SGD(1e308), shuffle=False)
    assert h.stop_reason == "diverged" and len(h.steps) == 0  # the update and its row undone
    assert np.isfinite(model.get_flat()).all()
    np.testing.assert_array_equal(model.get_flat(), start.get_flat())
    # the bad update is the last one: the end-of-epoch check reveals it
    model = start.copy()
    with pytest.warns(RuntimeWarning, match=r"diverged at step 1 \(epoch 0\): the update made"):
        h = quiet_fit(model, X, y, batch_size=40, epochs=1, optimizer=SGD(1e308))
    assert h.stop_reason == "diverged"
    np.testing.assert_array_equal(model.get_flat(), start.get_flat())


class StopAt(Callback):
    def __init__(self, step: int, interrupt: bool = False) -> None:
        self.step, self.interrupt = step, interrupt

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        if step == self.step:
            if self.interrupt:
                raise KeyboardInterrupt
            self.history.stop_training = True


# -- atomic steps: a KeyboardInterrupt at every instruction ------------------------------------

XI = np.random.default_rng(0).normal(size=(6, 2))
YI = np.arange(6) % 3
_RUN_EPOCHS = training._Loop._run_epochs.__code__
_OPCODE_FILES = {training.__file__, optim.__file__}


def _interruptible_fit(interrupt_at: int | None) -> tuple[History | None, MLP, SGD, int]:
    """fit with a trace that raises KeyboardInterrupt at its ``interrupt_at``-th event.

    Events are counted only while ``_Loop._run_epochs`` runs (every step of every epoch):
    one per bytecode instruction in training.py and optim.py (``f_trace_opcodes``), one per
    line in every other Python frame (models, batching, history, validation, NumPy).
    """
    model, opt = MLP([2, 4, 3], seed=0), SGD(0.1, momentum=0.9, weight_decay=0.01)
    seen, active = [0], [0]

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        code = frame.f_code
        if event == "call" and code is _RUN_EPOCHS:
            active[0] += 1
        if active[0]:
            if code.co_filename in _OPCODE_FILES:
                frame.f_trace_opcodes = True
            if event in ("line", "opcode"):
                seen[0] += 1
                if seen[0] == interrupt_at:
                    raise KeyboardInterrupt
        if event == "return" and code is _RUN_EPOCHS:
            active[0] -= 1
        return tracer

    sys.settrace(tracer)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            h = fit(model, XI, YI, batch_size=3, epochs=2, optimizer=opt, seed=1)
    finally:
        sys.settrace(None)
    return h, model, opt, seen[0]


class _Snapshots(Callback):
    def __init__(self, model: MLP, opt: SGD) -> None:
        self.model, self.opt = model, opt
        self.states = [(model.get_flat(), opt.state)]

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        self.states.append((self.model.get_flat(), self.opt.state))


def _reference_states() -> list[tuple[np.ndarray, dict[str, Any]]]:
    model, opt = MLP([2, 4, 3], seed=0), SGD(0.1, momentum=0.9, weight_decay=0.01)
    snaps = _Snapshots(model, opt)
    fit(model, XI, YI, batch_size=3, epochs=2, optimizer=opt, seed=1, callbacks=[snaps])
    return snaps.states


_interruptible_fit(None)  # warm up (first calls take one-time paths)
_, _, _, N_EVENTS = _interruptible_fit(None)
REFERENCE = _reference_states()


@pytest.mark.parametrize("part", range(4))
def test_interrupt_at_every_instruction_leaves_model_and_optimiser_at_the_last_recorded_step(
    part: int,
) -> None:
    assert len(REFERENCE) == 5 and N_EVENTS > 1000  # 4 steps, every instruction of each
    for k in range(1 + part, N_EVENTS + 1, 4):
        h, model, opt, _ = _interruptible_fit(k)
        assert h is not None and h.interrupted and h.stop_reason == "interrupted", k
        r = len(h.steps)
        theta, state = REFERENCE[r]
        np.testing.assert_array_equal(model.get_flat(), theta, err_msg=f"event {k}")
        assert opt.iterations == state["iterations"] == r, k
        assert opt.layout == (state["layout"] if r else opt.layout), k
        if state["momentum_buffer"] is None:
            assert opt.state["momentum_buffer"] is None, k
        else:
            np.testing.assert_array_equal(opt.state["momentum_buffer"], state["momentum_buffer"])
        assert all(len(v) == len(h.epoch) for v in h.history.values()), k
        assert len(h.history_batch_mean_loss) == len(h.epoch), k


def test_resuming_after_an_interrupt_equals_an_uninterrupted_run() -> None:
    k = N_EVENTS // 2 + 7  # somewhere inside the third step
    h, model, opt, _ = _interruptible_fit(k)
    assert h is not None and len(h.steps) == 2
    ref_model, ref_opt = MLP([2, 4, 3], seed=0), SGD(0.1, momentum=0.9, weight_decay=0.01)
    fit(ref_model, XI, YI, batch_size=3, epochs=1, optimizer=ref_opt, seed=1)
    fit(ref_model, XI, YI, batch_size=3, epochs=1, optimizer=ref_opt, seed=5)
    fit(model, XI, YI, batch_size=3, epochs=1, optimizer=opt, seed=5)
    np.testing.assert_array_equal(model.get_flat(), ref_model.get_flat())


class Raises(Callback):
    def __init__(self, at_step: int) -> None:
        self.at_step, self.ended = at_step, False

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        if step == self.at_step:
            raise RuntimeError("callback failed")

    def on_train_end(self, history: History) -> None:
        self.ended = True


def test_a_raising_callback_ends_the_run_with_the_history_attached() -> None:
    model, opt = SoftmaxRegression(2, 3), SGD(0.1, momentum=0.9)
    cb = Raises(at_step=13)
    with pytest.raises(RuntimeError, match="callback failed") as info:
        quiet_fit(model, X3, Y3, batch_size=100, epochs=3, optimizer=opt, callbacks=[cb])
    h = info.value.history  # type: ignore[attr-defined]
    assert cb.ended and h.stop_reason == "error"
    assert h.message == ("Training stopped by an error in epoch 1 after 13 steps: "
                         "RuntimeError: callback failed")
    assert len(h.steps) == 13 and h.epoch == [0] and opt.iterations == 13
    twin, twin_opt = SoftmaxRegression(2, 3), SGD(0.1, momentum=0.9)
    quiet_fit(twin, X3, Y3, batch_size=100, epochs=3, optimizer=twin_opt, callbacks=[StopAt(13)])
    np.testing.assert_array_equal(model.get_flat(), twin.get_flat())
    np.testing.assert_array_equal(opt.state["momentum_buffer"], twin_opt.state["momentum_buffer"])


# -- one optimiser path ---------------------------------------------------------------------------


def test_a_hand_step_then_fit_continues_the_same_momentum() -> None:
    X, y = X3[:200], Y3[:200]
    hand, hand_opt = MLP([2, 8, 3], seed=3), SGD(0.1, momentum=0.9)
    hand_opt.step(hand.params, hand.grad(X, y))  # one full-batch step by hand
    quiet_fit(hand, X, y, batch_size=200, epochs=1, optimizer=hand_opt, shuffle=False)
    twice, twice_opt = MLP([2, 8, 3], seed=3), SGD(0.1, momentum=0.9)
    for _ in range(2):
        quiet_fit(twice, X, y, batch_size=200, epochs=1, optimizer=twice_opt, shuffle=False)
    np.testing.assert_allclose(hand.get_flat(), twice.get_flat(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hand_opt.state["momentum_buffer"],
                               twice_opt.state["momentum_buffer"], rtol=1e-12, atol=1e-14)
    assert hand_opt.iterations == twice_opt.iterations == 2
    assert hand_opt.layout == twice_opt.layout == hand.layout


def test_fit_refuses_an_optimiser_bound_to_another_model_shape() -> None:
    opt = SGD(0.1, momentum=0.9)
    quiet_fit(MLP([2, 8, 3]), X3, Y3, batch_size=100, optimizer=opt)
    other = MLP([2, 4, 3])
    before = other.get_flat()
    with pytest.raises(ValueError, match=r"this SGD holds the state of parameters .*Use a new SGD"):
        quiet_fit(other, X3, Y3, batch_size=100, optimizer=opt)
    np.testing.assert_array_equal(other.get_flat(), before)
    assert opt.iterations == 11


def test_keyboard_interrupt_returns_the_history_so_far() -> None:
    model = SoftmaxRegression(2, 3)
    with pytest.warns(UserWarning, match=r"interrupted \(KeyboardInterrupt\) in epoch 1 after 15 steps"):
        h = quiet_fit(model, X3, Y3, batch_size=100, epochs=3, seed=0,
                      callbacks=[StopAt(15, interrupt=True)])
    assert len(h.steps) == 15
    assert h.interrupted and h.stop_reason == "interrupted"
    assert len(h.history["loss"]) == 1  # only the completed epoch
    stopped = SoftmaxRegression(2, 3)
    quiet_fit(stopped, X3, Y3, batch_size=100, epochs=3, seed=0, callbacks=[StopAt(15)])
    np.testing.assert_array_equal(model.get_flat(), stopped.get_flat())


def test_callback_stop_mid_epoch() -> None:
    h = quiet_fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=100, epochs=3, seed=0,
                  callbacks=[StopAt(5)])
    assert len(h.steps) == 5 and h.stop_reason == "early_stopping"
    assert "stopped by a callback" in h.message
    loss = h.steps["loss"]
    n = h.steps["batch_size"]
    assert h.history["loss"] == [pytest.approx(np.sum(loss * n) / n.sum())]


def test_early_stopping_on_a_rising_validation_loss() -> None:
    X, y = two_class(n=200, seed=0)
    flipped = (X, 1 - y)  # the better the fit, the worse this "validation" loss
    model = SoftmaxRegression(2, 2, seed=0)
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best=True)
    h = quiet_fit(model, X, y, batch_size=20, epochs=30, optimizer=SGD(0.1), seed=0,
                  validation_data=flipped, callbacks=[stopper])
    assert h.stop_reason == "early_stopping"
    assert h.epoch == [0, 1, 2]  # best at epoch 0, then two epochs without improvement
    assert stopper.best_epoch == 0 and stopper.stopped_epoch == 2
    assert "val_loss did not improve" in h.message and "restored the parameters of epoch 0" in h.message
    one_epoch = SoftmaxRegression(2, 2, seed=0)
    quiet_fit(one_epoch, X, y, batch_size=20, epochs=1, optimizer=SGD(0.1), seed=0)
    np.testing.assert_array_equal(model.get_flat(), one_epoch.get_flat())


def test_early_stopping_patience_zero_and_min_delta() -> None:
    stopper = EarlyStopping(monitor="loss", patience=0, min_delta=0.5)
    h = History(["loss"])
    stopper.history = h
    stopper.on_train_begin(h)
    stopper.on_epoch_end(0, {"loss": 1.0})
    stopper.on_epoch_end(1, {"loss": 0.6})  # improves by 0.4 < min_delta
    assert h.stop_training and stopper.stopped_epoch == 1 and stopper.best == 1.0


def test_early_stopping_accuracy_is_maximised() -> None:
    stopper = EarlyStopping(monitor="val_accuracy", patience=1)
    h = History(["val_accuracy"])
    stopper.history = h
    stopper.on_train_begin(h)
    for epoch, acc in enumerate([0.5, 0.7, 0.6]):
        stopper.on_epoch_end(epoch, {"val_accuracy": acc})
    assert stopper.mode == "max" and stopper.best == 0.7 and h.stop_training


def test_early_stopping_needs_the_metric() -> None:
    with pytest.raises(ValueError, match=r"monitor='val_loss' is not recorded.*validation_data"):
        quiet_fit(SoftmaxRegression(2, 3), X3, Y3, callbacks=[EarlyStopping()])


def test_callback_hooks_order_and_counts() -> None:
    calls: list[str] = []

    class Recorder(Callback):
        def on_train_begin(self, history: History) -> None:
            calls.append("train_begin")
            assert self.history is history

        def on_epoch_begin(self, epoch: int) -> None:
            calls.append(f"epoch_begin {epoch}")

        def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
            calls.append(f"step {step} {logs['batch_size']} {logs['samples_seen']}")

        def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
            calls.append(f"epoch_end {epoch} {sorted(logs)}")

        def on_train_end(self, history: History) -> None:
            calls.append("train_end")

    quiet_fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=500, epochs=2, seed=0,
              callbacks=[Recorder()])
    assert calls == [
        "train_begin",
        "epoch_begin 0", "step 1 500 500", "step 2 500 1000", "step 3 50 1050",
        "epoch_end 0 ['accuracy', 'loss']",
        "epoch_begin 1", "step 4 500 1550", "step 5 500 2050", "step 6 50 2100",
        "epoch_end 1 ['accuracy', 'loss']",
        "train_end",
    ]


def test_progress_bar(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=100, epochs=2, seed=0)  # default progress=True
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""  # a run shorter than the delay shows nothing
    monkeypatch.setattr("companion.core.training.PROGRESS_DELAY_SECONDS", 0.0)
    fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=100, epochs=2, seed=0)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "22/22" in err and "loss=" in err
    quiet_fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=100, seed=0, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    monkeypatch.setenv("BATCHWISE_PROGRESS", "0")  # what the book's builds set
    fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=100, epochs=2, seed=0)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    monkeypatch.setenv("BATCHWISE_PROGRESS", "sometimes")
    with pytest.raises(ValueError, match=r"BATCHWISE_PROGRESS must be one of 0, 1, .*got 'sometimes'"):
        fit(SoftmaxRegression(2, 3), X3, Y3, batch_size=100, seed=0)


# -- validation ------------------------------------------------------------------------------------


def bad_X() -> np.ndarray:
    X = X3.copy()
    X[3, 1] = np.nan
    return X


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "mlp"}, TypeError, r"model must be a companion.core.models model .*got str, which lacks"),
        ({"X": bad_X()}, ValueError, r"X must not contain NaN or infinite values; found 1 at row 3"),
        ({"X": X3[:, 0]}, ValueError, r"X must be a 2-D array; got shape \(1050,\)"),
        ({"y": Y3[:-1]}, ValueError, r"X and y must have the same number of samples"),
        ({"y": Y3 + 5}, ValueError, r"y must hold integer class labels in \[0, 3\)"),
        ({"batch_size": 0}, ValueError, r"batch_size must be a positive int or None; got 0"),
        ({"batch_size": 1.5}, TypeError, r"batch_size must be a positive int or None; got 1.5"),
        ({"batch_size": True}, TypeError, r"batch_size must be a positive int or None; got True"),
        ({"batch_size": 2000, "remainder": "drop"}, ValueError, r"would do nothing \(0 steps"),
        ({"epochs": 0}, ValueError, r"epochs must be a positive int; got 0"),
        ({"epochs": 2.0}, TypeError, r"epochs must be a positive int; got 2.0"),
        ({"accumulate": 0}, ValueError, r"accumulate must be a positive int; got 0"),
        ({"optimizer": "sgd"}, TypeError, r"optimizer must be an SGD or None; got str"),
        ({"remainder": "bad"}, ValueError, r"remainder must be one of 'keep', 'drop'"),
        ({"shuffle": "no"}, TypeError, r"shuffle must be True or False; got 'no'"),
        ({"seed": -3}, ValueError, r"seed must be a non-negative int; got -3"),
        ({"validation_data": XV}, TypeError, r"validation_data must be None or a pair \(X_val, y_val\)"),
        ({"validation_data": (XV, YV, YV)}, TypeError, r"validation_data must be None or a pair.*length 3"),
        ({"validation_data": (XV, YV[:5])}, ValueError,
         r"validation_data\[0\] and validation_data\[1\] must have the same number of samples"),
        ({"validation_data": (XV[:, :1], YV)}, ValueError, r"validation_data\[0\] must have 2 columns"),
        ({"callbacks": EarlyStopping()}, TypeError, r"callbacks must be an iterable of Callback"),
        ({"callbacks": [1]}, TypeError, r"callbacks\[0\] must be a Callback; got 1"),
        ({"progress": 1}, TypeError, r"progress must be True or False; got 1"),
    ],
)
def test_bad_inputs(kwargs: dict[str, Any], error: type, match: str) -> None:
    args: dict[str, Any] = {"model": SoftmaxRegression(2, 3), "X": X3, "y": Y3, "progress": False}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fit(**args)


def test_bad_inputs_leave_the_model_alone() -> None:
    model = SoftmaxRegression(2, 3)
    before = model.get_flat()
    with pytest.raises(ValueError), warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(model, X3, Y3, epochs=-1, progress=False)
    np.testing.assert_array_equal(model.get_flat(), before)


def test_course_defaults_seed_zero_and_settings_not_params() -> None:
    a, b = SoftmaxRegression(2, 3), SoftmaxRegression(2, 3)
    h = fit(a, X3, Y3, batch_size=64)  # no seed, no progress argument
    fit(b, X3, Y3, batch_size=64, seed=0)
    np.testing.assert_array_equal(a.get_flat(), b.get_flat())
    assert h.settings["seed"] == 0 and h.settings["divergence_factor"] == 1e3
    assert not hasattr(h, "params")  # run settings vs model.params: one meaning each


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: History(metrics="loss"), TypeError, r"metrics must be a sequence, e\.g\. "),
        (lambda: History(metrics=["loss", 3]), TypeError, r"metrics\[1\] must be a metric name"),
        (lambda: History(metrics=["loss", "loss"]), ValueError, r"metrics must not repeat a name"),
        (lambda: History(capacity=-1), ValueError, r"capacity must be a non-negative int; got -1"),
        (lambda: History(capacity=2.5), TypeError, r"capacity must be a non-negative int; got 2.5"),
        (lambda: StepLog(capacity=-1), ValueError, r"capacity must be a non-negative int; got -1"),
        (lambda: StepLog(capacity=2.5), TypeError, r"capacity must be a non-negative int; got 2.5"),
    ],
)
def test_bad_history_arguments(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()
