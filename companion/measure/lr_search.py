"""The learning-rate search shared by every experiment: walk a grid outwards from a guess.

:func:`companion.measure.lr_scaling.lr_sweep` (training loss after a fixed budget),
:func:`companion.measure.critical_batch.critical_batch_experiment` (steps to a target loss)
and :func:`companion.measure.nqm.tune_lr` (steps on the noisy quadratic model) all look for
the grid value with the lowest score (lower is better; ``inf`` for a run that diverged or
did not reach its target). :func:`walk_grid` evaluates a window of the grid around a start
index, then widens the window on a side while the best score so far lies within
``patience`` values of that edge: when it stops, the best value has ``patience`` tried
neighbours on each side that do not beat it (or the grid ends there). Until some value
scores finitely the window widens on both sides. Each window is handed to ``evaluate`` in
one call, so a caller can train all of its learning rates at once, in lockstep
(:func:`companion.core.sweep.sweep`). ``patience=None`` evaluates the whole grid.

>>> values = np.array([9.0, 7.0, 5.0, 3.0, 4.0, 6.0, 8.0, 10.0, 1.0])
>>> calls = []
>>> def evaluate(indices, best):
...     calls.append(list(indices))
...     return values[indices]
>>> out = walk_grid(evaluate, values.size, start=2, patience=2)
>>> calls  # the window 0..4, then two more above the best (index 3): the far dip is unseen
[[0, 1, 2, 3, 4], [5, 6]]
>>> int(np.nanargmin(out)), bool(np.isnan(out[7:]).all())
(3, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: ``evaluate(indices, best)`` scores the grid values at ``indices`` (a list of ints); ``best``
#: is the lowest score found so far (``inf`` at first), which a caller may use to cut off
#: runs that can no longer beat it (scoring them ``inf``).
Evaluate = Callable[[list[int], float], Sequence[float] | np.ndarray]


def walk_grid(evaluate: Evaluate, n: int, start: int, patience: int | None = 2) -> np.ndarray:
    """Scores on a grid of ``n`` values, ``nan`` where the walk did not go (see the module).

    Args:
        evaluate: Scores a list of grid indices (lower is better, ``inf`` for failure).
        n: Grid size.
        start: Index of the first guess.
        patience: Values beyond the best to try on each side; None for the whole grid.

    Returns:
        A float array of length ``n``.

    >>> walk_grid(lambda idx, best: [float(i) for i in idx], 5, start=4, patience=1).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    >>> walk_grid(lambda idx, best: [float(i) for i in idx], 4, 0, patience=None).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    if not 0 <= start < n:
        raise ValueError(f"start must be an index into the grid of {n}; got {start}")
    out = np.full(n, np.nan)

    def run(indices: list[int]) -> None:
        if indices:
            filled = np.where(np.isnan(out), np.inf, out)
            out[indices] = np.asarray(evaluate(indices, float(filled.min())), dtype=float)

    if patience is None:
        run(list(range(n)))
        return out
    if patience < 1:
        raise ValueError(f"patience must be a positive int or None; got {patience}")
    lo, hi = max(0, start - patience), min(n - 1, start + patience)
    run(list(range(lo, hi + 1)))
    while True:
        filled = np.where(np.isnan(out), np.inf, out)
        found = bool(np.isfinite(filled).any())
        best = int(np.argmin(filled)) if found else -1
        new_lo = max(0, lo - patience) if lo > 0 and (not found or best - lo < patience) else lo
        new_hi = (min(n - 1, hi + patience)
                  if hi < n - 1 and (not found or hi - best < patience) else hi)
        if (new_lo, new_hi) == (lo, hi):
            return out
        run(list(range(new_lo, lo)) + list(range(hi + 1, new_hi + 1)))
        lo, hi = new_lo, new_hi
