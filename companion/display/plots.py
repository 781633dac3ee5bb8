"""Figures of the course, drawn from data or result objects.

Every function returns a :class:`matplotlib.figure.Figure` made with
:func:`companion.display.style.figure` — created without pyplot, so nothing is registered globally,
nothing needs closing, no backend is chosen, and a notebook shows the figure once, when it
is the cell's value or passed to ``display``. Functions that draw on a single axes also
accept ``ax=`` to draw into an existing one (then its figure is returned). All colours come
from the Okabe–Ito palette in :mod:`companion.display.style`.

Artists that tests and readers may want to find carry a ``gid``: the rectangles of the
partition diagram are ``PolyCollection`` objects with gids ``"batch"``, ``"batch-carried"``
(pieces of a carried batch drawn in an earlier epoch's row), ``"left-out"``,
``"repeated"`` and ``"carried"`` (samples waiting for the next epoch), one polygon per item.

>>> from companion.core.batching import BatchPlan
>>> fig = plot_epoch_partition(BatchPlan(1050, 100, shuffle=False))
>>> count_polygons(fig, "batch")
11
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from companion.core._validation import check_bool, check_choice, check_positive_int, check_real
from companion.display.style import PALETTE, ROLES, color, figure, style

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _axes(ax: Axes | None, **kw: Any) -> tuple[Figure, Axes]:
    if ax is None:
        fig = figure(**kw)
        return fig, fig.axes[0]
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax.figure, ax  # type: ignore[return-value]


def _rect_collection(
    ax: Axes, rects: list[tuple[float, float, float]], gid: str, height: float = 0.7, **kw: Any
) -> PolyCollection | None:
    """One polygon per ``(x0, x1, row)``: a box from x0 to x1 centred on the row."""
    if not rects:
        return None
    verts = [
        [(x0, r - height / 2), (x1, r - height / 2), (x1, r + height / 2), (x0, r + height / 2)]
        for x0, x1, r in rects
    ]
    coll = PolyCollection(verts, **kw)
    coll.set_gid(gid)
    ax.add_collection(coll)
    return coll


def count_polygons(fig: Figure, gid: str) -> int:
    """Number of polygons in the collections of ``fig`` whose gid is ``gid``.

    Args:
        fig: A figure from this module.
        gid: E.g. ``"batch"``.

    Returns:
        The count (0 if there is no such collection).

    >>> from companion.core.batching import BatchPlan
    >>> count_polygons(plot_epoch_partition(BatchPlan(10, 4, "drop", shuffle=False)), "left-out")
    1
    """
    return sum(
        len(c.get_paths())
        for ax in fig.axes
        for c in ax.collections
        if c.get_gid() == gid
    )


# ---------------------------------------------------------------------------------------------
# epochs and batches
# ---------------------------------------------------------------------------------------------


def _partition_pieces(plan: Any, epochs: int) -> dict[str, list[tuple[float, float, float, int]]]:
    """Rectangles ``(x0, x1, row, k)`` per category of the partition diagram.

    ``k`` numbers the batches (for alternating colours; a carried batch's pieces share it).
    """
    n, b, policy = plan.n_samples, plan.batch_size, plan.remainder
    pieces: dict[str, list[tuple[float, float, float, int]]] = {
        k: [] for k in ("full", "partial", "carried_piece", "left_out", "repeated", "pending")
    }
    if policy == "carry":
        for e in range(epochs):
            first = e * n // b
            for k in range(first, first + plan.steps_in_epoch(e)):
                start, stop = k * b, (k + 1) * b
                pieces["full"].append((max(start, e * n) - e * n, stop - e * n, e, k))
                for row in range(start // n, e):  # earlier rows this batch passes through
                    lo, hi = max(start, row * n), min(stop, (row + 1) * n)
                    pieces["carried_piece"].append((lo - row * n, hi - row * n, row, k))
        used = epochs * n // b * b
        for row in range(used // n, epochs):
            lo, hi = max(used, row * n), (row + 1) * n
            if hi > lo:
                pieces["pending"].append((lo - row * n, hi - row * n, row, -1))
        return pieces
    for e in range(epochs):
        pos = 0
        for k, idx in enumerate(plan.epoch(e)):
            size = len(idx)
            kind = "partial" if size < b and policy == "keep" else "full"
            pieces[kind].append((pos, pos + size, e, k))
            if pos + size > n:  # "fill": the part beyond the epoch's N samples is repeated
                pieces["repeated"].append((max(pos, n), pos + size, e, k))
            pos += size
        if pos < n:
            pieces["left_out"].append((pos, n, e, -1))
    return pieces


def _partition_right(plan: Any, pieces: dict[str, list[tuple[float, float, float, int]]]) -> float:
    """Right edge of the partition diagram: the last box, plus room for the notes beside ``N``."""
    n = float(plan.n_samples)
    right = max([n] + [x1 for _, x1, _, _ in pieces["repeated"]])
    # "61 repeated" is written to the right of the dashed line at N: keep room for it.
    return max(right * 1.01, n * 1.16) if pieces["repeated"] else right * 1.01


def plot_epoch_partition(
    plan: Any, epochs: int = 1, *, ax: Axes | None = None, xmax: float | None = None
) -> Figure:
    """Draw how the batches of ``plan`` partition each epoch: one rectangle per batch.

    One row per epoch; the horizontal axis is the position in the epoch's (shuffled) order of
    the ``N`` samples. Full batches alternate two blues; a batch smaller than ``B`` (the
    ``"keep"`` tail, e.g. 50 of 1050 with ``B=100``) is orange; samples dropped by ``"drop"``
    are grey; under ``"fill"`` the padded part of the last batch (samples seen twice) sticks
    out beyond ``N``, hatched purple; under ``"carry"`` a batch that straddles two epochs is
    drawn in the epoch where it completes, with its first part (green outline) at the end of
    the previous row, and the samples after the last complete batch are shown waiting.

    Args:
        plan: A :class:`companion.core.batching.BatchPlan`.
        epochs: Number of epochs (rows) to draw.
        ax: Draw into this axes instead of a new figure.
        xmax: Right end of the horizontal axis (default: the last box, with room for the
            notes), so that diagrams drawn one above the other line up (see
            :func:`plot_remainder_policies`).

    Returns:
        The figure.

    >>> from companion.core.batching import BatchPlan
    >>> fig = plot_epoch_partition(BatchPlan(10, 4, remainder="carry", shuffle=False), epochs=2)
    >>> count_polygons(fig, "batch"), count_polygons(fig, "batch-carried")
    (5, 1)
    """
    for attr in ("n_samples", "batch_size", "remainder", "epoch", "steps_in_epoch"):
        if not hasattr(plan, attr):
            raise TypeError(f"plan must be a companion.BatchPlan; got {type(plan).__name__}")
    n_epochs = check_positive_int(epochs, "epochs")
    n, b, policy = plan.n_samples, plan.batch_size, plan.remainder
    pieces = _partition_pieces(plan, n_epochs)

    def boxes(kind: str) -> list[tuple[float, float, float]]:
        return [(x0, x1, row) for x0, x1, row, _ in pieces[kind]]

    def shade(kind: str) -> list[str]:
        return [ROLES["batch"] if k % 2 == 0 else ROLES["batch_alt"] for *_, k in pieces[kind]]

    with style():
        fig, ax = _axes(ax, width=8.0, height=1.3 + 0.55 * n_epochs)
        carried = {k for *_, k in pieces["carried_piece"]}
        edges = [ROLES["carried"] if k in carried else "white" for *_, k in pieces["full"]]
        _rect_collection(ax, boxes("full") + boxes("partial"), "batch",
                         facecolors=shade("full") + [ROLES["partial"]] * len(pieces["partial"]),
                         edgecolors=edges + ["white"] * len(pieces["partial"]),
                         linewidths=[1.5 if e != "white" else 0.6 for e in edges]
                         + [0.6] * len(pieces["partial"]))
        _rect_collection(ax, boxes("carried_piece"), "batch-carried",
                         facecolors=shade("carried_piece"), edgecolors=ROLES["carried"],
                         linewidths=1.5)
        _rect_collection(ax, boxes("left_out"), "left-out", facecolors=ROLES["left_out"],
                         edgecolors="dimgray", hatch="xx", linewidths=0.6)
        _rect_collection(ax, boxes("repeated"), "repeated", facecolors="none",
                         edgecolors=ROLES["repeated"], hatch="///", linewidths=1.0)
        _rect_collection(ax, boxes("pending"), "carried", facecolors="none",
                         edgecolors=ROLES["carried"], hatch="..", linewidths=1.0)
        ax.axvline(n, color=PALETTE["black"], linestyle="--", linewidth=1.0)
        right = _partition_right(plan, pieces) if xmax is None else check_real(
            xmax, "xmax", low=float(n))
        min_width = 0.035 * right
        # Batch sizes inside the boxes wide enough to hold them; a carried batch shows its
        # two parts, e.g. "50 + 50".
        parts = {k: x1 - x0 for x0, x1, _, k in pieces["carried_piece"]}
        for x0, x1, row, k in pieces["full"] + pieces["partial"]:
            text = f"{int(round(x1 - x0))}"
            if k in parts and policy == "carry":
                text = f"+{int(round(x1 - x0))}"
            # White on the dark blue, black on the light blue and the orange.
            ink = "white" if k % 2 and (x0, x1, row, k) in pieces["full"] else "black"
            if x1 - x0 >= min_width:
                ax.text((x0 + x1) / 2, row, text, ha="center", va="center", fontsize=8,
                        color=ink)
        for x0, x1, row, k in pieces["carried_piece"]:
            if x1 - x0 >= min_width:
                ax.text((x0 + x1) / 2, row, f"{int(round(x1 - x0))}→", ha="center",
                        va="center", fontsize=8, color="white" if k % 2 else "black")
        # Notes above their boxes, on their own side of the dashed line at N: what is left out
        # or waits ends at N (text to the left), what is repeated starts at N (to the right).
        pad = 0.006 * right
        notes = (("left_out", "left out", "dimgray"), ("repeated", "repeated",
                 ROLES["repeated"]), ("pending", "wait for the next epoch", ROLES["carried"]))
        for kind, words, colour in notes:
            for x0, x1, row in boxes(kind):
                beyond = kind == "repeated"
                ax.text(x0 + pad if beyond else x1 - pad, row - 0.38,
                        f"{int(round(x1 - x0))} {words}", ha="left" if beyond else "right",
                        va="bottom", fontsize=8, color=colour)
        ax.set_xlim(0, right)
        ax.set_ylim(n_epochs - 0.45, -0.85)
        ax.set_yticks(range(n_epochs), [f"epoch {e}" for e in range(n_epochs)])
        ax.set_xlabel("position in the epoch's order of the samples")
        ax.grid(False)
        steps = [plan.steps_in_epoch(e) for e in range(n_epochs)]
        if policy == "carry":
            counts = f"steps per epoch {', '.join(map(str, steps))}"
        else:
            counts = f"{steps[0]} step{'' if steps[0] == 1 else 's'} per epoch: {plan.describe()}"
        ax.set_title(f"N = {n}, B = {b}, remainder = {policy!r} — {counts}", loc="left")
        handles = []
        if pieces["full"]:
            sizes = sorted({int(round(x1 - x0)) for x0, x1, *_ in pieces["full"]} |
                           ({b} if policy in ("carry", "fill") else set()))
            shown = " or ".join(map(str, sizes)) if policy == "even" else str(b)
            handles.append(Patch(facecolor=ROLES["batch"], edgecolor="white",
                                 label=f"batch of {shown}"))
        if pieces["partial"]:
            handles.append(Patch(facecolor=ROLES["partial"], label=f"batch smaller than {b}"))
        if pieces["left_out"]:
            handles.append(Patch(facecolor=ROLES["left_out"], hatch="xx", label="left out"))
        if pieces["repeated"]:
            handles.append(Patch(facecolor="none", edgecolor=ROLES["repeated"], hatch="///",
                                 label="repeated samples (padding)"))
        if pieces["carried_piece"]:
            handles.append(Patch(facecolor=ROLES["batch"], edgecolor=ROLES["carried"],
                                 linewidth=1.5, label="a batch that straddles epochs"))
        if pieces["pending"]:
            handles.append(Patch(facecolor="none", edgecolor=ROLES["carried"], hatch="..",
                                 label="carried into the next epoch"))
        # Below the x label whatever the axes' height: anchored at the axes' bottom edge and
        # pushed down by a pad in font sizes (an axes-fraction offset overlapped the label of
        # a one-epoch diagram).
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  borderaxespad=3.3, ncol=min(len(handles), 3), frameon=False)
    return fig


def plot_remainder_policies(n_samples: int, batch_size: int, epochs: int = 2) -> Figure:
    """The partition diagram of every remainder policy, one above the other, on one x scale.

    Args:
        n_samples: ``N``.
        batch_size: ``B``.
        epochs: Epochs (rows) per policy.

    Returns:
        The figure, one axes per policy of :data:`companion.core.batching.REMAINDERS`, all with
        the same horizontal axis (``"fill"`` runs past ``N``; the others line up with it).

    >>> fig = plot_remainder_policies(1050, 100)
    >>> len({ax.get_xlim() for ax in fig.axes}), len(fig.axes)
    (1, 5)
    """
    from companion.core.batching import REMAINDERS, BatchPlan

    n = check_positive_int(n_samples, "n_samples")
    b = check_positive_int(batch_size, "batch_size")
    e = check_positive_int(epochs, "epochs")
    plans = [BatchPlan(n, b, remainder=policy, shuffle=False) for policy in REMAINDERS]
    right = max(_partition_right(p, _partition_pieces(p, e)) for p in plans)
    fig = figure(len(plans), 1, width=7.0, height=len(plans) * (1.45 + 0.4 * e))
    for ax, plan in zip(fig.axes, plans, strict=True):
        plot_epoch_partition(plan, epochs=e, ax=ax, xmax=right)
    return fig


def _history_xy(history: Any, x: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    if x == "epoch":
        values = history.history.get(metric)
        if values is None:
            raise ValueError(
                f"metric must be one of {sorted(history.history)} for x='epoch'; got {metric!r}"
            )
        return np.asarray(history.epoch, dtype=float)[: len(values)] + 1, np.asarray(values)
    if metric != "loss":
        raise ValueError(f"metric must be 'loss' for x={x!r} (steps record only the loss)")
    column = {"step": "step", "samples": "samples_seen", "time": "time"}[x]
    return np.asarray(history.steps[column], dtype=float), np.asarray(history.steps["loss"])


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over the last ``window`` values (fewer at the start, and for a short run).

    >>> _smooth(np.array([1.0, 3.0, 5.0]), 10).tolist()  # shorter than the window: still smoothed
    [1.0, 2.0, 3.0]
    """
    if window <= 1 or len(values) == 0:
        return values
    if len(values) < window:
        return np.cumsum(values, dtype=float) / np.arange(1, len(values) + 1)
    c = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values, dtype=float)
    out[window - 1 :] = (c[window:] - c[:-window]) / window
    out[: window - 1] = c[1:window] / np.arange(1, window)  # running mean at the start
    return out


def plot_loss_curves(
    histories: Mapping[str, Any] | Any,
    x: str = "epoch",
    *,
    metric: str = "loss",
    validation: bool = True,
    smooth: int = 1,
    logy: bool = False,
    ax: Axes | None = None,
) -> Figure:
    """Loss curves of several runs against epochs, steps, samples seen or seconds.

    Args:
        histories: ``{label: History}`` from :func:`companion.fit` (or a single History).
        x: ``"epoch"`` (per-epoch values from ``history.history``), or ``"step"``,
            ``"samples"``, ``"time"`` (per-update batch losses from ``history.steps``).
        metric: Per-epoch metric for ``x="epoch"`` (e.g. ``"loss"``, ``"accuracy"``).
        validation: With ``x="epoch"``, also draw ``"val_<metric>"`` dashed if recorded.
        smooth: Running-mean window over updates (``1`` = raw) for the per-update views.
        logy: Logarithmic loss axis.
        ax: Draw into this axes.

    Returns:
        The figure.

    >>> from companion import fit
    >>> from companion.core.datasets import two_class
    >>> from companion.core.models import SoftmaxRegression
    >>> X, y = two_class(n=100)
    >>> h = fit(SoftmaxRegression(2, 2), X, y, batch_size=10, epochs=2, seed=0, progress=False)
    >>> len(plot_loss_curves({"B=10": h}, x="samples").axes[0].lines)
    1
    """
    x = check_choice(x, "x", ("epoch", "step", "samples", "time"))
    validation = check_bool(validation, "validation")
    logy = check_bool(logy, "logy")
    window = check_positive_int(smooth, "smooth")
    runs = dict(histories) if isinstance(histories, Mapping) else {"run": histories}
    if not runs:
        raise ValueError("histories must hold at least one run; got an empty mapping")
    for label, h in runs.items():
        if not hasattr(h, "history") or not hasattr(h, "steps"):
            raise TypeError(
                f"histories[{label!r}] must be a History from companion.fit; got {type(h).__name__}"
            )
    labels = {"epoch": "epoch", "step": "update (step)", "samples": "samples seen",
              "time": "seconds"}
    with style():
        fig, ax = _axes(ax)
        for i, (label, h) in enumerate(runs.items()):
            xs, ys = _history_xy(h, x, metric)
            if x != "epoch":
                ys = _smooth(ys, window)
            ax.plot(xs, ys, color=color(i), label=str(label),
                    marker="o" if x == "epoch" and len(xs) <= 30 else None)
            val = h.history.get(f"val_{metric}") if x == "epoch" and validation else None
            if val:
                ax.plot(xs[: len(val)], val, color=color(i), linestyle="--",
                        label=f"{label} (validation)")
        ax.set_xlabel(labels[x])
        ax.set_ylabel(metric if x == "epoch" else "batch loss")
        if logy:
            # Labelled in one piece when drawn (style.power_label); a plain "{v:g}" on the minor
            # ticks labelled every one of them (0.9 0.8 0.7 ... on top of each other).
            ax.set_yscale("log")
        ax.legend()
    return fig


# ---------------------------------------------------------------------------------------------
# gradient noise
# ---------------------------------------------------------------------------------------------


def plot_variance_vs_batch(
    result: Any, *, show_cosine: bool = False, ax: Axes | None = None
) -> Figure:
    """Total variance of the batch-mean gradient against batch size, log–log, with theory.

    Markers: the Monte-Carlo mean squared error ``‖ĝ_B − G‖²`` with ±2 standard errors;
    lines: the exact ``tr Σ/B`` (with replacement) or ``tr Σ/B·(N−B)/(N−1)`` (without),
    drawn for every ``B`` between 1 and ``N``. Without replacement the value at ``B = N`` is
    exactly 0, which a log axis cannot show: it is marked with a down-pointing triangle at
    the bottom edge.

    Args:
        result: A :class:`companion.measure.noise.GradientNoise`, or a sequence of them (e.g. with
            and without replacement) drawn together.
        show_cosine: Add a second panel with the mean cosine between ``ĝ_B`` and ``G``.
        ax: Draw the variance panel into this axes (not with ``show_cosine``).

    Returns:
        The figure.

    >>> from companion.measure.noise import gradient_noise
    >>> g = np.random.default_rng(0).normal(size=(64, 3))
    >>> fig = plot_variance_vs_batch(gradient_noise(g, [1, 4, 16, 64], n_draws=50))
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_yscale()
    ('log', 'log')
    """
    from companion.measure.noise import GradientNoise

    if isinstance(result, GradientNoise):
        results = [result]
    elif isinstance(result, (list, tuple)) and result:
        results = list(result)
        for i, r in enumerate(results):
            if not isinstance(r, GradientNoise):
                raise TypeError(
                    f"result[{i}] must be a GradientNoise (from gradient_noise); "
                    f"got {type(r).__name__}"
                )
    else:
        raise TypeError(
            "result must be a GradientNoise (from gradient_noise) or a non-empty list of "
            f"them; got {result!r}"
        )
    show_cosine = check_bool(show_cosine, "show_cosine")
    if show_cosine and ax is not None:
        raise ValueError("ax must be None when show_cosine=True (two panels are drawn)")
    with style():
        # Tall enough for the legends below the axes.
        if show_cosine:
            fig = figure(1, 2, width=7.0, height=5.0)
            ax, ax_cos = fig.axes
        else:
            fig, ax = _axes(ax, width=5.6, height=5.0)
            ax_cos = None
        positive = np.concatenate([r.mse[r.mse > 0] for r in results] + [r.theory[r.theory > 0]
                                                                         for r in results])
        floor = positive.min() / 3 if positive.size else 1e-12
        for i, r in enumerate(results):
            how = "with" if r.replace else "without"
            c = color(i)
            n = r.n_samples
            dense = np.unique(np.geomspace(1, n, 200).round().astype(int))
            if r.replace:
                theory = r.trace_sigma / dense
            else:
                theory = r.trace_sigma / dense * (n - dense) / max(n - 1, 1)
            keep = theory > 0
            ax.plot(dense[keep], theory[keep], color=c, linewidth=1.5,
                    label=f"theory, {how} replacement")
            shown = r.mse > 0
            ax.errorbar(r.batch_sizes[shown], r.mse[shown], yerr=2 * r.mse_se[shown], fmt="o",
                        color=c, markerfacecolor="white", capsize=2,
                        label=f"Monte Carlo, {how} ({r.n_draws} batches per B, ±2 s.e.)")
            zero = ~shown
            if zero.any():
                ax.plot(r.batch_sizes[zero], np.full(zero.sum(), floor), marker="v",
                        linestyle="none", color=c, label="exactly 0 (B = N)")
            if ax_cos is not None:
                ax_cos.plot(r.batch_sizes, r.cosine, "o", color=c, markerfacecolor="white",
                            label=f"mean cos(ĝ, G), {how}")
                ax_cos.plot(r.batch_sizes, r.cosine_approx, color=c, linewidth=1.0,
                            label="‖G‖/√(‖G‖² + tr Cov)")
        ref = results[0]
        ax.axhline(ref.grad_sq_norm, color=ROLES["theory"], linestyle=":", linewidth=1.0,
                   label="‖G‖² (signal)")
        if np.isfinite(ref.b_simple) and 1 <= ref.b_simple <= ref.n_samples:
            ax.plot([ref.b_simple], [ref.grad_sq_norm], marker="D", linestyle="none",
                    color=ROLES["highlight"], label=f"noise = signal at B_simple ≈ "
                    f"{ref.b_simple:.3g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor * 0.8)
        ax.set_xlabel("batch size B")
        # Mathtext for the subscript; at 11.5 pt the subscript B is still 8 pt.
        ax.set_ylabel(r"tr Cov($\hat{g}_B$) = E‖$\hat{g}_B$ − G‖²", fontsize=11.5)
        ax.set_title(f"Gradient noise vs batch size (N = {ref.n_samples})", loc="left")
        # Below the axes: inside, the legend covered the theory curve and the largest B's point.
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=1)
        if ax_cos is not None:
            ax_cos.set_xscale("log")
            ax_cos.set_ylim(0, 1.02)
            ax_cos.set_xlabel("batch size B")
            ax_cos.set_ylabel("cosine to the full gradient")
            ax_cos.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=1)
    return fig


# ---------------------------------------------------------------------------------------------
# steps, examples, critical batch size
# ---------------------------------------------------------------------------------------------


def _frontier_data(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    from companion.measure.critical_batch import fit_frontier

    for attr in ("batch_sizes", "steps", "examples"):
        if not hasattr(result, attr):
            raise TypeError(
                "result must be a CriticalBatchResult or NQMScaling (with batch_sizes, steps, "
                f"examples); got {type(result).__name__}"
            )
    b = np.asarray(result.batch_sizes, dtype=float)
    s = np.asarray(result.steps, dtype=float)
    e = np.asarray(result.examples, dtype=float)
    fit = getattr(result, "fit", None)
    if fit is None:
        fit = fit_frontier(s, e)
    return b, s, e, fit


def _spread(ax: Axes, others: Sequence[Any], xy: Callable[..., tuple[Any, Any]]) -> None:
    """Each measurement of ``others`` as small light points (one label for all)."""
    for k, other in enumerate(others):
        b, s, e, _ = _frontier_data(other)
        ok = np.isfinite(s)
        x, y = xy(b[ok], s[ok], e[ok])
        ax.plot(x, y, ".", color=color(0), alpha=0.35, markersize=5,
                label="each measurement" if k == 0 else None)


def plot_frontier(result: Any, *, ax: Axes | None = None, others: Sequence[Any] = ()) -> Figure:
    """Steps against examples to reach the target, one point per batch size, with the fit.

    Draws the measured ``(S, E)`` points (labelled with ``B``), the fitted hyperbola
    ``(S/S_min − 1)(E/E_min − 1) = 1``, its asymptotes ``S = S_min`` and ``E = E_min``, and
    the point ``(2 S_min, 2 E_min)`` reached at ``B = B_crit``.

    Args:
        result: A :class:`companion.measure.critical_batch.CriticalBatchResult` or
            :class:`companion.measure.nqm.NQMScaling` (fitted on the fly).
        ax: Draw into this axes.
        others: Individual measurements behind a pooled ``result`` (for example
            ``interval.results`` of :func:`~companion.measure.critical_batch.critical_batch_interval`),
            drawn as small light points to show the spread.

    Returns:
        The figure.

    >>> from companion.measure.nqm import make_nqm, nqm_batch_scaling
    >>> res = nqm_batch_scaling(make_nqm(50), [1, 4, 16, 64, 256, 1024], target=0.1)
    >>> ax = plot_frontier(res).axes[0]
    >>> ax.get_xscale(), [t.get_text() for t in ax.texts][:2]
    ('log', ['1', '4'])
    """
    b, s, e, fit = _frontier_data(result)
    ok = np.isfinite(s)
    with style():
        fig, ax = _axes(ax)
        lo, hi = b[ok].min() / 4, b[ok].max() * 4
        ce, cs = fit.curve(lo, hi)
        ax.plot(cs, ce, color=ROLES["theory"], linewidth=1.3,
                label="fit: (S/S_min − 1)(E/E_min − 1) = 1")
        _spread(ax, others, lambda b, s, e: (s, e))
        ax.plot(s[ok], e[ok], "o", color=color(0), label="measured (best learning rate)"
                if not others else f"geometric mean of {len(others)} measurements")
        # Labels sit above-right of their point; a point close to the previous one (1347
        # beside 1024) gets its label below-left, so the two do not overlap.
        previous = None
        for bi, si, ei in zip(b[ok], s[ok], e[ok], strict=True):
            here = np.log10([si, ei])
            close = previous is not None and np.abs(here - previous).max() < 0.2
            ax.annotate(f"{int(bi)}", (si, ei), textcoords="offset points",
                        xytext=(-4, -4) if close else (4, 3), va="top" if close else "bottom",
                        ha="right" if close else "left", fontsize=8, color=color(0))
            previous = here
        ax.axvline(fit.s_min, color=PALETTE["black"], linestyle=":", linewidth=1.0)
        ax.axhline(fit.e_min, color=PALETTE["black"], linestyle=":", linewidth=1.0)
        ax.plot([2 * fit.s_min], [2 * fit.e_min], marker="*", markersize=14,
                color=ROLES["highlight"], linestyle="none",
                label=f"B_crit = E_min/S_min ≈ {fit.b_crit:.3g}")
        ax.text(fit.s_min, ax.get_ylim()[1], " S_min", va="top", fontsize=8)
        ax.text(ax.get_xlim()[1], fit.e_min, "E_min ", ha="right", va="bottom", fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("optimizer steps S to reach the target")
        ax.set_ylabel("training examples E = B·S")
        ax.set_title("Steps vs examples (points labelled with B)", loc="left")
        ax.legend(loc="upper right")
    return fig


def plot_steps_vs_batch(
    result: Any, *, ax: Axes | None = None, others: Sequence[Any] = ()
) -> Figure:
    """Steps to the target against batch size, log–log, with perfect scaling for reference.

    The dashed line ``S ∝ 1/B`` through the smallest batch size is perfect scaling (double
    ``B``, halve the steps); the fitted ``S(B) = S_min (1 + B_crit/B)`` shows where returns
    diminish and where larger batches stop helping.

    Args:
        result: A :class:`companion.measure.critical_batch.CriticalBatchResult` or
            :class:`companion.measure.nqm.NQMScaling`.
        ax: Draw into this axes.
        others: Individual measurements behind a pooled ``result``, drawn as small light
            points (as in :func:`plot_frontier`).

    Returns:
        The figure.

    >>> from companion.measure.nqm import make_nqm, nqm_batch_scaling
    >>> res = nqm_batch_scaling(make_nqm(50), [1, 4, 16, 64, 256, 1024], target=0.1)
    >>> len(plot_steps_vs_batch(res).axes[0].lines)
    4
    """
    b, s, _, fit = _frontier_data(result)
    ok = np.isfinite(s)
    with style():
        fig, ax = _axes(ax)
        # Perfect scaling is drawn down to a third of the fewest steps measured, no further:
        # below that it would only stretch the axis and cross the legend.
        b_end = min(b[ok].max(), 3 * s[ok][0] * b[ok][0] / s[ok].min())
        b_perfect = np.geomspace(b[ok].min(), b_end, 200)
        ax.plot(b_perfect, s[ok][0] * b[ok][0] / b_perfect, color=PALETTE["black"],
                linestyle="--", linewidth=1.0, label="perfect scaling S ∝ 1/B")
        bb = np.geomspace(b[ok].min(), b[ok].max(), 200)
        ax.plot(bb, fit.steps(bb), color=ROLES["theory"], linewidth=1.3,
                label=f"fit S_min(1 + B_crit/B), B_crit ≈ {fit.b_crit:.3g}")
        _spread(ax, others, lambda b, s, e: (b, s))
        ax.plot(b[ok], s[ok], "o", color=color(0), label="measured (best learning rate)"
                if not others else f"geometric mean of {len(others)} measurements")
        ax.plot([fit.b_crit], [fit.steps(fit.b_crit)], marker="*", markersize=13,
                color=ROLES["highlight"], linestyle="none", label="B_crit: twice S_min")
        ax.set_xscale("log")
        ax.set_yscale("log")
        # Head room above the data, where the legend goes: nothing drawn crosses it.
        low, high = ax.get_ylim()
        ax.set_ylim(low, max(high, 12 * float(np.max(s[ok]))))
        ax.set_xlabel("batch size B")
        ax.set_ylabel("steps to reach the target")
        ax.set_title("Perfect scaling, diminishing returns, no benefit", loc="left")
        ax.legend(loc="upper right")
    return fig


# ---------------------------------------------------------------------------------------------
# learning rate and batch size
# ---------------------------------------------------------------------------------------------


def plot_lr_sweep(
    sweep: Any,
    *,
    reference: int = 0,
    fit_up_to: int | None = None,
    fit_from: int | None = None,
    limits: Mapping[str, float] | None = None,
) -> Figure:
    """Left: loss against learning rate, one curve per ``B``. Right: tuned rate against ``B``.

    The right panel is log–log, with the linear rule (slope 1) and the square-root rule
    (slope ½) drawn through the tuned rate of ``batch_sizes[reference]``; with
    ``fit_up_to`` it also draws the least-squares line through the tuned rates of the batch
    sizes up to that value and prints its slope in the legend; ``limits`` adds labelled
    horizontal lines (e.g. a stability limit ``2/λ_max``).

    Args:
        sweep: A :class:`companion.measure.lr_scaling.LRSweep`.
        reference: Index of the batch size the rules start from.
        fit_up_to: Largest batch size included in the fitted line (None: no line).
        fit_from: Smallest batch size included in the fitted line (None: from the smallest).
        limits: ``{label: learning rate}`` drawn as horizontal lines on the right panel.

    Returns:
        The figure.

    >>> from companion.measure.lr_scaling import LRSweep
    >>> sweep = LRSweep(np.array([1, 4, 16]), np.array([0.1, 0.2, 0.4, 0.8]),
    ...                 np.array([[0.5, 0.3, 0.6, np.nan], [0.9, 0.5, 0.2, 0.4],
    ...                           [np.nan, 0.7, 0.3, 0.2]]), epochs=2, seed=0)
    >>> fig = plot_lr_sweep(sweep, fit_up_to=16, limits={"2/λ_max": 1.0})
    >>> [ax.get_xscale() for ax in fig.axes], len(fig.axes[1].lines)
    (['log', 'log'], 5)
    """
    from companion.measure.lr_scaling import LRSweep, loglog_slope

    if not isinstance(sweep, LRSweep):
        raise TypeError(f"sweep must be an LRSweep (from lr_sweep); got {type(sweep).__name__}")
    k = sweep.batch_sizes.size
    if not (isinstance(reference, (int, np.integer)) and not isinstance(reference, bool)
            and 0 <= reference < k):
        raise ValueError(f"reference must be an index in [0, {k}); got {reference!r}")
    b = sweep.batch_sizes.astype(float)
    best = sweep.best_lr
    with style():
        fig = figure(1, 2, width=9.6, height=3.8)
        ax_l, ax_r = fig.axes
        for i in range(k):
            row = sweep.loss[i]
            tried = ~np.isnan(row)
            ok = tried & np.isfinite(row)
            c = color(i)
            ax_l.plot(sweep.lrs[ok], row[ok], "o-", color=c, markersize=3.5,
                      label=f"B = {int(b[i])}")
            if sweep.best_index[i] >= 0:
                ax_l.plot([best[i]], [sweep.best_loss[i]], marker="*", markersize=11, color=c,
                          linestyle="none")
        ax_l.set_xscale("log")
        ax_l.set_yscale("log")
        ax_l.set_xlabel("learning rate η")
        ax_l.set_ylabel(f"training loss, epoch {sweep.epochs}")
        ax_l.set_title("Loss after the same number of epochs", loc="left")
        ax_l.legend(fontsize=8)
        ok = np.isfinite(best)
        bb = np.geomspace(b.min(), b.max(), 100)
        if np.isfinite(best[reference]):
            lr0, b0 = best[reference], b[reference]
            ax_r.plot(bb, lr0 * bb / b0, color=PALETTE["black"], linestyle="--",
                      linewidth=1.0, label="linear rule η ∝ B")
            ax_r.plot(bb, lr0 * np.sqrt(bb / b0), color=PALETTE["black"], linestyle=":",
                      linewidth=1.2, label="square-root rule η ∝ √B")
        if fit_up_to is not None:
            low = b.min() if fit_from is None else fit_from
            sel = ok & (b <= fit_up_to) & (b >= low)
            if sel.sum() >= 2:
                slope = loglog_slope(b[sel], best[sel])
                coef = np.polyfit(np.log(b[sel]), np.log(best[sel]), 1)
                xs = np.geomspace(b[sel].min(), b[sel].max(), 50)
                ax_r.plot(xs, np.exp(np.polyval(coef, np.log(xs))), color=ROLES["highlight"],
                          linewidth=1.2,
                          label=f"fit B = {int(low)} to {fit_up_to}: slope {slope:.2f}")
        lines = dict(limits or {})
        for j, (label, value) in enumerate(lines.items()):
            level = check_real(value, f"limits[{label!r}]", low=0.0, low_inclusive=False)
            ax_r.axhline(level, color=color(j + 2), linestyle="-.", linewidth=1.0,
                         label=str(label))
        ax_r.plot(b[ok], best[ok], "o", color=color(0), markersize=7, label="tuned η")
        ax_r.set_xscale("log")
        ax_r.set_yscale("log")
        shown = np.concatenate([best[ok], [float(v) for v in lines.values()]])
        ax_r.set_ylim(shown.min() / 3, shown.max() * 3)
        ax_r.set_xlabel("batch size B")
        ax_r.set_ylabel("tuned learning rate")
        ax_r.set_title("Tuned learning rate vs batch size", loc="left")
        ax_r.legend(fontsize=8, loc="lower right")
    return fig


# ---------------------------------------------------------------------------------------------
# hardware
# ---------------------------------------------------------------------------------------------


def plot_speed_memory(result: Any) -> Figure:
    """Time per sample and peak memory of one forward+backward pass against batch size.

    Left: microseconds per sample (solid) and per step (dashed), log–log — the per-sample
    cost falls until the vectorisation knee and then stays flat. Right: peak memory of one
    step, log–log, with a line proportional to ``B`` for reference.

    Args:
        result: A :class:`companion.measure.speed.SpeedResult`.

    Returns:
        The figure.

    >>> from companion.core.models import SoftmaxRegression
    >>> from companion.measure.speed import measure_speed
    >>> X, y = np.random.default_rng(0).random((32, 4)), np.arange(32) % 3
    >>> res = measure_speed(SoftmaxRegression(4, 3), X, y, [1, 8, 64], repeats=1, min_time=0)
    >>> [ax.get_yscale() for ax in plot_speed_memory(res).axes]
    ['log', 'log']
    """
    for attr in ("batch_sizes", "seconds_per_step", "seconds_per_sample", "peak_bytes"):
        if not hasattr(result, attr):
            raise TypeError(f"result must be a SpeedResult; got {type(result).__name__}")
    b = np.asarray(result.batch_sizes, dtype=float)
    with style():
        fig = figure(1, 2, width=9.0)
        ax_t, ax_m = fig.axes
        ax_t.plot(b, np.asarray(result.seconds_per_sample) * 1e6, "o-", color=color(0),
                  label="per sample")
        ax_t.plot(b, np.asarray(result.seconds_per_step) * 1e6, "s--", color=color(1),
                  label="per step")
        ax_t.set_xscale("log")
        ax_t.set_yscale("log")
        ax_t.set_xlabel("batch size B")
        ax_t.set_ylabel("microseconds (best of repeats)")
        ax_t.set_title("Time of one forward+backward pass", loc="left")
        ax_t.legend()
        mem = np.asarray(result.peak_bytes, dtype=float) / 1024
        ok = mem > 0
        ax_m.plot(b[ok], mem[ok], "o-", color=color(2), label="peak memory of one step")
        if ok.any():
            ax_m.plot(b[ok], mem[ok][-1] * b[ok] / b[ok][-1], color=PALETTE["black"],
                      linestyle=":", linewidth=1.0, label="∝ B")
        ax_m.set_xscale("log")
        ax_m.set_yscale("log")
        ax_m.set_xlabel("batch size B")
        ax_m.set_ylabel("KiB (tracemalloc)")
        ax_m.set_title("Memory of one step", loc="left")
        ax_m.legend()
    return fig


# ---------------------------------------------------------------------------------------------
# the 2-D landscape
# ---------------------------------------------------------------------------------------------


def _contours(ax: Axes, grid: Any) -> None:
    levels = grid.min_loss + (grid.loss.max() - grid.min_loss) * np.linspace(0, 1, 14)[1:] ** 2
    ax.contour(grid.w1, grid.w2, grid.loss, levels=levels, colors=PALETTE["black"],
               linewidths=0.6, alpha=0.35)
    # Above every path (a B = 1 cloud of thousands of steps must not hide it).
    ax.plot(*grid.optimum, marker="*", markersize=12, color=PALETTE["black"], linestyle="none",
            markeredgecolor="white", label="minimum w*", zorder=6)
    ax.set_xlim(grid.w1[0], grid.w1[-1])
    ax.set_ylim(grid.w2[0], grid.w2[-1])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(grid.feature_names[0])
    ax.set_ylabel(grid.feature_names[1])
    ax.grid(False)


def plot_gradient_directions(
    grid: Any,
    sample: Any,
    batch_sizes: Sequence[int] | None = None,
    *,
    max_arrows: int = 100,
    length: float | None = None,
) -> Figure:
    """Directions of mini-batch descent steps at one point, one panel per batch size.

    Each panel shows the loss contours, the full-batch descent direction ``−G`` (thick
    black) and up to ``max_arrows`` mini-batch directions ``−ĝ_B`` (thin, coloured), all
    scaled by the same factor, so both direction and length are comparable across panels.

    Args:
        grid: A :class:`companion.measure.landscape.LossGrid`.
        sample: A :class:`companion.measure.landscape.GradientSample` taken at a point of the grid.
        batch_sizes: Which batch sizes of ``sample`` to draw (default all).
        max_arrows: Mini-batch arrows per panel.
        length: Drawn length of ``−G`` in weight units (default a quarter of the grid width).

    Returns:
        The figure.

    >>> from companion.measure.landscape import digits_problem, loss_grid, minibatch_gradients
    >>> p = digits_problem()
    >>> s = minibatch_gradients(p, [-0.5, -0.5], [1, 32, p.n_samples], n_draws=20)
    >>> len(plot_gradient_directions(loss_grid(p, n=21), s).axes)
    3
    """
    for attr in ("by_batch", "full", "point"):
        if not hasattr(sample, attr):
            raise TypeError(f"sample must be a GradientSample; got {type(sample).__name__}")
    sizes = list(sample.by_batch) if batch_sizes is None else [int(b) for b in batch_sizes]
    missing = [b for b in sizes if b not in sample.by_batch]
    if missing or not sizes:
        raise ValueError(
            f"batch_sizes must be among the sample's {sorted(sample.by_batch)}; got {sizes}"
        )
    k = check_positive_int(max_arrows, "max_arrows")
    width = float(grid.w1[-1] - grid.w1[0])
    g_norm = float(np.linalg.norm(sample.full))
    scale = (0.25 * width if length is None else float(length)) / max(g_norm, 1e-300)
    cosines = sample.mean_cosine()
    with style():
        fig = figure(1, len(sizes), width=3.6 * len(sizes), height=3.8, sharey=True)
        for i, (ax, b) in enumerate(zip(fig.axes, sizes, strict=True)):
            _contours(ax, grid)
            px, py = sample.point
            arrows = -sample.by_batch[b][:k] * scale
            c = color(i)
            ax.quiver(np.full(len(arrows), px), np.full(len(arrows), py), arrows[:, 0],
                      arrows[:, 1], angles="xy", scale_units="xy", scale=1, color=c,
                      alpha=0.35, width=0.006)
            full = -sample.full * scale
            ax.quiver([px], [py], [full[0]], [full[1]], angles="xy", scale_units="xy",
                      scale=1, color=PALETTE["black"], width=0.012, label="−G (full batch)")
            ax.plot([px], [py], "o", color=PALETTE["black"], markersize=4)
            name = "full batch" if b == sample.n_samples else f"B = {b}"
            ax.set_title(f"{name}: mean cos to G = {cosines[b]:.2f}", loc="left", fontsize=10)
            if i:
                ax.set_ylabel("")
        fig.axes[0].legend(loc="lower right")
    return fig


def plot_paths(
    grid: Any, paths: Sequence[Any], *, loss_panel: bool = True, max_points: int = 4000
) -> Figure:
    """Paths of GD, mini-batch SGD and SGD over the loss contours (and their losses).

    Left: each path from the common start (circle) with a dot at the end of every epoch.
    Right (``loss_panel=True``): the full-batch loss along each path against epochs, log
    scale, with the minimum ``L(w*)`` dotted — same number of examples, very different
    numbers of steps.

    Args:
        grid: A :class:`companion.measure.landscape.LossGrid`.
        paths: :class:`companion.measure.landscape.Path` objects.
        loss_panel: Add the loss-versus-epochs panel.
        max_points: Thin long paths to at most this many drawn points.

    Returns:
        The figure.

    >>> from companion.measure.landscape import descent_paths, digits_problem, loss_grid
    >>> p = digits_problem()
    >>> fig = plot_paths(loss_grid(p, n=21), descent_paths(p, epochs=1))
    >>> len(fig.axes), fig.axes[1].get_yscale()
    (2, 'log')
    """
    paths = list(paths)
    if not paths or not all(hasattr(q, "points") and hasattr(q, "epoch_ends") for q in paths):
        raise TypeError("paths must be a non-empty sequence of landscape.Path objects")
    loss_panel = check_bool(loss_panel, "loss_panel")
    cap = check_positive_int(max_points, "max_points")
    with style():
        fig = figure(1, 2 if loss_panel else 1, width=9.6 if loss_panel else 5.0, height=4.4)
        ax = fig.axes[0]
        _contours(ax, grid)
        for i, q in enumerate(paths):
            stride = max(1, len(q.points) // cap)
            pts = q.points[::stride]
            pts = np.vstack([pts, q.points[-1]]) if stride > 1 else pts
            c = color(i)
            thin = q.steps > 200
            ax.plot(pts[:, 0], pts[:, 1], color=c, linewidth=0.6 if thin else 1.6,
                    alpha=0.55 if thin else 1.0, label=f"{q.label}: {q.steps} steps",
                    marker=None if thin else ".", zorder=2 if thin else 3)
            ends = q.points[q.epoch_ends]
            # End-of-epoch dots above the noisy paths; the few-step paths' dots above the rest.
            ax.plot(ends[:, 0], ends[:, 1], "o", color=c, markeredgecolor="white",
                    markersize=6 if thin else 7, zorder=4 if thin else 5)
        ax.plot(*paths[0].points[0], "o", color=PALETTE["black"], markersize=7,
                markerfacecolor="white", label="start")
        ax.legend(loc="upper left", fontsize=8)
        if loss_panel:
            ax2 = fig.axes[1]
            floor = float(grid.min_loss)
            for i, q in enumerate(paths):
                n_steps = q.steps
                per_epoch = np.diff(np.concatenate([[0], q.epoch_ends]))
                # Epoch coordinate of every iterate: steps inside epoch e map to [e, e+1].
                xs = np.concatenate([[0.0]] + [
                    e + np.arange(1, k + 1) / k for e, k in enumerate(per_epoch)
                ])[: n_steps + 1]
                ax2.plot(xs, q.losses - floor + 1e-12, color=color(i), label=q.label,
                         linewidth=0.8 if n_steps > 200 else 1.6)
            ax2.set_yscale("log")
            ax2.set_xlabel("epochs (passes over the data)")
            ax2.set_ylabel("L(w) − L(w*)")
            ax2.set_title("Loss above the minimum", loc="left")
            ax2.legend(fontsize=8)
    return fig
