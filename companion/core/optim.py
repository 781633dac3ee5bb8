"""Stochastic gradient descent with exactly PyTorch's update rule.

>>> params = {"w": np.array([1.0, -2.0])}
>>> opt = SGD(lr=0.1)
>>> opt.step(params, {"w": np.array([1.0, 1.0])})
>>> params["w"].tolist()
[0.9, -2.1]
"""

from __future__ import annotations

import copy as _copy
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from companion.core._validation import check_bool, check_real
from companion.core.schedules import Schedule


class SGD:
    """Stochastic gradient descent, the update of ``torch.optim.SGD`` (dampening 0).

    With gradient ∇ of the loss, parameters θ, learning rate η_t at update t, momentum μ
    and weight decay λ, each update does::

        g ← ∇ + λ·θ
        if μ ≠ 0:  b ← g at the first update, else b ← μ·b + g;
                   g ← g + μ·b if nesterov else b
        θ ← θ − η_t·g

    Args:
        lr: A positive float, or a schedule: any callable mapping the 0-based update
            index t to η_t (see :mod:`companion.core.schedules`; a schedule may return 0).
        momentum: μ >= 0.
        nesterov: Use Nesterov momentum (requires ``momentum > 0``, as in PyTorch).
        weight_decay: λ >= 0 (L2 penalty added to the gradient).

    The optimiser keeps its state (update count, one momentum buffer per parameter name)
    across calls and across :func:`companion.fit` runs, like PyTorch's; call :meth:`reset`
    to start over. :func:`companion.fit` drives it with the model's whole parameter
    vector under the single name ``"params"``.

    >>> opt = SGD(lr=0.1, momentum=0.9)
    >>> w = {"w": np.array([1.0])}
    >>> for _ in range(2):
    ...     opt.step(w, {"w": np.array([1.0])})
    >>> round(float(w["w"][0]), 6)  # 1 - 0.1*1 - 0.1*(0.9*1 + 1)
    0.71
    """

    def __init__(
        self,
        lr: float | Schedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        if callable(lr):
            self.lr: float | Schedule = lr
        elif isinstance(lr, (numbers.Real, np.floating, np.integer)) and not isinstance(lr, bool):
            self.lr = check_real(lr, "lr", low=0.0, low_inclusive=False)
        else:
            raise TypeError(
                f"lr must be a positive float or a schedule (a callable step -> lr); got {lr!r}"
            )
        self.momentum = check_real(momentum, "momentum", low=0.0)
        self.nesterov = check_bool(nesterov, "nesterov")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError(
                f"nesterov=True requires momentum > 0 (as in PyTorch); got momentum={self.momentum}"
            )
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0.0)
        self._t = 0
        self._buffers: dict[str, np.ndarray] = {}

    @property
    def iterations(self) -> int:
        """Number of updates done so far.

        >>> SGD(0.1).iterations
        0
        """
        return self._t

    @property
    def current_lr(self) -> float:
        """The learning rate the next update will use.

        >>> from companion.core.schedules import step_decay
        >>> SGD(lr=step_decay(0.1, step_size=1, gamma=0.5)).current_lr
        0.1
        """
        lr = self.lr
        if not callable(lr):
            return lr
        value = lr(self._t)
        if not (isinstance(value, (numbers.Real, np.floating)) and math.isfinite(value) and value >= 0):
            raise ValueError(
                f"the learning-rate schedule must return a finite float >= 0; "
                f"got {value!r} at step {self._t}"
            )
        return float(value)

    @property
    def state(self) -> dict[str, Any]:
        """A copy of the state: ``{"iterations": t, "momentum_buffers": {name: array}}``.

        >>> SGD(0.1).state
        {'iterations': 0, 'momentum_buffers': {}}
        """
        buffers = {k: v.copy() for k, v in self._buffers.items()}
        return {"iterations": self._t, "momentum_buffers": buffers}

    def reset(self) -> None:
        """Forget the update count and the momentum buffers.

        >>> opt = SGD(0.1); opt.step({"w": np.zeros(1)}, {"w": np.ones(1)}); opt.reset()
        >>> opt.iterations
        0
        """
        self._t = 0
        self._buffers = {}

    def copy(self) -> SGD:
        """A deep copy (state included).

        >>> SGD(0.1, momentum=0.9).copy()
        SGD(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0)
        """
        return _copy.deepcopy(self)

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, Any]) -> None:
        """Update every array of ``params`` in place from ``grads`` (same keys and shapes).

        Args:
            params: Float arrays by name, e.g. ``model.params`` (live views).
            grads: Gradients by name, e.g. ``model.grad(X, y)``.
        """
        if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
            raise TypeError(
                f"params and grads must be dicts of arrays; got {type(params).__name__} "
                f"and {type(grads).__name__}"
            )
        if set(params) != set(grads):
            raise ValueError(
                f"grads must have the same keys as params; got {sorted(grads)} for "
                f"params {sorted(params)}"
            )
        checked = {}
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(
                    f"params[{name!r}] must be a NumPy float array (it is updated in place); "
                    f"got {type(p).__name__}"
                )
            g = np.asarray(grads[name])
            if g.shape != p.shape:
                raise ValueError(
                    f"grads[{name!r}] must have the shape of params[{name!r}], {p.shape}; "
                    f"got {g.shape}"
                )
            checked[name] = g
        lr = self.current_lr
        for name, p in params.items():
            self._update(name, p, checked[name], lr)
        self._t += 1

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        """One parameter's update (no checks; the caller counts the step)."""
        if self.weight_decay:
            g = g + self.weight_decay * p
        mu = self.momentum
        if mu:
            buf = self._buffers.get(name)
            if buf is None:
                buf = self._buffers[name] = np.array(g, dtype=p.dtype)
            else:
                buf *= mu
                buf += g
            g = g + mu * buf if self.nesterov else buf
        p -= lr * g

    def __repr__(self) -> str:
        return (
            f"SGD(lr={self.lr!r}, momentum={self.momentum}, nesterov={self.nesterov}, "
            f"weight_decay={self.weight_decay})"
        )
