"""Measurement layer: gradient noise on digits, B_simple, the critical batch size, the NQM.

Everything on scikit-learn's digits (training split of ``companion.core.datasets.digits()``, N =
1347) with softmax regression at one fixed θ: ``SoftmaxRegression(64, 10, seed=0)`` after one
epoch of ``companion.fit`` with ``batch_size=32``, ``SGD(0.1)``, ``seed=0``.

1. Noise of the batch-mean gradient for B = 1, 2, 4, …, 1024, 1347: exact ``tr Cov(ĝ_B)``
   next to the Monte-Carlo estimate (mean of ``‖ĝ_B − G‖²`` over R batches, ± its standard
   error) and the mean cosine to ``G``, without and with replacement.
2. ``B_simple = tr Σ / ‖G‖²``: exact, and the two-batch-size estimate (B_small = 8,
   B_big = 128) with and without replacement.
3. The steps/examples experiment (``critical_batch_experiment``): default and ``quick=True``,
   with their wall times, S_min, E_min and B_crit next to B_simple.
4. The noisy quadratic model (dim 1000, h_i = 1/i, target 1 % of the initial loss, B = 1 …
   65536): default (exact learning-rate search) and ``quick=True``, with wall times.

Run ``python benchmarks/bench_measure.py [--quick]`` or ``python -m benchmarks --only measure``.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def fixed_theta_grads() -> tuple[np.ndarray, float]:
    """Per-sample gradients of softmax regression on digits at the fixed θ, and its loss."""
    from companion import SGD, fit
    from companion.core.datasets import digits
    from companion.core.models import SoftmaxRegression

    data = digits()
    model = SoftmaxRegression(64, 10, seed=0)
    fit(model, data.X_train, data.y_train, batch_size=32, epochs=1, optimizer=SGD(0.1), seed=0,
        progress=False)
    return model.per_sample_grads(data.X_train, data.y_train), model.loss(
        data.X_train, data.y_train
    )


def noise_table(g: np.ndarray, n_draws: int) -> str:
    """Markdown table: theory and Monte Carlo, without and with replacement, per B."""
    from companion.measure.noise import gradient_noise
    from companion.measure.sampling import powers_of_two

    sizes = powers_of_two(len(g))
    wo = gradient_noise(g, sizes, n_draws, replace=False, seed=0)
    wi = gradient_noise(g, sizes, n_draws, replace=True, seed=1)
    lines = [
        f"tr Σ = {wo.trace_sigma:.4g}, ‖G‖² = {wo.grad_sq_norm:.4g}, N = {wo.n_samples}, "
        f"P = {wo.n_params}; {n_draws} random batches per B and scheme; Monte Carlo = mean of "
        "‖ĝ_B − G‖² ± one standard error; 'var' = trace of the sample covariance of the batch "
        "means.",
        "",
        "| B | theory, without repl. | Monte Carlo, without | var, without | cos(ĝ,G), without "
        "| theory, with repl. | Monte Carlo, with | cos(ĝ,G), with | within 3 s.e.? |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for i, b in enumerate(sizes):
        ok = all(
            abs(r.mse[i] - r.theory[i]) <= 3 * r.mse_se[i] or r.theory[i] == r.mse[i]
            for r in (wo, wi)
        )
        lines.append(
            f"| {b} | {wo.theory[i]:.4g} | {wo.mse[i]:.4g} ± {wo.mse_se[i]:.2g} | "
            f"{wo.variance[i]:.4g} | {wo.cosine[i]:.3f} | {wi.theory[i]:.4g} | "
            f"{wi.mse[i]:.4g} ± {wi.mse_se[i]:.2g} | {wi.cosine[i]:.3f} | "
            f"{'yes' if ok else 'NO'} |"
        )
    return "\n".join(lines)


def noise_scale_lines(g: np.ndarray, n_draws: int) -> str:
    """Exact B_simple and the two-batch estimates."""
    from companion.measure.noise_scale import estimate_noise_scale, simple_noise_scale

    exact = simple_noise_scale(g)
    lines = [f"- exact B_simple = tr Σ / ‖G‖² = {exact:.4g}"]
    for replace in (True, False):
        est = estimate_noise_scale(g, 8, 128, n_draws, replace=replace, seed=0)
        z = (est.b_simple - exact) / est.b_simple_se
        lines.append(f"- estimated: {est} → {z:+.2f} standard errors from the exact value")
    return "\n".join(lines)


def critical_batch_lines() -> str:
    """Default and quick steps/examples experiments with wall times."""
    from companion.measure.critical_batch import critical_batch_experiment

    out = []
    for quick in (False, True):
        t0 = time.perf_counter()
        res = critical_batch_experiment(quick=quick)
        seconds = time.perf_counter() - t0
        out.append(f"**{'quick=True' if quick else 'default'}** ({seconds:.1f} s, "
                   f"{res.repeats} run(s) per (B, lr), {res.lrs.size} learning rates on the "
                   f"grid):\n\n```\n{res.as_table()}\n```")
    return "\n\n".join(out)


def nqm_lines() -> str:
    """Default and quick NQM scaling runs with wall times."""
    from companion.measure.critical_batch import fit_frontier
    from companion.measure.nqm import make_nqm, nqm_batch_scaling

    q = make_nqm(1000)
    sizes = [2**k for k in range(17)]
    out = []
    for quick in (False, True):
        t0 = time.perf_counter()
        res = nqm_batch_scaling(q, sizes, target=0.01 * q.initial_loss, quick=quick)
        seconds = time.perf_counter() - t0
        fit = fit_frontier(res.steps, res.examples)
        out.append(
            f"**{'quick=True' if quick else 'default'}** ({seconds:.2f} s): fitted S_min = "
            f"{fit.s_min:.4g}, E_min = {fit.e_min:.4g}, B_crit = {fit.b_crit:.3g} (rms log "
            f"residual {fit.rms_log_residual:.3f})\n\n```\n{res.as_table()}\n```"
        )
    return "\n\n".join(out)


def run(quick: bool = False) -> str:
    """All measurements as one markdown report (``quick``: fewer Monte-Carlo draws)."""
    t0 = time.perf_counter()
    g, loss = fixed_theta_grads()
    parts = [
        f"Softmax regression on digits at a fixed θ (one epoch of B=32, SGD(0.1)); training "
        f"loss {loss:.4f}.",
        "",
        "### 1. Gradient noise per batch size",
        "",
        noise_table(g, 300 if quick else 2000),
        "",
        "### 2. Simple noise scale",
        "",
        noise_scale_lines(g, 1000 if quick else 5000),
        "",
        "### 3. Steps vs examples to training loss 0.2 (softmax regression from its "
        "initialisation)",
        "",
        critical_batch_lines(),
        "",
        "### 4. Noisy quadratic model (dim 1000, h_i = 1/i, c = h, target 1 % of ℓ(0))",
        "",
        nqm_lines(),
        "",
        f"(bench_measure took {time.perf_counter() - t0:.0f} s)",
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]))
