"""Shared hypothesis strategies: (N, B, policy, seed) for batch plans, and small data sets.

Batch sizes are drawn half of the time from small values (many batches, the interesting
remainders) and half of the time from the whole range 1 … 2N (including B > N, except
for ``"drop"``, where B > N is an error tested separately).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from companion.core.batching import REMAINDERS, BatchPlan

MAX_SAMPLES = 3000

seeds = st.integers(min_value=0, max_value=2**32 - 1)
policies = st.sampled_from(REMAINDERS)


class PlanArgs(NamedTuple):
    """The arguments of a :class:`BatchPlan`."""

    n_samples: int
    batch_size: int
    remainder: str
    shuffle: bool
    seed: int

    def plan(self) -> BatchPlan:
        """Build the plan."""
        return BatchPlan(self.n_samples, self.batch_size, self.remainder, self.shuffle, self.seed)


@st.composite
def plan_args(
    draw: st.DrawFn,
    remainders: tuple[str, ...] = REMAINDERS,
    max_samples: int = MAX_SAMPLES,
    shuffle: bool | None = None,
) -> PlanArgs:
    """Draw (N, B, policy, shuffle, seed) with N in 1 … max_samples."""
    n = draw(st.integers(min_value=1, max_value=max_samples))
    policy = draw(st.sampled_from(remainders))
    high = n if policy == "drop" else 2 * n
    b = draw(
        st.one_of(
            st.integers(min_value=1, max_value=min(high, 64)),
            st.integers(min_value=1, max_value=high),
        )
    )
    shuffled = draw(st.booleans()) if shuffle is None else shuffle
    return PlanArgs(n, b, policy, shuffled, draw(seeds))


def batch_plans(
    remainders: tuple[str, ...] = REMAINDERS,
    max_samples: int = MAX_SAMPLES,
    shuffle: bool | None = None,
) -> st.SearchStrategy[BatchPlan]:
    """Draw a :class:`BatchPlan` (see :func:`plan_args`)."""
    return plan_args(remainders, max_samples, shuffle).map(PlanArgs.plan)


epochs = st.integers(min_value=0, max_value=5)
positive_epochs = st.integers(min_value=1, max_value=5)

# -- value ranges of the other property tests (one place, so they are seen side by side) ---
small_seeds = st.integers(0, 10**6)
"""Seeds of the small random matrices."""
data_shapes = st.tuples(st.integers(2, 40), st.integers(1, 4))
"""(rows, columns) of a small regression data set (curvature)."""
tiny_grad_shapes = st.tuples(st.integers(2, 5), st.integers(1, 3))
"""(N, P) of a per-sample gradient matrix small enough to enumerate every batch."""
weights_2d = st.floats(-3, 3)
"""One coordinate of the two-weight landscape."""
nqm_dims = st.integers(1, 10)
lr_fractions = st.floats(0.01, 0.99)
"""A step size as a fraction of the stability limit 2/h_max."""
nqm_batch_sizes = st.integers(1, 512)
target_fractions = st.floats(0.01, 0.9)
noise_sample_counts = st.integers(3, 500)
grad_sq_norms = st.floats(0.01, 10.0)
trace_sigmas = st.floats(0.0, 100.0)


def random_grads(n: int = 40, p: int = 3, seed: int = 0) -> np.ndarray:
    """An ``(n, p)`` matrix of per-sample gradients with unequal scales and a non-zero mean."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, size=p) + rng.normal(size=p)



# -- sweeps (tests/test_sweep.py): a few runs that differ in their arguments --------------------
class RunArgs(NamedTuple):
    """One run of a sweep: the optimiser's settings and fit's per-run arguments."""

    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: bool
    batch_size: int
    epochs: int
    remainder: str
    shuffle: bool
    seed: int
    accumulate: int


class SweepArgs(NamedTuple):
    """A sweep: the model (kind, dtype), the data size and the runs."""

    model: str
    n_samples: int
    runs: list[RunArgs]


MODEL_KINDS = ("linear", "softmax", "mlp-relu", "mlp-tanh")


@st.composite
def sweep_args(draw: st.DrawFn, max_runs: int = 4, max_samples: int = 60) -> SweepArgs:
    """Draw a model kind, N and 1 … ``max_runs`` runs; batch sizes are shared by half the runs
    (so that some runs are stacked in lockstep) and the optimiser terms vary."""
    n = draw(st.integers(min_value=4, max_value=max_samples))
    kind = draw(st.sampled_from(MODEL_KINDS))
    shared_b = draw(st.integers(min_value=1, max_value=n))
    shared_remainder = draw(policies)
    runs = []
    for _ in range(draw(st.integers(min_value=1, max_value=max_runs))):
        same = draw(st.booleans())
        remainder = shared_remainder if same else draw(policies)
        b = shared_b if same else draw(st.integers(min_value=1, max_value=n))
        momentum = draw(st.sampled_from([0.0, 0.0, 0.5, 0.9]))
        runs.append(RunArgs(
            lr=draw(st.sampled_from([0.01, 0.05, 0.2])),
            momentum=momentum,
            nesterov=momentum > 0 and draw(st.booleans()),
            weight_decay=draw(st.sampled_from([0.0, 0.0, 1e-3])),
            schedule=draw(st.booleans()),
            batch_size=b,
            epochs=draw(st.integers(min_value=1, max_value=3)),
            remainder=remainder,
            shuffle=draw(st.booleans()),
            seed=draw(st.integers(min_value=0, max_value=2**31 - 1)),
            accumulate=draw(st.sampled_from([1, 1, 2, 3])),
        ))
    return SweepArgs(kind, n, runs)
