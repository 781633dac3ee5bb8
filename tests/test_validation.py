"""The shared argument checks: types, values and the wording of their messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from companion.core._validation import (
    check_array,
    check_bool,
    check_choice,
    check_labels,
    check_nonnegative_int,
    check_positive_int,
    check_real,
    check_same_length,
    check_seed,
    is_int,
)


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int8(2), np.uint16(5)])
def test_positive_int_accepts(value: object) -> None:
    out = check_positive_int(value, "batch_size")
    assert out == int(value) and type(out) is int  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (0, ValueError, r"^batch_size must be a positive int; got 0$"),
        (-3, ValueError, r"^batch_size must be a positive int; got -3$"),
        (np.int64(-1), ValueError, r"^batch_size must be a positive int; got -1$"),
        (True, TypeError, r"^batch_size must be a positive int; got True \(type bool\)$"),
        (np.bool_(True), TypeError, r"batch_size must be a positive int; got np.True_"),
        (2.0, TypeError, r"^batch_size must be a positive int; got 2.0 \(type float\)$"),
        (np.float64(2.0), TypeError, r"batch_size must be a positive int; .*float64"),
        ("4", TypeError, r"^batch_size must be a positive int; got '4' \(type str\)$"),
        (None, TypeError, r"batch_size must be a positive int; got None"),
    ],
)
def test_positive_int_rejects(value: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        check_positive_int(value, "batch_size")


def test_positive_int_allow_none() -> None:
    assert check_positive_int(None, "batch_size", allow_none=True) is None
    with pytest.raises(ValueError, match=r"^batch_size must be a positive int or None; got 0$"):
        check_positive_int(0, "batch_size", allow_none=True)


def test_nonnegative_int_and_seed() -> None:
    assert check_nonnegative_int(0, "epoch") == 0
    with pytest.raises(ValueError, match=r"^epoch must be a non-negative int; got -1$"):
        check_nonnegative_int(-1, "epoch")
    with pytest.raises(TypeError, match=r"^epoch must be a non-negative int; got 1.5$"):
        check_nonnegative_int(1.5, "epoch")
    assert check_seed(None) is None and check_seed(np.uint32(7)) == 7
    with pytest.raises(TypeError, match=r"^seed must be a non-negative int; got False$"):
        check_seed(False)


def test_real() -> None:
    assert check_real(np.float32(0.5), "momentum") == 0.5
    assert check_real(3, "lr", low=0, low_inclusive=False) == 3.0
    assert check_real(1.0, "p", low=0.0, high=1.0) == 1.0
    with pytest.raises(ValueError, match=r"^p must be a finite real number >= 0 and < 1; got 1.0$"):
        check_real(1.0, "p", low=0.0, high=1.0, high_inclusive=False)
    with pytest.raises(ValueError, match=r"^lr must be a finite real number > 0; got 0.0$"):
        check_real(0.0, "lr", low=0.0, low_inclusive=False)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match=r"^x must be a finite real number; got"):
            check_real(bad, "x")
    with pytest.raises(TypeError, match=r"^x must be a finite real number; got True"):
        check_real(True, "x")
    with pytest.raises(TypeError, match=r"^x must be a finite real number; got '1'"):
        check_real("1", "x")


def test_choice_and_bool() -> None:
    assert check_choice("drop", "remainder", ["keep", "drop"]) == "drop"
    with pytest.raises(ValueError, match=r"^remainder must be one of 'keep', 'drop'; got 'x'$"):
        check_choice("x", "remainder", ["keep", "drop"])
    with pytest.raises(TypeError, match=r"^remainder must be one of 'keep', 'drop'; got 1$"):
        check_choice(1, "remainder", ["keep", "drop"])
    assert check_bool(np.bool_(False), "shuffle") is False
    for bad in (0, 1, "True", None):
        with pytest.raises(TypeError, match=r"^shuffle must be True or False; got"):
            check_bool(bad, "shuffle")


def test_is_int() -> None:
    assert [is_int(v) for v in (3, np.int32(3), True, np.bool_(True), 3.0, "3")] == [
        True, True, False, False, False, False,
    ]


def test_array() -> None:
    out = check_array([[1, 2], [3, 4]], "X", ndim=2)
    assert out.dtype == np.float64  # integers become floats when floats are allowed
    assert check_array(np.array([1, 2]), "y", dtype_kind="iu").dtype.kind == "i"
    with pytest.raises(ValueError, match=r"^X must be a 2-D array; got shape \(3,\)$"):
        check_array([1.0, 2.0, 3.0], "X", ndim=2)
    with pytest.raises(ValueError, match=r"^X must be a 1 or 2-D array"):
        check_array(np.zeros((1, 1, 1)), "X", ndim=(1, 2))
    with pytest.raises(TypeError, match=r"^X must hold numbers of kind \['f'\]"):
        check_array(np.array(["a"]), "X", dtype_kind="f")
    with pytest.raises(TypeError, match=r"^X must be an array-like of numbers; got 'abc'"):
        check_array("abc", "X")
    with pytest.raises(TypeError, match=r"^X must be an array-like of numbers; got None"):
        check_array(None, "X")
    bad = np.zeros((4, 3))
    bad[2, 1] = np.inf
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"^X must not contain NaN or infinite values; found 2 at row 2$"):
        check_array(bad, "X", ndim=2)
    assert np.isnan(check_array(bad, "X", allow_nan=True)).sum() == 1


def test_same_length() -> None:
    check_same_length(np.zeros(3), np.zeros((3, 2)), "X", "y")
    with pytest.raises(ValueError, match=r"^X and y must have the same number of samples \(rows\); got 3 and 2$"):
        check_same_length(np.zeros(3), np.zeros(2), "X", "y")


def test_labels() -> None:
    assert check_labels(np.array([0.0, 2.0]), "y", 3).dtype == np.int64
    assert check_labels(np.array([], dtype=np.int64), "y", 3).shape == (0,)
    with pytest.raises(ValueError, match=r"^y must hold integer class labels in \[0, 3\); got 3 at row 1$"):
        check_labels([0, 3], "y", 3)
    with pytest.raises(ValueError, match=r"^y must hold integer class labels in \[0, 3\); got 1.5 at row 0$"):
        check_labels([1.5, 1.0], "y", 3)
    with pytest.raises(ValueError, match=r"^y must not contain NaN"):
        check_labels([np.nan], "y", 3)
    with pytest.raises(TypeError, match=r"^y must hold integer class labels in \[0, 3\); got dtype <U1$"):
        check_labels(["a"], "y", 3)
    with pytest.raises(TypeError, match=r"^y must be an array-like of integer class labels; got None"):
        check_labels(None, "y", 3)
