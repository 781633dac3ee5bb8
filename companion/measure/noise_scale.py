"""The gradient noise scale ``B_simple = tr Σ / ‖G‖²``: exactly, and from two batch sizes.

McCandlish, Kaplan, Amodei et al. (2018, "An Empirical Model of Large-Batch Training")
call ``B_simple = tr(Σ)/‖G‖²`` the simple noise scale: the batch size at which the noise in
a batch gradient (``tr Σ / B``) is as large as the signal (``‖G‖²``). It predicts the
critical batch size beyond which larger batches stop saving steps.

With per-sample gradients at hand it is exact (:func:`simple_noise_scale`). In real training
only batch gradients are seen, so the paper estimates it from the squared norms of batch
gradients at two batch sizes. Because ``E‖ĝ_B‖² = ‖G‖² + tr Σ · c(B)`` with ``c(B) = 1/B``
(rows drawn with replacement) or ``c(B) = (N − B)/(B (N − 1))`` (without replacement), two
batch sizes give two equations for the two unknowns:

* ``‖G‖² ≈ (c_small ‖G_big‖² − c_big ‖G_small‖²)/(c_small − c_big)``, which for
  ``c = 1/B`` is ``(B_big ‖G_big‖² − B_small ‖G_small‖²)/(B_big − B_small)``;
* ``tr Σ ≈ (‖G_small‖² − ‖G_big‖²)/(c_small − c_big)``, i.e.
  ``(‖G_small‖² − ‖G_big‖²)/(1/B_small − 1/B_big)``.

Each is unbiased, their ratio is not: average numerator and denominator separately over many
draws (or training steps) and divide at the end, as done here.

>>> g = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
>>> simple_noise_scale(g)
0.5
>>> est = two_batch_estimate([1.25], [1.0], b_small=2, b_big=4, n_samples=None)
>>> est.grad_sq_norm, est.trace_sigma, est.b_simple
(0.75, 1.0, 1.3333333333333333)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from companion.core._validation import (
    check_array,
    check_batch_size,
    check_bool,
    check_positive_int,
    check_same_length,
    check_seed,
)
from companion.measure.noise import check_per_sample, covariance_trace
from companion.measure.sampling import draw_batch_means


def simple_noise_scale(per_sample: Any) -> float:
    """Exact ``B_simple = tr Σ / ‖G‖²`` from the per-sample gradients (``inf`` if ``G = 0``).

    Args:
        per_sample: Per-sample gradients ``(N, P)``, e.g. ``model.per_sample_grads(X, y)``.

    Returns:
        ``B_simple`` as a float.

    >>> simple_noise_scale([[1.0], [3.0]])  # G = 2, tr Σ = 1
    0.25
    """
    g = check_per_sample(per_sample)
    big_g = g.mean(axis=0)
    g_sq = float(big_g @ big_g)
    return covariance_trace(g) / g_sq if g_sq > 0 else float("inf")


def hessian_noise_scale(model: Any, X: Any, y: Any, *, eps: float = 1e-5) -> float:
    """Exact ``B_noise = tr(HΣ) / GᵀHG`` of McCandlish et al. at the model's parameters.

    ``B_simple`` (:func:`simple_noise_scale`) is the special case ``H ∝ I``. Here ``H`` is the
    Hessian of the mean training loss (:func:`companion.measure.curvature.hessian`: in closed
    form for softmax regression, else column by column from Hessian-vector products); ``Σ``
    is the population covariance of the per-sample gradients (``1/N``, as in
    :func:`simple_noise_scale`). ``inf`` when ``GᵀHG <= 0``.

    For softmax regression on a data set small enough that sums over pairs of samples cost
    less than forming ``H`` (:func:`_pairs_are_cheaper`: the digits' ``N = 1347`` is, with 64
    features and 10 classes up to about 7,700 samples are), neither ``H`` nor the per-sample
    gradients are formed (:func:`_softmax_noise_terms`): fewer operations, the same value to
    rounding.

    Args:
        model: A :mod:`companion.core.models` model with ``per_sample_grads``.
        X: Training inputs.
        y: Training targets.
        eps: Finite-difference step of the Hessian-vector products.

    Returns:
        ``B_noise`` as a float.

    >>> from companion.core.models import LinearRegression
    >>> m = LinearRegression(1)
    >>> m.set_flat(np.array([0.0, 0.0]))
    >>> X, y = np.array([[1.0], [-1.0], [2.0]]), np.array([1.0, 0.0, 3.0])
    >>> b_noise = hessian_noise_scale(m, X, y)
    >>> g = m.per_sample_grads(X, y); G = g.mean(0); D = g - G  # the exact MSE Hessian:
    >>> H = 2 * np.array([[np.mean(X[:, 0] ** 2), X[:, 0].mean()], [X[:, 0].mean(), 1.0]])
    >>> bool(np.isclose(b_noise, np.trace(H @ (D.T @ D / 3)) / (G @ H @ G), rtol=1e-8))
    True
    """
    from companion.core.models import SoftmaxRegression
    from companion.measure.curvature import hessian

    if type(model) is SoftmaxRegression:
        Xc, yc = model.check_data(X, y)  # bad data is named here, whichever route follows
        if _pairs_are_cheaper(model, len(Xc)):
            tr_h_sigma, curv = _softmax_noise_terms(model, Xc, yc)
            return tr_h_sigma / curv if curv > 0 else float("inf")
    g = check_per_sample(model.per_sample_grads(X, y))
    n = len(g)
    big_g = g.mean(axis=0)
    centred = g - big_g
    H = hessian(model, X, y, eps=eps)
    tr_h_sigma = float(np.einsum("ij,ij->", centred @ H, centred)) / n
    curv = float(big_g @ H @ big_g)
    return tr_h_sigma / curv if curv > 0 else float("inf")


def _pairs_are_cheaper(model: Any, n: int) -> bool:
    """Whether :func:`_softmax_noise_terms` (``≈ 2N²(d + 1 + 2c)`` operations) costs less than
    forming ``H`` and ``centred @ H`` (``≈ N(d + 1)²c(c + 1) + 2NP²``).

    >>> from companion.core.models import SoftmaxRegression
    >>> m = SoftmaxRegression(64, 10)
    >>> _pairs_are_cheaper(m, 1347), _pairs_are_cheaper(m, 20_000)
    (True, False)
    """
    d1, c = model.n_features + 1, model.n_classes
    return 2 * n * (d1 + 2 * c) < d1 * d1 * c * (c + 1) + 2 * model.n_params ** 2


def _softmax_noise_terms(model: Any, X: np.ndarray, y: np.ndarray,
                         chunk_elements: int = 1 << 21) -> tuple[float, float]:
    """``(tr(HΣ), GᵀHG)`` of softmax regression without forming ``H`` or the per-sample
    gradients; ``X`` and ``y`` as ``model.check_data`` returns them.

    With ``u_i = (x_i, 1)``, ``p_i`` the probabilities and ``r_i = p_i − e_{y_i}``, sample
    ``j``'s gradient is ``u_j ⊗ r_j`` and ``H = (1/N) Σ_i (u_i u_iᵀ) ⊗ A_i`` with
    ``A_i = diag p_i − p_i p_iᵀ`` (:func:`companion.measure.curvature.hessian`), so

    * ``g_jᵀ H g_j = (1/N) Σ_i (u_i·u_j)² (p_i·r_j² − (p_i·r_j)²)``, and
      ``tr(HΣ) = (1/N) Σ_j g_jᵀ H g_j − GᵀHG``;
    * ``G = Uᵀ R / N`` as a ``(d + 1, c)`` matrix, ``q_i = Gᵀ u_i``, and
      ``GᵀHG = (1/N) Σ_i (p_i·q_i² − (p_i·q_i)²)``.

    The sum over pairs runs in blocks of rows of at most ``chunk_elements`` pairs, so the
    memory stays bounded for any ``N``.

    >>> from companion.core.models import SoftmaxRegression
    >>> from companion.measure.curvature import hessian
    >>> rng = np.random.default_rng(0); X = rng.normal(size=(40, 3)); y = rng.integers(0, 4, 40)
    >>> m = SoftmaxRegression(3, 4, seed=1)
    >>> g = m.per_sample_grads(X, y); G = g.mean(0); D = g - G; H = hessian(m, X, y)
    >>> tr, curv = _softmax_noise_terms(m, *m.check_data(X, y), chunk_elements=100)  # 2-row blocks
    >>> bool(np.isclose(tr, np.einsum("ij,ij->", D @ H, D) / 40, rtol=1e-12, atol=0))
    True
    >>> bool(np.isclose(curv, G @ H @ G, rtol=1e-12, atol=0))
    True
    """
    n = len(X)
    u = np.hstack([X, np.ones((n, 1), dtype=X.dtype)]).astype(np.float64)
    p = model.predict_proba(X).astype(np.float64)
    r = p.copy()
    r[np.arange(n), y] -= 1.0  # the per-sample gradient's dlogits, p − e_y
    r_sq = r * r
    pairs = 0.0
    rows = max(1, chunk_elements // n)
    for start in range(0, n, rows):
        block = slice(start, start + rows)
        kernel = u[block] @ u.T  # (rows, N): u_i·u_j
        kernel *= kernel
        p_dot_r = p[block] @ r.T
        quad = p[block] @ r_sq.T
        quad -= p_dot_r * p_dot_r  # r_jᵀ A_i r_j
        pairs += float(np.einsum("ij,ij->", kernel, quad))
    q = u @ (u.T @ r / n)  # (N, c): Gᵀu_i
    curv = float(np.einsum("ic,ic->", p, q * q) - np.sum(np.einsum("ic,ic->i", p, q) ** 2)) / n
    return pairs / (n * n) - curv, curv


def variance_factor(batch_size: int, n_samples: int | None = None) -> float:
    """``c(B)`` in ``E‖ĝ_B‖² = ‖G‖² + tr Σ · c(B)``.

    Args:
        batch_size: ``B``.
        n_samples: ``None`` for draws with replacement (``c = 1/B``); ``N`` for draws without
            replacement (``c = (N − B)/(B (N − 1))``).

    Returns:
        ``c(B)``.

    >>> variance_factor(4), variance_factor(4, n_samples=4), variance_factor(1, n_samples=9)
    (0.25, 0.0, 1.0)
    """
    b = check_batch_size(batch_size, "batch_size")
    if n_samples is None:
        return 1.0 / b
    n = check_positive_int(n_samples, "n_samples")
    if b > n:
        raise ValueError(
            f"batch_size must be at most n_samples={n} when sampling without replacement; got {b}"
        )
    return 0.0 if n == 1 else (n - b) / (b * (n - 1.0))


@dataclass(frozen=True)
class NoiseScaleEstimate:
    """The two-batch-size estimate of ``‖G‖²``, ``tr Σ`` and ``B_simple``.

    Attributes:
        b_small: The small batch size.
        b_big: The big batch size.
        n_draws: Number of (small, big) pairs averaged.
        n_samples: ``N`` for the without-replacement formulas, ``None`` for with replacement.
        grad_sq_norm: Estimate of ``‖G‖²`` (mean of the per-pair unbiased estimates).
        trace_sigma: Estimate of ``tr Σ`` (mean of the per-pair unbiased estimates).
        grad_sq_norm_se: Standard error of ``grad_sq_norm`` (sd over pairs / √R).
        trace_sigma_se: Standard error of ``trace_sigma``.
        b_simple: ``trace_sigma / grad_sq_norm`` (ratio of the averages).
        b_simple_se: Delta-method standard error of ``b_simple`` from the pairs' variances
            and covariance (``nan`` with a single pair).
    """

    b_small: int
    b_big: int
    n_draws: int
    n_samples: int | None
    grad_sq_norm: float
    trace_sigma: float
    grad_sq_norm_se: float
    trace_sigma_se: float
    b_simple: float
    b_simple_se: float

    def __str__(self) -> str:
        """One line: the estimate with its standard error.

        >>> print(two_batch_estimate([2.0, 2.5], [1.0, 1.5], 1, 4))
        B_simple ≈ 1.455 ± 0.4 (B_small=1, B_big=4, 2 pairs, with replacement)
        """
        how = "with replacement" if self.n_samples is None else "without replacement"
        return (
            f"B_simple ≈ {self.b_simple:.4g} ± {self.b_simple_se:.2g} (B_small={self.b_small}, "
            f"B_big={self.b_big}, {self.n_draws} pairs, {how})"
        )


def two_batch_estimate(
    sq_norm_small: Any,
    sq_norm_big: Any,
    b_small: int,
    b_big: int,
    *,
    n_samples: int | None = None,
) -> NoiseScaleEstimate:
    """Estimate ``B_simple`` from squared norms of batch gradients at two batch sizes.

    Each pair ``(‖G_small‖², ‖G_big‖²)`` gives unbiased estimates of ``‖G‖²`` and ``tr Σ``;
    both are averaged over the pairs **before** their ratio is taken.

    Args:
        sq_norm_small: Squared norms ``‖ĝ_small‖²``, one per draw or training step.
        sq_norm_big: Squared norms ``‖ĝ_big‖²``, same length.
        b_small: The small batch size.
        b_big: The big batch size (larger than ``b_small``).
        n_samples: ``None`` if rows were drawn with replacement; ``N`` to use the
            without-replacement factor ``(N − B)/(B (N − 1))``.

    Returns:
        A :class:`NoiseScaleEstimate`.

    >>> est = two_batch_estimate([3.0, 5.0], [1.5, 2.0], b_small=1, b_big=4)
    >>> est.trace_sigma, est.grad_sq_norm
    (3.0, 1.0)
    """
    small = np.ravel(check_array(sq_norm_small, "sq_norm_small", ndim=(0, 1), dtype_kind="f"))
    big = np.ravel(check_array(sq_norm_big, "sq_norm_big", ndim=(0, 1), dtype_kind="f"))
    check_same_length(small, big, "sq_norm_small", "sq_norm_big")
    if small.size == 0:
        raise ValueError("sq_norm_small must hold at least one squared norm; got an empty array")
    n = None if n_samples is None else check_positive_int(n_samples, "n_samples")
    bs = check_batch_size(b_small, "b_small", n_samples=n)
    bb = check_batch_size(b_big, "b_big", n_samples=n)
    if bb <= bs:
        raise ValueError(f"b_big must be larger than b_small={bs}; got {bb}")
    cs = variance_factor(bs, n_samples)
    cb = variance_factor(bb, n_samples)
    gain = cs - cb
    g_sq = (cs * big - cb * small) / gain
    trace = (small - big) / gain
    r = small.size
    g_mean, t_mean = float(g_sq.mean()), float(trace.mean())
    ratio = t_mean / g_mean if g_mean != 0 else float("inf")
    if r > 1:
        cov = np.cov(np.vstack([trace, g_sq]), ddof=1) / r
        var_ratio = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / g_mean**2
        ratio_se = float(np.sqrt(max(var_ratio, 0.0)))
        g_se, t_se = float(np.sqrt(cov[1, 1])), float(np.sqrt(cov[0, 0]))
    else:
        ratio_se = g_se = t_se = float("nan")
    return NoiseScaleEstimate(
        b_small=bs,
        b_big=bb,
        n_draws=r,
        n_samples=None if n_samples is None else int(n_samples),
        grad_sq_norm=g_mean,
        trace_sigma=t_mean,
        grad_sq_norm_se=g_se,
        trace_sigma_se=t_se,
        b_simple=ratio,
        b_simple_se=ratio_se,
    )


def estimate_noise_scale(
    per_sample: Any,
    b_small: int,
    b_big: int,
    n_draws: int = 1000,
    *,
    replace: bool = True,
    seed: int | None = 0,
) -> NoiseScaleEstimate:
    """Estimate ``B_simple`` the way training would: only from batch-gradient norms.

    Draws ``n_draws`` independent small and big batches from the per-sample gradients, takes
    the squared norms of their mean gradients and calls :func:`two_batch_estimate` (with the
    without-replacement factor when ``replace=False``). Compare with
    :func:`simple_noise_scale` on the same matrix.

    Args:
        per_sample: Per-sample gradients ``(N, P)``.
        b_small: The small batch size.
        b_big: The big batch size (``≤ N`` without replacement).
        n_draws: Number of (small, big) pairs.
        replace: Draw rows with replacement or not.
        seed: Seed of ``np.random.default_rng``.

    Returns:
        A :class:`NoiseScaleEstimate`.

    >>> g = np.random.default_rng(1).normal(loc=1.0, size=(200, 4))
    >>> est = estimate_noise_scale(g, 2, 32, n_draws=2000, seed=0)
    >>> exact = simple_noise_scale(g)
    >>> bool(abs(est.b_simple - exact) < 5 * est.b_simple_se)
    True
    """
    g = check_per_sample(per_sample)
    replace = check_bool(replace, "replace")
    n = g.shape[0]
    bs = check_batch_size(b_small, "b_small", n_samples=None if replace else n)
    bb = check_batch_size(b_big, "b_big", n_samples=None if replace else n)
    if bb <= bs:
        raise ValueError(f"b_big must be larger than b_small={bs}; got {bb}")
    r = check_positive_int(n_draws, "n_draws")
    if r < 2:
        raise ValueError(
            "n_draws must be an int >= 2: one (small, big) pair gives no standard error, and "
            f"its B_simple is often negative; got {r}"
        )
    rng = np.random.default_rng(check_seed(seed))
    small = draw_batch_means(rng, g, bs, r, replace)
    big = draw_batch_means(rng, g, bb, r, replace)
    return two_batch_estimate(
        np.einsum("ij,ij->i", small, small),
        np.einsum("ij,ij->i", big, big),
        bs,
        bb,
        n_samples=None if replace else n,
    )
