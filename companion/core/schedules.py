"""Learning-rate schedules: callables that map an update's index ``step`` (0, 1, …) to a rate.

Pass one as ``SGD(lr=...)``; any other callable ``step -> lr`` works too. Each schedule
has one spelling, a function (:func:`constant`, :func:`step_decay`, :func:`linear_warmup`);
the objects they return are immutable, and their ``repr`` is the call that rebuilds them.

>>> warm = linear_warmup(0.1, warmup_steps=4)
>>> [round(warm(t), 3) for t in range(6)]
[0.025, 0.05, 0.075, 0.1, 0.1, 0.1]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from companion.core._validation import check_nonnegative_int, check_positive_int, check_real

Schedule = Callable[[int], float]
"""Type of a schedule: the 0-based index of the update → its learning rate."""


def _check_lr(lr: float) -> float:
    return check_real(lr, "lr", low=0.0, low_inclusive=False)


@dataclass(frozen=True, repr=False)
class _Constant:
    """The same learning rate at every step.

    >>> constant(0.1)(7)
    0.1
    """

    lr: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _check_lr(self.lr))

    def __call__(self, step: int) -> float:
        check_nonnegative_int(step, "step")
        return self.lr

    def __repr__(self) -> str:
        return f"constant(lr={self.lr!r})"


@dataclass(frozen=True, repr=False)
class _StepDecay:
    """``lr · gamma ** (step // step_size)``: multiply by ``gamma`` every ``step_size`` steps.

    >>> [step_decay(1.0, step_size=2, gamma=0.5)(t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _check_lr(self.lr))
        object.__setattr__(self, "step_size", check_positive_int(self.step_size, "step_size"))
        gamma = check_real(self.gamma, "gamma", low=0.0, low_inclusive=False)
        object.__setattr__(self, "gamma", gamma)

    def __call__(self, step: int) -> float:
        t = check_nonnegative_int(step, "step")
        return self.lr * self.gamma ** (t // self.step_size)

    def __repr__(self) -> str:
        return f"step_decay(lr={self.lr!r}, step_size={self.step_size}, gamma={self.gamma!r})"


@dataclass(frozen=True, repr=False)
class _LinearWarmup:
    """Ramp linearly from ``lr/warmup_steps`` (step 0) to ``lr`` (step ``warmup_steps−1``).

    Afterwards the rate stays at ``lr``, or follows ``after``, which is called with the
    steps counted from the end of the warm-up (``after(step − warmup_steps)``), like
    PyTorch's ``SequentialLR``.

    >>> sched = linear_warmup(0.2, warmup_steps=2, after=step_decay(0.2, 1, gamma=0.5))
    >>> [sched(t) for t in range(4)]
    [0.1, 0.2, 0.2, 0.1]
    """

    lr: float
    warmup_steps: int
    after: Schedule | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _check_lr(self.lr))
        steps = check_positive_int(self.warmup_steps, "warmup_steps")
        object.__setattr__(self, "warmup_steps", steps)
        if self.after is not None and not callable(self.after):
            raise TypeError(
                f"after must be None or a schedule (a callable step -> lr); got {self.after!r}"
            )

    def __call__(self, step: int) -> float:
        t = check_nonnegative_int(step, "step")
        if t < self.warmup_steps:
            return self.lr * (t + 1) / self.warmup_steps
        if self.after is None:
            return self.lr
        return float(self.after(t - self.warmup_steps))

    def __repr__(self) -> str:
        return (f"linear_warmup(lr={self.lr!r}, warmup_steps={self.warmup_steps}, "
                f"after={self.after!r})")


def constant(lr: float) -> _Constant:
    """A constant learning rate ``lr`` (> 0).

    >>> constant(0.05)(100)
    0.05
    """
    return _Constant(lr)


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> _StepDecay:
    """Start at ``lr`` and multiply by ``gamma`` every ``step_size`` updates (PyTorch ``StepLR``).

    >>> step_decay(0.1, step_size=10)(25)
    0.001
    """
    return _StepDecay(lr, step_size, gamma)


def linear_warmup(lr: float, warmup_steps: int, after: Schedule | None = None) -> _LinearWarmup:
    """Warm up linearly over ``warmup_steps`` updates, then hold ``lr`` or follow ``after``.

    Goyal et al. (2017) warm up this way before applying the linear scaling rule.

    >>> linear_warmup(0.4, warmup_steps=4)(0)
    0.1
    """
    return _LinearWarmup(lr, warmup_steps, after)
