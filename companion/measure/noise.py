"""How noisy is a mini-batch gradient? Exact formulas and a Monte-Carlo check, at a fixed θ.

Everything here starts from the matrix of per-sample gradients ``g`` (one row per training
sample, one column per parameter), which every model of :mod:`companion.core.models` returns from
``per_sample_grads(X, y)``. With ``N`` rows:

* the full-batch gradient is ``G = mean_i g_i``;
* the population covariance is ``Σ = (1/N) Σ_i (g_i − G)(g_i − G)ᵀ`` (note ``1/N``: the
  training set *is* the population the batches are drawn from);
* the batch-mean gradient ``ĝ_B`` of a batch of ``B`` rows is unbiased, ``E ĝ_B = G``, and
  its total variance (the trace of its covariance) is

  - ``tr Σ / B`` when the rows are drawn **with** replacement,
  - ``tr Σ / B · (N − B)/(N − 1)`` **without** replacement (the finite-population
    correction): ``tr Σ`` at ``B = 1`` and exactly ``0`` at ``B = N``;

* and ``E ‖ĝ_B‖² = ‖G‖² + tr Cov(ĝ_B)``: a small batch's gradient is *longer* on average.

Only traces are needed, so the ``P × P`` matrix ``Σ`` is never formed:
``tr Σ = (1/N) Σ_i ‖g_i − G‖²``.

>>> g = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
>>> full_gradient(g)
array([1., 1.])
>>> covariance_trace(g)
1.0
>>> batch_variance(1.0, n_samples=4, batch_size=[1, 2, 4], replace=False)
array([1.        , 0.33333333, 0.        ])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from companion.core._validation import (
    check_array,
    check_batch_size,
    check_batch_sizes,
    check_bool,
    check_positive_int,
    check_real,
    check_seed,
    is_int,
)
from companion.core.models import Model
from companion.measure.sampling import draw_batch_means, powers_of_two


def check_per_sample(per_sample: Any, name: str = "per_sample") -> np.ndarray:
    """Return a per-sample gradient matrix as a float64 ``(n_samples, n_params)`` array.

    Args:
        per_sample: Array-like of shape ``(n_samples, n_params)`` with at least one row.
        name: Argument name used in error messages.

    Returns:
        The matrix as a float64 array.

    >>> check_per_sample([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> check_per_sample(np.zeros((0, 3)))
    Traceback (most recent call last):
    ...
    ValueError: per_sample must have at least one row (sample); got shape (0, 3)
    """
    g = check_array(per_sample, name, ndim=2, dtype_kind="f")
    if g.shape[0] < 1 or g.shape[1] < 1:
        raise ValueError(
            f"{name} must have at least one row (sample); got shape {g.shape}"
            if g.shape[0] < 1
            else f"{name} must have at least one column (parameter); got shape {g.shape}"
        )
    return np.asarray(g, dtype=np.float64)


def full_gradient(per_sample: Any) -> np.ndarray:
    """Return the full-batch gradient ``G``: the mean of the per-sample gradients.

    Args:
        per_sample: Per-sample gradients, shape ``(n_samples, n_params)``.

    Returns:
        ``G``, shape ``(n_params,)``.

    >>> full_gradient([[1.0, 2.0], [3.0, 6.0]])
    array([2., 4.])
    """
    return check_per_sample(per_sample).mean(axis=0)


def covariance_trace(per_sample: Any) -> float:
    """Return ``tr Σ``, the trace of the population covariance of the per-sample gradients.

    Uses the ``1/N`` normalisation and never forms the ``P × P`` covariance:
    ``tr Σ = (1/N) Σ_i ‖g_i − G‖²``.

    Args:
        per_sample: Per-sample gradients, shape ``(n_samples, n_params)``.

    Returns:
        ``tr Σ`` as a float (0 when every sample has the same gradient).

    >>> covariance_trace([[0.0, 0.0], [2.0, 0.0]])
    1.0
    """
    g = check_per_sample(per_sample)
    centred = g - g.mean(axis=0)
    return float(np.einsum("ij,ij->", centred, centred) / g.shape[0])


def fpc(n_samples: int, batch_size: Any) -> np.ndarray | float:
    """Finite-population correction ``(N − B)/(N − 1)`` for sampling without replacement.

    Equals 1 at ``B = 1`` and 0 at ``B = N``; for ``N = 1`` it is 0 (the only batch is the
    whole set).

    Args:
        n_samples: ``N``, a positive int.
        batch_size: ``B``, a positive int ``≤ N`` or a sequence of them.

    Returns:
        A float for a single ``B``, else an array.

    >>> fpc(10, 1), fpc(10, 10)
    (1.0, 0.0)
    >>> fpc(5, [1, 3, 5])
    array([1. , 0.5, 0. ])
    """
    n = check_positive_int(n_samples, "n_samples")
    b = check_batch_sizes(batch_size, "batch_size", n_samples=n)
    out = np.zeros(b.shape) if n == 1 else (n - b) / (n - 1.0)
    return float(out[0]) if is_int(batch_size) else out


def batch_variance(
    trace_sigma: float, n_samples: int, batch_size: Any, *, replace: bool = False
) -> np.ndarray | float:
    """Exact total variance ``tr Cov(ĝ_B)`` of the batch-mean gradient.

    ``tr Σ / B`` with replacement; ``tr Σ / B · (N − B)/(N − 1)`` without.

    Args:
        trace_sigma: ``tr Σ`` (see :func:`covariance_trace`), a finite real ``≥ 0``.
        n_samples: ``N``, the number of rows the batches are drawn from.
        batch_size: ``B``, a positive int or a sequence of them (``≤ N`` without replacement).
        replace: Whether rows are drawn with replacement.

    Returns:
        A float for a single ``B``, else an array with one value per ``B``.

    >>> batch_variance(2.0, 100, 4, replace=True)
    0.5
    >>> batch_variance(2.0, 100, [1, 100], replace=False)
    array([2., 0.])
    """
    t = check_real(trace_sigma, "trace_sigma", low=0.0)
    n = check_positive_int(n_samples, "n_samples")
    replace = check_bool(replace, "replace")
    b = check_batch_sizes(batch_size, "batch_size", n_samples=None if replace else n)
    out = t / b if replace else t / b * np.asarray(fpc(n, b), dtype=float)
    return float(out[0]) if is_int(batch_size) else out


def sample_batch_means(
    per_sample: Any,
    batch_size: int,
    n_draws: int = 1000,
    *,
    replace: bool = False,
    seed: int | None = 0,
) -> np.ndarray:
    """Draw ``n_draws`` random batches and return their mean gradients (vectorised).

    Args:
        per_sample: Per-sample gradients, shape ``(N, P)``.
        batch_size: ``B`` (``≤ N`` without replacement).
        n_draws: Number of independent batches.
        replace: Draw rows with replacement (i.i.d.) or without (a random ``B``-subset).
        seed: Seed of ``np.random.default_rng``.

    Returns:
        Array of shape ``(n_draws, P)``, one batch-mean gradient per row.

    >>> g = np.arange(10.0).reshape(5, 2)
    >>> sample_batch_means(g, 5, n_draws=2)
    array([[4., 5.],
           [4., 5.]])
    """
    g = check_per_sample(per_sample)
    replace = check_bool(replace, "replace")
    b = check_batch_size(batch_size, "batch_size", n_samples=None if replace else len(g))
    r = check_positive_int(n_draws, "n_draws")
    rng = np.random.default_rng(check_seed(seed))
    return draw_batch_means(rng, g, b, r, replace)


@dataclass(frozen=True)
class GradientNoise:
    """Noise of the batch-mean gradient at one θ, per batch size: theory beside Monte Carlo.

    Attributes:
        batch_sizes: The batch sizes ``B``.
        replace: Whether batches were drawn with replacement.
        n_samples: ``N``, rows the batches were drawn from.
        n_params: ``P``, length of a gradient.
        n_draws: Monte-Carlo batches per ``B``.
        grad_sq_norm: ``‖G‖²``.
        trace_sigma: ``tr Σ`` (population, ``1/N``).
        theory: Exact ``tr Cov(ĝ_B)`` per ``B``.
        variance: Empirical total variance: trace of the sample covariance of the drawn batch
            means around their own average (``1/(R − 1)`` normalisation).
        mse: Mean squared error ``mean_r ‖ĝ_B − G‖²`` (an unbiased estimate of ``theory``).
        mse_se: Standard error of ``mse``: sample standard deviation of ``‖ĝ_B − G‖²`` over
            the draws divided by ``√R``.
        cosine: Mean cosine similarity between ``ĝ_B`` and ``G``.
        cosine_approx: ``‖G‖ / √(‖G‖² + tr Cov)``, a simple approximation of ``cosine``
            (ratio of the root-mean-square lengths; with replacement it is
            ``1/√(1 + B_simple/B)``).
        mean_sq_norm: ``mean_r ‖ĝ_B‖²`` (theory: ``‖G‖² + tr Cov``).
    """

    batch_sizes: np.ndarray
    replace: bool
    n_samples: int
    n_params: int
    n_draws: int
    grad_sq_norm: float
    trace_sigma: float
    theory: np.ndarray
    variance: np.ndarray
    mse: np.ndarray
    mse_se: np.ndarray
    cosine: np.ndarray
    cosine_approx: np.ndarray
    mean_sq_norm: np.ndarray

    @property
    def b_simple(self) -> float:
        """The simple noise scale ``tr Σ / ‖G‖²`` (``inf`` when ``G = 0``)."""
        return self.trace_sigma / self.grad_sq_norm if self.grad_sq_norm > 0 else float("inf")

    def to_rows(self) -> list[dict[str, float | int]]:
        """One dict per batch size with the theory and the Monte-Carlo columns.

        >>> res = gradient_noise(np.eye(3), [1, 3], n_draws=10)
        >>> sorted(res.to_rows()[0])
        ['batch_size', 'cosine', 'cosine_approx', 'mean_sq_norm', 'mse', 'mse_se', 'theory',
         'variance']
        """
        cols = ("theory", "variance", "mse", "mse_se", "cosine", "cosine_approx", "mean_sq_norm")
        rows = []
        for i, b in enumerate(self.batch_sizes):
            row: dict[str, float | int] = {"batch_size": int(b)}
            row.update({c: float(getattr(self, c)[i]) for c in cols})
            rows.append(row)
        return rows

    def as_table(self, digits: int = 4) -> str:
        """A plain-text table, one line per batch size (``digits`` significant digits).

        >>> print(gradient_noise(np.eye(3), [3], n_draws=4).as_table())
        # N=3, P=3, without replacement, 4 draws per B; tr Σ = 0.6667, ‖G‖² = 0.3333, B_simple = 2
            B   theory tr Cov   empirical var   MSE ± s.e.            cos(ĝ,G)   ≈cos
            3   0               0               0 ± 0                 1          1
        """
        d = check_positive_int(digits, "digits")
        how = "with" if self.replace else "without"
        lines = [
            f"# N={self.n_samples}, P={self.n_params}, {how} replacement, {self.n_draws} draws "
            f"per B; tr Σ = {self.trace_sigma:.{d}g}, ‖G‖² = {self.grad_sq_norm:.{d}g}, "
            f"B_simple = {self.b_simple:.{d}g}",
            f"{'B':>5}   {'theory tr Cov':<14}  {'empirical var':<14}  {'MSE ± s.e.':<20}  "
            f"{'cos(ĝ,G)':<9}  {'≈cos':<6}",
        ]
        for row in self.to_rows():
            mse = f"{row['mse']:.{d}g} ± {row['mse_se']:.2g}"
            lines.append(
                f"{row['batch_size']:>5}   {row['theory']:<14.{d}g}  {row['variance']:<14.{d}g}  "
                f"{mse:<20}  {row['cosine']:<9.{d}g}  {row['cosine_approx']:.{d}g}"
            )
        return "\n".join(line.rstrip() for line in lines)

    def asdict(self) -> dict[str, Any]:
        """All fields as a plain dict (arrays stay arrays).

        >>> sorted(gradient_noise(np.eye(2), [1], n_draws=2).asdict())[:3]
        ['batch_sizes', 'cosine', 'cosine_approx']
        """
        return asdict(self)


def gradient_noise(
    per_sample: Any,
    batch_sizes: Any,
    n_draws: int = 1000,
    *,
    replace: bool = False,
    seed: int | None = 0,
) -> GradientNoise:
    """Measure the noise of batch-mean gradients by Monte Carlo, next to the exact theory.

    For every ``B`` in ``batch_sizes`` it draws ``n_draws`` independent batches (seeded,
    vectorised: one weight matrix times the gradient matrix) and records the empirical total
    variance, the mean squared error to ``G``, the mean cosine to ``G`` and ``E‖ĝ_B‖²``.

    Args:
        per_sample: Per-sample gradients ``(N, P)``, e.g. ``model.per_sample_grads(X, y)``.
        batch_sizes: A positive int or a sequence of them (``≤ N`` without replacement).
        n_draws: Batches drawn per batch size (at least 2, for a variance).
        replace: Draw rows with replacement (i.i.d.) or without (a random subset).
        seed: Seed of ``np.random.default_rng``; the same seed gives the same result.

    Returns:
        A :class:`GradientNoise`.

    >>> g = np.random.default_rng(0).normal(size=(50, 3))
    >>> res = gradient_noise(g, [1, 50], n_draws=200, replace=False)
    >>> float(res.theory[1]), float(res.mse[1])
    (0.0, 0.0)
    >>> bool(abs(res.mse[0] - res.theory[0]) < 5 * res.mse_se[0])
    True
    """
    g = check_per_sample(per_sample)
    replace = check_bool(replace, "replace")
    n, p = g.shape
    sizes = check_batch_sizes(batch_sizes, "batch_sizes", n_samples=None if replace else n)
    r = check_positive_int(n_draws, "n_draws")
    if r < 2:
        raise ValueError(f"n_draws must be a positive int >= 2 (a variance needs two); got {r}")
    rng = np.random.default_rng(check_seed(seed))

    big_g = g.mean(axis=0)
    g_sq = float(big_g @ big_g)
    trace = covariance_trace(g)
    theory = np.asarray(batch_variance(trace, n, sizes, replace=replace), dtype=float)
    cols = {k: np.empty(len(sizes)) for k in ("variance", "mse", "mse_se", "cosine", "sq")}
    g_norm = np.sqrt(g_sq)
    for j, b in enumerate(sizes):
        means = draw_batch_means(rng, g, int(b), r, replace)
        diff = means - big_g
        err = np.einsum("ij,ij->i", diff, diff)
        centred = diff - diff.mean(axis=0)
        norms = np.sqrt(np.einsum("ij,ij->i", means, means))
        denom = norms * g_norm
        cos = np.divide(means @ big_g, denom, out=np.zeros(r), where=denom > 0)
        cols["variance"][j] = np.einsum("ij,ij->", centred, centred) / (r - 1)
        cols["mse"][j] = err.mean()
        cols["mse_se"][j] = err.std(ddof=1) / np.sqrt(r)
        cols["cosine"][j] = cos.mean()
        cols["sq"][j] = (norms**2).mean()
    total = g_sq + theory
    approx = np.divide(g_norm, np.sqrt(total), out=np.zeros_like(total), where=total > 0)
    return GradientNoise(
        batch_sizes=sizes,
        replace=replace,
        n_samples=n,
        n_params=p,
        n_draws=r,
        grad_sq_norm=g_sq,
        trace_sigma=trace,
        theory=theory,
        variance=cols["variance"],
        mse=cols["mse"],
        mse_se=cols["mse_se"],
        cosine=cols["cosine"],
        cosine_approx=approx,
        mean_sq_norm=cols["sq"],
    )


def measure_gradient_noise(
    model: Model,
    X: Any,
    y: Any,
    batch_sizes: Sequence[int] | None = None,
    n_draws: int = 1000,
    *,
    replace: bool = False,
    seed: int | None = 0,
) -> GradientNoise:
    """:func:`gradient_noise` for a model at its current parameters on the data ``(X, y)``.

    Args:
        model: Any object with ``per_sample_grads(X, y)`` returning an ``(N, P)`` array (the
            models of :mod:`companion.core.models`).
        X: Inputs, ``N`` rows.
        y: Targets, ``N`` rows.
        batch_sizes: Batch sizes; default :func:`powers_of_two` of ``N`` (including ``N``).
        n_draws: Batches drawn per batch size.
        replace: Draw with replacement or not.
        seed: Seed of the batch draws.

    Returns:
        A :class:`GradientNoise`.

    >>> class Mean:  # the loss ½(θ − y)² for a single parameter θ = 0
    ...     def per_sample_grads(self, X, y):
    ...         return -np.asarray(y, dtype=float).reshape(-1, 1)
    >>> res = measure_gradient_noise(Mean(), np.zeros((4, 1)), [1.0, 2.0, 3.0, 4.0], n_draws=3)
    >>> res.batch_sizes.tolist(), res.trace_sigma
    ([1, 2, 4], 1.25)
    """
    if not callable(getattr(model, "per_sample_grads", None)):
        raise TypeError(
            "model must have a per_sample_grads(X, y) method (e.g. a companion.core.models model); "
            f"got {type(model).__name__}"
        )
    g = check_per_sample(model.per_sample_grads(X, y), "model.per_sample_grads(X, y)")
    sizes = powers_of_two(len(g)) if batch_sizes is None else batch_sizes
    return gradient_noise(g, sizes, n_draws, replace=replace, seed=seed)
