"""Tests of companion.measure.lr_scaling: the scaling rules, the log–log slope and the learning-rate sweep."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion import SGD, fit
from companion.core.datasets import linear, multi_class
from companion.core.models import LinearRegression, SoftmaxRegression
from companion.display.plots import plot_lr_sweep
from companion.measure.lr_scaling import (
    LRSweep,
    loglog_slope,
    lr_sweep,
    scaled_lr,
)

# --------------------------------------------------------------------------------------------
# scaled_lr and loglog_slope
# --------------------------------------------------------------------------------------------


def test_goyal_rule_and_sqrt_rule_values() -> None:
    # Goyal et al. 2017: η = 0.1 · kn/256, so batch 8192 gets 3.2.
    assert scaled_lr(0.1, 256, 8192) == pytest.approx(3.2)
    assert scaled_lr(0.1, 256, 256, rule="sqrt") == pytest.approx(0.1)
    out = scaled_lr(0.2, 4, [1, 4, 16, 64], rule="sqrt")
    assert isinstance(out, np.ndarray) and out.tolist() == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert isinstance(scaled_lr(0.2, 4, np.int64(8)), float)


@settings(max_examples=60)
@given(lr=st.floats(1e-4, 10.0), b0=st.integers(1, 512), b=st.integers(1, 4096))
def test_sqrt_rule_is_the_geometric_mean_of_linear_and_constant(lr: float, b0: int,
                                                                b: int) -> None:
    lin = scaled_lr(lr, b0, b, "linear")
    sq = scaled_lr(lr, b0, b, "sqrt")
    assert sq == pytest.approx(math.sqrt(lin * lr), rel=1e-12)
    assert lin == pytest.approx(lr * b / b0, rel=1e-12)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((0.0, 16, 32), ValueError, "base_lr must be a finite real number > 0; got 0.0"),
        ((0.1, True, 32), TypeError, "base_batch must be a positive int; got True"),
        ((0.1, 16, 0), ValueError, "batch_size must be a positive int; got 0"),
        ((0.1, 16, 2.0), TypeError, "batch_size must be a positive int or a sequence"),
    ],
)
def test_scaled_lr_validation(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        scaled_lr(*args)


def test_scaled_lr_rejects_unknown_rule() -> None:
    with pytest.raises(ValueError, match="rule must be one of 'linear', 'sqrt'; got 'log'"):
        scaled_lr(0.1, 16, 32, rule="log")


@settings(max_examples=60)
@given(p=st.floats(-3.0, 3.0), c=st.floats(0.01, 100.0),
       xs=st.lists(st.integers(1, 10_000), min_size=2, max_size=8, unique=True))
def test_loglog_slope_recovers_a_power_law(p: float, c: float, xs: list[int]) -> None:
    x = np.array(xs, dtype=float)
    assert loglog_slope(x, c * x**p) == pytest.approx(p, abs=1e-9)


def test_loglog_slope_validation() -> None:
    with pytest.raises(ValueError, match="x and y must be > 0"):
        loglog_slope([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="x must hold at least two distinct values"):
        loglog_slope([3.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="x and y must have the same number of samples"):
        loglog_slope([1.0, 2.0, 3.0], [1.0, 2.0])


# --------------------------------------------------------------------------------------------
# the sweep
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return multi_class(n=96, n_classes=3, seed=0)


def test_full_grid_matches_direct_fits(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = blobs
    model = SoftmaxRegression(2, 3, seed=1)
    before = model.get_flat()
    lrs = [0.05, 0.5, 5.0]
    sweep = lr_sweep(model, X, y, [32, 8], lrs, epochs=2, seed=3, search=False)
    assert np.array_equal(model.get_flat(), before)  # the starting model is never trained
    assert sweep.batch_sizes.tolist() == [8, 32] and sweep.runs == 6
    for i, b in enumerate((8, 32)):
        for j, lr in enumerate(lrs):
            h = fit(model.copy(), X, y, batch_size=b, epochs=2, optimizer=SGD(lr), seed=3,
                    progress=False)
            assert sweep.loss[i, j] == h.history["loss"][-1]


def test_search_finds_the_grid_optimum_in_fewer_runs(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = blobs
    model = SoftmaxRegression(2, 3, seed=0)
    lrs = 0.01 * 2.0 ** np.arange(12)
    full = lr_sweep(model, X, y, [4, 16], lrs, epochs=2, search=False)
    walk = lr_sweep(model, X, y, [4, 16], lrs, epochs=2, search=True, start_lr=0.1)
    assert walk.runs < full.runs
    tried = ~np.isnan(walk.loss)
    assert np.array_equal(walk.loss[tried], full.loss[tried])  # same runs, same numbers
    assert np.array_equal(walk.best_lr, full.best_lr)


def test_diverged_runs_score_inf() -> None:
    X, y, _ = linear(n=64, d=3, noise=0.1, seed=0)
    sweep = lr_sweep(LinearRegression(3), X, y, [8], [0.01, 1e4], epochs=20, search=False)
    assert np.isfinite(sweep.loss[0, 0]) and sweep.loss[0, 1] == np.inf
    assert sweep.best_lr.tolist() == [0.01]


def test_sweep_properties_with_an_all_diverged_row() -> None:
    sweep = LRSweep(np.array([1, 2]), np.array([0.1, 1.0]),
                    np.array([[0.3, np.inf], [np.inf, np.nan]]), epochs=1, seed=0)
    assert sweep.best_index.tolist() == [0, -1]
    assert sweep.best_lr[0] == 0.1 and np.isnan(sweep.best_lr[1])
    assert sweep.best_loss.tolist() == [0.3, np.inf]
    assert sweep.runs == 3
    assert "runs" in sweep.as_table()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lrs": []}, ValueError, "lrs must hold at least one learning rate"),
        ({"lrs": [0.1, -1.0]}, ValueError, r"lrs\[1\] must be a finite real number > 0; got -1.0"),
        ({"epochs": 0}, ValueError, "epochs must be a positive int; got 0"),
        ({"search": 1}, TypeError, "search must be True or False; got 1"),
        ({"batch_sizes": [4, 0]}, ValueError, r"batch_sizes\[1\] must be a positive int"),
        ({"start_lr": 0.0}, ValueError, "start_lr must be a finite real number > 0"),
        ({"patience": 0}, ValueError, "patience must be a positive int; got 0"),
    ],
)
def test_sweep_validation(blobs: tuple[np.ndarray, np.ndarray], kwargs: dict, error: type,
                          match: str) -> None:
    X, y = blobs
    args = {"batch_sizes": [4], "lrs": [0.1], **kwargs}
    with pytest.raises(error, match=match):
        lr_sweep(SoftmaxRegression(2, 3), X, y, **args)


def test_sweep_rejects_a_non_model(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = blobs
    with pytest.raises(TypeError, match=r"model must be a companion.core.models model .*got dict, which lacks"):
        lr_sweep({}, X, y, [4], [0.1])


# --------------------------------------------------------------------------------------------
# the figure
# --------------------------------------------------------------------------------------------


def test_plot_draws_rules_through_the_reference() -> None:
    sweep = LRSweep(np.array([1, 4, 16]), np.array([0.1, 0.4, 1.6]),
                    np.array([[0.2, 0.5, np.inf], [0.6, 0.2, 0.4], [0.9, 0.5, 0.3]]),
                    epochs=2, seed=0)
    fig = plot_lr_sweep(sweep, reference=0, limits={"2/λ_max": 0.5})
    ax = fig.axes[1]
    lines = {line.get_label(): line for line in ax.lines}
    linear_rule = lines["linear rule η ∝ B"]
    x, yv = linear_rule.get_data()
    assert np.allclose(np.asarray(yv) / np.asarray(x), 0.1)  # through (1, 0.1), slope 1
    sqrt_rule = lines["square-root rule η ∝ √B"]
    x, yv = sqrt_rule.get_data()
    assert np.allclose(np.asarray(yv), 0.1 * np.sqrt(x))
    assert lines["2/λ_max"].get_ydata()[0] == 0.5
    assert lines["tuned η"].get_ydata().tolist() == [0.1, 0.4, 1.6]
    assert len(fig.axes[0].lines) == 6  # one curve and one star per batch size


def test_plot_validation() -> None:
    sweep = LRSweep(np.array([1]), np.array([0.1]), np.array([[0.2]]), epochs=1, seed=0)
    with pytest.raises(TypeError, match="sweep must be an LRSweep"):
        plot_lr_sweep("sweep")
    with pytest.raises(ValueError, match=r"reference must be an index in \[0, 1\); got 3"):
        plot_lr_sweep(sweep, reference=3)
    with pytest.raises(ValueError, match="limits\\['x'\\] must be a finite real number > 0"):
        plot_lr_sweep(sweep, limits={"x": -1.0})
