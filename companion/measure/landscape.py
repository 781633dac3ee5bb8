"""A two-parameter problem from real data, small enough to draw: loss contours, gradient
directions per batch size, and the paths of GD, mini-batch SGD and SGD.

The problem (:func:`digits_problem`): for each of scikit-learn's 1797 digit images, predict
the amount of ink in its central 4×4 block from the amount of ink in its left half and in
its right half, by least squares without intercept, everything standardised (zero mean, unit
variance). The model has exactly two weights ``w = (w_left, w_right)``, the loss

    ``L(w) = (1/2N) Σ_i (x_iᵀ w − t_i)²``

is a quadratic bowl whose minimum ``w*`` is known in closed form, and the per-sample
gradients ``g_i(w) = (x_iᵀ w − t_i) x_i`` are as noisy as real data makes them (the two
features explain only about a quarter of the target's variance). The two features are
negatively correlated (−0.54), so the bowl is an ellipse about 3.3 times longer than wide.

>>> p = digits_problem()
>>> p.n_samples, p.optimum.round(3).tolist()
(1797, [0.499, 0.522])
>>> bool(np.allclose(p.grad(p.optimum), 0))
True
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from companion.core._validation import (
    check_array,
    check_batch_sizes,
    check_bool,
    check_positive_int,
    check_real,
    check_same_length,
    check_seed,
)
from companion.measure.sampling import draw_batch_means


def _check_point(w: Any, name: str = "w") -> np.ndarray:
    arr = check_array(w, name, ndim=1, dtype_kind="f")
    if arr.shape != (2,):
        raise ValueError(f"{name} must be a point with 2 coordinates; got shape {arr.shape}")
    return arr.astype(np.float64)


@dataclass(frozen=True)
class Problem2D:
    """Least squares with two weights and no intercept: ``L(w) = (1/2N) Σ (x_iᵀ w − t_i)²``.

    Attributes:
        X: Inputs, shape ``(N, 2)``.
        y: Targets, shape ``(N,)``.
        feature_names: Names of the two weights (for axis labels).
        target_name: Name of the target.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, str] = ("w₁", "w₂")
    target_name: str = "t"
    hessian: np.ndarray = field(init=False, repr=False)
    optimum: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        X = check_array(self.X, "X", ndim=2, dtype_kind="f").astype(np.float64)
        y = check_array(self.y, "y", ndim=1, dtype_kind="f").astype(np.float64)
        if X.shape[1] != 2:
            raise ValueError(f"X must have exactly 2 columns; got shape {X.shape}")
        check_same_length(X, y, "X", "y")
        if len(X) < 2:
            raise ValueError(f"X must have at least 2 rows; got {len(X)}")
        hess = X.T @ X / len(X)
        if np.linalg.cond(hess) > 1e12:
            raise ValueError("X must have two linearly independent columns (XᵀX is singular)")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "hessian", hess)
        object.__setattr__(self, "optimum", np.linalg.solve(hess, X.T @ y / len(X)))

    @property
    def n_samples(self) -> int:
        """Number of rows ``N``."""
        return len(self.X)

    @property
    def min_loss(self) -> float:
        """``L(w*)``."""
        return float(self.loss(self.optimum))

    @property
    def max_lr(self) -> float:
        """Full-batch gradient descent is stable for ``lr < 2 / λ_max(H)``."""
        return float(2.0 / np.linalg.eigvalsh(self.hessian)[-1])

    def loss(self, w: Any) -> np.ndarray:
        """``L(w)`` for one point (shape ``(2,)``) or a stack of points (shape ``(..., 2)``).

        >>> p = Problem2D(np.eye(2), np.array([1.0, 2.0]))
        >>> float(p.loss([0.0, 0.0])), p.loss(np.array([[1.0, 2.0], [0.0, 0.0]])).tolist()
        (1.25, [0.0, 1.25])
        """
        arr = check_array(w, "w", dtype_kind="f")
        if arr.ndim == 0 or arr.shape[-1] != 2:
            raise ValueError(f"w must have last dimension 2; got shape {arr.shape}")
        # Expand the square: ½ wᵀHw − bᵀw + ½ mean(t²), exact for a quadratic.
        b = self.X.T @ self.y / self.n_samples
        c = 0.5 * float(self.y @ self.y) / self.n_samples
        quad = 0.5 * np.einsum("...i,ij,...j->...", arr, self.hessian, arr)
        return quad - arr @ b + c

    def residuals(self, w: Any) -> np.ndarray:
        """``x_iᵀ w − t_i`` for every row."""
        return self.X @ _check_point(w) - self.y

    def grad(self, w: Any) -> np.ndarray:
        """Full-batch gradient ``(1/N) Σ_i (x_iᵀ w − t_i) x_i``.

        >>> Problem2D(np.eye(2), np.array([1.0, 2.0])).grad([0.0, 0.0]).tolist()
        [-0.5, -1.0]
        """
        return self.X.T @ self.residuals(w) / self.n_samples

    def per_sample_grads(self, w: Any) -> np.ndarray:
        """Per-sample gradients ``(x_iᵀ w − t_i) x_i``, shape ``(N, 2)``.

        >>> Problem2D(np.eye(2), np.array([1.0, 2.0])).per_sample_grads([0.0, 0.0]).tolist()
        [[-1.0, -0.0], [-0.0, -2.0]]
        """
        return self.residuals(w)[:, None] * self.X


def _standardise(a: np.ndarray) -> np.ndarray:
    return (a - a.mean()) / a.std()


@functools.lru_cache(maxsize=1)
def _digit_images() -> np.ndarray:
    from sklearn.datasets import load_digits

    images = load_digits().images
    images.setflags(write=False)
    return images


def digits_problem() -> Problem2D:
    """The two-weight least-squares problem on all 1797 digits (see the module docstring).

    Features: ink (sum of pixel values) in the left half and in the right half of each 8×8
    image; target: ink in the central 4×4 block; each standardised over the 1797 images.

    Returns:
        A :class:`Problem2D`.

    >>> p = digits_problem()
    >>> round(float(np.corrcoef(p.X.T)[0, 1]), 2), round(1 - 2 * p.min_loss, 2)  # corr, R²
    (-0.54, 0.24)
    """
    images = _digit_images()
    left = images[:, :, :4].sum(axis=(1, 2))
    right = images[:, :, 4:].sum(axis=(1, 2))
    centre = images[:, 2:6, 2:6].sum(axis=(1, 2))
    X = np.column_stack([_standardise(left), _standardise(right)])
    return Problem2D(
        X,
        _standardise(centre),
        feature_names=("weight of left-half ink", "weight of right-half ink"),
        target_name="ink in the central 4×4 block",
    )


@dataclass(frozen=True)
class LossGrid:
    """The loss on a rectangular grid of weights, for contour plots.

    Attributes:
        w1: Grid values of the first weight, shape ``(n,)``.
        w2: Grid values of the second weight, shape ``(n,)``.
        loss: ``loss[j, i] = L(w1[i], w2[j])`` (rows follow ``w2``, as ``contour`` expects).
        optimum: ``w*``.
        min_loss: ``L(w*)``.
        feature_names: Axis labels.
    """

    w1: np.ndarray
    w2: np.ndarray
    loss: np.ndarray
    optimum: np.ndarray
    min_loss: float
    feature_names: tuple[str, str]


def loss_grid(
    problem: Problem2D,
    *,
    center: Any = None,
    half_width: float = 1.5,
    n: int = 101,
) -> LossGrid:
    """Evaluate the loss on an ``n × n`` grid around ``center`` (default the optimum).

    Args:
        problem: The problem.
        center: Centre of the square; default ``w*``.
        half_width: Half the side of the square.
        n: Grid points per side.

    Returns:
        A :class:`LossGrid`.

    >>> g = loss_grid(digits_problem(), n=5)
    >>> g.loss.shape, bool(g.loss.min() >= g.min_loss)
    ((5, 5), True)
    """
    p = _check_problem(problem)
    c = p.optimum if center is None else _check_point(center, "center")
    h = check_real(half_width, "half_width", low=0.0, low_inclusive=False)
    k = check_positive_int(n, "n")
    w1 = np.linspace(c[0] - h, c[0] + h, k)
    w2 = np.linspace(c[1] - h, c[1] + h, k)
    mesh = np.stack(np.meshgrid(w1, w2), axis=-1)
    return LossGrid(w1, w2, p.loss(mesh), p.optimum.copy(), p.min_loss, p.feature_names)


def _check_problem(problem: Any) -> Problem2D:
    if not isinstance(problem, Problem2D):
        raise TypeError(
            f"problem must be a Problem2D (e.g. digits_problem()); got {type(problem).__name__}"
        )
    return problem


@dataclass(frozen=True)
class GradientSample:
    """Mini-batch gradients at one point, for several batch sizes.

    Attributes:
        point: Where the gradients were taken.
        full: The full-batch gradient ``G``.
        by_batch: For each batch size, an array ``(n_draws, 2)`` of batch-mean gradients.
        replace: Whether batches were drawn with replacement.
        n_samples: ``N``.
    """

    point: np.ndarray
    full: np.ndarray
    by_batch: dict[int, np.ndarray]
    replace: bool
    n_samples: int

    def mean_cosine(self) -> dict[int, float]:
        """Average cosine between the batch gradients and ``G``, per batch size.

        >>> s = minibatch_gradients(digits_problem(), [0.0, 0.0], [1797], n_draws=3)
        >>> s.mean_cosine()
        {1797: 1.0}
        """
        out = {}
        g_norm = float(np.linalg.norm(self.full))
        for b, grads in self.by_batch.items():
            norms = np.linalg.norm(grads, axis=1) * g_norm
            cos = np.divide(grads @ self.full, norms, out=np.zeros(len(grads)), where=norms > 0)
            out[b] = round(float(cos.mean()), 12)
        return out


def minibatch_gradients(
    problem: Problem2D,
    point: Any,
    batch_sizes: Any = (1, 32),
    n_draws: int = 200,
    *,
    replace: bool = False,
    seed: int | None = 0,
) -> GradientSample:
    """Draw ``n_draws`` random batches per batch size and return their mean gradients at ``point``.

    Args:
        problem: The problem.
        point: The weights ``w`` at which to take the gradients.
        batch_sizes: Batch sizes (``≤ N`` without replacement); ``N`` gives the full
            gradient every time.
        n_draws: Batches per batch size.
        replace: Draw rows with replacement or not.
        seed: Seed of ``np.random.default_rng``.

    Returns:
        A :class:`GradientSample`.

    >>> s = minibatch_gradients(digits_problem(), [0.0, 0.0], [1, 32], n_draws=10)
    >>> {b: g.shape for b, g in s.by_batch.items()}
    {1: (10, 2), 32: (10, 2)}
    """
    p = _check_problem(problem)
    w = _check_point(point, "point")
    replace = check_bool(replace, "replace")
    sizes = check_batch_sizes(batch_sizes, "batch_sizes", n_samples=None if replace else p.n_samples)
    r = check_positive_int(n_draws, "n_draws")
    rng = np.random.default_rng(check_seed(seed))
    g = p.per_sample_grads(w)
    by_batch = {int(b): draw_batch_means(rng, g, int(b), r, replace) for b in sizes}
    return GradientSample(w, g.mean(axis=0), by_batch, replace, p.n_samples)


@dataclass(frozen=True)
class Path:
    """The iterates of one optimisation run on a :class:`Problem2D`.

    Attributes:
        label: Legend label, e.g. ``"SGD (B=1)"``.
        batch_size: Batch size used.
        lr: Learning rate.
        points: Iterates ``w_0, w_1, …``, shape ``(steps + 1, 2)``.
        losses: Full-batch loss at every iterate.
        epoch_ends: Index into ``points`` of the iterate after each epoch.
    """

    label: str
    batch_size: int
    lr: float
    points: np.ndarray
    losses: np.ndarray
    epoch_ends: np.ndarray

    @property
    def steps(self) -> int:
        """Number of updates."""
        return len(self.points) - 1


def descent_path(
    problem: Problem2D,
    start: Any,
    batch_size: int,
    lr: float,
    epochs: int = 3,
    *,
    remainder: str = "keep",
    seed: int | None = 0,
    label: str | None = None,
) -> Path:
    """Run mini-batch SGD from ``start`` for ``epochs`` epochs, batches from a shuffled BatchPlan.

    Args:
        problem: The problem.
        start: Starting weights.
        batch_size: ``B`` (``N`` gives full-batch gradient descent).
        lr: Learning rate.
        epochs: Passes over the data.
        remainder: Remainder policy of the :class:`~companion.core.batching.BatchPlan`.
        seed: Seed of the shuffling.
        label: Legend label (default ``"B=<batch_size>"``).

    Returns:
        A :class:`Path`.

    >>> p = digits_problem()
    >>> path = descent_path(p, [-1.0, -1.0], batch_size=p.n_samples, lr=0.5, epochs=3)
    >>> path.steps, path.epoch_ends.tolist(), bool(path.losses[-1] < path.losses[0])
    (3, [1, 2, 3], True)
    """
    from companion.core.batching import BatchPlan

    p = _check_problem(problem)
    w = _check_point(start, "start").copy()
    rate = check_real(lr, "lr", low=0.0, low_inclusive=False)
    n_epochs = check_positive_int(epochs, "epochs")
    plan = BatchPlan(p.n_samples, batch_size, remainder=remainder, shuffle=True, seed=check_seed(seed))
    points = [w.copy()]
    ends = []
    X, y = p.X, p.y
    for e in range(n_epochs):
        for idx in plan.epoch(e):
            Xb = X[idx]
            w -= rate * (Xb.T @ (Xb @ w - y[idx])) / len(idx)
            points.append(w.copy())
        ends.append(len(points) - 1)
    pts = np.array(points)
    name = f"B={plan.batch_size}" if label is None else str(label)
    return Path(name, plan.batch_size, rate, pts, p.loss(pts), np.array(ends))


def descent_paths(
    problem: Problem2D,
    start: Any = (-0.7, -0.8),
    lr: float = 0.05,
    epochs: int = 3,
    batch_sizes: Mapping[str, int] | None = None,
    *,
    seed: int | None = 0,
) -> list[Path]:
    """Paths of gradient descent, mini-batch SGD and SGD from the same start, same lr.

    Args:
        problem: The problem.
        start: Starting weights.
        lr: Learning rate for every path.
        epochs: Passes over the data for every path (so every path sees the same number of
            examples; GD makes ``epochs`` steps, SGD with ``B=1`` makes ``epochs·N``).
        batch_sizes: ``{label: B}``; default GD (``B=N``), mini-batch SGD (``B=32``) and
            SGD (``B=1``).
        seed: Seed of the shuffling (the same for every path).

    Returns:
        A list of :class:`Path`, in the order of ``batch_sizes``.

    >>> paths = descent_paths(digits_problem(), epochs=1)
    >>> [(q.label, q.steps) for q in paths]
    [('GD (B=1797)', 1), ('mini-batch SGD (B=32)', 57), ('SGD (B=1)', 1797)]
    """
    p = _check_problem(problem)
    sizes = (
        {f"GD (B={p.n_samples})": p.n_samples, "mini-batch SGD (B=32)": 32, "SGD (B=1)": 1}
        if batch_sizes is None
        else dict(batch_sizes)
    )
    if not sizes:
        raise ValueError("batch_sizes must hold at least one {label: batch size}; got {}")
    return [
        descent_path(p, start, int(b), lr, epochs, seed=seed, label=str(lab))
        for lab, b in sizes.items()
    ]
