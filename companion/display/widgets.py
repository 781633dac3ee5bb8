"""Interactive explorers for the chapters, each with a static twin for the printed book.

Three explorers, built with ipywidgets:

* :func:`epoch_planner` — sliders for ``N`` and ``B``, a remainder-policy dropdown and the
  number of epochs → the partition diagram and the counts (steps, left out, repeated);
* :func:`gradient_explorer` — a batch-size slider → mini-batch descent directions on the
  two-weight digits problem of :mod:`companion.measure.landscape`;
* :func:`training_explorer` — batch size and learning rate → loss curves of softmax
  regression on digits (the last three runs stay on the plot for comparison).

Each explorer is a ``VBox`` of controls, a text summary and an ``ipywidgets.Image`` that
holds the current figure as PNG. Rendering into an Image (rather than displaying into an
``Output`` widget) works without any frontend: the callbacks run, the PNG bytes change, and
tests can check both. It also means a notebook executed by nbclient (which myst-nb and
jupyter-cache use, and which stores widget state in the notebook by default) carries the
picture of the default state inside the widget state.

**Static twins.** A web page has no kernel: an embedded widget cannot recompute anything,
and it only renders if the page loads the ipywidgets HTML manager (from a CDN). The reliable
pattern for a chapter is therefore: one cell with ``epoch_planner_figure()`` (a plain
matplotlib figure that every output format shows), then one cell with ``epoch_planner()``
for readers running the notebook. ``static=True`` makes an explorer return its static twin;
``static=None`` (default) returns the widget when running inside an IPython kernel and the
static figure otherwise (e.g. a plain Python script) — a kernel is the best available sign
of a frontend, but an executing notebook also has one, hence the separate static cell.

>>> fig = epoch_planner_figure(n_samples=1050, batch_size=100)
>>> explorer = epoch_planner(static=False)
>>> explorer.controls["batch_size"].value = 64
>>> "17 steps" in explorer.summary.value
True
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from companion.core._validation import (
    check_bool,
    check_choice,
    check_positive_int,
    check_real,
    check_seed,
)

_PLANNER_MAX_N = 5000


def has_kernel() -> bool:
    """True when running inside an IPython kernel (Jupyter, VS Code, nbclient).

    >>> has_kernel()
    False
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _static(static: Any) -> bool:
    if static is None:
        return not has_kernel()
    return check_bool(static, "static")


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes (Agg canvas, no pyplot, nothing global changed).

    >>> from companion.display.style import figure
    >>> figure_png(figure())[:4]
    b'\\x89PNG'
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=check_positive_int(dpi, "dpi"))
    return buf.getvalue()


def _explorer_class() -> type:
    import ipywidgets as widgets

    class Explorer(widgets.VBox):
        """Controls, a summary line and the current figure as an ``ipywidgets.Image``.

        Attributes:
            controls: The input widgets by name.
            summary: An ``HTML`` widget with the numbers behind the picture.
            image: The ``Image`` widget holding the figure as PNG.
            figure: The last matplotlib figure drawn.
        """

        def __init__(
            self,
            controls: dict[str, Any],
            draw: Callable[..., tuple[Figure | None, str]],
            extra: list[Any] | None = None,
        ) -> None:
            self.controls = controls
            self.summary = widgets.HTML()
            self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
            self.figure: Figure | None = None
            self._draw = draw
            row = widgets.HBox(list(controls.values()) + list(extra or []),
                               layout=widgets.Layout(flex_flow="row wrap"))
            super().__init__([row, self.summary, self.image])
            for w in controls.values():
                w.observe(self._on_change, names="value")
            self.update()

        def _repr_mimebundle_(self, **kwargs: Any) -> Any:
            # Frontends without the widget manager (static viewers) fall back to the picture.
            bundle = super()._repr_mimebundle_(**kwargs)
            if isinstance(bundle, dict) and self.image.value:
                png = base64.b64encode(self.image.value).decode("ascii")
                bundle = {**bundle, "image/png": png}
            return bundle

        def _on_change(self, _change: dict[str, Any]) -> None:
            self.update()

        def update(self) -> None:
            """Redraw from the current control values."""
            values = {name: w.value for name, w in self.controls.items()}
            fig, text = self._draw(**values)
            self.summary.value = text
            if fig is not None:
                self.figure = fig
                self.image.value = figure_png(fig)

    return Explorer


# ---------------------------------------------------------------------------------------------
# epoch planner
# ---------------------------------------------------------------------------------------------


def _plan_summary(plan: Any, epochs: int) -> str:
    n, b = plan.n_samples, plan.batch_size
    steps = [plan.steps_in_epoch(e) for e in range(epochs)]
    left = len(plan.left_out(0))
    repeated = len(plan.repeated(0))
    parts = [
        f"<b>{steps[0]} steps</b> in epoch 0 ({plan.describe()})",
        f"{plan.total_steps(epochs)} steps in {epochs} epoch{'s' if epochs > 1 else ''}",
        f"N mod B = {n % b}",
    ]
    if left:
        parts.append(f"{left} sample{'s' if left > 1 else ''} not used in epoch 0")
    if repeated:
        parts.append(f"{repeated} sample{'s' if repeated > 1 else ''} seen twice in epoch 0")
    return " · ".join(parts)


def epoch_planner_figure(
    n_samples: int = 1050, batch_size: int = 100, remainder: str = "keep", epochs: int = 2
) -> Figure:
    """The static partition diagram for one setting (the epoch planner's picture).

    Args:
        n_samples: ``N``.
        batch_size: ``B``.
        remainder: A policy of :data:`companion.core.batching.REMAINDERS`.
        epochs: Epochs (rows) to draw.

    Returns:
        The figure of :func:`companion.display.plots.plot_epoch_partition` (samples in order).

    >>> from companion.display.plots import count_polygons
    >>> count_polygons(epoch_planner_figure(1050, 100, "drop", epochs=1), "batch")
    10
    """
    from companion.core.batching import BatchPlan
    from companion.display.plots import plot_epoch_partition

    plan = BatchPlan(n_samples, batch_size, remainder=remainder, shuffle=False)
    return plot_epoch_partition(plan, epochs=epochs)


def epoch_planner(
    n_samples: int = 1050,
    batch_size: int = 100,
    remainder: str = "keep",
    epochs: int = 2,
    *,
    static: bool | None = None,
) -> Any:
    """Sliders for ``N`` and ``B``, a remainder dropdown and epochs → partition diagram.

    Args:
        n_samples: Initial ``N`` (slider from 1 to 5000).
        batch_size: Initial ``B`` (slider from 1 to 2048).
        remainder: Initial policy.
        epochs: Initial number of epochs drawn (1 to 3).
        static: ``True`` for the static figure, ``False`` for the widget, ``None`` to decide
            by :func:`has_kernel`.

    Returns:
        An ``Explorer`` widget (``.controls``, ``.summary``, ``.image``, ``.figure``), or the
        static figure.

    >>> w = epoch_planner(static=False)
    >>> w.controls["remainder"].value = "drop"
    >>> "50 samples not used" in w.summary.value
    True
    """
    from companion.core.batching import REMAINDERS, BatchPlan

    n = check_positive_int(n_samples, "n_samples")
    b = check_positive_int(batch_size, "batch_size")
    policy = check_choice(remainder, "remainder", REMAINDERS)
    e = check_positive_int(epochs, "epochs")
    if _static(static):
        return epoch_planner_figure(n, b, policy, e)
    import ipywidgets as widgets

    controls = {
        "n_samples": widgets.IntSlider(value=min(n, _PLANNER_MAX_N), min=1, max=_PLANNER_MAX_N,
                                       description="N", continuous_update=False),
        "batch_size": widgets.IntSlider(value=min(b, 2048), min=1, max=2048, description="B",
                                        continuous_update=False),
        "remainder": widgets.Dropdown(options=list(REMAINDERS), value=policy,
                                      description="remainder"),
        "epochs": widgets.IntSlider(value=min(e, 3), min=1, max=3, description="epochs",
                                    continuous_update=False),
    }

    def draw(n_samples: int, batch_size: int, remainder: str, epochs: int) -> tuple:
        try:
            plan = BatchPlan(n_samples, batch_size, remainder=remainder, shuffle=False)
        except ValueError as exc:
            return None, f"<span style='color:#D55E00'>{exc}</span>"
        from companion.display.plots import plot_epoch_partition

        return plot_epoch_partition(plan, epochs=epochs), _plan_summary(plan, epochs)

    return _explorer_class()(controls, draw)


# ---------------------------------------------------------------------------------------------
# gradient explorer
# ---------------------------------------------------------------------------------------------

_DEFAULT_POINT = (-0.7, -0.8)


def gradient_explorer_figure(
    batch_size: int = 32,
    *,
    point: Any = _DEFAULT_POINT,
    n_draws: int = 100,
    replace: bool = False,
    seed: int | None = 0,
) -> Figure:
    """Static picture: descent directions of ``n_draws`` batches of size ``batch_size``.

    Uses :func:`companion.measure.landscape.digits_problem`; the full-batch direction is drawn in
    black for comparison.

    Args:
        batch_size: ``B`` (1 to 1797).
        point: Where the gradients are taken.
        n_draws: Batches drawn.
        replace: Draw with replacement.
        seed: Seed of the draws.

    Returns:
        The figure of :func:`companion.display.plots.plot_gradient_directions`.

    >>> len(gradient_explorer_figure(8, n_draws=10).axes)
    1
    """
    from companion.display.plots import plot_gradient_directions
    from companion.measure.landscape import digits_problem, loss_grid, minibatch_gradients

    problem = digits_problem()
    sample = minibatch_gradients(problem, point, [batch_size], n_draws, replace=replace,
                                 seed=seed)
    return plot_gradient_directions(loss_grid(problem, n=61), sample)


def gradient_explorer(
    batch_size: int = 32, *, n_draws: int = 100, seed: int | None = 0, static: bool | None = None
) -> Any:
    """A batch-size slider → mini-batch descent directions on the two-weight digits problem.

    Args:
        batch_size: Initial ``B`` (slider over powers of two and ``N = 1797``).
        n_draws: Batches drawn per setting.
        seed: Seed of the draws.
        static: ``True``/``False``/``None`` as in :func:`epoch_planner`.

    Returns:
        An ``Explorer`` widget or the static figure.

    >>> w = gradient_explorer(static=False, n_draws=10)
    >>> w.controls["batch_size"].value = 1
    >>> "B = 1" in w.summary.value
    True
    """
    from companion.display.plots import plot_gradient_directions
    from companion.measure.landscape import digits_problem, loss_grid, minibatch_gradients
    from companion.measure.sampling import powers_of_two

    b = check_positive_int(batch_size, "batch_size")
    r = check_positive_int(n_draws, "n_draws")
    s = check_seed(seed)
    if _static(static):
        return gradient_explorer_figure(b, n_draws=r, seed=s)
    import ipywidgets as widgets

    problem = digits_problem()
    grid = loss_grid(problem, n=61)
    options = powers_of_two(problem.n_samples)
    start = min(options, key=lambda o: abs(np.log(o) - np.log(b)))
    controls = {
        "batch_size": widgets.SelectionSlider(options=options, value=start, description="B",
                                              continuous_update=False),
        "replace": widgets.Checkbox(value=False, description="with replacement"),
    }

    def draw(batch_size: int, replace: bool) -> tuple:
        sample = minibatch_gradients(problem, _DEFAULT_POINT, [batch_size], r, replace=replace,
                                     seed=s)
        cos = sample.mean_cosine()[batch_size]
        spread = float(np.linalg.norm(sample.by_batch[batch_size] - sample.full, axis=1).mean())
        text = (f"B = {batch_size}: mean cosine to the full gradient {cos:.2f}, mean distance "
                f"‖ĝ − G‖ = {spread:.3f} (‖G‖ = {np.linalg.norm(sample.full):.3f})")
        return plot_gradient_directions(grid, sample), text

    return _explorer_class()(controls, draw)


# ---------------------------------------------------------------------------------------------
# training explorer
# ---------------------------------------------------------------------------------------------


def _train(batch_size: int, lr: float, epochs: int, seed: int | None) -> Any:
    from companion.core.datasets import digits
    from companion.core.models import SoftmaxRegression
    from companion.core.optim import SGD
    from companion.core.training import fit

    data = digits()
    model = SoftmaxRegression(data.X_train.shape[1], 10, seed=0)
    return fit(model, data.X_train, data.y_train, batch_size=batch_size, epochs=epochs,
               optimizer=SGD(lr), seed=seed, validation_data=(data.X_test, data.y_test),
               progress=False)


def training_explorer_figure(
    batch_size: int = 32, lr: float = 0.5, epochs: int = 5, *, x: str = "epoch",
    seed: int | None = 0
) -> Figure:
    """Static picture: loss curves of one softmax-regression run on digits.

    Args:
        batch_size: ``B``.
        lr: SGD learning rate.
        epochs: Epochs.
        x: Horizontal axis, as in :func:`companion.display.plots.plot_loss_curves`.
        seed: Seed of the shuffling.

    Returns:
        The figure.

    >>> len(training_explorer_figure(256, epochs=1).axes[0].lines)
    2
    """
    from companion.display.plots import plot_loss_curves

    h = _train(check_positive_int(batch_size, "batch_size"),
               check_real(lr, "lr", low=0.0, low_inclusive=False),
               check_positive_int(epochs, "epochs"), check_seed(seed))
    return plot_loss_curves({f"B={batch_size}, lr={lr:g}": h}, x=x)


def training_explorer(
    batch_size: int = 32,
    lr: float = 0.5,
    epochs: int = 5,
    *,
    seed: int | None = 0,
    keep: int = 3,
    static: bool | None = None,
) -> Any:
    """Batch size and learning rate → loss curves of softmax regression on digits.

    The last ``keep`` runs stay on the plot, so moving a slider compares with what came
    before. The horizontal axis can be epochs, steps, samples seen or seconds.

    Args:
        batch_size: Initial ``B`` (slider over powers of two and ``N = 1347``).
        lr: Initial learning rate (log slider from 0.001 to 10).
        epochs: Epochs per run (1 to 20).
        seed: Seed of the shuffling (the same for every run).
        keep: Number of runs shown at once.
        static: ``True``/``False``/``None`` as in :func:`epoch_planner`.

    Returns:
        An ``Explorer`` widget or the static figure.

    >>> w = training_explorer(batch_size=512, epochs=1, static=False)
    >>> w.controls["lr"].value = 1.0
    >>> len(w.runs)
    2
    """
    from companion.display.plots import plot_loss_curves
    from companion.measure.sampling import powers_of_two

    b = check_positive_int(batch_size, "batch_size")
    rate = check_real(lr, "lr", low=0.0, low_inclusive=False)
    n_epochs = check_positive_int(epochs, "epochs")
    s = check_seed(seed)
    k = check_positive_int(keep, "keep")
    if _static(static):
        return training_explorer_figure(b, rate, n_epochs, seed=s)
    import ipywidgets as widgets

    options = powers_of_two(1347)
    start = min(options, key=lambda o: abs(np.log(o) - np.log(b)))
    controls = {
        "batch_size": widgets.SelectionSlider(options=options, value=start, description="B",
                                              continuous_update=False),
        "lr": widgets.FloatLogSlider(value=rate, base=10, min=-3, max=1, step=0.25,
                                     description="lr", continuous_update=False),
        "epochs": widgets.IntSlider(value=min(n_epochs, 20), min=1, max=20,
                                    description="epochs", continuous_update=False),
        "x": widgets.Dropdown(options=["epoch", "step", "samples", "time"], value="epoch",
                              description="x axis"),
    }
    runs: dict[str, Any] = {}

    def draw(batch_size: int, lr: float, epochs: int, x: str) -> tuple:
        label = f"B={batch_size}, lr={lr:.3g}, {epochs} epochs"
        if label not in runs:
            runs[label] = _train(batch_size, lr, epochs, s)
        else:  # move it to the end (most recent)
            runs[label] = runs.pop(label)
        while len(runs) > k:
            runs.pop(next(iter(runs)))
        h = runs[label]
        last = {m: v[-1] for m, v in h.history.items() if v}
        text = (f"{label}: {len(h.steps)} steps; last epoch loss {last.get('loss', np.nan):.3f}"
                f", validation loss {last.get('val_loss', np.nan):.3f}, validation accuracy "
                f"{last.get('val_accuracy', np.nan):.3f}")
        if h.stop_reason != "completed":
            text += f" — stopped: {h.stop_reason} {h.message}"
        return plot_loss_curves(dict(runs), x=x, logy=x != "epoch", smooth=10), text

    explorer = _explorer_class()(controls, draw)
    explorer.runs = runs
    return explorer
