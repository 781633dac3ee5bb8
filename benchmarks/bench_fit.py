"""How much does ``companion.fit`` cost over a bare NumPy training loop?

Times one epoch of ``fit`` with ``MLP([64, 32, 10])`` on the digits training split
(1347 rows) for several batch sizes, in float32 and float64, with ``progress=False``,
against a bare loop in the same process doing the same arithmetic: the same forward
pass, loss, backward pass and SGD update written inline, and the same per-epoch
shuffling. Each time is the best of several repeats; the table shows milliseconds per
epoch and the ratio fit / bare (targets: <= 1.3 at B = 1, <= 1.1 at B >= 128).

Run ``python -m benchmarks.bench_fit [--quick]`` or ``python benchmarks/bench_fit.py``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from companion import SGD, fit
from companion.core.datasets import digits
from companion.core.models import MLP

BATCH_SIZES = (1, 8, 32, 128, 512, 1797)
LR = 0.05
SEED = 0


def bare_epoch(
    params: list[np.ndarray], X: np.ndarray, y: np.ndarray, batch_size: int, lr: float,
    seed: int, epoch: int = 0,
) -> float:
    """One epoch of mini-batch SGD on a one-hidden-layer ReLU MLP, written inline.

    ``params = [W0, b0, W1, b1]`` are updated in place. Returns the last batch loss.
    """
    W0, b0, W1, b1 = params
    n = len(X)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    loss = 0.0
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        xb, yb = X[idx], y[idx]
        m = len(idx)
        rows = np.arange(m)
        z = xb @ W0
        z += b0
        h = np.maximum(z, 0, out=z)
        logits = h @ W1
        logits += b1
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        s = e.sum(axis=1)
        loss = float(np.mean(np.log(s) - logits[rows, yb]))
        e *= (1.0 / m) / s[:, None]
        e[rows, yb] -= 1.0 / m
        gW1 = h.T @ e
        gb1 = e.sum(axis=0)
        dh = e @ W1.T
        dh[h <= 0] = 0
        gW0 = xb.T @ dh
        gb0 = dh.sum(axis=0)
        W0 -= lr * gW0
        b0 -= lr * gb0
        W1 -= lr * gW1
        b1 -= lr * gb1
    return loss


def _time_fit(template: MLP, X: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    model = template.copy()
    start = time.perf_counter()
    fit(model, X, y, batch_size=batch_size, epochs=1, optimizer=SGD(LR), shuffle=True,
        seed=SEED, progress=False)
    return time.perf_counter() - start


def _time_bare(template: MLP, X: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    params = [template.params[k].copy() for k in template.param_names]
    start = time.perf_counter()
    bare_epoch(params, X, y, batch_size, LR, SEED)
    return time.perf_counter() - start


def run(quick: bool = False) -> list[dict]:
    """Time fit against the bare loop; one dict per (batch size, dtype).

    Both run with one BLAS thread (``threadpoolctl``), since these matrices are too small
    to gain from threads and a busy machine makes threaded timings erratic. The two are
    timed alternately, best of ``repeats`` each, so background load hits both alike.

    Args:
        quick: Fewer repeats (for smoke tests); the numbers are noisier.

    Returns:
        Rows with keys ``batch_size, dtype, fit_ms, bare_ms, ratio``.
    """
    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(limits=1):
        for dtype in (np.float32, np.float64):
            data = digits(dtype=dtype)
            X, y = data.X_train, data.y_train
            template = MLP([64, 32, 10], seed=SEED, dtype=dtype)
            for batch_size in BATCH_SIZES:
                repeats = 2 if quick else (9 if batch_size == 1 else 25 if batch_size < 32 else 101)
                _time_fit(template, X, y, batch_size)  # warm up both
                _time_bare(template, X, y, batch_size)
                fit_s = bare_s = float("inf")
                for _ in range(repeats):
                    fit_s = min(fit_s, _time_fit(template, X, y, batch_size))
                    bare_s = min(bare_s, _time_bare(template, X, y, batch_size))
                rows.append({
                    "batch_size": batch_size, "dtype": np.dtype(dtype).name,
                    "fit_ms": 1e3 * fit_s, "bare_ms": 1e3 * bare_s, "ratio": fit_s / bare_s,
                })
    return rows


def check_same_result() -> float:
    """Largest parameter difference between fit and the bare loop after one epoch (B=32)."""
    data = digits()
    model = MLP([64, 32, 10], seed=SEED)
    params = [model.params[k].copy() for k in model.param_names]
    fit(model, data.X_train, data.y_train, batch_size=32, optimizer=SGD(LR), seed=SEED,
        progress=False)
    bare_epoch(params, data.X_train, data.y_train, 32, LR, SEED)
    return max(float(np.abs(model.params[k] - p).max()) for k, p in zip(model.param_names, params, strict=True))


def format_table(rows: list[dict]) -> str:
    """The rows as a markdown table with the targets."""
    lines = [
        "| batch size | dtype | fit (ms/epoch) | bare loop (ms/epoch) | fit / bare | target |",
        "|---:|:---|---:|---:|---:|:---|",
    ]
    for r in rows:
        b = r["batch_size"]
        target = "<= 1.3" if b == 1 else ("<= 1.1" if b >= 128 else "")
        limit = 1.3 if b == 1 else (1.1 if b >= 128 else None)
        verdict = "" if limit is None else (" (met)" if r["ratio"] <= limit else " (missed)")
        label = f"{b} (all)" if b == BATCH_SIZES[-1] else str(b)
        lines.append(
            f"| {label} | {r['dtype']} | {r['fit_ms']:.2f} | {r['bare_ms']:.2f} | "
            f"{r['ratio']:.3f} | {target}{verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    print(f"fit vs bare NumPy loop: MLP([64, 32, 10]) on digits (1347 rows), one epoch, lr={LR}")
    if hasattr(os, "getloadavg"):
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
              "(timings are unreliable on a busy machine)")
    print(f"same parameters after one epoch (max |difference|): {check_same_result():.2e}")
    print(format_table(run(quick=args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
