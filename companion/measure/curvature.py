"""Curvature of the training loss: Hessian-vector products and the sharpness ``λ_max``.

On a quadratic loss with Hessian ``H``, full-batch gradient descent with step ``η`` multiplies
the error along each eigenvector of ``H`` by ``1 − η λ`` per step, so it converges only if
``η < 2 / λ_max``: the **stability limit**. However little noise a large batch has, its step
cannot grow past this. Cross-entropy is not a quadratic, so for real models ``2 / λ_max`` at
a given point is a guide to the largest useful step, not a hard wall.

:func:`hessian_vector_product` takes central differences of the exact gradient and
:func:`sharpness` runs power iteration on it, without forming the Hessian;
:func:`hessian` forms it (in closed form for softmax regression, from ``n_params``
Hessian-vector products otherwise) for quantities that need all of it, such as
McCandlish et al.'s ``B_noise``.

>>> from companion.core.models import LinearRegression
>>> X, y = np.array([[1.0], [3.0]]), np.array([0.0, 0.0])
>>> m = LinearRegression(n_features=1)
>>> round(sharpness(m, X, y), 6)  # loss mean((w x + b − y)²): H = 2·[[5, 2], [2, 1]]
11.656854
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from companion.core._validation import check_array, check_positive_int, check_real, check_seed
from companion.core.models import Model, check_model


def _flat_grad(model: Model, X: ArrayLike, y: ArrayLike) -> np.ndarray:
    _, grads = model.loss_and_grad(X, y)
    return np.concatenate([np.asarray(grads[n], dtype=np.float64).ravel()
                           for n in model.param_names])


def hessian_vector_product(
    model: Model, X: ArrayLike, y: ArrayLike, vector: ArrayLike, *, eps: float = 1e-5
) -> np.ndarray:
    """``H v`` for the Hessian ``H`` of the mean training loss at the model's parameters.

    Central differences of the exact gradient, ``(∇L(θ + εv̂) − ∇L(θ − εv̂)) / (2ε) · ‖v‖``
    with ``v̂ = v/‖v‖``: exact for a quadratic loss, error of order ``ε²`` otherwise. The
    model's parameters are restored afterwards.

    Args:
        model: A :mod:`companion.core.models` model (float64 recommended).
        X: Inputs.
        y: Targets.
        vector: Direction ``v``, length ``model.n_params`` (flat, ``param_names`` order).
        eps: Finite-difference step along the unit vector.

    Returns:
        ``H v`` as a float64 vector of length ``model.n_params``.

    >>> from companion.core.models import LinearRegression
    >>> m = LinearRegression(n_features=1)
    >>> hessian_vector_product(m, [[1.0], [3.0]], [0.0, 0.0], [1.0, 0.0]).round(6).tolist()
    [10.0, 4.0]
    """
    check_model(model)
    v = check_array(vector, "vector", ndim=1, dtype_kind="f").astype(np.float64)
    if v.shape != (model.n_params,):
        raise ValueError(
            f"vector must have length n_params={model.n_params}; got shape {v.shape}"
        )
    h = check_real(eps, "eps", low=0.0, low_inclusive=False)
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return np.zeros_like(v)
    theta = model.get_flat()
    unit = v / norm
    try:
        model.set_flat(theta + h * unit)
        plus = _flat_grad(model, X, y)
        model.set_flat(theta - h * unit)
        minus = _flat_grad(model, X, y)
    finally:
        model.set_flat(theta)
    return (plus - minus) / (2.0 * h) * norm


def hessian(model: Model, X: ArrayLike, y: ArrayLike, *, eps: float = 1e-5) -> np.ndarray:
    """The Hessian of the mean training loss at the model's parameters, ``(P, P)``.

    For :class:`~companion.core.models.SoftmaxRegression` in closed form: with
    ``u = (x, 1)`` and ``p = softmax(xW + b)``, sample ``i`` contributes
    ``(u uᵀ) ⊗ (diag p − p pᵀ)`` in the model's flat order (``W`` row by row, then ``b``),
    one ``(d+1) × (d+1)`` matrix product per pair of classes. For any other model, column
    ``j`` is :func:`hessian_vector_product` along the ``j``-th unit vector (``P`` products, two
    passes over the data each), and the result is symmetrised.

    Args:
        model: A :mod:`companion.core.models` model.
        X: Inputs.
        y: Targets (the softmax Hessian does not depend on them).
        eps: Finite-difference step of the Hessian-vector products.

    Returns:
        The float64 Hessian, symmetric.

    >>> from companion.core.models import LinearRegression, SoftmaxRegression
    >>> hessian(LinearRegression(1), [[1.0], [3.0]], [0.0, 0.0]).round(6).tolist()
    [[10.0, 4.0], [4.0, 2.0]]
    >>> m = SoftmaxRegression(2, 3, seed=0); X = [[1.0, 2.0], [0.5, -1.0]]; y = [0, 2]
    >>> closed = hessian(m, X, y)
    >>> columns = np.stack([hessian_vector_product(m, X, y, e) for e in np.eye(m.n_params)])
    >>> bool(np.allclose(closed, columns, atol=1e-8))
    True
    """
    from companion.core.models import SoftmaxRegression

    check_model(model)
    if type(model) is SoftmaxRegression:
        Xa = check_array(X, "X", ndim=2, dtype_kind="f").astype(np.float64)
        n = len(Xa)
        p = model.predict_proba(Xa).astype(np.float64)
        c = p.shape[1]
        u = np.hstack([Xa, np.ones((n, 1))])
        h = np.empty((u.shape[1], c, u.shape[1], c))
        for i in range(c):
            for j in range(i, c):
                weight = p[:, i] * ((i == j) - p[:, j])  # (diag p − p pᵀ)_ij per sample
                block = (u * weight[:, None]).T @ u / n
                h[:, i, :, j] = block
                h[:, j, :, i] = block
        return h.reshape(model.n_params, model.n_params)
    eye = np.eye(model.n_params)
    columns = np.stack([hessian_vector_product(model, X, y, eye[j], eps=eps)
                        for j in range(model.n_params)])
    return (columns + columns.T) / 2


def sharpness(
    model: Model,
    X: ArrayLike,
    y: ArrayLike,
    *,
    max_iter: int = 200,
    tol: float = 1e-8,
    seed: int | None = 0,
) -> float:
    """The largest-magnitude eigenvalue ``λ_max`` of the Hessian of the mean training loss.

    Power iteration on :func:`hessian_vector_product` from a seeded random start, stopped
    when the Rayleigh quotient changes by less than ``tol`` (relative) between iterations.
    For convex losses (linear or softmax regression) this is the top eigenvalue; full-batch
    gradient descent on a quadratic is stable for ``lr < 2 / λ_max``.

    Args:
        model: A :mod:`companion.core.models` model; its parameters are left unchanged.
        X: Inputs (the full training set for the full-batch loss).
        y: Targets.
        max_iter: Maximum power iterations.
        tol: Relative change of the estimate at which to stop.
        seed: Seed of the random starting vector.

    Returns:
        ``λ_max`` as a float.

    >>> from companion.core.models import LinearRegression
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> m = LinearRegression(n_features=3)
    >>> exact = 2 * np.linalg.eigvalsh(np.c_[X, np.ones(50)].T @ np.c_[X, np.ones(50)] / 50)[-1]
    >>> bool(abs(sharpness(m, X, np.zeros(50)) - exact) < 1e-6 * exact)
    True
    """
    check_model(model)
    iters = check_positive_int(max_iter, "max_iter")
    rel = check_real(tol, "tol", low=0.0, low_inclusive=False)
    rng = np.random.default_rng(check_seed(seed))
    v = rng.standard_normal(model.n_params)
    v /= np.linalg.norm(v)
    estimate = 0.0
    for _ in range(iters):
        hv = hessian_vector_product(model, X, y, v)
        new = float(v @ hv)
        norm = float(np.linalg.norm(hv))
        if norm == 0.0:
            return 0.0
        v = hv / norm
        if abs(new - estimate) <= rel * abs(new):
            return new
        estimate = new
    return estimate
