"""Figures: the right artists (counts, lines, log scales), no global pyplot state."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from strategies import positive_epochs

from companion.core.batching import BatchPlan
from companion.core.datasets import two_class
from companion.core.models import SoftmaxRegression
from companion.core.optim import SGD
from companion.core.training import fit
from companion.display.plots import (
    count_polygons,
    plot_epoch_partition,
    plot_frontier,
    plot_gradient_directions,
    plot_loss_curves,
    plot_paths,
    plot_speed_memory,
    plot_steps_vs_batch,
    plot_variance_vs_batch,
)
from companion.measure.critical_batch import CriticalBatchResult, fit_frontier
from companion.measure.landscape import (
    descent_paths,
    digits_problem,
    loss_grid,
    minibatch_gradients,
)
from companion.measure.noise import gradient_noise
from companion.measure.nqm import make_nqm, nqm_batch_scaling
from companion.measure.speed import measure_speed
from tests.strategies import plan_args


@pytest.fixture(autouse=True)
def no_pyplot_leak() -> Iterator[None]:
    """The plots make figures without pyplot: none may appear in pyplot's registry."""
    before = plt.get_fignums()
    yield
    leaked = [n for n in plt.get_fignums() if n not in before]
    for n in leaked:
        plt.close(n)
    assert not leaked


def polygons(fig: Figure, gid: str) -> list[np.ndarray]:
    return [p.vertices for ax in fig.axes for c in ax.collections
            if isinstance(c, PolyCollection) and c.get_gid() == gid for p in c.get_paths()]


def widths_by_row(fig: Figure, gid: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for v in polygons(fig, gid):
        row = int(round(v[:, 1].mean()))
        out[row] = out.get(row, 0.0) + float(v[:, 0].max() - v[:, 0].min())
    return out


# -- the partition diagram -------------------------------------------------------------------


def test_the_1050_by_100_picture() -> None:
    fig = plot_epoch_partition(BatchPlan(1050, 100, shuffle=False), epochs=1)
    assert isinstance(fig, Figure)
    boxes = polygons(fig, "batch")
    assert len(boxes) == 11
    widths = sorted(float(v[:, 0].max() - v[:, 0].min()) for v in boxes)
    assert widths == [50.0] + [100.0] * 10
    coll = next(c for c in fig.axes[0].collections if c.get_gid() == "batch")
    colours = [tuple(np.round(c, 3)) for c in coll.get_facecolors()]
    assert len(set(colours[-1:]) - set(colours[:-1])) == 1  # the 50-sample tail stands out
    assert "11 steps per epoch: 10 × 100 + 1 × 50" in fig.axes[0].get_title(loc="left")


@settings(max_examples=60, deadline=None)
@given(args=plan_args(max_samples=300), epochs=positive_epochs)
def test_one_rectangle_per_batch(args, epochs: int) -> None:
    plan = args.plan()
    fig = plot_epoch_partition(plan, epochs=epochs)
    n, b, policy = plan.n_samples, plan.batch_size, plan.remainder
    assert count_polygons(fig, "batch") == sum(plan.steps_in_epoch(e) for e in range(epochs))
    rest = n % b != 0
    assert count_polygons(fig, "left-out") == (epochs if policy == "drop" and rest else 0)
    assert count_polygons(fig, "repeated") == (epochs if policy == "fill" and rest else 0)
    rows = widths_by_row(fig, "batch")
    if policy in ("keep", "even"):
        assert all(rows[e] == pytest.approx(n) for e in range(epochs))
    if policy == "drop":
        assert all(rows.get(e, 0) == pytest.approx(n - n % b) for e in range(epochs))
    if policy == "fill":
        assert all(rows[e] == pytest.approx(b * plan.steps_per_epoch) for e in range(epochs))
    if policy == "carry":
        expected_pieces = sum(
            len(range(k * b // n, ((k + 1) * b - 1) // n))
            for k in range(plan.total_steps(epochs))
        )
        assert count_polygons(fig, "batch-carried") == expected_pieces
        pending = widths_by_row(fig, "carried")
        assert sum(pending.values()) == pytest.approx(epochs * n - plan.total_steps(epochs) * b)
        everything = widths_by_row(fig, "batch")
        for row, w in widths_by_row(fig, "batch-carried").items():
            everything[row] = everything.get(row, 0.0) + w
        for row, w in pending.items():
            everything[row] = everything.get(row, 0.0) + w
        assert all(everything[e] == pytest.approx(n) for e in range(epochs))  # rows tile
    plt.close(fig)


def test_carry_and_drop_and_fill_legends() -> None:
    for policy, label in [("carry", "straddles epochs"), ("drop", "left out"),
                          ("fill", "repeated samples")]:
        fig = plot_epoch_partition(BatchPlan(10, 4, remainder=policy, shuffle=False), epochs=2)
        texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert any(label in t for t in texts), (policy, texts)


def test_partition_rejects_non_plans() -> None:
    with pytest.raises(TypeError, match="plan must be a companion.BatchPlan"):
        plot_epoch_partition("plan")
    with pytest.raises(ValueError, match="epochs must be a positive int; got 0"):
        plot_epoch_partition(BatchPlan(10, 3), epochs=0)


def test_draws_into_a_given_axes() -> None:
    fig = plt.figure()
    ax = fig.add_subplot()
    assert plot_epoch_partition(BatchPlan(10, 3), ax=ax) is fig
    assert count_polygons(fig, "batch") == 4
    plt.close(fig)


# -- curves -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def histories() -> dict:
    X, y = two_class(n=120, seed=0)
    Xv, yv = two_class(n=40, seed=1)
    out = {}
    for b in (8, 64):
        out[f"B={b}"] = fit(SoftmaxRegression(2, 2), X, y, batch_size=b, epochs=3,
                            optimizer=SGD(0.5), seed=0, validation_data=(Xv, yv),
                            progress=False)
    return out


@pytest.mark.parametrize("x", ["epoch", "step", "samples", "time"])
def test_loss_curves(histories: dict, x: str) -> None:
    fig = plot_loss_curves(histories, x=x)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == (4 if x == "epoch" else 2)  # + validation per run for epochs
    if x == "epoch":
        assert lines[0].get_xdata().tolist() == [1.0, 2.0, 3.0]
        assert np.allclose(lines[0].get_ydata(), histories["B=8"].history["loss"])
    elif x == "samples":
        assert lines[1].get_xdata()[-1] == 360  # 3 epochs × 120 samples
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "B=8"


def test_loss_curves_options(histories: dict) -> None:
    fig = plot_loss_curves(histories["B=8"], x="step", smooth=5, logy=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    raw = histories["B=8"].steps["loss"]
    assert ax.get_lines()[0].get_ydata()[-1] == pytest.approx(raw[-5:].mean())
    with pytest.raises(ValueError, match="x must be one of 'epoch', 'step'"):
        plot_loss_curves(histories, x="iterations")
    with pytest.raises(TypeError, match="must be a History"):
        plot_loss_curves({"a": 1})
    with pytest.raises(ValueError, match="metric must be 'loss' for x='step'"):
        plot_loss_curves(histories, x="step", metric="accuracy")


def test_variance_plot() -> None:
    g = np.random.default_rng(0).normal(loc=0.3, size=(64, 3))
    without = gradient_noise(g, [1, 4, 16, 64], n_draws=100, replace=False)
    with_ = gradient_noise(g, [1, 4, 16, 64], n_draws=100, replace=True)
    fig = plot_variance_vs_batch([without, with_], show_cosine=True)
    ax, ax_cos = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log" and ax_cos.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "theory, without replacement" in labels and "theory, with replacement" in labels
    assert "exactly 0 (B = N)" in labels  # the B = N point without replacement
    theory_line = next(line for line in ax.get_lines()
                       if line.get_label() == "theory, with replacement")
    xs, ys = theory_line.get_xdata(), theory_line.get_ydata()
    assert np.allclose(ys, with_.trace_sigma / xs)
    with pytest.raises(TypeError, match="GradientNoise"):
        plot_variance_vs_batch([1, 2])


def test_frontier_and_steps_plots() -> None:
    res = nqm_batch_scaling(make_nqm(100), [2**k for k in range(0, 13, 2)], target=0.05)
    fig = plot_frontier(res)
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    star = next(line for line in ax.get_lines() if line.get_marker() == "*")
    fit = fit_frontier(res.steps, res.examples)
    assert star.get_xdata()[0] == pytest.approx(2 * fit.s_min)
    assert star.get_ydata()[0] == pytest.approx(2 * fit.e_min)
    assert "B_crit" in star.get_label()
    assert len(ax.texts) >= len(res.batch_sizes)  # every point labelled with its B
    fig2 = plot_steps_vs_batch(res)
    assert fig2.axes[0].get_yscale() == "log" and len(fig2.axes[0].get_lines()) == 4
    with pytest.raises(TypeError, match="CriticalBatchResult or NQMScaling"):
        plot_frontier(object())


def test_frontier_of_a_critical_batch_result() -> None:
    b = np.array([1, 8, 64, 512])
    steps = 50.0 * (1 + 16.0 / b)
    fit = fit_frontier(steps, b * steps)
    res = CriticalBatchResult(
        batch_sizes=b, lrs=np.array([0.1]), steps_grid=steps[:, None], best_lr=np.full(4, 0.1),
        steps=steps, examples=b * steps, target_loss=0.2, n_samples=512, fit=fit,
        b_simple_start=None, b_simple_end=None, seconds=0.0,
    )
    fig = plot_frontier(res)
    star = next(line for line in fig.axes[0].get_lines() if line.get_marker() == "*")
    assert star.get_xdata()[0] == pytest.approx(100.0)  # 2 S_min
    assert star.get_ydata()[0] == pytest.approx(1600.0)  # 2 E_min
    assert "16" in star.get_label()


def _digits_like_result() -> CriticalBatchResult:
    """Points shaped like the digits' pooled frontier: 1347 left of 1024 at about its height."""
    b = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1347])
    steps = np.array([1033, 593, 256, 168, 135, 108, 112, 97, 79, 73, 66, 51], dtype=float)
    return CriticalBatchResult(
        batch_sizes=b, lrs=np.array([0.1]), steps_grid=steps[:, None],
        best_lr=np.full(b.size, 0.1), steps=steps, examples=b * steps, target_loss=0.2,
        n_samples=1347, fit=fit_frontier(steps, b * steps), b_simple_start=None,
        b_simple_end=None, seconds=0.0,
    )


def test_frontier_labels_of_neighbouring_points_do_not_overlap() -> None:
    fig = plot_frontier(_digits_like_result())
    ax = fig.axes[0]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text().isdigit()]
    assert [t.get_text() for t in labels] == [str(v) for v in _digits_like_result().batch_sizes]
    boxes = [t.get_window_extent(renderer) for t in labels]
    clashes = [(labels[i].get_text(), labels[j].get_text())
               for i in range(len(boxes)) for j in range(i + 1, len(boxes))
               if boxes[i].overlaps(boxes[j])]
    assert clashes == []


def test_perfect_scaling_line_stops_at_a_third_of_the_fewest_steps() -> None:
    res = _digits_like_result()
    ax = plot_steps_vs_batch(res).axes[0]
    dashed = next(line for line in ax.get_lines() if line.get_linestyle() == "--")
    assert dashed.get_ydata().min() == pytest.approx(res.steps.min() / 3)
    assert ax.get_ylim()[0] > res.steps.min() / 4  # the axis is not stretched below it


@pytest.mark.parametrize("which", ["digits", "nqm"])
def test_steps_plot_legend_covers_no_point_of_any_line(which: str) -> None:
    res = _digits_like_result() if which == "digits" else nqm_batch_scaling(
        make_nqm(100), [2**k for k in range(0, 13)], target=0.05)
    ax = plot_steps_vs_batch(res).axes[0]
    canvas = FigureCanvasAgg(ax.figure)
    canvas.draw()
    box = ax.get_legend().get_window_extent(canvas.get_renderer())
    inside = set()
    for line in ax.get_lines():
        xy = line.get_transform().transform(line.get_xydata())  # display coordinates
        if line.get_linestyle() not in ("None", "none", " ", ""):  # a drawn line: its segments
            t = np.linspace(0, 1, 50)[:, None, None]
            xy = (xy[:-1] * (1 - t) + xy[1:] * t).reshape(-1, 2)
        if np.any((xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1)
                  & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)):
            inside.add(line.get_label())
    assert inside == set()


def test_speed_memory_plot() -> None:
    X, y = np.random.default_rng(0).random((32, 4)), np.arange(32) % 3
    res = measure_speed(SoftmaxRegression(4, 3), X, y, [1, 8, 64], repeats=1, min_time=0.0)
    fig = plot_speed_memory(res)
    assert len(fig.axes) == 2
    assert all(ax.get_xscale() == ax.get_yscale() == "log" for ax in fig.axes)
    assert np.allclose(fig.axes[0].get_lines()[0].get_ydata(), res.seconds_per_sample * 1e6)
    assert np.allclose(fig.axes[1].get_lines()[0].get_ydata(), res.peak_bytes / 1024)


def test_gradient_directions_and_paths() -> None:
    p = digits_problem()
    grid = loss_grid(p, n=21)
    s = minibatch_gradients(p, [-0.7, -0.8], [1, 32, p.n_samples], n_draws=30)
    fig = plot_gradient_directions(grid, s, max_arrows=25)
    assert len(fig.axes) == 3
    quivers = [c for c in fig.axes[0].collections if type(c).__name__ == "Quiver"]
    assert [q.N for q in quivers] == [25, 1]  # mini-batch arrows, then −G
    assert "B = 1" in fig.axes[0].get_title(loc="left")
    with pytest.raises(ValueError, match="batch_sizes must be among"):
        plot_gradient_directions(grid, s, batch_sizes=[7])
    paths = descent_paths(p, epochs=1)
    fig = plot_paths(grid, paths)
    assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[1:4] == [f"{q.label}: {q.steps} steps" for q in paths]
    assert len(plot_paths(grid, paths, loss_panel=False).axes) == 1


def test_figures_render_to_png_for_notebooks() -> None:
    fig = plot_epoch_partition(BatchPlan(10, 3))
    png, meta = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") // 2 == meta["width"]
