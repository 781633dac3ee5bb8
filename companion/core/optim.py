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

import numpy as np
from numpy.typing import ArrayLike

from companion.core._validation import check_array, check_bool, check_nonnegative_int, check_real
from companion.core.models import Layout, Parameters
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
        momentum: μ in [0, 1).
        nesterov: Use Nesterov momentum (requires ``momentum > 0``, as in PyTorch).
        weight_decay: λ >= 0 (L2 penalty added to the gradient).

    State: the update count and one momentum buffer, a flat vector over all parameters
    in the order of ``params``. The state is bound to the names and shapes of the first
    parameters it updates (its ``layout``); stepping parameters of another layout raises
    ``ValueError`` (call :meth:`reset` or use a new ``SGD``). Reusing one optimiser for a
    second model of the same layout continues its momentum and schedule, like a second
    :func:`companion.fit` on the same model; :meth:`reset` starts over.

    The one update path: :meth:`step` is what :func:`companion.fit` calls after each batch
    (with ``model.params`` and the flat gradient) and what a hand-written loop calls; its
    arithmetic is :func:`sgd_update`, which a trainer of several runs in lockstep
    (:func:`companion.core.sweep.sweep`) calls on the stack of their parameters, handing
    each run's optimiser its final state with :meth:`load_state`. A hand step
    followed by ``fit(optimizer=opt)`` therefore continues exactly where the hand step
    left off. :attr:`state` and :meth:`load_state` save and restore the state (fit uses
    them to undo an interrupted update).

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
        self.momentum = check_real(momentum, "momentum", low=0.0, high=1.0, high_inclusive=False)
        self.nesterov = check_bool(nesterov, "nesterov")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError(
                f"nesterov=True requires momentum > 0 (as in PyTorch); got momentum={self.momentum}"
            )
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0.0)
        self._t = 0
        self._buffer: np.ndarray | None = None
        self._layout: Layout | None = None

    @property
    def iterations(self) -> int:
        """Number of updates done so far.

        >>> SGD(0.1).iterations
        0
        """
        return self._t

    @property
    def current_lr(self) -> float:
        """The learning rate the next update will use: ``lr_at(iterations)``.

        >>> from companion.core.schedules import step_decay
        >>> SGD(lr=step_decay(0.1, step_size=1, gamma=0.5)).current_lr
        0.1
        """
        return self.lr_at(self._t)

    def lr_at(self, t: int) -> float:
        """The learning rate of update ``t`` (0-based): ``lr``, or the schedule's value at t.

        A trainer that runs several optimisers in lockstep asks each for the rate of its
        next update with this method (the schedule's value is checked here, once).

        >>> from companion.core.schedules import step_decay
        >>> SGD(lr=step_decay(0.1, step_size=1, gamma=0.5)).lr_at(2)
        0.025
        >>> SGD(lr=lambda t: -1.0).lr_at(0)
        Traceback (most recent call last):
        ...
        ValueError: the learning-rate schedule must return a finite float >= 0; got -1.0 at step 0
        """
        lr = self.lr
        if not callable(lr):
            return lr
        value = lr(t)
        if not (isinstance(value, (numbers.Real, np.floating)) and math.isfinite(value) and value >= 0):
            raise ValueError(
                f"the learning-rate schedule must return a finite float >= 0; "
                f"got {value!r} at step {t}"
            )
        return float(value)

    @property
    def layout(self) -> Layout | None:
        """Names and shapes of the parameters the state is bound to (None before a step).

        >>> opt = SGD(0.1); opt.step({"w": np.zeros(2)}, {"w": np.ones(2)}); opt.layout
        (('w', (2,)),)
        """
        return self._layout

    @property
    def state(self) -> dict[str, object]:
        """A copy of the state: ``{"iterations": t, "layout": ..., "momentum_buffer": array}``.

        >>> SGD(0.1).state
        {'iterations': 0, 'layout': None, 'momentum_buffer': None}
        """
        buf = None if self._buffer is None else self._buffer.copy()
        return {"iterations": self._t, "layout": self._layout, "momentum_buffer": buf}

    def load_state(self, state: Mapping[str, object]) -> None:
        """Restore a state saved from :attr:`state` (the arrays are copied).

        >>> opt = SGD(0.1, momentum=0.9); saved = opt.state
        >>> opt.step({"w": np.zeros(1)}, {"w": np.ones(1)}); opt.load_state(saved)
        >>> opt.iterations, opt.layout
        (0, None)
        """
        if not isinstance(state, Mapping) or set(state) != {"iterations", "layout",
                                                             "momentum_buffer"}:
            raise TypeError(
                "state must be a dict from SGD.state with keys 'iterations', 'layout', "
                f"'momentum_buffer'; got {state!r}"
            )
        t = check_nonnegative_int(state["iterations"], "state['iterations']")
        buf = state["momentum_buffer"]
        self._buffer = None if buf is None else np.array(buf, copy=True)
        self._layout = state["layout"]  # type: ignore[assignment]
        self._t = t

    def reset(self) -> None:
        """Forget the update count, the momentum buffer and the layout.

        >>> opt = SGD(0.1); opt.step({"w": np.zeros(1)}, {"w": np.ones(1)}); opt.reset()
        >>> opt.iterations, opt.layout
        (0, None)
        """
        self._t = 0
        self._buffer = None
        self._layout = None

    def copy(self) -> SGD:
        """A deep copy (state included).

        >>> SGD(0.1, momentum=0.9).copy()
        SGD(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0)
        """
        return _copy.deepcopy(self)

    def step(
        self, params: Mapping[str, np.ndarray], grads: Mapping[str, ArrayLike] | np.ndarray
    ) -> None:
        """One update of every array of ``params``, in place, from ``grads``.

        Args:
            params: Float arrays by name: ``model.params`` (a
                :class:`~companion.core.models.Parameters`), or any dict of NumPy float arrays.
            grads: Gradients by name with the keys and shapes of ``params`` (e.g.
                ``model.grad(X, y)``), or, with ``model.params``, one flat vector of
                length ``model.n_params`` in ``param_names`` order (what fit passes).

        Raises:
            TypeError: ``params`` is not a dict of float arrays, or a gradient holds no numbers.
            ValueError: keys or shapes differ, a gradient is NaN or infinite, or the
                optimiser's state is bound to another layout.

        >>> from companion.core.models import LinearRegression
        >>> m = LinearRegression(1); m.params = {"W": [[1.0]], "b": [0.0]}
        >>> SGD(0.5).step(m.params, np.array([2.0, -2.0]))
        >>> m.get_flat().tolist()
        [0.0, 1.0]
        """
        if not isinstance(params, Mapping):
            raise TypeError(
                f"params must be a dict of NumPy float arrays (e.g. model.params); "
                f"got {type(params).__name__}"
            )
        vector = params.vector if isinstance(params, Parameters) else None
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(
                    f"params[{name!r}] must be a NumPy float array (it is updated in place); "
                    f"got {type(p).__name__}"
                )
        layout: Layout = (
            params.layout if isinstance(params, Parameters)
            else tuple((name, p.shape) for name, p in params.items())
        )
        if isinstance(grads, Mapping):
            if set(params) != set(grads):
                raise ValueError(
                    f"grads must have the same keys as params; got {sorted(grads)} for "
                    f"params {sorted(params)}"
                )
            parts = []
            for name, p in params.items():
                g = check_array(grads[name], f"grads[{name!r}]", dtype_kind="f")
                if g.shape != p.shape:
                    raise ValueError(
                        f"grads[{name!r}] must have the shape of params[{name!r}], {p.shape}; "
                        f"got {g.shape}"
                    )
                parts.append(g.ravel())
            flat_g = np.concatenate(parts) if parts else np.empty(0)
        elif vector is not None and isinstance(grads, np.ndarray):
            flat_g = check_array(grads, "grads", ndim=1, dtype_kind="f")
            if flat_g.shape != vector.shape:
                raise ValueError(
                    f"grads as one vector must have length {vector.size} (the model's n_params); "
                    f"got shape {flat_g.shape}"
                )
        else:
            raise TypeError(
                "grads must be a dict of arrays with the keys of params, or one flat NumPy "
                f"vector when params is model.params; got {type(grads).__name__}"
            )
        self._bind(layout)
        lr = self.current_lr
        theta = vector if vector is not None else (
            np.concatenate([p.ravel() for p in params.values()]) if params else np.empty(0)
        )
        _, buffer = sgd_update(
            theta, flat_g, self._buffer, lr=lr, momentum=self.momentum, nesterov=self.nesterov,
            weight_decay=self.weight_decay,
        )
        if buffer is not None:
            self._buffer = buffer
        if vector is None:
            start = 0
            for p in params.values():
                p[...] = theta[start : start + p.size].reshape(p.shape)
                start += p.size
        self._t += 1

    def _bind(self, layout: Layout) -> None:
        if self._layout is None:
            self._layout = layout
        elif self._layout != layout:
            raise ValueError(
                f"this SGD holds the state of parameters {list(self._layout)} "
                f"(after {self._t} updates); params has {list(layout)}. Use a new SGD for "
                "another model, or call opt.reset() to start over"
            )

    def __repr__(self) -> str:
        return (
            f"SGD(lr={self.lr!r}, momentum={self.momentum}, nesterov={self.nesterov}, "
            f"weight_decay={self.weight_decay})"
        )


def sgd_update(
    theta: np.ndarray, grad: np.ndarray, buffer: np.ndarray | None, *,
    lr: float | np.ndarray, momentum: float | np.ndarray = 0.0, nesterov: bool = False,
    weight_decay: float | np.ndarray = 0.0, out: np.ndarray | None = None,
    buffer_out: np.ndarray | None = None, overwrite_grad: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The arithmetic of one SGD update, PyTorch's rule, on a vector or a stack of runs.

    The one implementation of the rule: :meth:`SGD.step` calls it with a ``(P,)`` vector,
    a lockstep trainer (:mod:`companion.core.lockstep`) with a ``(K, P)`` stack whose
    per-run coefficients ``lr``, ``momentum``, ``weight_decay`` are ``(K, 1)`` arrays in
    the parameters' dtype (or scalars shared by every row)::

        g ← ∇ + λ·θ                       (if any λ ≠ 0)
        b ← g if buffer is None, else μ·b + g;  g ← g + μ·b if nesterov else b   (if any μ ≠ 0)
        θ ← θ − η·g

    A buffer row of zeros gives that row's first update, ``b ← g``, exactly.

    Args:
        theta: Parameters, ``(P,)`` or ``(K, P)``; updated in place unless ``out`` is given.
        grad: Gradient of theta's shape (not modified).
        buffer: The momentum buffer of theta's shape, or None before the first update.
        lr, momentum, weight_decay: η, μ, λ: scalars or ``(K, 1)`` arrays.
        nesterov: Nesterov momentum.
        out: Where to write the new parameters (theta is then left unchanged).
        buffer_out: Where to write the new buffer (``buffer`` is never modified unless it
            is ``buffer_out`` itself; without ``buffer_out`` the new buffer is a new array).
        overwrite_grad: ``grad`` may be overwritten (it then holds ``η·g``): the in-place
            update needs no temporary of theta's size. The values are the same either way.

    Returns:
        ``(new parameters, new buffer)``; the buffer is None when every μ is 0.

    >>> theta = np.array([[1.0], [2.0]]); buf = None
    >>> for _ in range(2):
    ...     _, buf = sgd_update(theta, np.ones((2, 1)), buf, lr=np.array([[0.1], [0.2]]),
    ...                         momentum=0.9)
    >>> theta.ravel().round(6).tolist()  # 1 - 0.1*1 - 0.1*(0.9*1 + 1); 2 - 0.2*(1 + 1.9)
    [0.71, 1.42]
    """
    g = grad
    scratch = grad if overwrite_grad else None  # an array the step may be formed in
    if _nonzero(weight_decay):
        g = scratch = g + weight_decay * theta
    new_buffer = None
    if _nonzero(momentum):
        if buffer is None:
            if buffer_out is None:
                new_buffer = np.array(g, dtype=theta.dtype)
            else:
                new_buffer = buffer_out
                np.copyto(new_buffer, g)
        else:
            new_buffer = np.multiply(buffer, momentum, out=buffer_out)
            new_buffer += g
        if nesterov:
            g = scratch = g + momentum * new_buffer
        else:
            g = new_buffer
    if out is None:
        if scratch is None:
            theta -= lr * g
        else:  # η·g formed in the scratch array: the same values, no temporary
            theta -= np.multiply(g, lr, out=scratch)
        return theta, new_buffer
    if out is theta or out is g:
        np.subtract(theta, lr * g, out=out)
    else:  # the step is formed in ``out`` itself: no temporary of theta's size
        np.multiply(g, lr, out=out)
        np.subtract(theta, out, out=out)
    return out, new_buffer


def _nonzero(coefficient: float | np.ndarray) -> bool:
    """Whether any run's coefficient (μ or λ) is non-zero; cheap for the usual scalar 0."""
    if isinstance(coefficient, float | int):
        return coefficient != 0
    return bool(np.any(coefficient))
