"""``B_noise = tr(HΣ)/GᵀHG``: against the exact Hessian, its ``H ∝ I`` limit, the experiment."""

from __future__ import annotations

import numpy as np
import pytest

from companion.core.models import LinearRegression, SoftmaxRegression
from companion.measure.critical_batch import critical_batch_experiment
from companion.measure.noise_scale import hessian_noise_scale, simple_noise_scale


def whitened(n: int = 200, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs with zero-mean columns and XᵀX/N = I/2: the MSE Hessian is diag(1, 1, 1, 2)
    (curvature 1 along each weight, 2 along the bias, no cross terms)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X -= X.mean(axis=0)
    L = np.linalg.cholesky(X.T @ X / n)
    X = X @ np.linalg.inv(L).T / np.sqrt(2.0)
    return X, X @ np.array([1.0, -1.0, 0.5]) + rng.normal(size=n)


def finite_difference_hessian(m: SoftmaxRegression, X: np.ndarray, y: np.ndarray,
                              h: float = 1e-5) -> np.ndarray:
    """One-sided differences of the exact gradient, symmetrised: independent of the
    Hessian-vector products and of the closed form under test."""
    base, p = m.get_flat(), m.n_params
    H = np.empty((p, p))
    for j in range(p):
        e = np.zeros(p)
        e[j] = h
        m.set_flat(base + e)
        plus = np.concatenate([v.ravel() for v in m.grad(X, y).values()])
        m.set_flat(base)
        zero = np.concatenate([v.ravel() for v in m.grad(X, y).values()])
        H[:, j] = (plus - zero) / h
    return (H + H.T) / 2


def test_b_noise_against_the_exact_hessian_of_a_quadratic() -> None:
    X, y = whitened()
    m = LinearRegression(3, seed=0)  # H = 2·[[XᵀX/N, mean x], [mean xᵀ, 1]]
    H = 2 * np.block([[X.T @ X / len(X), X.mean(0)[:, None]], [X.mean(0)[None, :], np.ones((1, 1))]])
    assert np.allclose(H, np.diag([1.0, 1.0, 1.0, 2.0]))
    g = m.per_sample_grads(X, y)
    G, D = g.mean(0), g - g.mean(0)
    exact = np.trace(H @ (D.T @ D) / len(X)) / (G @ H @ G)
    assert hessian_noise_scale(m, X, y) == pytest.approx(exact, rel=1e-8)
    m.params = {"W": m.params["W"], "b": [float(y.mean())]}  # G_b = 0: the signal sees H = I
    g = m.per_sample_grads(X, y)
    assert abs(g.mean(0)[-1]) < 1e-12
    assert g[:, -1].std() > 0  # the bias still carries noise, with curvature 2 not 1
    G, D = g.mean(0), g - g.mean(0)
    tr_h_sigma = (np.einsum("ij,ij->", D[:, :3], D[:, :3]) + 2 * D[:, 3] @ D[:, 3]) / len(X)
    assert hessian_noise_scale(m, X, y) == pytest.approx(tr_h_sigma / (G @ G), rel=1e-8)
    assert hessian_noise_scale(m, X, y) > simple_noise_scale(g)  # the bias noise counts twice


def test_b_noise_on_softmax_matches_a_finite_difference_hessian(digits_train) -> None:
    """Both routes against an independent Hessian: on this small data set
    hessian_noise_scale forms H; the sums over pairs of samples are called directly."""
    from companion.measure.noise_scale import _pairs_are_cheaper, _softmax_noise_terms

    X, y = digits_train
    X, y = X[:300, :8], y[:300] % 3
    m = SoftmaxRegression(8, 3, seed=0)
    assert not _pairs_are_cheaper(m, len(X))
    H = finite_difference_hessian(m, X, y)
    g = m.per_sample_grads(X, y)
    G, D = g.mean(0), g - g.mean(0)
    expected_tr, expected_curv = np.trace(H @ (D.T @ D) / len(X)), G @ H @ G
    assert hessian_noise_scale(m, X, y) == pytest.approx(expected_tr / expected_curv, rel=1e-4)
    tr_h_sigma, curv = _softmax_noise_terms(m, *m.check_data(X, y),
                                            chunk_elements=1000)  # blocks of 3 rows
    assert tr_h_sigma == pytest.approx(expected_tr, rel=1e-4)
    assert curv == pytest.approx(expected_curv, rel=1e-4)


def test_b_noise_on_the_digits_sums_over_pairs_and_equals_the_hessian_route(digits_train) -> None:
    """On the digits (N = 1347, P = 650) hessian_noise_scale never forms H; its value is the
    one H and the per-sample gradients give, at the start and after some training."""
    from companion.core.optim import SGD
    from companion.core.training import fit
    from companion.measure import noise_scale
    from companion.measure.curvature import hessian

    X, y = digits_train
    m = SoftmaxRegression(64, 10, seed=0)
    assert noise_scale._pairs_are_cheaper(m, len(X))
    for epochs in (0, 3):
        if epochs:
            fit(m, X, y, batch_size=32, epochs=epochs, optimizer=SGD(0.1), seed=0, progress=False)
        g = m.per_sample_grads(X, y)
        G, D = g.mean(0), g - g.mean(0)
        H = hessian(m, X, y)
        expected = np.einsum("ij,ij->", D @ H, D) / len(X) / (G @ H @ G)
        assert hessian_noise_scale(m, X, y) == pytest.approx(expected, rel=1e-10)


def test_the_experiment_reports_b_noise_at_the_start_and_at_the_target(digits_train) -> None:
    X, y = digits_train
    res = critical_batch_experiment(X, y, batch_sizes=[64, len(X)], lrs=[0.8, 1.6, 3.2],
                                    repeats=1, b_noise=True)
    assert res.b_noise_start is not None and res.b_noise_end is not None
    assert 0 < res.b_noise_start < np.inf and 0 < res.b_noise_end < np.inf
    assert "B_noise = " in res.as_table().splitlines()[0]
    off = critical_batch_experiment(X, y, batch_sizes=[64, len(X)], lrs=[0.8, 1.6, 3.2],
                                    repeats=1)
    assert off.b_noise_start is None and off.b_noise_end is None  # b_noise=False by default
    assert off.b_simple_start == res.b_simple_start and np.array_equal(off.steps, res.steps)


def test_b_crit_interval_over_independent_batch_orders(digits_train) -> None:
    from companion.measure.critical_batch import (
        BCritInterval,
        critical_batch_interval,
        refine_grid,
    )

    X, y = digits_train
    res = critical_batch_interval(X, y, n_seeds=3, repeats=1, lrs=[0.4, 1.6, 6.4],
                                  batch_sizes=[4, 64, len(X)])
    assert res.seeds == (0, 1, 2)
    assert [r.repeats for r in res.results] == [1, 1, 1]
    assert res.b_crit.shape == (3,) and res.b_crit_refined.shape == (3,)
    assert np.allclose(res.b_crit, [r.b_crit for r in res.results])
    centre, lo, hi = res.interval()
    assert lo < centre < hi
    assert centre == pytest.approx(float(np.exp(np.log(res.b_crit).mean())))
    assert refine_grid([0.4, 1.6, 6.4]).tolist() == pytest.approx([0.4, 0.8, 1.6, 3.2, 6.4])
    with pytest.raises(ValueError, match="refined grid was not measured"):
        BCritInterval(res.seeds, res.b_crit, None, res.lrs, res.results).interval(refined=True)


def test_b_crit_interval_on_an_executor_equals_in_process_and_pools(digits_train) -> None:
    """Each measurement starts from its own initialisation; on an executor the results are the
    same; pooled() takes the geometric mean of the steps and fits it."""
    from concurrent.futures import ThreadPoolExecutor

    from companion.measure.critical_batch import critical_batch_interval

    X, y = digits_train
    kwargs = dict(n_seeds=2, repeats=1, lrs=[0.4, 1.6, 6.4], batch_sizes=[4, 64, len(X)])
    here = critical_batch_interval(X, y, **kwargs)
    with ThreadPoolExecutor(2) as pool:
        there = critical_batch_interval(X, y, executor=pool, **kwargs)
    assert np.array_equal(here.b_crit, there.b_crit)
    assert np.array_equal(here.b_crit_refined, there.b_crit_refined)
    pooled = here.pooled()
    expected = np.exp(np.log(np.stack([r.steps for r in here.results])).mean(axis=0))
    assert np.allclose(pooled.steps, expected) and pooled.repeats == 2
    assert pooled.fit.b_crit > 0 and here.pooled(refined=True).steps.shape == expected.shape
    with pytest.raises(TypeError, match="executor must be None or a concurrent.futures"):
        critical_batch_interval(X, y, executor="pool", **kwargs)


def test_b_crit_interval_cancels_the_pending_measurements_when_one_fails(digits_train) -> None:
    """A measurement that raises on the executor stops the interval and cancels the others,
    which then never start."""
    from concurrent.futures import Executor, Future

    from companion.measure.critical_batch import critical_batch_interval

    class Pending(Executor):
        """Runs nothing: the first submission fails at once, the rest stay pending."""

        def __init__(self) -> None:
            self.futures: list[Future] = []

        def submit(self, fn, /, *args, **kwargs) -> Future:  # type: ignore[override]
            future: Future = Future()
            if not self.futures:
                future.set_exception(RuntimeError("worker lost"))
            self.futures.append(future)
            return future

    X, y = digits_train
    pool = Pending()
    with pytest.raises(RuntimeError, match="worker lost"):
        critical_batch_interval(X, y, n_seeds=3, repeats=1, lrs=[0.4, 1.6], batch_sizes=[4],
                                executor=pool)
    assert len(pool.futures) == 6  # three measurements on each of the two grids
    assert all(f.cancelled() for f in pool.futures[1:])


@pytest.mark.parametrize(("lrs", "error", "message"), [
    ([0.1, -0.2, 0.4], ValueError, r"lrs\[1\] must be a finite real number > 0; got -0.2"),
    ("abc", TypeError, r"lrs must be a sequence, e.g. \[0.05, 0.1, 0.2\]; got 'abc'"),
    ([], ValueError, "lrs must hold at least one learning rate"),
])
def test_b_crit_interval_checks_the_grid_before_refining_it(digits_train, lrs, error,
                                                            message) -> None:
    """The grid is checked as the experiment checks it, before anything is computed from it
    (a negative rate used to reach the refinement's square root first)."""
    import warnings

    from companion.measure.critical_batch import critical_batch_interval

    X, y = digits_train
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from sqrt of a negative product
        with pytest.raises(error, match=message):
            critical_batch_interval(X, y, lrs=lrs, batch_sizes=[64])


@pytest.mark.parametrize(("X", "y", "message"), [
    (5, [0], r"X must be a 2-D array; got shape \(\)"),
    ([[1.0, 2.0], [0.0, 1.0]], [0], r"X and y must have the same number of samples"),
    ([[1.0, 2.0]], [7], r"y must hold integer class labels in \[0, 3\); got 7"),
])
def test_b_noise_names_bad_data_before_choosing_a_route(X, y, message) -> None:
    with pytest.raises(ValueError, match=message):
        hessian_noise_scale(SoftmaxRegression(2, 3), X, y)
