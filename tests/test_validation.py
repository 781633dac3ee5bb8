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


# -- the cases of issue 14: each names the argument (or list element) and what is allowed ------


def _cases() -> list:
    from companion.core.datasets import digits, multi_class
    from companion.core.models import SoftmaxRegression
    from companion.display.plots import plot_variance_vs_batch
    from companion.measure import nqm
    from companion.measure.critical_batch import critical_batch_experiment
    from companion.measure.lr_scaling import lr_sweep
    from companion.measure.noise import sample_batch_means
    from companion.measure.noise_scale import estimate_noise_scale, two_batch_estimate

    X, y = multi_class(n=60, n_classes=3, seed=0)
    G = np.random.default_rng(0).normal(size=(20, 3))
    return [
        (lambda: sample_batch_means(G, [2, 3]), TypeError,
         r"batch_size must be one positive int; got \[2, 3\]"),
        (lambda: two_batch_estimate([3.0, 5.0], [1.5, 2.0], b_small=1, b_big=10, n_samples=5),
         ValueError, r"b_big must be at most n_samples=5 when sampling without replacement"),
        (lambda: estimate_noise_scale(G, 2, 8, n_draws=1), ValueError,
         r"n_draws must be an int >= 2: one \(small, big\) pair gives no standard error"),
        (lambda: critical_batch_experiment(X, np.array([0.0, np.nan] * 30), quick=True),
         ValueError, r"y must not contain NaN or infinite values; found 30 at row 1"),
        (lambda: critical_batch_experiment(X, np.array(["a", "b"] * 30), quick=True),
         TypeError, r"y must hold numbers of kind \['f'\]"),
        (lambda: critical_batch_experiment(X[:0], np.array([]), quick=True),
         ValueError, r"y must hold at least one label; got an empty array"),
        (lambda: plot_variance_vs_batch(None), TypeError,
         r"result must be a GradientNoise \(from gradient_noise\) or a non-empty list"),
        (lambda: plot_variance_vs_batch([None]), TypeError, r"result\[0\] must be a GradientNoise"),
        (lambda: digits(dtype="bogus"), TypeError,
         r"dtype must be np.float32 or np.float64; got 'bogus'"),
        (lambda: lr_sweep(SoftmaxRegression(2, 3), X, y, [8, 16], lrs=[0.1, 0.2, 0.3, -0.1]),
         ValueError, r"lrs\[3\] must be a finite real number > 0; got -0.1"),
        (lambda: critical_batch_experiment(X, y, lrs=[0.1, "x"], quick=True), TypeError,
         r"lrs\[1\] must be a finite real number > 0; got 'x'"),
        (lambda: nqm.tune_lr(nqm.make_nqm(), 1, 0.1, lrs=[0.1, 5.0]), ValueError,
         r"lrs\[1\] must be a finite real number > 0 and < 2; got 5.0"),
        (lambda: nqm.tune_lr(nqm.make_nqm(), 1, 0.1, lrs=0.1), TypeError,
         r"lrs must be a sequence, e.g. \[0.1, 0.5\]; got 0.1"),
    ]


@pytest.mark.parametrize("case", range(13))
def test_issue_14_bad_inputs_name_the_argument(case: int) -> None:
    make, error, match = _cases()[case]
    with pytest.raises(error, match=match):
        make()


def test_steps_to_loss_accepts_a_list_X_like_an_array() -> None:
    from companion.core.datasets import multi_class
    from companion.core.models import SoftmaxRegression
    from companion.measure.critical_batch import steps_to_loss

    X, y = multi_class(n=60, n_classes=3, seed=0)
    model = SoftmaxRegression(2, 3)
    as_array = steps_to_loss(model, X, y, 10, 0.5, 0.9, max_steps=300)
    as_list = steps_to_loss(model, X.tolist(), y.tolist(), 10, 0.5, 0.9, max_steps=300)
    assert as_list == as_array and as_array is not None and as_array > 0


def test_nqm_steps_to_target_is_fast_and_exact_when_the_loss_is_not_monotone() -> None:
    import time

    from companion.measure import nqm

    init = np.ones(100)
    init[::2] = 0.0  # half the coordinates start at their minimum and rise to the noise floor
    q = nqm.make_nqm(init=init)
    start = time.perf_counter()
    steps = nqm.steps_to_target(q, 0.1, 1, target=0.5 * (q.initial_loss + 0.0), max_steps=10**9)
    slow = nqm.steps_to_target(q, 1e-9, 1, target=1.0)
    assert time.perf_counter() - start < 60  # the old block scan took about 11 minutes
    losses = nqm.expected_loss(q, 0.1, 1, steps)
    assert losses[steps] <= 0.5 * q.initial_loss < losses[:steps].min()  # the first crossing
    exact = nqm.expected_loss(q, 1e-9, 1, 0)[0]
    assert slow is not None and slow > 10**8 and exact > 1.0


def test_nqm_expected_loss_in_blocks_equals_the_formula() -> None:
    from companion.measure import nqm

    q = nqm.make_nqm(dim=7)
    n = 5000
    blocked = nqm.expected_loss(q, 0.3, 4, n)
    h, s0, c = q.curvature, q.init, q.noise
    r = (1 - 0.3 * h) ** 2
    floor = 0.3 * c / (2 * 4 * (2 - 0.3 * h))
    t = np.arange(n + 1)[:, None]
    direct = (floor + (0.5 * h * s0 - floor) * r**t).sum(axis=1)
    np.testing.assert_allclose(blocked, direct, rtol=1e-12)
