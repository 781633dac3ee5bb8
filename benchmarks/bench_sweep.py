"""Sweeps: K runs in lockstep (``companion.core.sweep``) against K separate ``fit`` calls.

1. One epoch on the digits training split (N = 1347) for K = 1, 8, 32, 128 runs of softmax
   regression ``SoftmaxRegression(64, 10)`` and of ``MLP([64, 32, 10])`` at B = 1, 8, 32, 128
   (``SGD(0.01)``, run k with model seed k and batch order seed k, ``progress=False``):
   seconds for K ``fit`` calls one after the other in this process, seconds for one
   ``sweep`` call, their ratio (target: >= 10 at K = 32 and B <= 8), and the peak of traced
   memory (``tracemalloc``, NumPy allocations included) of each, in MB = 10^6 bytes,
   measured in a second, separate run so that tracing does not slow the timed one.
2. The full critical-batch experiment (``critical_batch_experiment()``, digits loaded
   beforehand and not timed): the lockstep search as the module runs it, against the same
   search with every (learning rate, seed) run one at a time by ``steps_to_loss`` (how the
   module ran before it used lockstep runs). The two cut runs off against the budget in a
   different order, so a point can differ slightly (the B_crit column shows both). Targets:
   >= 5× faster, and under 10 s on one core.

One BLAS thread (``OPENBLAS_NUM_THREADS=1``, set by the Makefile), one process; each time
is the fastest of repeated runs (repeated until they add up to a second, at most five; a
call of a second or more runs once), as ``timeit`` advises, because a single run of a
30 ms sweep on this VM varied by tens of per cent. Run it on an otherwise idle machine (the
machine's load average is printed with the table). ``--quick`` keeps K <= 32 and B <= 8 and skips part 2's slow
baseline.

Run ``python -m benchmarks --only sweep [--quick]`` or ``python benchmarks/bench_sweep.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

RUNS = (1, 8, 32, 128)
BATCH_SIZES = (1, 8, 32, 128)
LR = 0.01


def _models(kind: str, k: int) -> list[Any]:
    from companion.core.models import MLP, SoftmaxRegression

    if kind == "softmax":
        return [SoftmaxRegression(64, 10, seed=i) for i in range(k)]
    return [MLP([64, 32, 10], seed=i) for i in range(k)]


def _separate(kind: str, k: int, b: int, X: np.ndarray, y: np.ndarray) -> None:
    from companion.core.optim import SGD
    from companion.core.training import fit

    for i, model in enumerate(_models(kind, k)):
        fit(model, X, y, batch_size=b, optimizer=SGD(LR), seed=i, progress=False)


def _together(kind: str, k: int, b: int, X: np.ndarray, y: np.ndarray) -> None:
    from companion.core.optim import SGD
    from companion.core.sweep import sweep

    sweep(_models(kind, k), X, y, batch_size=b, optimizers=SGD(LR), seeds=list(range(k)),
          progress=False)


def _fastest(fn: Callable[[], Any], total: float = 1.0, most: int = 5) -> tuple[float, Any]:
    """Seconds of the fastest of ``fn``'s untraced calls, repeated until they add up to
    ``total`` seconds or ``most`` calls, and the first call's result.

    >>> calls = []
    >>> seconds, result = _fastest(lambda: calls.append(1) or len(calls), total=1e9, most=3)
    >>> result, len(calls), seconds >= 0
    (1, 3, True)
    """
    t0 = time.perf_counter()
    result = fn()
    times = [time.perf_counter() - t0]
    while sum(times) < total and len(times) < most:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def _measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Seconds of the fastest untraced call (:func:`_fastest`), then peak traced MB of one
    more call, and the result."""
    seconds, result = _fastest(fn)
    tracemalloc.start()
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    return seconds, peak, result


def lockstep_rows(quick: bool = False) -> list[dict[str, Any]]:
    """Part 1: one row per (model, K, B)."""
    from companion.core.datasets import digits

    data = digits()
    X, y = data.X_train, data.y_train
    rows = []
    for kind in ("softmax", "mlp"):
        for b in BATCH_SIZES if not quick else (1, 8):
            for k in RUNS if not quick else (1, 8, 32):
                fit_s, fit_mb, _ = _measure(partial(_separate, kind, k, b, X, y))
                sweep_s, sweep_mb, _ = _measure(partial(_together, kind, k, b, X, y))
                rows.append({
                    "model": "SoftmaxRegression(64, 10)" if kind == "softmax" else "MLP 64-32-10",
                    "K": k, "B": b, "K fits s": fit_s, "sweep s": sweep_s,
                    "speed-up": fit_s / sweep_s, "fits peak MB": fit_mb,
                    "sweep peak MB": sweep_mb,
                    "target": ">= 10" if k == 32 and b <= 8 else "",
                })
                print(rows[-1], file=sys.stderr, flush=True)  # progress: the table comes last
    return rows


def _one_at_a_time(X: np.ndarray, y: np.ndarray) -> Any:
    """The full experiment with each (lr, seed) run alone by ``steps_to_loss``."""
    import companion.measure.critical_batch as cb

    def sequential(model, X, y, b, lrs, seeds, target, loss0, cap, every, repeats, budget):
        out = np.full(len(lrs), np.inf)
        for start in range(0, len(lrs), repeats):
            total, steps = 0, []
            for r in range(start, start + repeats):
                left = int(np.floor(budget * repeats)) - total
                s = None if left < 1 else cb.steps_to_loss(
                    model, X, y, b, float(lrs[r]), target, max_steps=min(cap, left),
                    seed=int(seeds[r]), check_every=every,
                )
                if s is None:
                    steps = []
                    break
                total += s
                steps.append(s)
            if steps:
                out[start : start + repeats] = steps
                budget = min(budget, total / repeats)
        return out

    original = cb._lockstep_steps
    cb._lockstep_steps = sequential
    try:
        return cb.critical_batch_experiment(X, y)
    finally:
        cb._lockstep_steps = original


def critical_batch_rows(quick: bool = False) -> list[dict[str, Any]]:
    """Part 2: the full critical-batch experiment, lockstep and one run at a time."""
    from companion.core.datasets import digits
    from companion.measure.critical_batch import critical_batch_experiment

    data = digits()
    X, y = data.X_train, data.y_train
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        after_s, after_mb, after = _measure(lambda: critical_batch_experiment(X, y))
        rows = [{"critical batch (full)": "lockstep (now)", "s": after_s, "peak MB": after_mb,
                 "B_crit": after.b_crit, "target": "< 10 s"}]
        if not quick:
            before_s, before_mb, before = _measure(lambda: _one_at_a_time(X, y))
            rows.insert(0, {"critical batch (full)": "one run at a time (before)", "s": before_s,
                            "peak MB": before_mb, "B_crit": before.b_crit, "target": ""})
            rows.append({"critical batch (full)": "speed-up", "s": before_s / after_s,
                         "peak MB": "", "B_crit": "", "target": ">= 5"})
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])

    def cell(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def run(quick: bool = False) -> str:
    """Both parts, as markdown tables, with the machine's load."""
    load = os.getloadavg()
    head = (f"Load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
            f"{os.cpu_count()} CPUs; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    parts = [head, "", _table(lockstep_rows(quick)), "", _table(critical_batch_rows(quick))]
    load = os.getloadavg()
    parts.append(f"\nLoad average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(run(quick=args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
