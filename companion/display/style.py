"""One plotting style and one colour-blind-safe palette for every figure of the course.

**Crisp at the size shown.** A figure is at most :data:`COLUMN_WIDTH` inches wide (the book's
text column at a 1280-pixel-wide window is about 690 CSS pixels, 7.2 inches), so it is shown at
its natural size or close to it, and no text is smaller than :data:`MIN_FONT_PT` points. In the
HTML book and in JupyterLab a figure is an SVG (vector, sharp on any screen; its text stays
text, so a test can read every font size); as PNG (other frontends) it is rendered at
:data:`PNG_DPI` and declared at half its pixel width, i.e. twice the pixels it is shown at.

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
>>> [round(float(v), 3) for v in figure(ncols=3).get_size_inches()]  # 12.6 x 3.2 fitted to the column
[7.0, 1.778]
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

#: Widest figure, in inches: about the book's text column, so figures are not shrunk on screen.
COLUMN_WIDTH = 7.0
#: Smallest font size, in points, of any text in a course figure (shown at natural size).
MIN_FONT_PT = 8.0
#: Resolution of PNG renderings; the PNG is declared at half its width (a 2x image).
PNG_DPI = 200

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
    "font.size": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    # SVG text stays text (sharp, searchable, and its size can be checked); the fallback fonts
    # are in the file. A fixed hash salt and no date keep the output identical run to run.
    "svg.fonttype": "none",
    "svg.hashsalt": "batchwise",
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


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_label(value: float, _pos: int | None = None) -> str:
    """A log-axis tick label in one piece of text: ``10³``, ``2×10⁻²``, or plain when short.

    Matplotlib's default writes the exponent as a separate mathtext superscript at 70 % of the
    label's size (6.3 pt for a 9-pt label); a Unicode superscript keeps the whole label at the
    label's size.

    >>> [power_label(v) for v in (1000, 0.001, 2e-05, 1, 0.5, 20, 3e6)]
    ['10³', '10⁻³', '2×10⁻⁵', '1', '0.5', '20', '3×10⁶']
    """
    import math

    if value == 0 or not math.isfinite(value):
        return ""
    exponent = math.floor(math.log10(abs(value)) + 1e-9)
    mantissa = value / 10.0**exponent
    if -1 <= exponent <= 2:
        return f"{value:g}"
    power = f"10{str(exponent).translate(_SUPERSCRIPT)}"
    return power if abs(mantissa - 1) < 1e-6 else f"{mantissa:g}×{power}"


def _one_piece_log_formatter(minor: bool) -> Any:
    """Matplotlib's log formatter (it decides which ticks get a label) writing :func:`power_label`."""
    from matplotlib.ticker import LogFormatterSciNotation

    class OnePiece(LogFormatterSciNotation):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return power_label(x) if super().__call__(x, pos) else ""

    return OnePiece(labelOnlyBase=not minor)


def _plain_log_labels(fig: Figure) -> None:
    """Give log axes that still use matplotlib's mathtext labels the one-piece :func:`power_label`."""
    from matplotlib.ticker import LogFormatterSciNotation

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() != "log":
                continue
            for minor in (False, True):
                current = axis.get_minor_formatter() if minor else axis.get_major_formatter()
                if type(current) is LogFormatterSciNotation:
                    setter = axis.set_minor_formatter if minor else axis.set_major_formatter
                    setter(_one_piece_log_formatter(minor))


class CourseFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that shows itself as SVG (and a 2x PNG) in Jupyter.

    Figures made without pyplot are not known to the inline backend, so IPython would print
    ``<Figure size …>``. ``_repr_svg_`` and ``_repr_png_`` render the figure on demand instead
    (tight bounding box, the course's rc settings), without touching any global state. The
    HTML book (myst-nb) and JupyterLab prefer the SVG.

    >>> fig = figure()
    >>> fig._repr_svg_()[:5], fig._repr_png_()[0][:4]
    ('<?xml', b'\\x89PNG')
    >>> png, meta = fig._repr_png_()
    >>> from PIL import Image; import io
    >>> Image.open(io.BytesIO(png)).width >= 2 * meta["width"]
    True
    """

    def _render(self, fmt: str, dpi: float) -> bytes:
        import io

        _plain_log_labels(self)
        buf = io.BytesIO()
        with mpl.rc_context(RC):
            self.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight",
                         metadata={"Date": None} if fmt == "svg" else None)
        return buf.getvalue()

    def _repr_svg_(self) -> str:
        return self._render("svg", RC["figure.dpi"]).decode("utf-8")

    def _repr_png_(self) -> tuple[bytes, dict[str, int]]:
        png = self._render("png", PNG_DPI)
        width = int.from_bytes(png[16:20], "big")  # the IHDR chunk's width field
        return png, {"width": width // 2}


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
        width: Figure width in inches (default 4.2 per column); a wider figure is scaled down
            to :data:`COLUMN_WIDTH`, height with it.
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
    if w > COLUMN_WIDTH:  # fit the column, keep the aspect ratio
        w, h = COLUMN_WIDTH, h * COLUMN_WIDTH / w
    with style():
        fig = CourseFigure(figsize=(w, h), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
        for ax in axes.flat:
            # Ticks are made lazily at draw time, possibly outside the style context: store
            # their look on the axes so it survives.
            ax.tick_params(which="both", labelsize=RC["xtick.labelsize"])
            ax.grid(True, alpha=RC["grid.alpha"], linewidth=RC["grid.linewidth"])
    return fig
