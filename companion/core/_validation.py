"""Argument checks shared by every public function, in one tone.

Each check raises ``TypeError`` for a wrong type and ``ValueError`` for a wrong
value, and its message names the argument, what is allowed and what was given.

>>> check_positive_int(3, "batch_size")
3
>>> check_positive_int(0, "batch_size")
Traceback (most recent call last):
...
ValueError: batch_size must be a positive int; got 0
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def _describe(value: object) -> str:
    """Show a value and, for non-builtin types, its type, for error messages."""
    if isinstance(value, (bool, int, float, str, type(None))):
        return repr(value)
    if isinstance(value, np.generic):  # show np.True_ as True, np.float64(2.0) as 2.0
        return f"{value.item()!r} (type {type(value).__name__})"
    return f"{value!r} (type {type(value).__name__})"


def is_int(value: object) -> bool:
    """True for Python and NumPy integers, False for bool and everything else.

    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    if type(value) is int:  # the common case, without the slower ABC check
        return True
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_positive_int(value: object, name: str, *, allow_none: bool = False) -> int | None:
    """Return ``value`` as an ``int`` if it is a positive integer, else raise.

    >>> check_positive_int(np.int64(5), "epochs")
    5
    >>> check_positive_int(None, "batch_size", allow_none=True) is None
    True
    >>> check_positive_int(2.0, "epochs")
    Traceback (most recent call last):
    ...
    TypeError: epochs must be a positive int; got 2.0 (type float)
    """
    allowed = "a positive int or None" if allow_none else "a positive int"
    if value is None and allow_none:
        return None
    if not is_int(value):
        raise TypeError(f"{name} must be {allowed}; got {value!r} (type {type(value).__name__})")
    if value <= 0:
        raise ValueError(f"{name} must be {allowed}; got {int(value)}")
    return int(value)


def check_nonnegative_int(value: object, name: str) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 0, else raise.

    >>> check_nonnegative_int(0, "epoch")
    0
    >>> check_nonnegative_int(-1, "epoch")
    Traceback (most recent call last):
    ...
    ValueError: epoch must be a non-negative int; got -1
    """
    if not is_int(value):
        raise TypeError(f"{name} must be a non-negative int; got {_describe(value)}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int; got {int(value)}")
    return int(value)


def check_real(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` within the given bounds, else raise.

    >>> check_real(0.5, "momentum", low=0.0, high=1.0, high_inclusive=False)
    0.5
    >>> check_real(-0.1, "lr", low=0.0, low_inclusive=False)
    Traceback (most recent call last):
    ...
    ValueError: lr must be a finite real number > 0; got -0.1
    """

    def allowed() -> str:  # built only when an error is raised
        parts = []
        if low is not None:
            parts.append(f"{'>=' if low_inclusive else '>'} {low:g}")
        if high is not None:
            parts.append(f"{'<=' if high_inclusive else '<'} {high:g}")
        return "a finite real number" + (" " + " and ".join(parts) if parts else "")

    if type(value) is not float and (  # floats skip the slower ABC checks
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (numbers.Real, np.floating, np.integer))
    ):
        raise TypeError(f"{name} must be {allowed()}; got {_describe(value)}")
    x = float(value)
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x >= low if low_inclusive else x > low
    if ok and high is not None:
        ok = x <= high if high_inclusive else x < high
    if not ok:
        raise ValueError(f"{name} must be {allowed()}; got {x!r}")
    return x


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming them all.

    >>> check_choice("keep", "remainder", ("keep", "drop"))
    'keep'
    >>> check_choice("last", "remainder", ("keep", "drop"))
    Traceback (most recent call last):
    ...
    ValueError: remainder must be one of 'keep', 'drop'; got 'last'
    """
    options = tuple(choices)
    if isinstance(value, str) and value in options:
        return value
    listed = ", ".join(repr(c) for c in options)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed}; got {_describe(value)}")
    raise ValueError(f"{name} must be one of {listed}; got {value!r}")


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is a bool (Python or NumPy), else raise.

    >>> check_bool(True, "shuffle")
    True
    >>> check_bool(1, "shuffle")
    Traceback (most recent call last):
    ...
    TypeError: shuffle must be True or False; got 1
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {_describe(value)}")
    return bool(value)


def check_executor(value: object, name: str = "executor") -> Executor | None:
    """Return ``value`` if it is None or a :class:`concurrent.futures.Executor`, else raise.

    >>> check_executor(None) is None
    True
    >>> check_executor("dask")
    Traceback (most recent call last):
    ...
    TypeError: executor must be None or a concurrent.futures.Executor; got str
    """
    if value is not None and not isinstance(value, Executor):
        raise TypeError(
            f"{name} must be None or a concurrent.futures.Executor; got {type(value).__name__}"
        )
    return value


def check_each(
    values: object, name: str, check: Callable[..., T], *, example: str = "[1, 2]",
    **kwargs: object,
) -> list[T]:
    """Apply ``check`` to every element of a list, naming the element (``lrs[3]``) on failure.

    ``values`` must be a list, tuple or 1-D array (not a string); each element is passed to
    ``check(value, f"{name}[{i}]", **kwargs)``.

    >>> check_each([0.1, 0.2], "lrs", check_real, low=0.0, low_inclusive=False)
    [0.1, 0.2]
    >>> check_each([0.1, 0.2, 0.3, -0.1], "lrs", check_real, low=0.0, low_inclusive=False)
    Traceback (most recent call last):
    ...
    ValueError: lrs[3] must be a finite real number > 0; got -0.1
    >>> check_each(0.1, "lrs", check_real, example="[0.1, 0.2]")
    Traceback (most recent call last):
    ...
    TypeError: lrs must be a sequence, e.g. [0.1, 0.2]; got 0.1
    """
    if isinstance(values, np.ndarray) and values.ndim == 1:
        items = values.tolist()
    elif isinstance(values, (list, tuple, range)) or (
        isinstance(values, Sequence) and not isinstance(values, (str, bytes))
    ):
        items = list(values)
    else:
        what = "a sequence of positive ints" if check is check_positive_int else "a sequence"
        raise TypeError(f"{name} must be {what}, e.g. {example}; got {_describe(values)}")
    return [check(v, f"{name}[{i}]", **kwargs) for i, v in enumerate(items)]


FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_dtype(value: object, name: str = "dtype") -> np.dtype:
    """Return ``np.float32`` or ``np.float64`` as a dtype, else raise naming both.

    >>> check_float_dtype("float32")
    dtype('float32')
    >>> check_float_dtype("bogus")
    Traceback (most recent call last):
    ...
    TypeError: dtype must be np.float32 or np.float64; got 'bogus'
    """
    try:
        dt = np.dtype(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be np.float32 or np.float64; got {_describe(value)}") from None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be np.float32 or np.float64; got {dt}")
    return dt


def check_seed(value: object, name: str = "seed") -> int | None:
    """Return a seed: None or a non-negative int.

    >>> check_seed(0), check_seed(None)
    (0, None)
    """
    if value is None:
        return None
    return check_nonnegative_int(value, name)


def check_array(
    value: object,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype_kind: str = "fc",
    allow_nan: bool = False,
) -> np.ndarray:
    """Return ``value`` as a NumPy array after checking dimensions, kind and finiteness.

    ``dtype_kind`` lists the allowed ``dtype.kind`` letters: ``"f"`` float,
    ``"i"``/``"u"`` integer, ``"c"`` complex, ``"b"`` bool. Integer input is accepted
    wherever float is, and converted to float64.

    >>> check_array([[1.0, 2.0]], "X", ndim=2).shape
    (1, 2)
    >>> check_array([[1.0, float("nan")]], "X", ndim=2)
    Traceback (most recent call last):
    ...
    ValueError: X must not contain NaN or infinite values; found 1 at row 0
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array-like of numbers; got {_describe(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy raises many kinds
        raise TypeError(f"{name} must be an array-like of numbers; got {_describe(value)}") from exc
    kinds = set(dtype_kind)
    if "f" in kinds:
        kinds |= {"i", "u"}
    if arr.dtype.kind not in kinds:
        raise TypeError(
            f"{name} must hold numbers of kind {sorted(set(dtype_kind))} "
            f"(f=float, i=int, u=unsigned, b=bool); got dtype {arr.dtype}"
        )
    if "f" in set(dtype_kind) and arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            shown = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must be a {shown}-D array; got shape {arr.shape}")
    if not allow_nan and arr.dtype.kind in "fc":
        if not np.isfinite(arr).all():  # one pass in the common case; locate only on failure
            bad = ~np.isfinite(arr)
            where = np.argwhere(bad)[0]
            loc = f" at row {where[0]}" if arr.ndim >= 1 else ""
            raise ValueError(
                f"{name} must not contain NaN or infinite values; found {int(bad.sum())}{loc}"
            )
    return arr


def check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless two arrays have the same number of rows.

    >>> check_same_length(np.zeros(3), np.zeros(4), "X", "y")
    Traceback (most recent call last):
    ...
    ValueError: X and y must have the same number of samples (rows); got 3 and 4
    """
    if len(a) != len(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of samples (rows); "
            f"got {len(a)} and {len(b)}"
        )


def check_labels(value: object, name: str, n_classes: int) -> np.ndarray:
    """Return integer class labels in ``[0, n_classes)`` as a 1-D int64 array, else raise.

    Integer arrays are taken as they are; float arrays are accepted when every value is a
    whole number (NaN and infinity are rejected).

    >>> check_labels([0, 2, 1], "y", n_classes=3)
    array([0, 2, 1])
    >>> check_labels([0.0, 3.0], "y", n_classes=3)
    Traceback (most recent call last):
    ...
    ValueError: y must hold integer class labels in [0, 3); got 3 at row 1
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array-like of integer class labels; got {_describe(value)}")
    kind = np.asarray(value).dtype.kind
    if kind in "iu":
        arr = check_array(value, name, ndim=1, dtype_kind="iu")
    elif kind == "f":
        arr = check_array(value, name, ndim=1, dtype_kind="f")
        fractional = np.flatnonzero(arr != np.round(arr))
        if fractional.size:
            row = int(fractional[0])
            raise ValueError(
                f"{name} must hold integer class labels in [0, {n_classes}); "
                f"got {float(arr[row])!r} at row {row}"
            )
    else:
        raise TypeError(
            f"{name} must hold integer class labels in [0, {n_classes}); got dtype {np.asarray(value).dtype}"
        )
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        row = int(np.flatnonzero((arr < 0) | (arr >= n_classes))[0])
        shown = int(arr[row]) if arr.dtype.kind == "f" else arr[row]
        raise ValueError(
            f"{name} must hold integer class labels in [0, {n_classes}); got {shown} at row {row}"
        )
    return arr.astype(np.int64, copy=False)


def check_batch_sizes(
    batch_sizes: object, name: str = "batch_sizes", *, n_samples: int | None = None
) -> np.ndarray:
    """Return batch sizes as a 1-D int array; each must be a positive int (and ≤ ``n_samples``).

    Args:
        batch_sizes: A positive int or an iterable of positive ints.
        name: Argument name used in error messages.
        n_samples: If given, every batch size must be at most this (sampling without
            replacement cannot draw more rows than there are).

    Returns:
        The batch sizes as an ``int64`` array, in the order given.

    >>> check_batch_sizes([1, 2, np.int64(4)])
    array([1, 2, 4])
    >>> check_batch_sizes([1, 0])
    Traceback (most recent call last):
    ...
    ValueError: batch_sizes[1] must be a positive int; got 0
    >>> check_batch_sizes([8], n_samples=5)
    Traceback (most recent call last):
    ...
    ValueError: batch_sizes[0] must be at most n_samples=5 when sampling without replacement; got 8
    """
    if is_int(batch_sizes):
        values: list[Any] = [batch_sizes]
    elif isinstance(batch_sizes, (str, bytes)) or not isinstance(batch_sizes, (Iterable, np.ndarray)):
        raise TypeError(
            f"{name} must be a positive int or a sequence of positive ints; "
            f"got {batch_sizes!r} (type {type(batch_sizes).__name__})"
        )
    else:
        values = list(np.asarray(batch_sizes).ravel()) if isinstance(
            batch_sizes, np.ndarray
        ) else list(batch_sizes)
    if not values:
        raise ValueError(f"{name} must hold at least one batch size; got an empty sequence")
    scalar = is_int(batch_sizes)
    out = np.array(
        [check_positive_int(v, name if scalar else f"{name}[{i}]") for i, v in enumerate(values)]
    )
    if n_samples is not None:
        for i, b in enumerate(out):
            if b > n_samples:
                label = name if scalar else f"{name}[{i}]"
                raise ValueError(
                    f"{label} must be at most n_samples={n_samples} when sampling "
                    f"without replacement; got {int(b)}"
                )
    return out.astype(np.int64)


def check_batch_size(value: object, name: str = "batch_size", *, n_samples: int | None = None
                     ) -> int:
    """Return one batch size: a positive int (at most ``n_samples`` if given); a list is refused.

    >>> check_batch_size(32)
    32
    >>> check_batch_size([2, 3])
    Traceback (most recent call last):
    ...
    TypeError: batch_size must be one positive int; got [2, 3] (type list)
    >>> check_batch_size(10, "b_big", n_samples=5)
    Traceback (most recent call last):
    ...
    ValueError: b_big must be at most n_samples=5 when sampling without replacement; got 10
    """
    if not is_int(value):
        raise TypeError(f"{name} must be one positive int; got {_describe(value)}")
    b = check_positive_int(value, name)
    if n_samples is not None and b > n_samples:  # type: ignore[operator]
        raise ValueError(
            f"{name} must be at most n_samples={n_samples} when sampling without replacement; "
            f"got {b}"
        )
    return b  # type: ignore[return-value]
