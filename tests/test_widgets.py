"""Explorers build without a frontend, react to programmatic changes, and have static twins."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from matplotlib.figure import Figure

from companion.display.plots import count_polygons
from companion.display.widgets import (
    epoch_planner,
    epoch_planner_figure,
    gradient_explorer,
    gradient_explorer_figure,
    has_kernel,
    training_explorer,
    training_explorer_figure,
)

PNG = b"\x89PNG\r\n\x1a\n"


def test_no_kernel_here_so_static_by_default() -> None:
    assert has_kernel() is False
    assert isinstance(epoch_planner(), Figure)
    assert isinstance(epoch_planner(static=True), Figure)


def test_epoch_planner_updates_on_every_control() -> None:
    w = epoch_planner(static=False)
    assert isinstance(w, widgets.VBox)
    assert set(w.controls) == {"n_samples", "batch_size", "remainder", "epochs"}
    assert w.image.value[:8] == PNG
    assert "<b>11 steps</b>" in w.summary.value and "N mod B = 50" in w.summary.value
    assert count_polygons(w.figure, "batch") == 22  # 2 epochs × 11 batches
    first = w.image.value
    w.controls["batch_size"].value = 64
    assert "<b>17 steps</b>" in w.summary.value
    assert count_polygons(w.figure, "batch") == 34
    assert w.image.value != first
    w.controls["remainder"].value = "drop"
    assert "26 samples not used in epoch 0" in w.summary.value
    assert count_polygons(w.figure, "left-out") == 2
    w.controls["remainder"].value = "fill"
    assert "38 samples seen twice in epoch 0" in w.summary.value
    w.controls["epochs"].value = 3
    w.controls["remainder"].value = "carry"
    assert "steps in 3 epochs" in w.summary.value
    assert count_polygons(w.figure, "batch") == 3 * 1050 // 64
    w.controls["n_samples"].value = 10
    assert count_polygons(w.figure, "batch") == 0  # B = 64 > N = 10: 30 samples, no batch


def test_epoch_planner_shows_errors_instead_of_raising() -> None:
    w = epoch_planner(n_samples=10, batch_size=4, static=False)
    w.controls["remainder"].value = "drop"
    valid = w.image.value
    w.controls["batch_size"].value = 20
    assert "remainder='drop' drops every sample" in w.summary.value
    assert w.image.value == valid  # the last valid picture (drop, B=4) stays


def test_gradient_explorer() -> None:
    w = gradient_explorer(n_draws=20, static=False)
    assert w.controls["batch_size"].value == 32
    assert "B = 32" in w.summary.value
    w.controls["batch_size"].value = 1
    assert w.summary.value.startswith("B = 1: mean cosine")
    assert len(w.figure.axes) == 1 and "B = 1" in w.figure.axes[0].get_title(loc="left")
    w.controls["replace"].value = True
    assert w.image.value[:8] == PNG


def test_training_explorer_keeps_the_last_runs() -> None:
    w = training_explorer(batch_size=512, epochs=1, keep=2, static=False)
    assert list(w.runs) == ["B=512, lr=0.5, 1 epochs"]
    w.controls["lr"].value = 1.0
    w.controls["batch_size"].value = 1024
    assert list(w.runs) == ["B=512, lr=1, 1 epochs", "B=1024, lr=1, 1 epochs"]
    assert len(w.figure.axes[0].get_lines()) == 4  # train + validation per run
    w.controls["x"].value = "samples"
    assert len(w.figure.axes[0].get_lines()) == 2
    assert w.figure.axes[0].get_yscale() == "log"
    assert "validation accuracy" in w.summary.value


def test_mimebundle_has_a_png_fallback() -> None:
    w = epoch_planner(static=False)
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    import base64

    assert base64.b64decode(bundle["image/png"])[:8] == PNG


def test_static_twins() -> None:
    assert count_polygons(epoch_planner_figure(1050, 100, "keep", epochs=1), "batch") == 11
    assert len(gradient_explorer_figure(4, n_draws=5).axes) == 1
    fig = training_explorer_figure(1024, lr=1.0, epochs=2)
    assert len(fig.axes[0].get_lines()) == 2


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="remainder must be one of"):
        epoch_planner(remainder="last")
    with pytest.raises(TypeError, match="static must be True or False"):
        epoch_planner(static="yes")
    with pytest.raises(ValueError, match="batch_size must be a positive int; got 0"):
        gradient_explorer(batch_size=0)
