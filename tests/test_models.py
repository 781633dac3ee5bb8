"""Models: gradients against central finite differences, per-sample gradients, dtypes, checks."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from companion.core.models import MLP, LinearRegression, Model, SoftmaxRegression, flatten

RNG = np.random.default_rng(20240601)
X = RNG.normal(size=(9, 5))
Y_REG = RNG.normal(size=9)
Y_REG3 = RNG.normal(size=(9, 3))
Y_CLS = RNG.integers(0, 4, size=9)


def cases() -> list[tuple[str, Model, np.ndarray]]:
    return [
        ("linear-1", LinearRegression(5, seed=1), Y_REG),
        ("linear-3", LinearRegression(5, n_outputs=3, seed=1), Y_REG3),
        ("softmax", SoftmaxRegression(5, 4, seed=1), Y_CLS),
        ("mlp-relu", MLP([5, 7, 6, 4], activation="relu", seed=1), Y_CLS),
        ("mlp-tanh", MLP([5, 7, 6, 4], activation="tanh", seed=1), Y_CLS),
    ]


CASES = {name: (model, y) for name, model, y in cases()}


def central_differences(model: Model, X: np.ndarray, y: np.ndarray, h: float = 1e-6) -> np.ndarray:
    theta = model.get_flat()
    out = np.empty_like(theta)
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = h
        model.set_flat(theta + step)
        up = model.loss(X, y)
        model.set_flat(theta - step)
        down = model.loss(X, y)
        out[i] = (up - down) / (2 * h)
    model.set_flat(theta)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_matches_central_differences(name: str) -> None:
    model, y = CASES[name]
    model = model.copy()
    model.set_flat(model.get_flat() + RNG.normal(scale=0.1, size=model.n_params))  # biases != 0
    analytic = flatten(model.grad(X, y), model.param_names)
    numeric = central_differences(model, X, y)
    # central differences err by O(h^2 f''') + O(eps f / h) ~ 1e-10 here
    rel = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(numeric), 1e-12)
    assert rel < 1e-6, rel


@pytest.mark.parametrize("name", list(CASES))
def test_loss_and_grad_share_one_pass(name: str) -> None:
    model, y = CASES[name]
    loss, grads = model.loss_and_grad(X, y)
    assert loss == pytest.approx(model.loss(X, y), rel=1e-14)
    for key in model.param_names:
        np.testing.assert_array_equal(grads[key], model.grad(X, y)[key])
        assert grads[key].shape == model.params[key].shape


@pytest.mark.parametrize("name", list(CASES))
def test_per_sample_grads(name: str) -> None:
    model, y = CASES[name]
    per_sample = model.per_sample_grads(X, y)
    assert per_sample.shape == (len(X), model.n_params)
    full = flatten(model.grad(X, y), model.param_names)
    np.testing.assert_allclose(per_sample.mean(axis=0), full, rtol=1e-12, atol=1e-14)
    for i in (0, 4, 8):  # each row is the gradient of that row's loss
        one = flatten(model.grad(X[i : i + 1], y[i : i + 1]), model.param_names)
        np.testing.assert_allclose(per_sample[i], one, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(CASES))
def test_float32_stays_float32(name: str) -> None:
    model64, y = CASES[name]
    model: Model
    if isinstance(model64, MLP):
        model = MLP(list(model64.sizes), model64.activation, seed=1, dtype=np.float32)
    elif isinstance(model64, SoftmaxRegression):
        model = SoftmaxRegression(5, 4, seed=1, dtype=np.float32)
    else:
        model = LinearRegression(5, model64.n_outputs, seed=1, dtype=np.float32)
    assert model.dtype == np.float32
    assert all(p.dtype == np.float32 for p in model.params.values())
    loss, grads = model.loss_and_grad(X, y)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert model.per_sample_grads(X, y).dtype == np.float32
    assert model.get_flat().dtype == np.float32
    # same initial weights as float64, rounded; gradients agree to float32 precision
    np.testing.assert_allclose(model.get_flat(), model64.get_flat(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        flatten(grads, model.param_names), flatten(model64.grad(X, y), model.param_names),
        rtol=1e-3, atol=1e-5,
    )
    assert loss == pytest.approx(model64.loss(X, y), rel=1e-5)
    if not model.is_classifier:
        assert model.predict(X).dtype == np.float32


def test_mse_without_half_over_all_elements() -> None:
    model = LinearRegression(2, n_outputs=2)
    model.params = {"W": np.eye(2), "b": np.array([0.0, 1.0])}
    Xs = np.array([[1.0, 2.0], [3.0, 4.0]])
    Ys = np.array([[1.0, 1.0], [1.0, 1.0]])
    # predictions [[1, 3], [3, 5]] -> errors [[0, 2], [2, 4]] -> mean of squares 24 / 4
    assert model.loss(Xs, Ys) == 6.0
    assert model.score(Xs, Ys) == 6.0


def test_cross_entropy_values_and_stability() -> None:
    model = SoftmaxRegression(2, 3)
    model.params = {"W": np.zeros((2, 3)), "b": np.array([0.0, 1.0, 2.0])}
    Xs, ys = np.zeros((2, 2)), np.array([0, 2])
    logz = np.log(np.exp([0.0, 1.0, 2.0]).sum())
    assert model.loss(Xs, ys) == pytest.approx(((logz - 0.0) + (logz - 2.0)) / 2, rel=1e-15)
    model.params = {"W": np.zeros((2, 3)), "b": np.array([0.0, 1000.0, 2000.0])}
    assert model.loss(Xs, ys) == pytest.approx((2000.0 + 0.0) / 2, rel=1e-12)  # no overflow
    assert np.isfinite(flatten(model.grad(Xs, ys), model.param_names)).all()


def test_predict_and_score_classifier() -> None:
    model = SoftmaxRegression(2, 3)
    model.params = {"W": np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), "b": np.zeros(3)}
    Xs = np.array([[2.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    assert model.predict(Xs).tolist() == [0, 1, 2]
    assert model.score(Xs, [0, 1, 0]) == pytest.approx(2 / 3)
    proba = model.predict_proba(Xs)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_tied_logits_count_like_argmax() -> None:
    model = SoftmaxRegression(2, 3)
    model.params = {"W": np.zeros((2, 3)), "b": np.zeros(3)}  # every logit ties
    Xs = np.ones((4, 2))
    assert model.predict(Xs).tolist() == [0, 0, 0, 0]
    assert model.score(Xs, [0, 1, 2, 0]) == 0.5


def test_mlp_layout_and_init() -> None:
    model = MLP([64, 32, 10])
    assert model.param_names == ("W0", "b0", "W1", "b1")
    assert model.n_params == 64 * 32 + 32 + 32 * 10 + 10
    assert model.params["W0"].shape == (64, 32) and model.params["b1"].shape == (10,)
    assert np.all(model.params["b0"] == 0)
    # He init for relu hidden layers: std sqrt(2/64) = 0.177; 2048 draws, se of std ~ 0.0028
    assert model.params["W0"].std() == pytest.approx(np.sqrt(2 / 64), abs=5 * 0.0028)
    same = MLP([64, 32, 10], seed=0)
    other = MLP([64, 32, 10], seed=1)
    np.testing.assert_array_equal(model.get_flat(), same.get_flat())
    assert not np.array_equal(model.get_flat(), other.get_flat())


def test_params_are_live_views_and_settable() -> None:
    model = LinearRegression(3)
    model.params["W"][0, 0] = 5.0
    assert model.get_flat()[0] == 5.0
    model.params = {"W": np.ones((3, 1)), "b": np.array([2.0])}
    assert model.get_flat().tolist() == [1.0, 1.0, 1.0, 2.0]
    vec = np.arange(4.0)
    model.set_flat(vec)
    vec[0] = 99.0
    assert model.get_flat().tolist() == [0.0, 1.0, 2.0, 3.0]
    flat = model.get_flat()
    flat[1] = -1.0
    assert model.params["W"][1, 0] == 1.0  # get_flat is a copy


def test_copy_deepcopy_and_pickle_are_independent() -> None:
    model = MLP([3, 4, 2], seed=2)
    for clone in (model.copy(), copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        np.testing.assert_array_equal(clone.get_flat(), model.get_flat())
        clone.params["W0"][...] = 0.0
        assert clone.get_flat()[:12].sum() == 0.0  # the views still write the flat vector
        assert model.params["W0"].any()
        assert clone.loss(np.ones((2, 3)), [0, 1]) == pytest.approx(np.log(2))


def test_grad_returns_fresh_arrays() -> None:
    model = SoftmaxRegression(5, 4)
    g1 = model.grad(X, Y_CLS)
    g2 = model.grad(X[:3], Y_CLS[:3])
    assert not np.shares_memory(g1["W"], g2["W"])
    assert not np.shares_memory(g1["W"], model.params["W"])


def test_flatten_order_and_missing() -> None:
    grads = {"W": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([5.0, 6.0])}
    assert flatten(grads, ["W", "b"]).tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert flatten(grads, ["b", "W"]).tolist() == [5.0, 6.0, 1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match=r"missing \['c'\]"):
        flatten(grads, ["W", "c"])


def test_reprs() -> None:
    assert repr(MLP([4, 3, 2], activation="tanh")) == (
        "MLP(sizes=[4, 3, 2], activation='tanh', dtype=float64, n_params=23)"
    )
    assert repr(SoftmaxRegression(4, 3, dtype=np.float32)) == (
        "SoftmaxRegression(n_features=4, n_classes=3, dtype=float32, n_params=15)"
    )


def test_regression_predict_shapes() -> None:
    assert LinearRegression(5).predict(X).shape == (9,)
    assert LinearRegression(5, n_outputs=3).predict(X).shape == (9, 3)


def test_integer_and_whole_float_labels_accepted() -> None:
    model = SoftmaxRegression(5, 4)
    assert model.loss(X, Y_CLS.astype(np.float64)) == model.loss(X, Y_CLS.astype(np.int32))


# -- validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: LinearRegression(0), ValueError, r"n_features must be a positive int; got 0"),
        (lambda: LinearRegression(3, n_outputs=1.0), TypeError, r"n_outputs must be a positive int"),
        (lambda: SoftmaxRegression(3, 1), ValueError, r"n_classes must be an int >= 2; got 1"),
        (lambda: SoftmaxRegression(3, 2, seed=-1), ValueError, r"seed must be a non-negative int"),
        (lambda: MLP([64]), ValueError, r"sizes must be a list of at least two positive ints"),
        (lambda: MLP([64, 0, 10]), ValueError, r"sizes must be a list of at least two positive"),
        (lambda: MLP([64, 32, 1]), ValueError, r"sizes\[-1\] \(n_classes\) must be an int >= 2"),
        (lambda: MLP(64), TypeError, r"sizes must be a list of positive ints; got 64"),
        (lambda: MLP([4, 2], activation="sigmoid"), ValueError,
         r"activation must be one of 'relu', 'tanh'; got 'sigmoid'"),
        (lambda: LinearRegression(3, dtype=np.int64), ValueError,
         r"dtype must be np.float32 or np.float64; got int64"),
        (lambda: LinearRegression(3, dtype="nonsense"), TypeError, r"dtype must be np.float32"),
    ],
)
def test_bad_constructor_arguments(make: Callable[[], Model], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("model", "Xb", "yb", "error", "match"),
    [
        (SoftmaxRegression(5, 4), X[0], Y_CLS[:1], ValueError, r"X must be a 2-D array; got shape \(5,\)"),
        (SoftmaxRegression(5, 4), X[:, :4], Y_CLS, ValueError,
         r"X must have 5 columns \(the model's n_features\); got shape \(9, 4\)"),
        (SoftmaxRegression(5, 4), np.where(np.arange(45).reshape(9, 5) == 17, np.nan, X), Y_CLS,
         ValueError, r"X must not contain NaN or infinite values; found 1 at row 3"),
        (SoftmaxRegression(5, 4), "abc", Y_CLS, TypeError, r"X must be an array-like of numbers"),
        (SoftmaxRegression(5, 4), X, Y_CLS[:8], ValueError,
         r"X and y must have the same number of samples \(rows\); got 9 and 8"),
        (SoftmaxRegression(5, 4), X, np.full(9, 4), ValueError,
         r"y must hold integer class labels in \[0, 4\); got 4 at row 0"),
        (SoftmaxRegression(5, 4), X, np.full(9, -1), ValueError,
         r"y must hold integer class labels in \[0, 4\); got -1 at row 0"),
        (SoftmaxRegression(5, 4), X, np.r_[0.0, 0.5, np.zeros(7)], ValueError,
         r"y must hold integer class labels in \[0, 4\); got 0.5 at row 1"),
        (SoftmaxRegression(5, 4), X, np.r_[0.0, np.nan, np.zeros(7)], ValueError,
         r"y must not contain NaN or infinite values; found 1 at row 1"),
        (SoftmaxRegression(5, 4), X, np.zeros(9, dtype=bool), TypeError,
         r"y must hold integer class labels in \[0, 4\); got dtype bool"),
        (SoftmaxRegression(5, 4), X, Y_CLS[:, None], ValueError, r"y must be a 1-D array"),
        (LinearRegression(5), X, Y_REG3, ValueError, r"y must have shape \(n,\) or \(n, 1\)"),
        (LinearRegression(5, n_outputs=3), X, Y_REG, ValueError,
         r"y must have shape \(n, 3\) for n_outputs=3; got shape \(9,\)"),
        (LinearRegression(5), X, np.r_[np.inf, Y_REG[1:]], ValueError,
         r"y must not contain NaN or infinite values; found 1 at row 0"),
        (LinearRegression(5), X[:0], Y_REG[:0], ValueError, r"X must have at least one row"),
    ],
)
def test_bad_data(model: Model, Xb: Any, yb: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        model.loss(Xb, yb)


def test_bad_params_and_flat() -> None:
    model = LinearRegression(3)
    with pytest.raises(ValueError, match=r"params must have exactly the keys \['W', 'b'\]"):
        model.params = {"W": np.zeros((3, 1))}
    with pytest.raises(ValueError, match=r"params\['W'\] must have shape \(3, 1\); got \(1, 3\)"):
        model.params = {"W": np.zeros((1, 3)), "b": np.zeros(1)}
    with pytest.raises(TypeError, match=r"params must be a dict of arrays"):
        model.params = [np.zeros((3, 1)), np.zeros(1)]  # type: ignore[assignment]
    with pytest.raises(ValueError, match=r"vector must have length n_params=4; got 3"):
        model.set_flat(np.zeros(3))
    with pytest.raises(ValueError, match=r"vector must not contain NaN"):
        model.set_flat(np.array([0.0, np.nan, 0.0, 0.0]))


def test_item_assignment_writes_through_to_the_model() -> None:
    model = MLP([3, 4, 2], seed=0)
    new_w = np.arange(12.0).reshape(3, 4)
    model.params["W0"] = new_w  # the line a learner writes
    np.testing.assert_array_equal(model.params["W0"], new_w)
    np.testing.assert_array_equal(model.get_flat()[:12], new_w.ravel())
    new_w[0, 0] = 99.0  # copied in, not aliased
    assert model.params["W0"][0, 0] == 0.0
    model.params["b0"] -= 1.0  # in place, then written back onto itself
    assert model.params["b0"].tolist() == [-1.0] * 4
    model.params["b1"] = [1, 2]  # ints become the model's floats
    assert model.params["b1"].dtype == np.float64 and model.params["b1"].tolist() == [1.0, 2.0]
    f32 = SoftmaxRegression(2, 2, dtype=np.float32)
    f32.params["b"] = np.array([0.25, 0.5])
    assert f32.params["b"].dtype == np.float32 and f32.params["b"].tolist() == [0.25, 0.5]
    assert dict(model.params).keys() == {"W0", "b0", "W1", "b1"} and len(model.params) == 4


@pytest.mark.parametrize(
    ("key", "value", "error", "match"),
    [
        ("W", "garbage", TypeError, r"params\['W'\] must be an array-like of numbers; got 'garbage'"),
        ("W", np.zeros((1, 3)), ValueError, r"params\['W'\] must have shape \(3, 1\); got \(1, 3\)"),
        ("W", np.array([["a"], ["b"], ["c"]]), TypeError, r"params\['W'\] must hold numbers of kind"),
        ("b", [np.nan], ValueError, r"params\['b'\] must not contain NaN or infinite values"),
        ("w", np.zeros((3, 1)), KeyError, r"params has the keys \['W', 'b'\] \(fixed by the model\); got 'w'"),
    ],
)
def test_item_assignment_is_checked_and_leaves_the_model_unchanged(
    key: str, value: Any, error: type, match: str
) -> None:
    model = LinearRegression(3)
    before = model.get_flat()
    with pytest.raises(error, match=match):
        model.params[key] = value
    np.testing.assert_array_equal(model.get_flat(), before)


def test_parameters_cannot_be_deleted_and_structure_is_read_only() -> None:
    model = SoftmaxRegression(2, 3)
    with pytest.raises(TypeError, match=r"params\['W'\] cannot be deleted"):
        del model.params["W"]
    assert list(model.params) == ["W", "b"]
    for name, value in [("n_features", 5), ("n_classes", 4), ("dtype", np.float32), ("n_params", 1)]:
        with pytest.raises(AttributeError, match=rf"{name} is fixed when the model is built"):
            setattr(model, name, value)
    assert (model.n_features, model.n_classes, model.n_params) == (2, 3, 9)
    assert model.params.layout == model.layout == (("W", (2, 3)), ("b", (3,)))
    model.params.vector[:] = 0.0  # the live flat view
    assert model.get_flat().tolist() == [0.0] * 9


def test_one_model_protocol_and_one_check() -> None:
    from companion.core.models import BaseModel, check_model

    for model in (LinearRegression(2), SoftmaxRegression(2, 3), MLP([2, 4, 3])):
        assert isinstance(model, Model) and isinstance(model, BaseModel)
        assert check_model(model) is model

    class Partial:  # a duck-typed model missing most of the protocol
        param_names = ("w",)

        def loss_and_grad(self, X: Any, y: Any) -> None: ...

    assert not isinstance(Partial(), Model)
    with pytest.raises(TypeError, match=r"net must be a companion.core.models model .*got Partial, "
                                        r"which lacks n_params, n_features, is_classifier, \.\.\."):
        check_model(Partial(), "net")
