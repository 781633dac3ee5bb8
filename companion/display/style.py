"""One plotting style and one colour-blind-safe palette for every figure of the course.

The palette is Okabe and Ito's eight colours ("Color Universal Design", 2002), which stay
distinguishable under the common forms of colour blindness and in greyscale print. The
style is a plain dict of matplotlib rc settings applied with :func:`figure` inside
``matplotlib.rc_context``: nothing global is changed, no backend is chosen, and the figures
are created without pyplot, so they never pile up in pyplot's figure registry and a
notebook shows each one exactly once (when it is returned or displayed).

>>> PALETTE["blue"]
'#0072B2'
>>> fig = figure(ncols=2)
>>> len(fig.axes)
2
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure

from companion.core._validation import check_nonnegative_int, check_positive_int

#: Okabe–Ito palette (black first, as in the original), by name.
PALETTE: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}

#: The order in which lines and markers take colours (black and yellow last: black is kept
#: for theory and reference lines, yellow is weak on white).
CYCLE: tuple[str, ...] = (
    PALETTE["blue"],
    PALETTE["vermillion"],
    PALETTE["green"],
    PALETTE["orange"],
    PALETTE["purple"],
    PALETTE["sky"],
    PALETTE["yellow"],
)

#: Roles used across the plots, so the same thing always has the same colour.
ROLES: dict[str, str] = {
    "theory": PALETTE["black"],
    "batch": PALETTE["sky"],
    "batch_alt": PALETTE["blue"],
    "partial": PALETTE["orange"],
    "repeated": PALETTE["purple"],
    "left_out": "#BBBBBB",
    "carried": PALETTE["green"],
    "full_batch": PALETTE["black"],
    "highlight": PALETTE["vermillion"],
}

#: rc settings of the course style; applied only inside :func:`style`.
RC: dict[str, Any] = {
    "axes.prop_cycle": mpl.cycler(color=list(CYCLE)),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    "image.cmap": "viridis",
}


def color(index: int) -> str:
    """Return the ``index``-th colour of the course cycle (wrapping around).

    Args:
        index: A non-negative int.

    Returns:
        A hex colour string.

    >>> color(0), color(len(CYCLE))
    ('#0072B2', '#0072B2')
    """
    i = check_nonnegative_int(index, "index")
    return CYCLE[i % len(CYCLE)]


@contextmanager
def style() -> Iterator[None]:
    """Apply the course style inside a ``with`` block and restore every setting after it.

    >>> import matplotlib as mpl
    >>> with style():
    ...     mpl.rcParams["axes.spines.top"]
    False
    """
    with mpl.rc_context(RC):
        yield


class CourseFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that shows itself as PNG in Jupyter.

    Figures made without pyplot are not known to the inline backend, so IPython would print
    ``<Figure size …>``. ``_repr_png_`` renders the figure on demand instead (Agg, tight
    bounding box), without touching any global state.

    >>> fig = figure()
    >>> fig._repr_png_()[:4]
    b'\\x89PNG'
    """

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=RC["savefig.dpi"], bbox_inches="tight")
        return buf.getvalue()


def figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    width: float | None = None,
    height: float | None = None,
    **subplot_kw: Any,
) -> Figure:
    """Create a styled :class:`~matplotlib.figure.Figure` with a grid of axes, without pyplot.

    Args:
        nrows: Rows of axes.
        ncols: Columns of axes.
        width: Figure width in inches (default 4.2 per column).
        height: Figure height in inches (default 3.2 per row).
        **subplot_kw: Passed to ``Figure.subplots`` (e.g. ``sharey=True``).

    Returns:
        A new :class:`CourseFigure`, not registered with pyplot (nothing to close).

    >>> fig = figure(2, 1, sharex=True)
    >>> [ax.spines["top"].get_visible() for ax in fig.axes]
    [False, False]
    """
    nrows = check_positive_int(nrows, "nrows")
    ncols = check_positive_int(ncols, "ncols")
    w = 4.2 * ncols if width is None else width
    h = 3.2 * nrows if height is None else height
    with style():
        fig = CourseFigure(figsize=(w, h), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
        for ax in axes.flat:
            # Ticks are made lazily at draw time, possibly outside the style context: store
            # their look on the axes so it survives.
            ax.tick_params(labelsize=RC["xtick.labelsize"])
            ax.grid(True, alpha=RC["grid.alpha"], linewidth=RC["grid.linewidth"])
    return fig
