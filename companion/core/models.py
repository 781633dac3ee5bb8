"""Small NumPy models with exact analytic gradients.

Three models share one interface (:class:`Model`): :class:`LinearRegression` (mean squared
error), :class:`SoftmaxRegression` and :class:`MLP` (mean cross-entropy on integer labels).
Each keeps its parameters in one flat vector; ``params`` exposes named views of it, so
``optimizer.step(model.params, grads)`` updates the model in place.

>>> model = SoftmaxRegression(n_features=2, n_classes=3, seed=0)
>>> X, y = np.array([[0.5, -1.0], [1.0, 2.0]]), np.array([0, 2])
>>> loss, grads = model.loss_and_grad(X, y)
>>> sorted(grads), model.n_params
(['W', 'b'], 9)
"""

from __future__ import annotations

import copy as _copy
import math
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from companion.core._validation import (
    check_array,
    check_choice,
    check_float_dtype,
    check_labels,
    check_positive_int,
    check_same_length,
    check_seed,
    is_int,
)

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
ACTIVATIONS = ("relu", "tanh")


def _check_dtype(dtype: DTypeLike) -> np.dtype:
    return check_float_dtype(dtype)


def flatten(grads: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Concatenate arrays in the order of ``names``, each raveled in C order.

    Args:
        grads: Arrays by name, e.g. the output of :meth:`Model.grad`.
        names: The order, usually ``model.param_names``.

    Returns:
        One 1-D array.

    >>> flatten({"b": np.array([3.0]), "W": np.array([[1.0, 2.0]])}, ["W", "b"])
    array([1., 2., 3.])
    """
    missing = [n for n in names if n not in grads]
    if missing:
        raise ValueError(f"grads must hold every name in names; missing {missing}")
    return np.concatenate([np.asarray(grads[n]).ravel() for n in names])


def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))


def _he(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def _softmax_xent(
    logits: np.ndarray, y: np.ndarray, scale: float | None, count_correct: bool = False
) -> tuple[float, np.ndarray | None, int]:
    """Mean cross-entropy of integer labels via a stable log-softmax.

    Returns ``(loss, d, correct)``: with ``scale``, ``d = scale·∂ℓ_i/∂logits`` (row by row),
    else None; ``correct`` counts rows whose argmax is the label when ``count_correct``.
    ``logits`` is overwritten (it is a temporary of the caller).
    """
    n = len(y)
    rows = np.arange(n)
    logits -= logits.max(axis=1, keepdims=True)  # each row's maximum becomes exactly 0
    picked = logits[rows, y]
    correct = 0
    if count_correct:
        correct = int(np.count_nonzero(picked == 0))  # the label attains the row maximum
        if np.count_nonzero(logits == 0) != n:  # tied maxima somewhere: argmax takes the first
            correct = int(np.count_nonzero(logits.argmax(axis=1) == y))
    e = np.exp(logits)
    s = e.sum(axis=1)
    loss = float((np.log(s) - picked).sum()) / n
    if scale is None:
        return loss, None, correct
    e *= scale / s[:, None]  # probabilities times scale
    e[rows, y] -= scale
    return loss, e, correct


Layout = tuple[tuple[str, tuple[int, ...]], ...]
"""Names and shapes of a model's parameters, in flat order: ``(("W", (2, 3)), ("b", (3,)))``."""


class Parameters(MutableMapping):
    """A model's parameters by name, written through to the model.

    Reading ``params["W"]`` gives a live view (``params["W"] -= 0.1 * g`` updates the
    model); assigning ``params["W"] = array`` checks the name, the shape and that the values
    are finite real numbers, then copies them into the model (cast to the model's dtype).
    Keys cannot be added or deleted. ``vector`` is the live flat view of all parameters
    (``param_names`` order, each raveled in C order) and ``layout`` their names and shapes.

    >>> m = LinearRegression(n_features=2)
    >>> m.params["W"] = [[1.0], [2.0]]
    >>> m.params["b"] += 0.5
    >>> m.get_flat().tolist()
    [1.0, 2.0, 0.5]
    >>> m.params["w"] = [[1.0], [2.0]]
    Traceback (most recent call last):
    ...
    KeyError: "params has the keys ['W', 'b'] (fixed by the model); got 'w'"
    """

    __slots__ = ("_vector", "_views", "_layout", "_dtype")

    def __init__(self, vector: np.ndarray, views: dict[str, np.ndarray], layout: Layout) -> None:
        self._vector, self._views, self._layout = vector, views, layout
        self._dtype = vector.dtype

    @property
    def vector(self) -> np.ndarray:
        """The live flat vector of every parameter (writing into it updates the model)."""
        return self._vector

    @property
    def layout(self) -> Layout:
        """The names and shapes, in flat order."""
        return self._layout

    def _check_key(self, name: object) -> str:
        if not isinstance(name, str) or name not in self._views:
            raise KeyError(
                f"params has the keys {list(self._views)} (fixed by the model); got {name!r}"
            )
        return name

    def __getitem__(self, name: str) -> np.ndarray:
        return self._views[self._check_key(name)]

    def __setitem__(self, name: str, value: ArrayLike) -> None:
        key = self._check_key(name)
        view = self._views[key]
        if value is view:  # params["W"] -= g already wrote in place
            return
        arr = check_array(value, f"params[{key!r}]", dtype_kind="f")
        if arr.shape != view.shape:
            raise ValueError(f"params[{key!r}] must have shape {view.shape}; got {arr.shape}")
        view[...] = arr

    def __delitem__(self, name: str) -> None:
        key = self._check_key(name)
        raise TypeError(
            f"params[{key!r}] cannot be deleted: a model's parameters are fixed when it is built"
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n!r}: {s}" for n, s in self._layout)
        return f"Parameters({{{shapes}}}, dtype={self._dtype})"


_STRUCTURE = frozenset(
    {"n_features", "n_classes", "n_outputs", "sizes", "n_layers", "activation", "param_names",
     "n_params", "dtype", "seed"}
)


@runtime_checkable
class Model(Protocol):
    """What the package needs of a model: the type of every ``model`` argument.

    :class:`LinearRegression`, :class:`SoftmaxRegression` and :class:`MLP` (all built on
    :class:`BaseModel`) satisfy it; :func:`check_model` is the one check of it.
    """

    param_names: tuple[str, ...]
    n_params: int
    n_features: int
    is_classifier: bool

    @property
    def params(self) -> Parameters: ...
    @property
    def layout(self) -> Layout: ...
    def get_flat(self) -> np.ndarray: ...
    def set_flat(self, vector: ArrayLike) -> None: ...
    def copy(self) -> Model: ...
    def check_data(self, X: ArrayLike, y: ArrayLike, x_name: str = ...,
                   y_name: str = ...) -> tuple[np.ndarray, np.ndarray]: ...
    def forward_backward(self, X: np.ndarray, y: np.ndarray, out: np.ndarray,
                         count_correct: bool = ...) -> tuple[float, int]: ...
    def loss_and_correct(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]: ...
    def loss(self, X: ArrayLike, y: ArrayLike) -> float: ...
    def loss_and_grad(self, X: ArrayLike, y: ArrayLike) -> tuple[float, dict[str, np.ndarray]]: ...
    def grad(self, X: ArrayLike, y: ArrayLike) -> dict[str, np.ndarray]: ...
    def per_sample_grads(self, X: ArrayLike, y: ArrayLike) -> np.ndarray: ...
    def predict(self, X: ArrayLike) -> np.ndarray: ...
    def score(self, X: ArrayLike, y: ArrayLike) -> float: ...


_PROTOCOL_MEMBERS = (
    "param_names", "n_params", "n_features", "is_classifier", "params", "layout", "get_flat",
    "set_flat", "copy", "check_data", "forward_backward", "loss_and_correct", "loss",
    "loss_and_grad", "grad", "per_sample_grads", "predict", "score",
)


class BaseModel:
    """Base class: flat parameter storage, validation and the shared public methods.

    Subclasses define ``_shapes``-based layout through :meth:`__init__`, and implement
    ``_forward_backward``, ``_evaluate``, ``_output`` and ``_per_sample_blocks``.

    Attributes:
        param_names: Parameter names in flat order.
        n_params: Total number of scalar parameters.
        n_features: Number of input columns.
        dtype: ``float32`` or ``float64``; parameters, gradients and computations use it.
        is_classifier: True for cross-entropy models (``predict`` gives labels,
            ``score`` gives accuracy), False for regression (``score`` gives MSE).

    >>> m = LinearRegression(n_features=2)
    >>> m.set_flat(np.array([1.0, 2.0, 0.5]))
    >>> m.params["W"].ravel().tolist(), m.get_flat().tolist()
    ([1.0, 2.0], [1.0, 2.0, 0.5])
    """

    is_classifier: bool = False

    def __init__(
        self, n_features: int, shapes: dict[str, tuple[int, ...]], seed: int, dtype: np.dtype
    ) -> None:
        self.n_features = n_features
        self.seed = seed
        self.dtype = dtype
        self._shapes = shapes
        self.param_names: tuple[str, ...] = tuple(shapes)
        self.n_params = sum(math.prod(s) for s in shapes.values())
        self._flat = np.zeros(self.n_params, dtype=dtype)
        self._views = self._unflatten(self._flat)
        self._out_cache: tuple[np.ndarray, dict[str, np.ndarray]] | None = None

    def __setattr__(self, name: str, value: object) -> None:
        if name in _STRUCTURE and name in self.__dict__:
            raise AttributeError(
                f"{name} is fixed when the model is built (it sets the shapes of the "
                f"parameters); build a new model instead, e.g. {type(self).__name__}(...)"
            )
        object.__setattr__(self, name, value)

    def _grad_views(self, out: np.ndarray) -> dict[str, np.ndarray]:
        """Named views of a gradient buffer, cached for the buffer fit reuses every step."""
        cache = self._out_cache
        if cache is not None and cache[0] is out:
            return cache[1]
        views = self._unflatten(out)
        self._out_cache = (out, views)
        return views

    def _unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        views, start = {}, 0
        for name, shape in self._shapes.items():
            size = math.prod(shape)
            views[name] = flat[start : start + size].reshape(shape)
            start += size
        return views

    # -- parameters -----------------------------------------------------------------
    @property
    def layout(self) -> Layout:
        """Names and shapes of the parameters in flat order.

        >>> LinearRegression(n_features=2).layout
        (('W', (2, 1)), ('b', (1,)))
        """
        return tuple(self._shapes.items())

    @property
    def params(self) -> Parameters:
        """The parameters by name (a :class:`Parameters` mapping written through to the model).

        ``params["W"]`` is a live view; ``params["W"] = array`` checks and copies the array
        in; assigning a whole dict copies its arrays in (same names and shapes required).

        >>> m = LinearRegression(n_features=1)
        >>> m.params = {"W": [[2.0]], "b": [1.0]}
        >>> m.predict([[3.0]]).tolist()
        [7.0]
        """
        return Parameters(self._flat, self._views, self.layout)

    @params.setter
    def params(self, values: Mapping[str, ArrayLike]) -> None:
        if not isinstance(values, Mapping):
            raise TypeError(f"params must be a dict of arrays; got {type(values).__name__}")
        if set(values) != set(self.param_names):
            raise ValueError(
                f"params must have exactly the keys {list(self.param_names)}; got {sorted(values)}"
            )
        checked = {}
        for name in self.param_names:
            arr = check_array(values[name], f"params[{name!r}]", dtype_kind="f")
            if arr.shape != self._shapes[name]:
                raise ValueError(
                    f"params[{name!r}] must have shape {self._shapes[name]}; got {arr.shape}"
                )
            checked[name] = arr
        for name, arr in checked.items():
            self._views[name][...] = arr

    def get_flat(self) -> np.ndarray:
        """A copy of all parameters as one vector (``param_names`` order, C order).

        >>> LinearRegression(2).get_flat().shape
        (3,)
        """
        return self._flat.copy()

    def set_flat(self, vector: ArrayLike) -> None:
        """Set all parameters from one vector of length ``n_params``.

        >>> m = LinearRegression(1); m.set_flat([3.0, 1.0]); m.params["b"].tolist()
        [1.0]
        """
        arr = check_array(vector, "vector", ndim=1, dtype_kind="f")
        if arr.shape != (self.n_params,):
            raise ValueError(f"vector must have length n_params={self.n_params}; got {len(arr)}")
        self._flat[...] = arr

    def copy(self) -> BaseModel:
        """A deep copy with its own parameters.

        >>> a = LinearRegression(2); b = a.copy(); b.params["b"][0] = 5.0
        >>> float(a.params["b"][0])
        0.0
        """
        new = _copy.copy(self)
        new._flat = self._flat.copy()
        new._views = new._unflatten(new._flat)
        new._out_cache = None
        return new

    def __deepcopy__(self, memo: dict) -> BaseModel:
        return self.copy()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_views"]
        state["_out_cache"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views = self._unflatten(self._flat)

    # -- validation -----------------------------------------------------------------
    def _check_X(self, X: ArrayLike, name: str = "X") -> np.ndarray:
        arr = check_array(X, name, ndim=2, dtype_kind="f")
        if arr.shape[1] != self.n_features:
            raise ValueError(
                f"{name} must have {self.n_features} columns (the model's n_features); "
                f"got shape {arr.shape}"
            )
        if arr.shape[0] == 0:
            raise ValueError(f"{name} must have at least one row; got shape {arr.shape}")
        return arr.astype(self.dtype, copy=False)

    def _check_y(self, y: ArrayLike, name: str = "y") -> np.ndarray:
        raise NotImplementedError

    def check_data(
        self, X: ArrayLike, y: ArrayLike, x_name: str = "X", y_name: str = "y"
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` checked and converted for this model (the model's dtype, int64 labels).

        Raises ``TypeError``/``ValueError`` naming ``x_name``/``y_name``. The arrays it
        returns are what :meth:`forward_backward` and :meth:`loss_and_correct` expect.

        >>> X, y = SoftmaxRegression(2, 3).check_data([[1, 2]], [2.0])
        >>> X.dtype, y.dtype
        (dtype('float64'), dtype('int64'))
        """
        Xc = self._check_X(X, x_name)
        yc = self._check_y(y, y_name)
        check_same_length(Xc, yc, x_name, y_name)
        return Xc, yc

    _check_Xy = check_data

    def forward_backward(
        self, X: np.ndarray, y: np.ndarray, out: np.ndarray, count_correct: bool = False
    ) -> tuple[float, int]:
        """The fast path of :func:`companion.fit`: write the mean loss's gradient into ``out``.

        ``X``, ``y`` must come from :meth:`check_data` (no checks here) and ``out`` must be
        a float vector of length ``n_params``, in ``param_names`` order. Returns
        ``(loss, n_correct)`` (``n_correct`` counts rows whose argmax is the label when
        ``count_correct``, else 0).

        >>> m = LinearRegression(1); m.set_flat([0.0, 0.0]); out = np.empty(2)
        >>> m.forward_backward(*m.check_data([[1.0], [2.0]], [1.0, 2.0]), out), out.tolist()
        ((2.5, 0), [-5.0, -3.0])
        """
        return self._forward_backward(X, y, out, count_correct)

    def loss_and_correct(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """Forward pass only, on data from :meth:`check_data`: ``(mean loss, n_correct)``.

        >>> m = SoftmaxRegression(1, 2); m.params = {"W": [[1.0, -1.0]], "b": [0.0, 0.0]}
        >>> loss, correct = m.loss_and_correct(*m.check_data([[1.0], [2.0]], [0, 1]))
        >>> correct
        1
        """
        return self._evaluate(X, y)

    # -- to implement -----------------------------------------------------------------
    def _forward_backward(
        self, X: np.ndarray, y: np.ndarray, out: np.ndarray, count_correct: bool = False
    ) -> tuple[float, int]:
        """Write the gradient of the mean loss into ``out``; return (loss, n_correct)."""
        raise NotImplementedError

    def _evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """Forward only: (mean loss, number of correct predictions or 0)."""
        raise NotImplementedError

    def _output(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _per_sample_blocks(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    # -- public computations ------------------------------------------------------------
    def loss(self, X: ArrayLike, y: ArrayLike) -> float:
        """Mean loss over the rows of ``X``.

        >>> m = SoftmaxRegression(2, 2); m.set_flat(np.zeros(6))
        >>> round(m.loss([[1.0, 2.0]], [1]), 4)  # log 2
        0.6931
        """
        Xc, yc = self._check_Xy(X, y)
        return self._evaluate(Xc, yc)[0]

    def loss_and_grad(self, X: ArrayLike, y: ArrayLike) -> tuple[float, dict[str, np.ndarray]]:
        """Mean loss and its exact gradient (dict like ``params``) from one forward pass.

        >>> m = LinearRegression(1); m.set_flat([0.0, 0.0])
        >>> loss, g = m.loss_and_grad([[1.0], [2.0]], [1.0, 2.0])  # d/dW mean (W x - y)^2
        >>> loss, g["W"].tolist(), g["b"].tolist()
        (2.5, [[-5.0]], [-3.0])
        """
        Xc, yc = self._check_Xy(X, y)
        out = np.empty(self.n_params, dtype=self.dtype)
        loss, _ = self._forward_backward(Xc, yc, out)
        return loss, self._unflatten(out)

    def grad(self, X: ArrayLike, y: ArrayLike) -> dict[str, np.ndarray]:
        """Exact gradient of the mean loss, as a dict with the keys of ``params``.

        >>> sorted(MLP([3, 4, 2]).grad(np.ones((2, 3)), [0, 1]))
        ['W0', 'W1', 'b0', 'b1']
        """
        return self.loss_and_grad(X, y)[1]

    def per_sample_grads(self, X: ArrayLike, y: ArrayLike) -> np.ndarray:
        """Gradient of each row's loss, flattened: shape (n_rows, n_params).

        Columns follow ``param_names``, each parameter raveled in C order; the mean over
        rows equals :meth:`grad` flattened.

        >>> m = SoftmaxRegression(2, 3)
        >>> X, y = np.array([[0.5, -1.0], [1.0, 2.0]]), np.array([0, 2])
        >>> G = m.per_sample_grads(X, y)
        >>> G.shape, bool(np.allclose(G.mean(axis=0), flatten(m.grad(X, y), m.param_names)))
        ((2, 9), True)
        """
        Xc, yc = self._check_Xy(X, y)
        blocks = self._per_sample_blocks(Xc, yc)
        n = len(Xc)
        return np.concatenate([blocks[name].reshape(n, -1) for name in self.param_names], axis=1)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class labels (classifiers) or predicted values (regression)."""
        raise NotImplementedError

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy for classifiers; mean squared error for regression (lower is better).

        Unlike scikit-learn's ``score`` for regressors (R²), the regression score here is
        the same MSE as :meth:`loss`.

        >>> m = SoftmaxRegression(1, 2); m.params = {"W": [[1.0, -1.0]], "b": [0.0, 0.0]}
        >>> m.score([[1.0], [-1.0], [2.0]], [0, 1, 1])
        0.6666666666666666
        """
        Xc, yc = self._check_Xy(X, y)
        loss, correct = self._evaluate(Xc, yc)
        return correct / len(yc) if self.is_classifier else loss


class LinearRegression(BaseModel):
    """Linear regression ``X @ W + b`` with the mean squared error.

    The loss is the mean of the squared errors over all elements (no ½), as in Keras and
    ``torch.nn.MSELoss``. ``y`` may have shape (n,) when ``n_outputs=1`` or (n, n_outputs).
    ``score`` returns that MSE. ``W`` starts Glorot-normal from ``seed``, ``b`` at zero.

    Args:
        n_features: Number of input columns.
        n_outputs: Number of targets per row.
        seed: Seed of the initial weights.
        dtype: ``np.float32`` or ``np.float64``.

    >>> m = LinearRegression(n_features=1)
    >>> m.params = {"W": [[2.0]], "b": [0.0]}
    >>> m.loss([[1.0], [2.0]], [3.0, 3.0])
    1.0
    >>> m
    LinearRegression(n_features=1, n_outputs=1, dtype=float64, n_params=2)
    """

    is_classifier = False

    def __init__(
        self, n_features: int, n_outputs: int = 1, seed: int = 0, dtype: DTypeLike = np.float64
    ) -> None:
        d = check_positive_int(n_features, "n_features")
        k = check_positive_int(n_outputs, "n_outputs")
        seed = check_seed(seed)
        super().__init__(d, {"W": (d, k), "b": (k,)}, seed, _check_dtype(dtype))
        self.n_outputs = k
        self._views["W"][...] = _glorot(np.random.default_rng(seed), d, k)

    def _check_y(self, y: ArrayLike, name: str = "y") -> np.ndarray:
        arr = check_array(y, name, ndim=(1, 2), dtype_kind="f")
        if arr.ndim == 1:
            if self.n_outputs != 1:
                raise ValueError(
                    f"{name} must have shape (n, {self.n_outputs}) for n_outputs="
                    f"{self.n_outputs}; got shape {arr.shape}"
                )
            arr = arr[:, None]
        elif arr.shape[1] != self.n_outputs:
            raise ValueError(
                f"{name} must have shape (n,) or (n, {self.n_outputs}); got shape {arr.shape}"
            )
        return arr.astype(self.dtype, copy=False)

    def _output(self, X: np.ndarray) -> np.ndarray:
        out = X @ self._views["W"]
        out += self._views["b"]
        return out

    def _evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        r = self._output(X)
        r -= y
        return float(np.vdot(r, r)) / r.size, 0

    def _forward_backward(
        self, X: np.ndarray, y: np.ndarray, out: np.ndarray, count_correct: bool = False
    ) -> tuple[float, int]:
        r = self._output(X)
        r -= y
        loss = float(np.vdot(r, r)) / r.size
        r *= 2.0 / r.size
        d, k = self._shapes["W"]
        np.matmul(X.T, r, out=out[: d * k].reshape(d, k))
        np.add.reduce(r, axis=0, out=out[d * k :])
        return loss, 0

    def _per_sample_blocks(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        r = self._output(X)
        r -= y
        r *= 2.0 / self.n_outputs  # gradient of mean over this row's outputs
        return {"W": X[:, :, None] * r[:, None, :], "b": r}

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted values: shape (n,) when ``n_outputs == 1``, else (n, n_outputs).

        >>> LinearRegression(2, seed=0).predict(np.zeros((3, 2))).tolist()
        [0.0, 0.0, 0.0]
        """
        out = self._output(self._check_X(X))
        return out[:, 0] if self.n_outputs == 1 else out

    def __repr__(self) -> str:
        return (
            f"LinearRegression(n_features={self.n_features}, n_outputs={self.n_outputs}, "
            f"dtype={self.dtype}, n_params={self.n_params})"
        )


class _Classifier(BaseModel):
    """Shared parts of the cross-entropy models."""

    is_classifier = True
    n_classes: int

    def _check_y(self, y: ArrayLike, name: str = "y") -> np.ndarray:
        return check_labels(y, name, self.n_classes)

    def _evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        loss, _, correct = _softmax_xent(self._output(X), y, None, count_correct=True)
        return loss, correct

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class labels (argmax of the logits), int64 of shape (n,).

        >>> m = SoftmaxRegression(1, 2); m.params = {"W": [[1.0, -1.0]], "b": [0.0, 0.0]}
        >>> m.predict([[1.0], [-1.0]]).tolist()
        [0, 1]
        """
        return self._output(self._check_X(X)).argmax(axis=1)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities (softmax of the logits), shape (n, n_classes).

        >>> SoftmaxRegression(3, 4).predict_proba(np.ones((2, 3))).sum(axis=1).tolist()
        [1.0, 1.0]
        """
        logits = self._output(self._check_X(X))
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p


def _check_n_classes(n_classes: object, name: str = "n_classes") -> int:
    k = check_positive_int(n_classes, name)
    if k < 2:  # type: ignore[operator]
        raise ValueError(f"{name} must be an int >= 2; got {k}")
    return k  # type: ignore[return-value]


class SoftmaxRegression(_Classifier):
    """Multinomial logistic regression: logits ``X @ W + b``, mean cross-entropy.

    The loss is the mean over rows of ``−log softmax(logits)[y]`` on integer labels (as
    ``torch.nn.CrossEntropyLoss``), computed with a numerically stable log-softmax.
    ``predict`` gives labels, ``score`` accuracy. ``W`` starts Glorot-normal from ``seed``.

    Args:
        n_features: Number of input columns.
        n_classes: Number of classes (>= 2); labels are ``0 … n_classes−1``.
        seed: Seed of the initial weights.
        dtype: ``np.float32`` or ``np.float64``.

    >>> m = SoftmaxRegression(n_features=4, n_classes=3)
    >>> m.params = {"W": np.zeros((4, 3)), "b": np.zeros(3)}
    >>> round(m.loss(np.ones((2, 4)), [0, 1]), 6) == round(float(np.log(3)), 6)
    True
    >>> m
    SoftmaxRegression(n_features=4, n_classes=3, dtype=float64, n_params=15)
    """

    def __init__(
        self, n_features: int, n_classes: int, seed: int = 0, dtype: DTypeLike = np.float64
    ) -> None:
        d = check_positive_int(n_features, "n_features")
        k = _check_n_classes(n_classes)
        seed = check_seed(seed)
        super().__init__(d, {"W": (d, k), "b": (k,)}, seed, _check_dtype(dtype))
        self.n_classes = k
        self._views["W"][...] = _glorot(np.random.default_rng(seed), d, k)

    def _output(self, X: np.ndarray) -> np.ndarray:
        out = X @ self._views["W"]
        out += self._views["b"]
        return out

    def _forward_backward(
        self, X: np.ndarray, y: np.ndarray, out: np.ndarray, count_correct: bool = False
    ) -> tuple[float, int]:
        loss, dz, correct = _softmax_xent(self._output(X), y, 1.0 / len(y), count_correct)
        d, k = self._shapes["W"]
        np.matmul(X.T, dz, out=out[: d * k].reshape(d, k))
        np.add.reduce(dz, axis=0, out=out[d * k :])
        return loss, correct

    def _per_sample_blocks(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        _, dz, _ = _softmax_xent(self._output(X), y, 1.0)
        return {"W": X[:, :, None] * dz[:, None, :], "b": dz}  # type: ignore[index]

    def __repr__(self) -> str:
        return (
            f"SoftmaxRegression(n_features={self.n_features}, n_classes={self.n_classes}, "
            f"dtype={self.dtype}, n_params={self.n_params})"
        )


class MLP(_Classifier):
    """A multi-layer perceptron classifier with a softmax cross-entropy output.

    ``sizes = [n_features, hidden_1, …, n_classes]``; every hidden layer applies the
    activation (``"relu"`` or ``"tanh"``), the last layer gives logits. Parameters are
    ``W0, b0, W1, b1, …`` with ``W_l`` of shape ``(sizes[l], sizes[l+1])``. Weights start
    He-normal (relu hidden layers) or Glorot-normal (tanh hidden layers and the output
    layer) from ``seed``; biases at zero. Loss, ``predict`` and ``score`` as in
    :class:`SoftmaxRegression`.

    Args:
        sizes: Layer widths, at least two (input and classes, classes >= 2).
        activation: ``"relu"`` or ``"tanh"``.
        seed: Seed of the initial weights.
        dtype: ``np.float32`` or ``np.float64``.

    >>> m = MLP([64, 32, 10])
    >>> m.param_names, m.n_params
    (('W0', 'b0', 'W1', 'b1'), 2410)
    >>> m
    MLP(sizes=[64, 32, 10], activation='relu', dtype=float64, n_params=2410)
    """

    def __init__(
        self, sizes: Sequence[int], activation: str = "relu", seed: int = 0, dtype: DTypeLike = np.float64
    ) -> None:
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence | np.ndarray):
            raise TypeError(f"sizes must be a list of positive ints; got {sizes!r}")
        if len(sizes) < 2 or not all(is_int(s) and s > 0 for s in sizes):
            raise ValueError(
                f"sizes must be a list of at least two positive ints "
                f"[n_features, ..., n_classes]; got {list(sizes)!r}"
            )
        widths = tuple(int(s) for s in sizes)
        _check_n_classes(widths[-1], "sizes[-1] (n_classes)")
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        seed = check_seed(seed)
        shapes: dict[str, tuple[int, ...]] = {}
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            shapes[f"W{i}"] = (fan_in, fan_out)
            shapes[f"b{i}"] = (fan_out,)
        super().__init__(widths[0], shapes, seed, _check_dtype(dtype))
        self.sizes = widths
        self.n_classes = widths[-1]
        self.n_layers = len(widths) - 1
        self._layer_names = tuple((f"W{i}", f"b{i}") for i in range(self.n_layers))
        rng = np.random.default_rng(seed)
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            hidden = i < self.n_layers - 1
            init = _he if hidden and self.activation == "relu" else _glorot
            self._views[f"W{i}"][...] = init(rng, fan_in, fan_out)

    def _forward(self, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Activations of every layer's input (X first) and the logits."""
        views, acts, a = self._views, [X], X
        relu = self.activation == "relu"
        *hidden, (w_out, b_out) = self._layer_names
        for w, b in hidden:
            z = a @ views[w]
            z += views[b]
            a = np.maximum(z, 0, out=z) if relu else np.tanh(z, out=z)
            acts.append(a)
        logits = a @ views[w_out]
        logits += views[b_out]
        return acts, logits

    def _output(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X)[1]

    def _backprop(self, acts: list[np.ndarray], dz: np.ndarray, i: int) -> np.ndarray:
        """Gradient wrt layer i's pre-activation, from the gradient wrt layer i+1's."""
        da = dz @ self._views[self._layer_names[i + 1][0]].T
        a = acts[i + 1]
        if self.activation == "relu":
            da[a <= 0] = 0
        else:
            da *= 1 - a * a
        return da

    def _forward_backward(
        self, X: np.ndarray, y: np.ndarray, out: np.ndarray, count_correct: bool = False
    ) -> tuple[float, int]:
        acts, logits = self._forward(X)
        loss, dz, correct = _softmax_xent(logits, y, 1.0 / len(y), count_correct)
        grads = self._grad_views(out)
        add_reduce = np.add.reduce
        for i in range(self.n_layers - 1, -1, -1):
            w, b = self._layer_names[i]
            np.matmul(acts[i].T, dz, out=grads[w])
            add_reduce(dz, axis=0, out=grads[b])
            if i:
                dz = self._backprop(acts, dz, i - 1)  # type: ignore[arg-type]
        return loss, correct

    def _per_sample_blocks(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        acts, logits = self._forward(X)
        _, dz, _ = _softmax_xent(logits, y, 1.0)
        blocks = {}
        for i in range(self.n_layers - 1, -1, -1):
            blocks[f"W{i}"] = acts[i][:, :, None] * dz[:, None, :]  # type: ignore[index]
            blocks[f"b{i}"] = dz
            if i:
                dz = self._backprop(acts, dz, i - 1)  # type: ignore[arg-type]
        return blocks

    def __repr__(self) -> str:
        return (
            f"MLP(sizes={list(self.sizes)}, activation={self.activation!r}, "
            f"dtype={self.dtype}, n_params={self.n_params})"
        )


def check_model(model: object, name: str = "model") -> Model:
    """Return ``model`` if it has what the package needs (:class:`Model`), else raise ``TypeError``.

    The one model check of the package (fit, the measurements, the widgets).

    >>> check_model(SoftmaxRegression(4, 3)).n_params
    15
    >>> try:
    ...     check_model("net")
    ... except TypeError as exc:
    ...     print(str(exc).split("; ")[1])
    got str, which lacks param_names, n_params, n_features, ...
    """
    if isinstance(model, BaseModel):
        return model  # type: ignore[return-value]
    missing = [m for m in _PROTOCOL_MEMBERS if not hasattr(model, m)]
    if missing:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise TypeError(
            f"{name} must be a companion.core.models model (SoftmaxRegression, MLP, "
            f"LinearRegression or another Model); got {type(model).__name__}, which lacks {shown}"
        )
    return model  # type: ignore[return-value]
