"""Curvature of the training loss: Hessian-vector products and the sharpness ``λ_max``.

On a quadratic loss with Hessian ``H``, full-batch gradient descent with step ``η`` multiplies
the error along each eigenvector of ``H`` by ``1 − η λ`` per step, so it converges only if
``η < 2 / λ_max``: the **stability limit**. However little noise a large batch has, its step
cannot grow past this. Cross-entropy is not a quadratic, so for real models ``2 / λ_max`` at
a given point is a guide to the largest useful step, not a hard wall.

The Hessian is never formed: :func:`hessian_vector_product` takes central differences of
the exact gradient, and :func:`sharpness` runs power iteration on it.

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
