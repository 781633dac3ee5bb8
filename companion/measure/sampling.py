"""Drawing random batches: the batch-size grid and the vectorised batch-mean sampler.

Shared by the measurements (noise, noise scale, landscape, critical batch, learning-rate
scaling, speed) and the widgets.

>>> powers_of_two(100)
[1, 2, 4, 8, 16, 32, 64, 100]
"""

from __future__ import annotations

import numpy as np

from companion.core._validation import check_bool, check_positive_int

_CHUNK_ENTRIES = 2_000_000
"""Upper bound on the size (in float64 entries) of the draws × N weight matrix built at once."""


def powers_of_two(n_samples: int, *, include_n: bool = True) -> list[int]:
    """Batch sizes ``1, 2, 4, …`` up to ``n_samples`` (and ``n_samples`` itself if asked).

    Args:
        n_samples: The largest allowed batch size ``N``.
        include_n: Append ``N`` when it is not a power of two.

    Returns:
        A list of ints in increasing order.

    >>> powers_of_two(10)
    [1, 2, 4, 8, 10]
    >>> powers_of_two(8), powers_of_two(10, include_n=False)
    ([1, 2, 4, 8], [1, 2, 4, 8])
    """
    n = check_positive_int(n_samples, "n_samples")
    include_n = check_bool(include_n, "include_n")
    out = [2**k for k in range(n.bit_length()) if 2**k <= n]
    if include_n and out[-1] != n:
        out.append(n)
    return out


def batch_weights(
    rng: np.random.Generator, n_draws: int, n_samples: int, batch_size: int, replace: bool
) -> np.ndarray:
    """A ``(n_draws, N)`` matrix whose row r counts how often each sample is in batch r.

    >>> batch_weights(np.random.default_rng(0), 2, 4, 3, replace=False).sum(axis=1).tolist()
    [3.0, 3.0]
    """
    if replace:
        idx = rng.integers(0, n_samples, size=(n_draws, batch_size))
        flat = idx + n_samples * np.arange(n_draws)[:, None]
        counts = np.bincount(flat.ravel(), minlength=n_draws * n_samples)
        return counts.reshape(n_draws, n_samples).astype(np.float64)
    if batch_size == n_samples:
        return np.ones((n_draws, n_samples))
    # B distinct rows per draw: the B smallest of N i.i.d. uniform keys (a uniformly random
    # B-subset; ties have probability zero).
    keys = rng.random((n_draws, n_samples))
    kth = np.partition(keys, batch_size - 1, axis=1)[:, batch_size - 1 : batch_size]
    return (keys <= kth).astype(np.float64)


def draw_batch_means(
    rng: np.random.Generator, g: np.ndarray, batch_size: int, n_draws: int, replace: bool
) -> np.ndarray:
    """``n_draws`` batch-mean gradients of random batches of ``batch_size`` rows of ``g``.

    The vectorised sampler behind :func:`~companion.measure.noise.sample_batch_means`
    (no argument checks: ``g`` a float ``(N, P)`` array, ``1 ≤ batch_size`` and, without
    replacement, ``batch_size ≤ N``). Works in chunks of about 2·10⁶ weights.

    >>> g = np.arange(6.0).reshape(3, 2)
    >>> draw_batch_means(np.random.default_rng(0), g, 3, 2, replace=False).tolist()
    [[2.0, 3.0], [2.0, 3.0]]
    """
    n = g.shape[0]
    if batch_size == n and not replace:
        # Every batch is the whole set: its mean is G, computed exactly as G is.
        return np.tile(g.mean(axis=0), (n_draws, 1))
    chunk = max(1, _CHUNK_ENTRIES // n)
    out = np.empty((n_draws, g.shape[1]))
    for start in range(0, n_draws, chunk):
        stop = min(n_draws, start + chunk)
        w = batch_weights(rng, stop - start, n, batch_size, replace)
        out[start:stop] = (w @ g) / batch_size
    return out
