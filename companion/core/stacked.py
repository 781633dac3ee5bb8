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


def _class_major_loss(
    zt: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean cross-entropy of ``(K, classes, n)`` logits ``zt`` against labels ``y`` ``(n,)``:
    ``(loss (K,) float64, exp of the shifted logits (zt, overwritten), their sums (K, n))``.

    The reductions over the classes run along the long contiguous sample axis, several
    times faster than over a short last axis; the terms are ``models._softmax_xent``'s.
    """
    k, c, n = zt.shape
    zt -= zt.max(axis=1, keepdims=True)
    picked = zt.reshape(k, c * n).take(np.asarray(y) * n + np.arange(n), axis=1)
    e = np.exp(zt, out=zt)
    s = e.sum(axis=1)
    total = (np.log(s) - picked).sum(axis=1)
    return total.astype(np.float64) / n, e, s


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
        self._index: dict[tuple[int, int], np.ndarray] = {}
        self._ones: tuple[np.ndarray, np.ndarray] | None = None

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

    def _with_ones(self, X: np.ndarray) -> np.ndarray:
        """``[X, 1]`` ``(n, d + 1)``, cached for the last ``X`` (the data set is reused)."""
        if self._ones is None or self._ones[0] is not X:
            self._ones = (X, np.concatenate([X, np.ones((len(X), 1), dtype=X.dtype)], axis=1))
        return self._ones[1]

    def _softmax_blocks(self, flat: np.ndarray) -> np.ndarray:
        """Softmax regression's ``[W; b]`` as a ``(K, d + 1, classes)`` view of a ``(K, P)``
        array: ``W`` and ``b`` are consecutive in the flat vector, ``b`` the last row."""
        (_, (d, c), start, _), (_, _, _, end) = self._layout
        return flat[:, start:end].reshape(flat.shape[0], d + 1, c)

    def _softmax_logits_t(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Softmax regression's logits ``X @ W + b`` of every run, class-major ``(K, classes, n)``.

        The logits of all runs are one matrix product of the stacked ``[W; b]`` blocks with
        ``[X, 1]`` (the bias as one more input), several times faster than a product per run
        followed by a pass adding the bias.
        """
        blocks = self._softmax_blocks(theta)
        k, d1, c = blocks.shape
        lhs = np.ascontiguousarray(blocks.transpose(0, 2, 1)).reshape(k * c, d1)
        return (lhs @ self._with_ones(X).T).reshape(k, c, len(X))

    def _offsets(self, k: int, n: int) -> np.ndarray:
        """``arange(k·n)``, cached: the column of each (run, sample) pair in ``_xent``."""
        key = (k, n)
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = np.arange(k * n, dtype=np.intp)
        return found

    def _xent(
        self, logits: np.ndarray, y: np.ndarray, scale: float, count_correct: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Stacked ``models._softmax_xent``: loss per run (float64), scaled dlogits, correct.

        The work is done on a class-major copy ``(classes, K·n)``: NumPy reduces over a
        short last axis (ten classes) several times more slowly than across rows, so the
        maxima and sums run over the first axis, vectorised over every (run, sample) pair.
        The terms are the model's, in the same order along each row; the scaled
        derivative comes back as a ``(K, n, classes)`` view.
        """
        k, n, c = logits.shape
        m = k * n
        lt = np.ascontiguousarray(logits.reshape(m, c).T)  # (c, m)
        flat_index = self._offsets(k, n) + y.reshape(-1) * m  # of the picked logits in lt
        lt -= lt.max(axis=0)
        picked = lt.reshape(-1).take(flat_index)
        correct = (np.count_nonzero((lt.argmax(axis=0) == y.reshape(-1)).reshape(k, n), axis=1)
                   if count_correct else None)
        e = np.exp(lt, out=lt)
        s = e.sum(axis=0)
        total = (np.log(s) - picked).reshape(k, n).sum(axis=1)
        loss = (total if total.dtype == np.float64 else total.astype(np.float64)) / n
        e *= scale / s
        e.reshape(-1)[flat_index] -= scale  # (run, sample) pairs are distinct: no repeats
        return loss, e.T.reshape(k, n, c), correct

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
        if self.kind is LinearRegression:
            z = np.matmul(X, v["W"])
            z += v["b"][:, None, :]
            z -= y
            total = np.einsum("kij,kij->k", z, z)
            return total.astype(np.float64) / (z.shape[1] * z.shape[2])
        # Classifiers: the logits are formed as (K, classes, n) for _class_major_loss.
        if self.kind is MLP:
            a = X
            last = self.n_layers - 1
            for i in range(last):
                z = np.matmul(a, v[f"W{i}"])
                z += v[f"b{i}"][:, None, :]
                a = np.maximum(z, 0, out=z) if self.relu else np.tanh(z, out=z)
            zt = np.matmul(v[f"W{last}"].transpose(0, 2, 1), a.transpose(0, 2, 1))
            zt += v[f"b{last}"][:, :, None]
        else:
            zt = self._softmax_logits_t(theta, X)
        return _class_major_loss(zt, y)[0]

    def loss_and_batch_grad(
        self, theta: np.ndarray, X: np.ndarray, y: np.ndarray, idx: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """Each run's mean loss on all of ``(X, y)``, and the gradient of its batch loss.

        One forward pass over the whole data set serves both: the loss of every run at
        ``theta`` (as :meth:`loss`) and, written into the rows of ``out``, the gradient of
        run ``k``'s mean loss over the samples ``idx[k]`` (as :meth:`forward_backward` on
        ``X[idx[k]]``), whose logits are columns of the full pass. For a trainer that checks
        the full loss after every step this saves the batch's own forward pass. Softmax
        regression only (:attr:`fuses_full_loss`).

        Args:
            theta: ``(K, P)`` parameters.
            X: ``(n, d)`` inputs shared by every run.
            y: ``(n,)`` integer labels.
            idx: ``(K, B)`` sample indices of each run's batch.
            out: ``(K, P)`` gradient buffer.

        Returns:
            float64 ``(K,)``: each run's mean loss over all ``n`` samples.

        >>> from companion.core.models import SoftmaxRegression
        >>> models = [SoftmaxRegression(3, 2, seed=s) for s in range(2)]
        >>> stack = Stack(models[0]); theta = np.stack([m.get_flat() for m in models])
        >>> X = np.random.default_rng(0).normal(size=(5, 3)); y = np.array([0, 1, 1, 0, 1])
        >>> idx = np.array([[0, 2], [4, 1]]); G = np.empty_like(theta); G2 = np.empty_like(theta)
        >>> full = stack.loss_and_batch_grad(theta, X, y, idx, G)
        >>> _ = stack.forward_backward(theta, X[idx], y[idx], G2)
        >>> bool(np.allclose(full, stack.loss(theta, X, y))), bool(np.allclose(G, G2))
        (True, True)
        """
        if not self.fuses_full_loss:
            raise TypeError(f"loss_and_batch_grad supports SoftmaxRegression, not {self.kind.__name__}")
        k, b = idx.shape
        zt = self._softmax_logits_t(theta, X)  # (K, classes, n)
        c = zt.shape[1]
        loss, e, s = _class_major_loss(zt, y)
        scale = 1.0 / b
        dzt = np.take_along_axis(e, idx[:, None, :], axis=2)  # (K, classes, B)
        dzt *= scale / np.take_along_axis(s, idx, axis=1)[:, None, :]
        flat = dzt.reshape(-1)
        flat[(np.arange(k)[:, None] * c + np.asarray(y)[idx]) * b + np.arange(b)] -= scale
        # [W; b]'s gradient in one product: the batch's [x, 1] rows weighted by dlogits
        grad_blocks = self._softmax_blocks(out).transpose(0, 2, 1)
        np.matmul(dzt, self._with_ones(X).take(idx, 0), out=grad_blocks)
        return loss

    @property
    def fuses_full_loss(self) -> bool:
        """Whether :meth:`loss_and_batch_grad` serves this architecture."""
        return self.kind is SoftmaxRegression

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
                    np.multiply(da, h > 0, out=da)  # the model's da[h <= 0] = 0
                else:
                    da *= 1 - h * h
                dz = da
        return loss, correct


def sgd_update(
    theta: np.ndarray, grad: np.ndarray, lr: float | np.ndarray, *,
    weight_decay: np.ndarray | None = None, momentum: np.ndarray | None = None,
    nesterov: bool = False, buffers: np.ndarray | None = None,
) -> None:
    """One SGD update of every row of a ``(K, P)`` stack, in place: :func:`companion.core.optim.sgd_update`.

    The arithmetic is :func:`~companion.core.optim.sgd_update`'s, the function
    :meth:`SGD.step <companion.core.optim.SGD.step>` calls (this is only its stacked calling
    convention): ``lr`` is one float shared by every row or a ``(K, 1)`` array, the other
    per-run coefficients ``(K, 1)`` arrays in the parameters' dtype (``weight_decay`` /
    ``momentum`` None when every run has 0), and a buffer row of zeros starts that row's
    momentum (``b ← g`` exactly). ``theta`` and ``buffers`` are updated in place and
    ``grad`` is overwritten (it is the caller's scratch): a caller that may undo the update
    copies them first, as :func:`~companion.core.training.fit` does. A shared float ``lr``
    is several times faster than a ``(K, 1)`` column of equal rates and gives the same values.

    >>> theta, buf = np.array([[1.0], [2.0]]), np.zeros((2, 1))
    >>> for _ in range(2):
    ...     sgd_update(theta, np.ones((2, 1)), 0.1, momentum=np.array([[0.9], [0.9]]),
    ...                buffers=buf)
    >>> theta.ravel().round(6).tolist()  # 1 - 0.1*1 - 0.1*(0.9*1 + 1), as in SGD's doctest
    [0.71, 1.71]
    """
    if momentum is not None and buffers is None:
        raise ValueError("momentum needs buffers (zeros for runs without a buffer yet)")
    optim.sgd_update(
        theta, grad, buffers if momentum is not None else None, lr=lr,
        momentum=0.0 if momentum is None else momentum, nesterov=nesterov,
        weight_decay=0.0 if weight_decay is None else weight_decay,
        buffer_out=buffers if momentum is not None else None, overwrite_grad=True,
    )


def row_sq_norms(a: np.ndarray) -> np.ndarray:
    """Squared Euclidean norm of each row of a ``(K, P)`` array.

    >>> row_sq_norms(np.array([[3.0, 4.0], [1.0, 0.0]])).tolist()
    [25.0, 1.0]
    """
    vecdot = getattr(np, "vecdot", None)  # NumPy >= 2: a dot product per row
    if vecdot is not None:
        return vecdot(a, a)
    return np.einsum("kp,kp->k", a, a)
