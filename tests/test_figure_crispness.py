"""Every course figure is crisp at the size the book shows it.

The HTML book shows a figure's SVG; a figure no wider than ``style.COLUMN_WIDTH`` is shown at (or
near) its natural size in the text column, so the font sizes written in the SVG are the sizes a
reader sees. The browser test (``tests/test_browser.py``) measures the same thing on the built
pages, at the width the column really has.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from matplotlib.figure import Figure

from companion.core.batching import REMAINDERS, BatchPlan
from companion.display import plots, widgets
from companion.display.style import COLUMN_WIDTH, MIN_FONT_PT, figure
from companion.measure.landscape import (
    descent_paths,
    digits_problem,
    loss_grid,
    minibatch_gradients,
)
from companion.measure.noise import gradient_noise
from companion.measure.nqm import make_nqm, nqm_batch_scaling

FONT_SIZE = re.compile(r"font-size:\s*([0-9.]+)px")
SVG_WIDTH = re.compile(r'<svg[^>]*\swidth="([0-9.]+)pt"')


def svg_font_sizes(svg: str) -> list[float]:
    """Font sizes (SVG user units = points at natural size) of every text element."""
    return [float(v) for v in FONT_SIZE.findall(svg)]


def _nqm() -> object:
    return nqm_batch_scaling(make_nqm(50), [1, 4, 16, 64, 256, 1024], target=0.1)


def _landscape() -> tuple[object, object]:
    p = digits_problem()
    return p, loss_grid(p, n=21)


FIGURES: dict[str, Callable[[], Figure]] = {
    **{f"partition-{policy}": (lambda policy=policy: plots.plot_epoch_partition(
        BatchPlan(1050, 100, remainder=policy, shuffle=False), epochs=2)) for policy in REMAINDERS},
    "variance": lambda: plots.plot_variance_vs_batch(
        [gradient_noise(np.random.default_rng(0).normal(size=(64, 3)), [1, 4, 16, 64], n_draws=50,
                        replace=r) for r in (True, False)], show_cosine=True),
    "frontier": lambda: plots.plot_frontier(_nqm()),
    "steps": lambda: plots.plot_steps_vs_batch(_nqm()),
    "directions": lambda: plots.plot_gradient_directions(
        _landscape()[1], minibatch_gradients(digits_problem(), [-0.7, -0.8], [1, 32, 1797],
                                             n_draws=20)),
    "paths": lambda: plots.plot_paths(_landscape()[1], descent_paths(digits_problem(), epochs=1)),
    "planner": lambda: widgets.epoch_planner_figure(1050, 100, "fill"),
    "wide-grid": lambda: figure(2, 3),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_fits_the_column_and_no_text_is_below_the_minimum(name: str) -> None:
    fig = FIGURES[name]()
    assert fig.get_size_inches()[0] <= COLUMN_WIDTH + 1e-9
    svg = fig._repr_svg_()
    sizes = svg_font_sizes(svg)
    assert sizes, "the SVG keeps its text as <text> elements (svg.fonttype 'none')"
    assert min(sizes) >= MIN_FONT_PT, sorted(set(sizes))
    # bbox_inches="tight" may only trim or add a margin: still about the column's width.
    assert float(SVG_WIDTH.search(svg).group(1)) <= (COLUMN_WIDTH + 0.5) * 72


def test_the_check_catches_small_text() -> None:
    fig = figure()
    fig.axes[0].text(0.5, 0.5, "tiny", fontsize=6)
    assert min(svg_font_sizes(fig._repr_svg_())) == 6


def test_svg_is_reproducible() -> None:
    make = FIGURES["partition-keep"]
    assert make()._repr_svg_() == make()._repr_svg_()
