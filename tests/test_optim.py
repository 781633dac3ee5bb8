"""SGD against hand-computed steps (PyTorch's rule) and the learning-rate schedules."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from companion.core import optim, schedules
from companion.core.models import flatten
from companion.core.optim import SGD, sgd_update
from companion.core.schedules import (
    constant,
    linear_warmup,
    step_decay,
)


def run(opt: SGD, theta0: float, grads: list[float]) -> list[float]:
    """Apply ``grads`` one by one to a scalar parameter; return θ after each step."""
    p = {"w": np.array([theta0])}
    out = []
    for g in grads:
        opt.step(p, {"w": np.array([g])})
        out.append(float(p["w"][0]))
    return out


def test_plain_sgd_by_hand() -> None:
    # θ ← θ − η·g: 1 − 0.1·2 = 0.8; 0.8 − 0.1·(−1) = 0.9
    assert run(SGD(lr=0.1), 1.0, [2.0, -1.0]) == pytest.approx([0.8, 0.9], abs=1e-15)


def test_momentum_by_hand() -> None:
    # b1 = g1 = 1; θ1 = 1 − 0.1·1 = 0.9
    # b2 = 0.5·1 + 2 = 2.5; θ2 = 0.9 − 0.25 = 0.65
    # b3 = 0.5·2.5 + 0 = 1.25; θ3 = 0.65 − 0.125 = 0.525
    assert run(SGD(lr=0.1, momentum=0.5), 1.0, [1.0, 2.0, 0.0]) == pytest.approx(
        [0.9, 0.65, 0.525], abs=1e-15
    )


def test_nesterov_by_hand() -> None:
    # b1 = 1; g = 1 + 0.5·1 = 1.5; θ1 = 1 − 0.15 = 0.85
    # b2 = 0.5 + 2 = 2.5; g = 2 + 0.5·2.5 = 3.25; θ2 = 0.85 − 0.325 = 0.525
    opt = SGD(lr=0.1, momentum=0.5, nesterov=True)
    assert run(opt, 1.0, [1.0, 2.0]) == pytest.approx([0.85, 0.525], abs=1e-15)


def test_weight_decay_by_hand() -> None:
    # g = 1 + 0.1·2 = 1.2; θ1 = 2 − 0.5·1.2 = 1.4; g = 1 + 0.14 = 1.14; θ2 = 1.4 − 0.57 = 0.83
    assert run(SGD(lr=0.5, weight_decay=0.1), 2.0, [1.0, 1.0]) == pytest.approx(
        [1.4, 0.83], abs=1e-15
    )


def test_weight_decay_enters_the_momentum_buffer() -> None:
    # g1 = 1 + 0.1·1 = 1.1 = b1; θ1 = 1 − 0.11 = 0.89
    # g2 = 1 + 0.089 = 1.089; b2 = 0.9·1.1 + 1.089 = 2.079; θ2 = 0.89 − 0.2079 = 0.6821
    opt = SGD(lr=0.1, momentum=0.9, weight_decay=0.1)
    assert run(opt, 1.0, [1.0, 1.0]) == pytest.approx([0.89, 0.6821], abs=1e-14)


def reference_torch_sgd(theta: np.ndarray, grads: list[np.ndarray], lr: float, mu: float,
                        nesterov: bool, wd: float) -> np.ndarray:
    """torch.optim.SGD's documented algorithm (dampening 0), written out literally."""
    theta = theta.copy()
    b = None
    for t, grad in enumerate(grads):
        g = grad + wd * theta
        if mu != 0:
            b = g.copy() if t == 0 else mu * b + g
            g = g + mu * b if nesterov else b
        theta = theta - lr * g
    return theta


@pytest.mark.parametrize("nesterov", [False, True])
def test_matches_reference_over_many_steps(nesterov: bool) -> None:
    rng = np.random.default_rng(0)
    theta0 = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    grads = [{"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)} for _ in range(20)]
    params = {k: v.copy() for k, v in theta0.items()}
    opt = SGD(lr=0.05, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
    for g in grads:
        opt.step(params, g)
    for key in theta0:
        expected = reference_torch_sgd(theta0[key], [g[key] for g in grads], 0.05, 0.9,
                                       nesterov, 0.01)
        np.testing.assert_allclose(params[key], expected, rtol=1e-13, atol=1e-15)
    assert opt.iterations == 20


def test_step_updates_in_place_and_keeps_float32() -> None:
    w = np.ones(3, dtype=np.float32)
    opt = SGD(lr=0.1, momentum=0.9, weight_decay=0.01)
    for _ in range(3):
        opt.step({"w": w}, {"w": np.full(3, 0.5, dtype=np.float32)})
    assert w.dtype == np.float32
    assert opt.state["momentum_buffer"].dtype == np.float32
    assert w[0] < 1.0


def test_state_reset_copy() -> None:
    opt = SGD(lr=0.1, momentum=0.9)
    run(opt, 1.0, [1.0])
    state = opt.state
    assert state["iterations"] == 1
    np.testing.assert_array_equal(state["momentum_buffer"], [1.0])
    assert state["layout"] == (("w", (1,)),)
    state["momentum_buffer"][0] = 100.0  # a copy: does not reach the optimiser
    twin = opt.copy()
    assert run(twin, 0.9, [1.0]) == run(opt, 0.9, [1.0])  # same continuation
    opt.reset()
    assert opt.state == {"iterations": 0, "layout": None, "momentum_buffer": None}
    assert run(opt, 1.0, [1.0]) == [0.9]  # fresh buffer: b = g at the first step


def test_schedule_drives_the_learning_rate() -> None:
    opt = SGD(lr=step_decay(1.0, step_size=2, gamma=0.5))
    lrs = []
    p = {"w": np.zeros(1)}
    for _ in range(5):
        lrs.append(opt.current_lr)
        opt.step(p, {"w": np.ones(1)})
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert p["w"][0] == -sum(lrs)


def test_any_callable_is_a_schedule() -> None:
    opt = SGD(lr=lambda t: 0.1 / (t + 1))
    assert run(opt, 0.0, [1.0, 1.0]) == pytest.approx([-0.1, -0.15])


def test_schedules_values() -> None:
    assert [constant(0.3)(t) for t in (0, 10)] == [0.3, 0.3]
    assert step_decay(0.1, step_size=10)(9) == pytest.approx(0.1)
    assert step_decay(0.1, step_size=10)(10) == pytest.approx(0.01)
    warm = linear_warmup(1.0, warmup_steps=4)
    assert [warm(t) for t in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    chained = linear_warmup(1.0, warmup_steps=2, after=step_decay(1.0, 2, gamma=0.1))
    assert [chained(t) for t in range(6)] == pytest.approx([0.5, 1.0, 1.0, 1.0, 0.1, 0.1])
    assert repr(step_decay(0.1, 5)) == "step_decay(lr=0.1, step_size=5, gamma=0.1)"
    assert repr(constant(0.5)) == "constant(lr=0.5)"
    assert repr(chained) == ("linear_warmup(lr=1.0, warmup_steps=2, "
                             "after=step_decay(lr=1.0, step_size=2, gamma=0.1))")
    for schedule in (constant(0.5), step_decay(0.1, 5), chained):  # the repr rebuilds it
        assert eval(repr(schedule), vars(schedules)) == schedule
    classes = {n for n, v in vars(schedules).items() if isinstance(v, type)
               and v.__module__ == schedules.__name__ and not n.startswith("_")}
    assert classes == set()  # one spelling per schedule: the functions


def test_repr() -> None:
    assert repr(SGD(0.1, momentum=0.9, nesterov=True)) == (
        "SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.0)"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lr": 0.0}, ValueError, r"lr must be a finite real number > 0; got 0.0"),
        ({"lr": -0.1}, ValueError, r"lr must be a finite real number > 0; got -0.1"),
        ({"lr": math.inf}, ValueError, r"lr must be a finite real number > 0; got inf"),
        ({"lr": "0.1"}, TypeError, r"lr must be a positive float or a schedule"),
        ({"lr": True}, TypeError, r"lr must be a positive float or a schedule"),
        ({"momentum": -0.5}, ValueError, r"momentum must be a finite real number >= 0 and < 1; got -0.5"),
        ({"momentum": 1.0}, ValueError, r"momentum must be a finite real number >= 0 and < 1; got 1.0"),
        ({"momentum": 1.5}, ValueError, r"momentum must be a finite real number >= 0 and < 1; got 1.5"),
        ({"momentum": math.nan}, ValueError, r"momentum must be a finite real number >= 0 and < 1; got nan"),
        ({"weight_decay": -1}, ValueError, r"weight_decay must be a finite real number >= 0"),
        ({"nesterov": 1}, TypeError, r"nesterov must be True or False; got 1"),
        ({"nesterov": True}, ValueError, r"nesterov=True requires momentum > 0"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        SGD(**kwargs)


def test_bad_step_arguments() -> None:
    opt = SGD(0.1)
    with pytest.raises(ValueError, match=r"grads must have the same keys as params"):
        opt.step({"w": np.zeros(2)}, {"v": np.zeros(2)})
    with pytest.raises(ValueError, match=r"grads\['w'\] must have the shape of params\['w'\]"):
        opt.step({"w": np.zeros(2)}, {"w": np.zeros(3)})
    with pytest.raises(TypeError, match=r"params\['w'\] must be a NumPy float array"):
        opt.step({"w": [0.0, 0.0]}, {"w": np.zeros(2)})
    with pytest.raises(TypeError, match=r"params must be a dict of NumPy float arrays .*got list"):
        opt.step([np.zeros(2)], [np.zeros(2)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"grads must be a dict of arrays .*got ndarray"):
        opt.step({"w": np.zeros(2)}, np.zeros(2))  # a flat vector needs model.params
    assert opt.iterations == 0


@pytest.mark.parametrize(
    ("grad", "error", "match"),
    [
        ([np.nan, 0.0], ValueError, r"grads\['w'\] must not contain NaN or infinite values; found 1 at row 0"),
        ([0.0, np.inf], ValueError, r"grads\['w'\] must not contain NaN or infinite values; found 1 at row 1"),
        ("abc", TypeError, r"grads\['w'\] must be an array-like of numbers; got 'abc'"),
        (["a", "b"], TypeError, r"grads\['w'\] must hold numbers of kind \['f'\]"),
    ],
)
def test_bad_gradients_are_rejected_before_any_change(grad: object, error: type, match: str) -> None:
    w = np.ones(2)
    opt = SGD(0.1, momentum=0.9)
    with pytest.raises(error, match=match):
        opt.step({"w": w}, {"w": grad})
    assert w.tolist() == [1.0, 1.0] and opt.state == SGD(0.1).state


def test_flat_gradient_of_a_model_equals_the_named_step() -> None:
    from companion.core.models import MLP

    X, y = np.random.default_rng(0).normal(size=(8, 3)), np.arange(8) % 2
    a, b = MLP([3, 4, 2], seed=1), MLP([3, 4, 2], seed=1)
    opt_a, opt_b = SGD(0.1, momentum=0.9), SGD(0.1, momentum=0.9)
    for _ in range(3):
        opt_a.step(a.params, a.grad(X, y))
        opt_b.step(b.params, flatten(b.grad(X, y), b.param_names))
    np.testing.assert_array_equal(a.get_flat(), b.get_flat())
    np.testing.assert_array_equal(opt_a.state["momentum_buffer"], opt_b.state["momentum_buffer"])
    with pytest.raises(ValueError, match=r"grads as one vector must have length 26 .*got shape \(3,\)"):
        opt_a.step(a.params, np.zeros(3))


def test_an_optimiser_bound_to_one_model_refuses_another_shape() -> None:
    from companion.core.models import LinearRegression, SoftmaxRegression

    X = np.ones((4, 2))
    first, other = SoftmaxRegression(2, 3), LinearRegression(2)
    opt = SGD(0.1, momentum=0.9)
    opt.step(first.params, first.grad(X, [0, 1, 2, 0]))
    before = other.get_flat()
    with pytest.raises(ValueError, match=r"this SGD holds the state of parameters \[\('W', \(2, 3\)\), "
                                         r"\('b', \(3,\)\)\] \(after 1 updates\); params has "
                                         r"\[\('W', \(2, 1\)\), \('b', \(1,\)\)\]"):
        opt.step(other.params, other.grad(X, [0.0, 1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(other.get_flat(), before)
    opt.reset()
    opt.step(other.params, other.grad(X, [0.0, 1.0, 2.0, 3.0]))
    assert opt.layout == (("W", (2, 1)), ("b", (1,))) and opt.iterations == 1


@pytest.mark.parametrize("value", [-0.1, math.nan, "fast"])
def test_bad_schedule_output(value: object) -> None:
    opt = SGD(lr=lambda t: value)
    with pytest.raises(ValueError, match=r"the learning-rate schedule must return a finite float >= 0"):
        opt.step({"w": np.zeros(1)}, {"w": np.zeros(1)})


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: constant(0), ValueError, r"lr must be a finite real number > 0; got 0.0"),
        (lambda: step_decay(0.1, 0), ValueError, r"step_size must be a positive int; got 0"),
        (lambda: step_decay(0.1, 2, gamma=0), ValueError, r"gamma must be a finite real number > 0"),
        (lambda: linear_warmup(0.1, 0), ValueError, r"warmup_steps must be a positive int; got 0"),
        (lambda: linear_warmup(0.1, 5, after=0.1), TypeError, r"after must be None or a schedule"),
        (lambda: constant(0.1)(-1), ValueError, r"step must be a non-negative int; got -1"),
        (lambda: step_decay(0.1, 2)(1.5), TypeError, r"step must be a non-negative int; got 1.5"),
    ],
)
def test_bad_schedule_arguments(make: Callable[[], object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "terms", [{}, {"momentum": 0.9}, {"momentum": 0.5, "nesterov": True},
              {"momentum": 0.9, "weight_decay": 0.01}, {"weight_decay": 0.1}],
)
def test_a_stack_of_runs_steps_exactly_as_each_sgd_alone(dtype: type, terms: dict) -> None:
    """sgd_update on a (K, P) stack with per-row (K, 1) coefficients gives, bit for bit,
    each row's SGD.step, its buffer included; a zero buffer row is a first update."""
    rng = np.random.default_rng(0)
    k, p = 3, 5
    lrs = np.array([0.1, 0.03, 0.7])
    opts = [SGD(float(lr), **terms) for lr in lrs]
    theta = rng.normal(size=(k, p)).astype(dtype)
    alone = [{"w": row.copy()} for row in theta]
    coef = {name: np.full((k, 1), value, dtype=dtype)
            for name, value in terms.items() if name != "nesterov"}
    buffer = np.zeros_like(theta) if "momentum" in terms else None
    for _ in range(4):
        grad = rng.normal(size=(k, p)).astype(dtype)
        before_grad = grad.copy()
        for row, (opt, params) in enumerate(zip(opts, alone, strict=True)):
            opt.step(params, {"w": grad[row]})
        _, buffer = sgd_update(theta, grad, buffer, lr=lrs.astype(dtype)[:, None],
                               nesterov=terms.get("nesterov", False), **coef)
        assert np.array_equal(grad, before_grad)  # the gradient is not modified
        assert np.array_equal(theta, np.stack([a["w"] for a in alone]))
        assert theta.dtype == dtype
        if buffer is None:
            assert all(o.state["momentum_buffer"] is None for o in opts)
        else:
            assert np.array_equal(buffer, np.stack([o.state["momentum_buffer"] for o in opts]))


@pytest.mark.parametrize(
    "terms", [{}, {"momentum": 0.9}, {"momentum": 0.5, "nesterov": True},
              {"momentum": 0.9, "weight_decay": 0.01}, {"weight_decay": 0.1}],
)
@pytest.mark.parametrize("lr", [0.3, np.array([[0.1], [0.03], [0.7]])])
def test_overwrite_grad_gives_the_same_values_bit_for_bit(terms: dict, lr) -> None:
    """The in-place update that may form η·g in the gradient's array (what the lockstep
    trainer uses) computes exactly what the default update does, buffer included."""
    rng = np.random.default_rng(1)
    theta, grad = rng.normal(size=(3, 7)), rng.normal(size=(3, 7))
    buffer = rng.normal(size=(3, 7)) if "momentum" in terms else None
    a, ga = theta.copy(), grad.copy()
    b, gb = theta.copy(), grad.copy()
    _, buf_a = sgd_update(a, ga, None if buffer is None else buffer.copy(), lr=lr, **terms)
    inplace = None if buffer is None else buffer.copy()
    _, buf_b = sgd_update(b, gb, inplace, lr=lr, buffer_out=inplace, overwrite_grad=True,
                          **terms)
    assert np.array_equal(a, b) and not np.array_equal(a, theta)
    assert np.array_equal(ga, grad)  # the default leaves the gradient alone
    if buffer is not None:
        assert buf_b is inplace and np.array_equal(buf_a, buf_b)


def test_out_arguments_leave_the_inputs_as_they_were() -> None:
    theta, buf = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    out, buf_out = np.empty(2), np.empty(2)
    new, new_buf = sgd_update(theta, np.ones(2), buf, lr=0.1, momentum=0.9, out=out,
                              buffer_out=buf_out)
    assert new is out and new_buf is buf_out
    assert theta.tolist() == [1.0, 2.0] and buf.tolist() == [0.5, -0.5]
    assert buf_out.tolist() == [0.9 * 0.5 + 1.0, 0.9 * -0.5 + 1.0]
    assert out.tolist() == [1.0 - 0.1 * buf_out[0], 2.0 - 0.1 * buf_out[1]]


def test_sgd_step_goes_through_sgd_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one update path: SGD.step calls the module's sgd_update."""
    calls = []
    original = optim.sgd_update

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(optim, "sgd_update", spy)
    opt = SGD(0.1, momentum=0.9, weight_decay=0.01)
    opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})
    assert calls == [{"lr": 0.1, "momentum": 0.9, "nesterov": False, "weight_decay": 0.01}]


def test_lr_at_is_the_schedule_and_current_lr_its_value_now() -> None:
    opt = SGD(step_decay(0.1, step_size=2, gamma=0.5))
    assert [opt.lr_at(t) for t in range(5)] == [0.1, 0.1, 0.05, 0.05, 0.025]
    opt.step({"w": np.zeros(1)}, {"w": np.ones(1)})
    opt.step({"w": np.zeros(1)}, {"w": np.ones(1)})
    assert opt.current_lr == opt.lr_at(2) == 0.05
    assert SGD(0.3).lr_at(99) == 0.3
