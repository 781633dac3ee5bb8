"""The noisy quadratic model (NQM) of Zhang et al. (2019): batch size in closed form.

Zhang, Li, Nado, Martens, Sachdeva, Dahl, Shallue, Grosse, "Which Algorithmic Choices Matter
at Which Batch Sizes? Insights From a Noisy Quadratic Model" (NeurIPS 2019) replace a network
by the loss ``L(θ) = ½ Σ_i h_i θ_i²`` whose mini-batch gradient is ``h_i θ_i`` plus
independent noise of variance ``c_i / B`` (``c = h`` in the paper: the noise has the same
shape as the curvature). SGD with step ``α`` then acts on each coordinate separately, and the
expected second moment ``s_i(t) = E θ_i(t)²`` obeys

    ``s(t + 1) = (1 − α h)² s(t) + α² c / B``,

so the expected loss ``E ℓ(t) = Σ_i ½ h_i s_i(t)`` is, per coordinate,

    ``(1 − αh)^{2t} ℓ(0) + α c / (2B (2 − αh)) · (1 − (1 − αh)^{2t})``.

The first term is the signal decaying (fast when ``α`` is large), the second the noise floor
(low when ``α`` is small or ``B`` large). Tuning ``α`` per batch size to reach a target loss
in the fewest steps reproduces the three regimes seen in real networks (Shallue et al. 2019):
perfect scaling (double ``B``, halve the steps), diminishing returns, and no benefit once
``α`` hits the stability limit ``2 / h_max``.

>>> q = make_nqm(dim=3)
>>> q.curvature
array([1.        , 0.5       , 0.33333333])
>>> float(expected_loss(q, lr=0.5, batch_size=4, steps=0)[0]) == q.initial_loss
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from companion.core._validation import (
    check_array,
    check_batch_size,
    check_batch_sizes,
    check_bool,
    check_each,
    check_nonnegative_int,
    check_positive_int,
    check_real,
    check_seed,
)

_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class NoisyQuadratic:
    """A noisy quadratic: curvatures ``h``, gradient-noise variances ``c`` (per sample) and
    the initial second moments ``s(0) = θ(0)²``.

    Attributes:
        curvature: ``h_i > 0``, the diagonal of the Hessian.
        noise: ``c_i ≥ 0``; a batch of ``B`` gets gradient-noise variance ``c_i / B``.
        init: ``s_i(0) = θ_i(0)² ≥ 0``.
    """

    curvature: np.ndarray
    noise: np.ndarray
    init: np.ndarray

    def __post_init__(self) -> None:
        h = check_array(self.curvature, "curvature", ndim=1, dtype_kind="f")
        c = check_array(self.noise, "noise", ndim=1, dtype_kind="f")
        s = check_array(self.init, "init", ndim=1, dtype_kind="f")
        if h.size == 0:
            raise ValueError("curvature must hold at least one value; got an empty array")
        if (h <= 0).any():
            raise ValueError(f"curvature must be > 0 everywhere; got min {float(h.min())!r}")
        for name, arr in (("noise", c), ("init", s)):
            if arr.shape != h.shape:
                raise ValueError(
                    f"{name} must have the same shape as curvature {h.shape}; got {arr.shape}"
                )
            if (arr < 0).any():
                raise ValueError(f"{name} must be >= 0 everywhere; got min {float(arr.min())!r}")
        for name, arr in (("curvature", h), ("noise", c), ("init", s)):
            object.__setattr__(self, name, np.asarray(arr, dtype=np.float64))

    @property
    def dim(self) -> int:
        """Number of coordinates."""
        return int(self.curvature.size)

    @property
    def initial_loss(self) -> float:
        """``ℓ(0) = ½ Σ h_i s_i(0)``."""
        return float(0.5 * self.curvature @ self.init)

    @property
    def max_lr(self) -> float:
        """The stability limit ``2 / h_max``: SGD diverges for ``α ≥`` this."""
        return float(2.0 / self.curvature.max())

    def loss(self, theta: Any) -> np.ndarray:
        """``½ Σ_i h_i θ_i²`` for one θ (shape ``(dim,)``) or a stack of them (``(..., dim)``).

        >>> float(make_nqm(dim=2).loss([1.0, 2.0]))
        1.5
        >>> make_nqm(dim=2).loss([[1.0, 0.0], [0.0, 2.0]])
        array([0.5, 1. ])
        """
        t = check_array(theta, "theta", dtype_kind="f")
        if t.ndim == 0 or t.shape[-1] != self.dim:
            raise ValueError(f"theta must have last dimension {self.dim}; got shape {t.shape}")
        return 0.5 * (t**2) @ self.curvature


def make_nqm(
    dim: int = 100, *, noise: str | Any = "curvature", init: float | Any = 1.0
) -> NoisyQuadratic:
    """The NQM of Zhang et al. with curvatures ``h_i = 1/i`` (``i = 1 … dim``).

    Args:
        dim: Number of coordinates.
        noise: ``"curvature"`` for ``c = h`` (the paper's choice), or an array of ``c_i``.
        init: ``θ_i(0)²``: one number for every coordinate or an array.

    Returns:
        A :class:`NoisyQuadratic`.

    >>> q = make_nqm(dim=4, init=2.0)
    >>> q.noise.tolist(), q.initial_loss
    ([1.0, 0.5, 0.3333333333333333, 0.25], 2.083333333333333)
    """
    d = check_positive_int(dim, "dim")
    h = 1.0 / np.arange(1, d + 1)
    if isinstance(noise, str):
        if noise != "curvature":
            raise ValueError(f"noise must be 'curvature' or an array of variances; got {noise!r}")
        c = h.copy()
    else:
        c = np.asarray(check_array(noise, "noise", ndim=1, dtype_kind="f"), dtype=float)
    if np.ndim(init) == 0:
        s0 = np.full(d, check_real(init, "init", low=0.0))
    else:
        s0 = np.asarray(check_array(init, "init", ndim=1, dtype_kind="f"), dtype=float)
    return NoisyQuadratic(h, c, s0)


def _check_nqm(nqm: Any) -> NoisyQuadratic:
    if not isinstance(nqm, NoisyQuadratic):
        raise TypeError(
            f"nqm must be a NoisyQuadratic (see make_nqm); got {type(nqm).__name__}"
        )
    return nqm


def _check_lr(nqm: NoisyQuadratic, lr: Any, name: str = "lr") -> float:
    return check_real(lr, name, low=0.0, high=nqm.max_lr, low_inclusive=False, high_inclusive=False)


def _terms(nqm: NoisyQuadratic, lr: float, batch_size: int) -> tuple[np.ndarray, ...]:
    """Per coordinate: contraction r = (1 − αh)², start a = ½ h s(0), floor b."""
    h = nqm.curvature
    r = (1.0 - lr * h) ** 2
    a = 0.5 * h * nqm.init
    b = lr * nqm.noise / (2.0 * batch_size * (2.0 - lr * h))
    return r, a, b


_BLOCK_ENTRIES = 1 << 20  # entries of the (steps × dim) table computed at once


def expected_loss(nqm: NoisyQuadratic, lr: float, batch_size: int, steps: int) -> np.ndarray:
    """Closed-form ``E ℓ(t)`` for ``t = 0 … steps`` of SGD with step ``lr`` and batch size.

    Args:
        nqm: The model.
        lr: Step size ``0 < α < 2 / h_max``.
        batch_size: ``B``.
        steps: Last step ``t`` to report.

    Returns:
        Array of length ``steps + 1``.

    >>> q = make_nqm(dim=1)  # h = c = 1, s(0) = 1: s(1) = ¼·1 + ¼·1/1, ℓ(1) = ½ s(1)
    >>> expected_loss(q, lr=0.5, batch_size=1, steps=1)
    array([0.5 , 0.25])
    """
    q = _check_nqm(nqm)
    a_lr = _check_lr(q, lr)
    b = check_batch_size(batch_size, "batch_size")
    n = check_nonnegative_int(steps, "steps")
    r, a, floor = _terms(q, a_lr, b)
    out = np.empty(n + 1)
    block = min(n + 1, max(1, _BLOCK_ENTRIES // r.size))  # memory O(steps + block·dim)
    powers = (a - floor)[None, :] * r[None, :] ** np.arange(block)[:, None]  # (a−b) r^j
    base = floor.sum()
    for start in range(0, n + 1, block):
        k = min(block, n + 1 - start)
        out[start : start + k] = base + powers[:k] @ r**start  # Σ b + (a−b) r^(start+j)
    return out


def steady_state_loss(nqm: NoisyQuadratic, lr: float, batch_size: int) -> float:
    """The noise floor ``lim E ℓ(t) = Σ_i α c_i / (2B (2 − α h_i))``.

    >>> steady_state_loss(make_nqm(dim=1), lr=0.5, batch_size=1)
    0.16666666666666666
    """
    q = _check_nqm(nqm)
    a_lr = _check_lr(q, lr)
    b = check_batch_size(batch_size, "batch_size")
    return float(_terms(q, a_lr, b)[2].sum())


def _loss_at(r: np.ndarray, a: np.ndarray, b: np.ndarray, t: int) -> float:
    return float((b + (a - b) * r**t).sum())


def _first_crossing(
    r: np.ndarray, a: np.ndarray, b: np.ndarray, target: float, max_steps: int
) -> int | None:
    if a.sum() <= target:
        return 0
    if (a >= b).all():
        if b.sum() >= target:
            return None  # the loss falls monotonically to a floor at or above the target
        # Every term decays monotonically, so E ℓ(t) is non-increasing: double, then bisect.
        hi = 1
        while _loss_at(r, a, b, hi) > target:
            hi *= 2
            if hi > 2 * max_steps:
                return None
        lo = hi // 2  # loss(lo) > target (or lo = 0, which is above the target too)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _loss_at(r, a, b, mid) > target:
                lo = mid
            else:
                hi = mid
        return hi if hi <= max_steps else None
    # Some coordinate rises towards its floor: E ℓ(t) need not be monotone. It lies between
    # two non-increasing bounds (rising terms replaced by their start a_i below and their
    # floor b_i above), so the first crossing lies in [t_low, t_high]: scan only there.
    rising = a < b
    lower = _first_monotone_crossing(r, np.where(rising, b, a), np.where(rising, b, b), target,
                                     max_steps, shift=float((a - b)[rising].sum()))
    if lower is None:
        return None
    upper = _first_monotone_crossing(r, np.where(rising, b, a), b, target, max_steps)
    stop = max_steps if upper is None else min(upper, max_steps)
    # ... and before the loss with falling terms at their floors (non-decreasing) exceeds it
    gap, rate = (a - b)[rising], r[rising]
    floor = float(b.sum())

    def rising_bound(t: int) -> float:
        return floor + float((gap * rate**t).sum())

    if floor > target:  # the bound rises above the target: after that, no crossing
        hi = 1
        while rising_bound(hi) <= target and hi <= stop:
            hi *= 2
        lo = hi // 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if rising_bound(mid) <= target:
                lo = mid
            else:
                hi = mid
        stop = min(stop, hi - 1)
    block = 2048
    for start in range(max(1, lower), stop + 1, block):
        t = np.arange(start, min(stop, start + block - 1) + 1)
        vals = (b + (a - b) * r[None, :] ** t[:, None]).sum(axis=1)
        hit = np.flatnonzero(vals <= target)
        if hit.size:
            return int(t[hit[0]])
    return None


def _first_monotone_crossing(
    r: np.ndarray, a: np.ndarray, b: np.ndarray, target: float, max_steps: int,
    shift: float = 0.0,
) -> int | None:
    """First t with ``shift + Σ b + (a − b) r^t ≤ target`` for ``a ≥ b`` (doubling, bisection)."""
    def value(t: int) -> float:
        return shift + _loss_at(r, a, b, t)

    if value(0) <= target:
        return 0
    if shift + b.sum() > target:
        return None
    hi = 1
    while value(hi) > target:
        hi *= 2
        if hi > 2 * max_steps:
            return None
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if value(mid) > target:
            lo = mid
        else:
            hi = mid
    return hi if hi <= max_steps else None


def steps_to_target(
    nqm: NoisyQuadratic,
    lr: float,
    batch_size: int,
    target: float,
    *,
    max_steps: int = 10**9,
) -> int | None:
    """Fewest steps ``t`` with ``E ℓ(t) ≤ target`` (``None`` if never within ``max_steps``).

    Exact: uses the closed form, with bisection when the expected loss is monotone.

    Args:
        nqm: The model.
        lr: Step size ``0 < α < 2 / h_max``.
        batch_size: ``B``.
        target: Target expected loss ``> 0``.
        max_steps: Give up beyond this many steps.

    Returns:
        The number of steps, or ``None``.

    >>> q = make_nqm(dim=1)
    >>> steps_to_target(q, lr=0.5, batch_size=100, target=0.01)
    3
    >>> steps_to_target(q, lr=0.5, batch_size=1, target=0.1) is None  # floor 1/6 > 0.1
    True
    """
    q = _check_nqm(nqm)
    a_lr = _check_lr(q, lr)
    b = check_batch_size(batch_size, "batch_size")
    tgt = check_real(target, "target", low=0.0, low_inclusive=False)
    cap = check_positive_int(max_steps, "max_steps")
    return _first_crossing(*_terms(q, a_lr, b), tgt, cap)


def _steps_or_inf(q: NoisyQuadratic, lr: float, b: int, target: float, cap: int) -> float:
    s = _first_crossing(*_terms(q, lr, b), target, cap)
    return float("inf") if s is None else float(s)


def _grid_steps(q: NoisyQuadratic, grid: np.ndarray, b: int, target: float, cap: int) -> np.ndarray:
    """Steps to ``target`` for every step size of ``grid``, through the search every experiment
    shares (:func:`companion.measure.lr_search.walk_grid`; the exact NQM is cheap, so the
    whole grid is scored before the golden-section refinement)."""
    from companion.measure.lr_search import walk_grid

    def evaluate(indices: list[int], best: float) -> list[float]:
        return [_steps_or_inf(q, float(grid[j]), b, target, cap) for j in indices]

    return walk_grid(evaluate, len(grid), start=0, patience=None)


def tune_lr(
    nqm: NoisyQuadratic,
    batch_size: int,
    target: float,
    lrs: Sequence[float] | None = None,
    *,
    max_steps: int = 10**9,
    quick: bool = False,
) -> tuple[float, float]:
    """The step size that reaches ``target`` in the fewest steps, and that number of steps.

    With ``lrs=None`` the search is over the whole stable range ``(0, 2/h_max)``: a
    log-spaced grid of 81 values from ``10⁻⁶·2/h_max`` to ``0.999·2/h_max`` plus seven
    values between ``0.5`` and ``0.98`` times ``2/h_max``, then a
    golden-section search in ``log α`` between the neighbours of the best grid value (steps
    are integers, so the optimum is a short flat interval; ties go to the smaller ``α``).
    With ``quick=True`` the grid has 41 values and there is no refinement (the best step
    size is then within a factor 1.4 of the optimum). With a list of ``lrs`` only those
    values are tried.

    Args:
        nqm: The model.
        batch_size: ``B``.
        target: Target expected loss.
        lrs: Candidate step sizes, each in ``(0, 2/h_max)``; ``None`` for the exact search.
        max_steps: Give up beyond this many steps.
        quick: Coarser search (see above).

    Returns:
        ``(best_lr, steps)``; ``steps`` is ``inf`` if no candidate reaches the target.

    >>> q = make_nqm(dim=1)
    >>> tune_lr(q, batch_size=10**6, target=1e-3)  # noiseless: α = 1/h jumps to 0 at once
    (1.0, 1.0)
    """
    q = _check_nqm(nqm)
    b = check_batch_size(batch_size, "batch_size")
    tgt = check_real(target, "target", low=0.0, low_inclusive=False)
    cap = check_positive_int(max_steps, "max_steps")
    quick = check_bool(quick, "quick")
    if lrs is not None:
        cands = check_each(lrs, "lrs", lambda v, name: _check_lr(q, v, name),
                           example="[0.1, 0.5]")
        if not cands:
            raise ValueError("lrs must hold at least one step size; got an empty sequence")
        steps = _grid_steps(q, np.array(cands), b, tgt, cap)
        i = int(np.argmin(steps))
        return cands[i], float(steps[i])
    grid = np.geomspace(q.max_lr * 1e-6, q.max_lr * 0.999, 41 if quick else 81)
    # Large batches want step sizes close to the stability limit, where a geometric grid is
    # sparse: add fractions of 2/h_max there (1/h_max, at 0.5, zeroes the stiffest
    # coordinate in one step).
    near_limit = q.max_lr * np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98])
    grid = np.unique(np.concatenate([grid, near_limit]))
    steps = _grid_steps(q, grid, b, tgt, cap)
    i = int(np.argmin(steps))
    best_lr, best = float(grid[i]), float(steps[i])
    if not np.isfinite(best) or quick:
        return best_lr, best
    lo = np.log(grid[max(i - 1, 0)])
    hi = np.log(grid[min(i + 1, len(grid) - 1)])
    x1 = hi - _GOLDEN * (hi - lo)
    x2 = lo + _GOLDEN * (hi - lo)
    f1 = _steps_or_inf(q, float(np.exp(x1)), b, tgt, cap)
    f2 = _steps_or_inf(q, float(np.exp(x2)), b, tgt, cap)
    for _ in range(40):
        for x, f in ((x1, f1), (x2, f2)):
            if f < best or (f == best and np.exp(x) < best_lr):
                best, best_lr = f, float(np.exp(x))
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - _GOLDEN * (hi - lo)
            f1 = _steps_or_inf(q, float(np.exp(x1)), b, tgt, cap)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + _GOLDEN * (hi - lo)
            f2 = _steps_or_inf(q, float(np.exp(x2)), b, tgt, cap)
    return best_lr, best


@dataclass(frozen=True)
class NQMScaling:
    """Steps to a target loss versus batch size in the NQM, with the step size tuned per B.

    Attributes:
        batch_sizes: The batch sizes ``B``.
        lrs: The best step size for each ``B``.
        steps: Fewest steps to the target for each ``B`` (``inf`` if unreachable).
        target: The target expected loss.
        max_lr: The stability limit ``2 / h_max``.
        dim: Number of coordinates of the model.
    """

    batch_sizes: np.ndarray
    lrs: np.ndarray
    steps: np.ndarray
    target: float
    max_lr: float
    dim: int
    examples: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "examples", self.batch_sizes * self.steps)

    def speedup(self) -> np.ndarray:
        """``S(B_k) / S(B_{k+1})`` for consecutive batch sizes (2 = perfect scaling when B
        doubles, 1 = no benefit).

        >>> res = nqm_batch_scaling(make_nqm(dim=20), [1, 2, 4], target=0.1)
        >>> res.speedup().round(2).tolist()
        [2.0, 2.0]
        """
        return self.steps[:-1] / self.steps[1:]

    def as_table(self) -> str:
        """A plain-text table: B, tuned α, steps, examples, speed-up over the previous B.

        >>> print(nqm_batch_scaling(make_nqm(dim=5), [1, 2], target=0.2).as_table())
        # NQM dim=5, target E ℓ = 0.2, stability limit α < 2
              B   best α      steps       examples    speed-up
              1   0.1683      16          16
              2   0.3445      8           16          2
        """
        lines = [
            f"# NQM dim={self.dim}, target E ℓ = {self.target:g}, stability limit α < "
            f"{self.max_lr:g}",
            f"{'B':>7}   {'best α':<10}  {'steps':<10}  {'examples':<10}  speed-up",
        ]
        sp = np.concatenate([[np.nan], self.speedup()])
        for b, a, s, e, u in zip(
            self.batch_sizes, self.lrs, self.steps, self.examples, sp, strict=True
        ):
            up = "" if np.isnan(u) else f"{u:.4g}"
            lines.append(f"{int(b):>7}   {a:<10.4g}  {s:<10.6g}  {e:<10.6g}  {up}".rstrip())
        return "\n".join(lines)


def nqm_batch_scaling(
    nqm: NoisyQuadratic,
    batch_sizes: Sequence[int],
    target: float,
    lrs: Sequence[float] | None = None,
    *,
    max_steps: int = 10**9,
    quick: bool = False,
) -> NQMScaling:
    """Steps to ``target`` for each batch size, with ``α`` tuned per ``B`` (:func:`tune_lr`).

    Args:
        nqm: The model (e.g. ``make_nqm(1000)``).
        batch_sizes: Batch sizes to try.
        target: Target expected loss (must lie below the initial loss).
        lrs: Candidate step sizes, or ``None`` for the exact search over the stable range.
        max_steps: Give up beyond this many steps.
        quick: Coarser learning-rate search (:func:`tune_lr`).

    Returns:
        An :class:`NQMScaling`.

    >>> res = nqm_batch_scaling(make_nqm(dim=20), [1, 1024, 4096], target=0.1)
    >>> res.steps.tolist()
    [244.0, 7.0, 7.0]
    """
    q = _check_nqm(nqm)
    sizes = check_batch_sizes(batch_sizes, "batch_sizes")
    tgt = check_real(target, "target", low=0.0, low_inclusive=False)
    if tgt >= q.initial_loss:
        raise ValueError(
            f"target must be below the initial loss {q.initial_loss:g}; got {tgt!r}"
        )
    best = [tune_lr(q, int(b), tgt, lrs, max_steps=max_steps, quick=quick) for b in sizes]
    return NQMScaling(
        batch_sizes=sizes,
        lrs=np.array([lr for lr, _ in best]),
        steps=np.array([s for _, s in best]),
        target=tgt,
        max_lr=q.max_lr,
        dim=q.dim,
    )


def simulate(
    nqm: NoisyQuadratic,
    lr: float,
    batch_size: int,
    steps: int,
    n_runs: int = 1000,
    *,
    seed: int | None = 0,
) -> np.ndarray:
    """Run noisy SGD on the quadratic ``n_runs`` times (vectorised) and return every loss.

    Each run starts at ``θ_i(0) = √s_i(0)`` and steps
    ``θ ← θ − α (h ⊙ θ + ξ)`` with ``ξ_i ~ N(0, c_i / B)`` independent across coordinates,
    steps and runs. The mean over runs estimates :func:`expected_loss`.

    Args:
        nqm: The model.
        lr: Step size ``0 < α < 2/h_max``.
        batch_size: ``B``.
        steps: Number of SGD steps.
        n_runs: Independent runs.
        seed: Seed of ``np.random.default_rng``.

    Returns:
        Losses of shape ``(n_runs, steps + 1)``.

    >>> q = make_nqm(dim=3)
    >>> simulate(q, lr=0.5, batch_size=4, steps=2, n_runs=5).shape
    (5, 3)
    """
    q = _check_nqm(nqm)
    a_lr = _check_lr(q, lr)
    b = check_batch_size(batch_size, "batch_size")
    n = check_nonnegative_int(steps, "steps")
    r = check_positive_int(n_runs, "n_runs")
    rng = np.random.default_rng(check_seed(seed))
    h = q.curvature
    sd = np.sqrt(q.noise / b)
    theta = np.tile(np.sqrt(q.init), (r, 1))
    out = np.empty((r, n + 1))
    out[:, 0] = 0.5 * (theta**2) @ h
    for t in range(1, n + 1):
        theta -= a_lr * (h * theta + sd * rng.standard_normal(theta.shape))
        out[:, t] = 0.5 * (theta**2) @ h
    return out
