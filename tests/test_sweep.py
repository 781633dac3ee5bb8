"""``sweep`` against separate ``fit`` calls: parameters, every history row and column, stop reason.

The comparison (:func:`assert_same_run`) is generic over whatever ``fit`` records: it
compares every StepLog column except ``time``, every per-epoch metric, the stop reason,
message and interruption flag, the run's ``settings``, the optimiser's whole state (step
count, layout, momentum buffer) and the trained parameters (float64: 1e-12 relative).
"""

from __future__ import annotations

import io
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.core.callbacks import Callback, EarlyStopping
from companion.core.datasets import linear, multi_class
from companion.core.history import STEP_FIELDS
from companion.core.lockstep import _Lockstep
from companion.core.models import MLP, LinearRegression, Model, SoftmaxRegression
from companion.core.optim import SGD
from companion.core.schedules import step_decay
from companion.core.sweep import SweepError, sweep
from companion.core.training import fit
from tests.strategies import RunArgs, SweepArgs, sweep_args

RTOL = 1e-12  # float64: the stacked arithmetic is the same operations, up to summation order


def make_model(kind: str, seed: int = 0, dtype: type = np.float64) -> Model:
    if kind == "linear":
        return LinearRegression(3, n_outputs=2, seed=seed, dtype=dtype)
    if kind == "softmax":
        return SoftmaxRegression(3, 4, seed=seed, dtype=dtype)
    return MLP([3, 5, 4], activation=kind.split("-")[1], seed=seed, dtype=dtype)


def make_data(kind: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    if kind == "linear":
        X, _, _ = linear(n=n, d=3, seed=seed)
        Y = np.stack([X @ np.array([1.0, -2.0, 0.5]), X[:, 0] - X[:, 2]], axis=1)
        return X, Y + 0.1 * np.random.default_rng(seed).normal(size=Y.shape)
    X, y = multi_class(n=n, n_classes=4, seed=seed)
    return np.column_stack([X, X[:, 0] * X[:, 1]]), y


def make_optimizer(r: RunArgs) -> SGD:
    lr = step_decay(r.lr, step_size=3, gamma=0.5) if r.schedule else r.lr
    return SGD(lr, momentum=r.momentum, nesterov=r.nesterov, weight_decay=r.weight_decay)


def _close(a: np.ndarray, b: np.ndarray, rtol: float, what: str) -> None:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} != {b.shape}"
    finite = np.abs(b[np.isfinite(b)])
    scale = max(float(finite.max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, equal_nan=True, err_msg=what)


def assert_same_run(hs, hf, opt_s: SGD, opt_f: SGD, rtol: float = RTOL) -> None:
    """``hs`` (from sweep) equals ``hf`` (from fit) in everything fit records."""
    assert hs.stop_reason == hf.stop_reason, (hs.message, hf.message)
    assert hs.message == hf.message
    assert hs.interrupted == hf.interrupted
    assert len(hs.steps) == len(hf.steps)
    for name in STEP_FIELDS:
        if name == "time":
            continue
        a, b = hs.steps[name], hf.steps[name]
        if a.dtype.kind == "i":
            assert np.array_equal(a, b), name
        else:
            _close(a, b, rtol, f"steps[{name!r}]")
    assert hs.epoch == hf.epoch
    assert list(hs.history) == list(hf.history)
    for key in hf.history:
        _close(hs.history[key], hf.history[key], rtol, f"history[{key!r}]")
    _close(hs.history_batch_mean_loss, hf.history_batch_mean_loss, rtol, "batch mean loss")
    assert hs.settings == hf.settings
    _close(hs.model.get_flat(), hf.model.get_flat(), rtol, "parameters")
    state_s, state_f = opt_s.state, opt_f.state
    assert set(state_s) == set(state_f) == {"iterations", "layout", "momentum_buffer"}
    assert state_s["iterations"] == state_f["iterations"]
    assert state_s["layout"] == state_f["layout"]
    if state_f["momentum_buffer"] is None:
        assert state_s["momentum_buffer"] is None
    else:
        assert state_s["momentum_buffer"].dtype == state_f["momentum_buffer"].dtype
        _close(state_s["momentum_buffer"], state_f["momentum_buffer"], rtol, "momentum buffer")


def run_both(args: SweepArgs, callbacks=None, dtype=np.float64, validation: bool = True,
             divergence_factor=1e3):
    """Train the runs of ``args`` with one sweep and with one fit each; return both."""
    X, y = make_data(args.model, args.n_samples)
    val = make_data(args.model, 17, seed=1) if validation else None
    runs = args.runs
    models_s = [make_model(args.model, seed=i, dtype=dtype) for i in range(len(runs))]
    models_f = [m.copy() for m in models_s]
    opts_s = [make_optimizer(r) for r in runs]
    opts_f = [make_optimizer(r) for r in runs]
    cbs_s = [callbacks(i) for i in range(len(runs))] if callbacks else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hs = sweep(
            models_s, X, y, optimizers=opts_s, batch_size=[r.batch_size for r in runs],
            epochs=[r.epochs for r in runs], remainder=[r.remainder for r in runs],
            shuffle=[r.shuffle for r in runs], seeds=[r.seed for r in runs],
            accumulate=[r.accumulate for r in runs], validation_data=val, callbacks=cbs_s,
            progress=False, divergence_factor=divergence_factor,
        )
        hf = [
            fit(models_f[i], X, y, batch_size=r.batch_size, epochs=r.epochs,
                optimizer=opts_f[i], remainder=r.remainder, shuffle=r.shuffle, seed=r.seed,
                accumulate=r.accumulate, validation_data=val,
                callbacks=callbacks(i) if callbacks else (), progress=False,
                divergence_factor=(divergence_factor[i] if isinstance(divergence_factor, list)
                                   else divergence_factor))
            for i, r in enumerate(runs)
        ]
    return hs, hf, opts_s, opts_f


@settings(max_examples=60)
@given(sweep_args())
def test_sweep_equals_separate_fits(args: SweepArgs) -> None:
    hs, hf, opts_s, opts_f = run_both(args)
    for a, b, oa, ob in zip(hs, hf, opts_s, opts_f, strict=True):
        assert_same_run(a, b, oa, ob)


EVENTS = ("none", "diverge", "early_stopping", "stop_mid_epoch", "interrupt")


@settings(max_examples=40)
@given(sweep_args(), st.data())
def test_sweep_equals_separate_fits_with_per_run_events(args: SweepArgs, data) -> None:
    """Each run draws an event: divergence (a huge learning rate, linear regression),
    EarlyStopping, a callback stopping it mid-epoch, or one interrupting it (Ctrl-C)."""
    events = [data.draw(st.sampled_from(EVENTS)) for _ in args.runs]
    if "diverge" in events:
        args = args._replace(model="linear")
    runs = [r._replace(lr=1e300, schedule=False) if e == "diverge" else r
            for r, e in zip(args.runs, events, strict=True)]
    args = args._replace(runs=runs)
    at = [data.draw(st.integers(1, 6)) for _ in runs]

    def callbacks(i: int) -> list[Callback]:
        if events[i] == "early_stopping":
            return [EarlyStopping(monitor="val_loss", patience=0, min_delta=0.05)]
        if events[i] in ("stop_mid_epoch", "interrupt"):
            return [StopAtStep(at[i], interrupt=events[i] == "interrupt")]
        return []

    hs, hf, opts_s, opts_f = run_both(args, callbacks=callbacks)
    for a, b, oa, ob in zip(hs, hf, opts_s, opts_f, strict=True):
        assert_same_run(a, b, oa, ob)


@settings(max_examples=15)
@given(sweep_args(max_runs=3))
def test_sweep_equals_fit_in_float32(args: SweepArgs) -> None:
    hs, hf, opts_s, opts_f = run_both(args, dtype=np.float32)
    for a, b, oa, ob in zip(hs, hf, opts_s, opts_f, strict=True):
        assert_same_run(a, b, oa, ob, rtol=1e-5)


def _runs(lrs, kind: str = "softmax", **common) -> SweepArgs:
    base = dict(momentum=0.0, nesterov=False, weight_decay=0.0, schedule=False, batch_size=8,
                epochs=4, remainder="keep", shuffle=True, seed=3, accumulate=1)
    base.update(common)
    return SweepArgs(kind, 64, [RunArgs(lr=lr, **base) for lr in lrs])


def test_a_diverging_run_stops_alone() -> None:
    args = _runs([0.05, 1e10, 0.02, 1e300], kind="linear")
    hs, hf, opts_s, opts_f = run_both(args)
    reasons = [h.stop_reason for h in hs]
    assert reasons == ["completed", "diverged", "completed", "diverged"]
    assert len(hs[0].steps) == 4 * 8 and len(hs[1].steps) < 4 * 8
    for a, b, oa, ob in zip(hs, hf, opts_s, opts_f, strict=True):
        assert_same_run(a, b, oa, ob)


def test_divergence_is_warned_with_the_run_index() -> None:
    X, y = make_data("linear", 64)
    models = [make_model("linear"), make_model("linear")]
    with pytest.warns(RuntimeWarning, match=r"^run 1: Training diverged at step"):
        hs = sweep(models, X, y, optimizers=[SGD(0.1), SGD(1e300)], batch_size=8, seeds=0,
                   progress=False)
    assert [h.stop_reason for h in hs] == ["completed", "diverged"]


def test_early_stopping_stops_one_run_and_the_others_go_on() -> None:
    args = _runs([0.001, 0.5, 3.0], epochs=6)

    def stopper(i: int) -> list[Callback]:
        return [EarlyStopping(monitor="val_loss", patience=0, restore_best=(i == 1))]

    hs, hf, opts_s, opts_f = run_both(args, callbacks=stopper)
    assert any(h.stop_reason == "early_stopping" for h in hs)
    assert any(h.stop_reason == "completed" for h in hs)
    for a, b, oa, ob in zip(hs, hf, opts_s, opts_f, strict=True):
        assert_same_run(a, b, oa, ob)


class StopAtStep(Callback):
    """Stops (or interrupts, as Ctrl-C would) after a given step."""

    def __init__(self, step: int | None, interrupt: bool = False) -> None:
        self.step, self.interrupt = step, interrupt
        self.seen: list[int] = []

    def on_step_end(self, step, logs):
        self.seen.append(step)
        if step == self.step:
            if self.interrupt:
                raise KeyboardInterrupt
            self.history.stop_training = True


@pytest.mark.parametrize("interrupt", [False, True])
def test_a_run_stopped_or_interrupted_mid_epoch_stops_alone(interrupt: bool) -> None:
    args = _runs([0.1, 0.2, 0.3], momentum=0.9, epochs=3)
    stops = {0: None, 1: 11, 2: 5}
    hs, hf, opts_s, opts_f = run_both(
        args, callbacks=lambda i: [StopAtStep(stops[i], interrupt)]
    )
    assert [len(h.steps) for h in hs] == [24, 11, 5]
    expected = "interrupted" if interrupt else "early_stopping"
    assert [h.stop_reason for h in hs] == ["completed", expected, expected]
    for a, b, oa, ob in zip(hs, hf, opts_s, opts_f, strict=True):
        assert_same_run(a, b, oa, ob)


class Boom(Callback):
    def on_epoch_end(self, epoch, logs):
        if epoch == 1:
            raise ZeroDivisionError("boom in epoch 1")


def test_a_failing_run_is_reported_with_its_index_and_arguments() -> None:
    X, y = make_data("softmax", 40)
    models = [make_model("softmax", seed=i) for i in range(3)]
    with pytest.raises(SweepError) as info:
        sweep(models, X, y, optimizers=[SGD(0.1), SGD(0.2), SGD(0.3)], batch_size=8, epochs=3,
              seeds=0, callbacks=lambda i: [Boom()] if i == 1 else [], progress=False)
    err = info.value
    assert list(err.failures) == [1]
    assert "1 of 3 runs failed" in str(err)
    assert "run 1 (model=SoftmaxRegression" in str(err) and "lr=0.2" in str(err)
    assert "ZeroDivisionError: boom in epoch 1" in str(err)
    assert err.histories[1] is None
    assert [len(h.steps) for h in err.histories if h is not None] == [15, 15]
    assert [h.stop_reason for h in err.histories if h is not None] == ["completed"] * 2


def test_real_ctrl_c_stops_every_run_at_its_last_recorded_step() -> None:
    X, y = make_data("softmax", 64)
    models = [make_model("softmax", seed=i) for i in range(3)]


    original = _Lockstep._run_epoch
    calls = []

    def run_epoch(self, epoch):
        calls.append(epoch)
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, epoch)

    _Lockstep._run_epoch = run_epoch
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hs = sweep(models, X, y, optimizers=SGD(0.1, momentum=0.9), batch_size=8, epochs=3,
                       seeds=0, progress=False)
    finally:
        _Lockstep._run_epoch = original
    assert [h.stop_reason for h in hs] == ["interrupted"] * 3
    assert [len(h.steps) for h in hs] == [8, 8, 8]
    ref = [fit(make_model("softmax", seed=i), X, y, batch_size=8, epochs=1, seed=0,
               optimizer=SGD(0.1, momentum=0.9), progress=False) for i in range(3)]
    for h, r in zip(hs, ref, strict=True):
        _close(h.model.get_flat(), r.model.get_flat(), RTOL, "parameters")
        assert h.history["loss"] == pytest.approx(r.history["loss"], rel=RTOL)


@pytest.mark.parametrize("lrs", [(0.1, 0.1, 0.1), (0.1, 0.05, 0.2)])
def test_ctrl_c_just_after_an_update_is_applied_undoes_it(monkeypatch, lrs) -> None:
    """Ctrl-C that arrives after the stacked update has changed the parameters and the
    momentum buffers but before the step is recorded: every run ends at its last recorded
    step, parameters and optimiser state included, as fit interrupted there (shared and
    per-run learning rates take different paths through the update)."""
    import companion.core.lockstep as lockstep

    original, calls = lockstep.sgd_update, []

    def update_then_ctrl_c(*args, **kwargs):
        original(*args, **kwargs)
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(lockstep, "sgd_update", update_then_ctrl_c)
    X, y = make_data("softmax", 64)
    opts_s = [SGD(lr, momentum=0.9) for lr in lrs]
    with pytest.warns(UserWarning, match="Training interrupted"):
        hs = sweep([make_model("softmax", seed=i) for i in range(3)], X, y, optimizers=opts_s,
                   batch_size=8, epochs=2, seeds=0, progress=False)
    monkeypatch.setattr(lockstep, "sgd_update", original)
    opts_f = [SGD(lr, momentum=0.9) for lr in lrs]
    with pytest.warns(UserWarning, match="Training interrupted"):
        hf = [fit(make_model("softmax", seed=i), X, y, batch_size=8, epochs=2, seed=0,
                  optimizer=opts_f[i], callbacks=[StopAtStep(4, interrupt=True)],
                  progress=False) for i in range(3)]
    assert [len(h.steps) for h in hs] == [4, 4, 4]
    for a, b, oa, ob in zip(hs, hf, opts_s, opts_f, strict=True):
        assert_same_run(a, b, oa, ob)


def test_arguments_are_checked_by_name() -> None:
    X, y = make_data("softmax", 20)
    two = [make_model("softmax"), make_model("softmax")]
    with pytest.raises(ValueError, match=r"batch_size\[1\] must be"):
        sweep(two, X, y, batch_size=[4, -1], progress=False)
    with pytest.raises(ValueError, match="one entry per run \\(2\\); got a list of 3"):
        sweep(two, X, y, epochs=[1, 2, 3], progress=False)
    with pytest.raises(TypeError, match="runs cannot share one"):
        sweep(two, X, y, callbacks=[EarlyStopping(monitor="loss")], progress=False)
    with pytest.raises(ValueError, match=r"models\[1\] is the same object as models\[0\]"):
        sweep([two[0], two[0]], X, y, progress=False)
    opt = SGD(0.1)
    with pytest.raises(ValueError, match=r"optimizers\[1\] is the same object"):
        sweep(two, X, y, optimizers=[opt, opt], progress=False)
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        sweep(two, X, y, executor="dask", progress=False)

    class Wider(SoftmaxRegression):
        pass

    with pytest.raises(TypeError, match="got Wider"):
        sweep([Wider(3, 4)], X, y, progress=False)


def test_a_shared_optimizer_is_copied_per_run_and_left_unchanged() -> None:
    X, y = make_data("softmax", 40)
    opt = SGD(0.1, momentum=0.9)
    hs = sweep([make_model("softmax"), make_model("softmax", seed=1)], X, y, optimizers=opt,
               batch_size=10, seeds=0, progress=False)
    assert opt.state == {"iterations": 0, "layout": None, "momentum_buffer": None}
    assert [len(h.steps) for h in hs] == [4, 4]


def _sweep_with(executor):
    X, y = make_data("mlp-relu", 48)
    models = [make_model("mlp-relu", seed=i) for i in range(4)]
    opts = [SGD(lr, momentum=0.5) for lr in (0.05, 0.1, 0.2, 0.4)]
    hs = sweep(models, X, y, optimizers=opts, batch_size=[4, 4, 16, 16], epochs=2,
               seeds=[0, 1, 2, 3], validation_data=make_data("mlp-relu", 12, seed=1),
               executor=executor, progress=False)
    return hs, opts


def _assert_same_sweeps(a, b) -> None:
    (ha, oa), (hb, ob) = a, b
    for x, y, p, q in zip(ha, hb, oa, ob, strict=True):
        assert_same_run(x, y, p, q, rtol=0.0)  # the same arithmetic in another process


def test_a_thread_pool_gives_the_in_process_results() -> None:
    with ThreadPoolExecutor(2) as pool:
        _assert_same_sweeps(_sweep_with(pool), _sweep_with(None))


def test_a_process_pool_gives_the_in_process_results() -> None:
    with ProcessPoolExecutor(2) as pool:
        remote = _sweep_with(pool)
    local = _sweep_with(None)
    _assert_same_sweeps(remote, local)
    assert remote[0][0].model is not None and remote[0][0].model.n_params == 44


def test_a_dask_local_cluster_gives_the_in_process_results() -> None:
    distributed = pytest.importorskip("distributed")  # in the dev requirements (cluster extra)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = _sweep_with(client.get_executor())
    _assert_same_sweeps(remote, _sweep_with(None))


def test_a_dead_worker_fails_its_runs_only() -> None:
    import companion.core.sweep as sweep_module

    X, y = make_data("softmax", 40)
    models = [make_model("softmax", seed=i) for i in range(3)]
    with ThreadPoolExecutor(1) as pool:
        original = sweep_module._remote_group
        sweep_module._remote_group = lambda runs, *a: (
            (_ for _ in ()).throw(MemoryError("worker out of memory"))
            if runs[0].batch_size == 5 else original(runs, *a)
        )
        try:
            with pytest.raises(SweepError) as info:
                sweep(models, X, y, batch_size=[8, 5, 8], seeds=0, executor=pool,
                      progress=False)
        finally:
            sweep_module._remote_group = original
    assert list(info.value.failures) == [1]
    assert "run 1 (" in str(info.value) and "batch_size=5" in str(info.value)
    assert "MemoryError: worker out of memory" in str(info.value)
    assert [h is None for h in info.value.histories] == [False, True, False]


def test_the_progress_bar_waits_two_seconds(monkeypatch) -> None:
    import companion.core.sweep as sweep_module

    made = {}
    original = sweep_module._bar

    def spy(total):
        made["bar"] = bar = original(total)
        bar.fp = made["out"] = io.StringIO()  # what tqdm would have printed
        return bar

    monkeypatch.setattr(sweep_module, "_bar", spy)
    X, y = make_data("softmax", 40)
    sweep([make_model("softmax"), make_model("softmax", seed=1)], X, y, batch_size=4,
          progress=True)
    bar = made["bar"]
    assert bar.n == 2 and bar.total == 2 and bar.delay == 2.0
    assert made["out"].getvalue() == ""  # a sweep shorter than two seconds shows nothing
    made.clear()
    monkeypatch.setenv("BATCHWISE_PROGRESS", "0")  # what the book's builds set
    sweep([make_model("softmax"), make_model("softmax", seed=1)], X, y, batch_size=4,
          progress=True)
    assert made == {}  # no bar is made at all


def test_runs_that_share_shape_batch_size_and_optimizer_terms_train_in_lockstep(monkeypatch):

    sizes = []
    original = _Lockstep.__init__

    def spy(self, runs, *args, **kwargs):
        sizes.append([r.index for r in runs])
        original(self, runs, *args, **kwargs)

    monkeypatch.setattr(_Lockstep, "__init__", spy)
    X, y = make_data("softmax", 40)
    models = [make_model("softmax", seed=i) for i in range(6)]
    opts = [SGD(0.1), SGD(0.2), SGD(0.3, momentum=0.9), SGD(0.4), SGD(0.5), SGD(0.6)]
    sweep(models, X, y, optimizers=opts, batch_size=[8, 8, 8, 4, 8, 4], seeds=list(range(6)),
          progress=False)
    assert sizes == [[0, 1, 4], [2], [3, 5]]


def test_ctrl_c_in_one_group_returns_the_later_groups_unstarted(monkeypatch) -> None:

    original = _Lockstep._run_epoch

    def run_epoch(self, epoch):
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(_Lockstep, "_run_epoch", run_epoch)
    X, y = make_data("softmax", 64)
    opts = [SGD(0.1), SGD(0.1), SGD(0.1)]
    with pytest.warns(UserWarning, match="Training interrupted"):
        hs = sweep([make_model("softmax", seed=i) for i in range(3)], X, y, optimizers=opts,
                   batch_size=[8, 16, 8], epochs=3, seeds=0, progress=False)
    assert [h.stop_reason for h in hs] == ["interrupted"] * 3
    assert [len(h.steps) for h in hs] == [8, 0, 8]  # the B = 16 group never started
    assert [o.iterations for o in opts] == [8, 0, 8]
    assert hs[1].history["loss"] == [] and hs[1].model.get_flat().tolist() == (
        make_model("softmax", seed=1).get_flat().tolist()
    )


def test_the_divergence_bound_stops_each_run_as_fit_does() -> None:
    """Finite losses above divergence_factor × the first batch loss: each run stops alone,
    its offending update undone and its row removed, with the parameters, history and
    optimiser state (momentum buffer) that fit leaves, in the three places an undone update
    can sit: mid-epoch, the last of the previous epoch, the only one of its epoch."""
    args = _runs([0.05, 1.0, 1.45, 1.2, 1.3], kind="linear", momentum=0.9, epochs=3)
    factors = [1e3, 10.0, 10.0, None, 10.0]
    hs, hf, opts_s, opts_f = run_both(args, divergence_factor=factors)
    assert [h.stop_reason for h in hs] == ["completed", "diverged", "diverged", "completed",
                                           "diverged"]
    assert [len(h.steps) for h in hs] == [24, 11, 7, 24, 16]
    assert "exceeds" in hs[1].message and "undone too" in hs[1].message
    assert "at step 9 (epoch 1)" in hs[2].message and hs[2].epoch == [0]  # epoch 0's last
    assert "at step 18 (epoch 2)" in hs[4].message and hs[4].epoch == [0, 1]  # no epoch 2 left
    assert [h.settings["divergence_factor"] for h in hs] == factors
    for a, b, oa, ob in zip(hs, hf, opts_s, opts_f, strict=True):
        assert_same_run(a, b, oa, ob)


def test_divergence_factor_and_optimizer_layout_are_checked() -> None:
    X, y = make_data("softmax", 20)
    two = [make_model("softmax"), make_model("softmax")]
    with pytest.raises(ValueError, match=r"divergence_factor\[1\] must be a finite real number > 1; got 0.5"):
        sweep(two, X, y, divergence_factor=[10.0, 0.5], progress=False)
    used = SGD(0.1)
    used.step(make_model("linear").params, np.zeros(8))
    with pytest.raises(ValueError, match=r"optimizers\[1\] holds the state of parameters"):
        sweep(two, X, y, optimizers=[SGD(0.1), used], progress=False)


def test_sweep_uses_no_private_member_of_another_object() -> None:
    """sweep, lockstep and stacked reach models, plans, logs and optimisers through their
    public methods only: no ``obj._name`` on anything but ``self``."""
    import ast
    import inspect

    import companion.core.lockstep as lockstep
    import companion.core.stacked as stacked
    import companion.core.sweep as sweep_module

    found = []
    for module in (sweep_module, lockstep, stacked):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
                found.append(f"{module.__name__}:{node.lineno}: .{node.attr}")
    assert found == []
