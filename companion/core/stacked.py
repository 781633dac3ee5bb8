"""K models of one architecture trained at once: parameters stacked along a leading axis.

:func:`companion.core.sweep.sweep` trains runs that share a model's shape, dtype and batch
size in lockstep. Their flat parameter vectors are the rows of one ``(K, P)`` array, and
every NumPy call of a step (the batched matrix products of ``np.matmul`` on ``(K, n, d)``
arrays, the softmax, the reductions) serves all K runs, so at small batch sizes, where a
step costs per-call overhead rather than arithmetic, K runs cost little more than one.

The arithmetic mirrors each model's own ``forward_backward`` in
:mod:`companion.core.models` operation by operation (same order, same dtype), so every row
of the stacked gradient equals what the model computes alone, to rounding error.

>>> from companion.core.models import SoftmaxRegression
>>> models = [SoftmaxRegression(3, 2, seed=s) for s in range(4)]
>>> stack = Stack(models[0])
>>> theta = np.stack([m.get_flat() for m in models])
>>> X = np.random.default_rng(0).normal(size=(4, 5, 3)); y = np.zeros((4, 5), dtype=np.int64)
>>> G = np.empty_like(theta)
>>> loss, correct = stack.forward_backward(theta, X, y, G, count_correct=True)
>>> alone = np.empty(models[2].n_params)
>>> l2, c2 = models[2].forward_backward(X[2], y[2], alone, True)
>>> bool(np.allclose(G[2], alone, rtol=1e-13, atol=0)), bool(np.isclose(loss[2], l2)), int(correct[2]) == c2
(True, True, True)
"""

from __future__ import annotations

import math

import numpy as np

from companion.core import optim
from companion.core.models import MLP, LinearRegression, Model, SoftmaxRegression

#: The model classes a :class:`Stack` can train (exactly these classes, not subclasses,
#: whose arithmetic could differ).
SUPPORTED: tuple[type[Model], ...] = (LinearRegression, SoftmaxRegression, MLP)


def signature(model: Model) -> tuple:
    """What runs must share to be stacked: class, parameter shapes, activation and dtype.

    >>> signature(SoftmaxRegression(4, 3)) == signature(SoftmaxRegression(4, 3, seed=9))
    True
    >>> signature(SoftmaxRegression(4, 3)) == signature(SoftmaxRegression(4, 2))
    False
    """
    if type(model) not in SUPPORTED:
        names = ", ".join(c.__name__ for c in SUPPORTED)
        raise TypeError(
            f"sweep supports exactly the models {names} of companion.core.models; got "
            f"{type(model).__name__} (a subclass may compute differently, so it is not stacked)"
        )
    return (
        type(model).__name__, model.layout, getattr(model, "activation", None),
        str(model.dtype),
    )


def _weight_grad(a: np.ndarray, dz: np.ndarray, out: np.ndarray) -> None:
    """``out[k] = a[k].T @ dz[k]``; for one-row batches an outer product (where numpy's
    stacked matmul is slow), which is exactly the single-term sum BLAS computes."""
    if a.shape[1] == 1:
        np.einsum("ki,kj->kij", a[:, 0, :], dz[:, 0, :], out=out)
    else:
        np.matmul(a.transpose(0, 2, 1), dz, out=out)


class Stack:
    """The stacked forward and backward pass of one model architecture.

    Args:
        template: Any model of the architecture (its parameters are not used).
    """

    def __init__(self, template: Model) -> None:
        signature(template)  # raises for unsupported models
        self.kind = type(template)
        self.dtype = template.dtype
        self.n_params = template.n_params
        self.is_classifier = template.is_classifier
        self._layout: list[tuple[str, tuple[int, ...], int, int]] = []
        start = 0
        for name, shape in template.layout:
            size = math.prod(shape)
            self._layout.append((name, shape, start, start + size))
            start += size
        if self.kind is MLP:
            self.relu = template.activation == "relu"  # type: ignore[attr-defined]
            self.n_layers = template.n_layers  # type: ignore[attr-defined]
        self._cache: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
        self._index: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Named ``(K, *shape)`` views of a ``(K, P)`` array (cached for reused buffers)."""
        for arr, views in self._cache:
            if arr is flat:
                return views
        k = flat.shape[0]
        views = {
            name: flat[:, a:b].reshape((k, *shape)) for name, shape, a, b in self._layout
        }
        self._cache = [(flat, views), *self._cache[:5]]
        return views

    def _rows(self, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        key = (k, n)
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = (np.arange(k)[:, None], np.arange(n)[None, :])
        return found

    def _xent(
        self, logits: np.ndarray, y: np.ndarray, scale: float, count_correct: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Stacked ``models._softmax_xent``: loss per run (float64), scaled dlogits, correct."""
        k, n, _ = logits.shape
        kk, rows = self._rows(k, n)
        logits -= logits.max(axis=2, keepdims=True)
        picked = logits[kk, rows, y]
        correct = np.count_nonzero(logits.argmax(axis=2) == y, axis=1) if count_correct else None
        e = np.exp(logits)
        s = e.sum(axis=2)
        total = (np.log(s) - picked).sum(axis=1)
        loss = (total if total.dtype == np.float64 else total.astype(np.float64)) / n
        e *= scale / s[:, :, None]
        e[kk, rows, y] -= scale
        return loss, e, correct

    def loss(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each run's mean loss on the same data ``X`` ``(n, d)``, ``y``: float64 ``(K,)``.

        >>> from companion.core.models import MLP
        >>> models = [MLP([3, 4, 2], seed=s) for s in range(3)]
        >>> X, y = np.random.default_rng(1).normal(size=(6, 3)), np.array([0, 1] * 3)
        >>> losses = Stack(models[0]).loss(np.stack([m.get_flat() for m in models]), X, y)
        >>> bool(np.allclose(losses, [m.loss(X, y) for m in models], rtol=1e-13, atol=0))
        True
        """
        v = self.views(theta)
        if self.kind is MLP:
            a = X
            last = self.n_layers - 1
            for i in range(last):
                z = np.matmul(a, v[f"W{i}"])
                z += v[f"b{i}"][:, None, :]
                a = np.maximum(z, 0, out=z) if self.relu else np.tanh(z, out=z)
            z = np.matmul(a, v[f"W{last}"])
            z += v[f"b{last}"][:, None, :]
        else:
            z = np.matmul(X, v["W"])
            z += v["b"][:, None, :]
        if self.kind is LinearRegression:
            z -= y
            total = np.einsum("kij,kij->k", z, z)
            size = z.shape[1] * z.shape[2]
        else:
            k, n, _ = z.shape
            z -= z.max(axis=2, keepdims=True)
            picked = z[np.arange(k)[:, None], np.arange(n)[None, :], y[None, :]]
            total = (np.log(np.exp(z).sum(axis=2)) - picked).sum(axis=1)
            size = n
        return total.astype(np.float64) / size

    def forward_backward(
        self, theta: np.ndarray, X: np.ndarray, y: np.ndarray, out: np.ndarray,
        count_correct: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Write each run's gradient of its mean batch loss into the rows of ``out``.

        Args:
            theta: ``(K, P)`` parameters.
            X: ``(K, n, d)`` batches, one per run.
            y: ``(K, n)`` labels or ``(K, n, n_outputs)`` targets.
            out: ``(K, P)`` gradient buffer.
            count_correct: Also count each run's correct predictions (classifiers).

        Returns:
            ``(loss, correct)``: float64 ``(K,)`` mean losses and int ``(K,)`` counts (or None).
        """
        v, g = self.views(theta), self.views(out)
        n = X.shape[1]
        if self.kind is MLP:
            return self._mlp(v, g, X, y, count_correct)
        z = np.matmul(X, v["W"])
        z += v["b"][:, None, :]
        if self.kind is SoftmaxRegression:
            loss, dz, correct = self._xent(z, y, 1.0 / n, count_correct)
        else:
            z -= y
            size = z.shape[1] * z.shape[2]
            loss = np.einsum("kij,kij->k", z, z).astype(np.float64) / size
            z *= 2.0 / size
            dz, correct = z, None
        _weight_grad(X, dz, g["W"])
        np.add.reduce(dz, axis=1, out=g["b"])
        return loss, correct

    def _mlp(
        self, v: dict[str, np.ndarray], g: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray,
        count_correct: bool,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        acts, a = [X], X
        last = self.n_layers - 1
        for i in range(last):
            z = np.matmul(a, v[f"W{i}"])
            z += v[f"b{i}"][:, None, :]
            a = np.maximum(z, 0, out=z) if self.relu else np.tanh(z, out=z)
            acts.append(a)
        logits = np.matmul(a, v[f"W{last}"])
        logits += v[f"b{last}"][:, None, :]
        loss, dz, correct = self._xent(logits, y, 1.0 / X.shape[1], count_correct)
        for i in range(last, -1, -1):
            _weight_grad(acts[i], dz, g[f"W{i}"])
            np.add.reduce(dz, axis=1, out=g[f"b{i}"])
            if i:
                da = np.matmul(dz, v[f"W{i}"].transpose(0, 2, 1))
                h = acts[i]
                if self.relu:
                    da[h <= 0] = 0
                else:
                    da *= 1 - h * h
                dz = da
        return loss, correct


def sgd_update(
    theta: np.ndarray, grad: np.ndarray, lr: np.ndarray, out: np.ndarray, *,
    weight_decay: np.ndarray | None = None, momentum: np.ndarray | None = None,
    nesterov: bool = False, buffers: np.ndarray | None = None,
    buffers_out: np.ndarray | None = None,
) -> None:
    """One SGD update of every row of a ``(K, P)`` stack: :func:`companion.core.optim.sgd_update`.

    The arithmetic is :func:`~companion.core.optim.sgd_update`'s, the function
    :meth:`SGD.step <companion.core.optim.SGD.step>` calls (this is only its stacked calling
    convention): per-run coefficients are ``(K, 1)`` arrays in the parameters' dtype,
    ``weight_decay``/``momentum`` None when every run has 0, and a buffer row of zeros
    starts that row's momentum (``b ← g`` exactly). The new parameters go to ``out`` and
    the new buffers to ``buffers_out``; ``theta``, ``grad`` and ``buffers`` are left as they
    were (the caller swaps the arrays to commit the update).

    >>> theta, new = np.array([[1.0], [2.0]]), np.empty((2, 1))
    >>> buf, new_buf = np.zeros((2, 1)), np.empty((2, 1))
    >>> for _ in range(2):
    ...     sgd_update(theta, np.ones((2, 1)), np.array([[0.1], [0.1]]), new,
    ...                momentum=np.array([[0.9], [0.9]]), buffers=buf, buffers_out=new_buf)
    ...     theta, new, buf, new_buf = new, theta, new_buf, buf
    >>> theta.ravel().round(6).tolist()  # 1 - 0.1*1 - 0.1*(0.9*1 + 1), as in SGD's doctest
    [0.71, 1.71]
    """
    if momentum is not None and buffers is None:
        raise ValueError("momentum needs buffers (zeros for runs without a buffer yet)")
    optim.sgd_update(
        theta, grad, buffers if momentum is not None else None, lr=lr,
        momentum=0.0 if momentum is None else momentum, nesterov=nesterov,
        weight_decay=0.0 if weight_decay is None else weight_decay, out=out,
        buffer_out=buffers_out,
    )
