"""BatchPlan: exact counts, the five remainder policies as properties, shuffling, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import PlanArgs, batch_plans, epochs, plan_args, positive_epochs

from companion.core.batching import DEFAULT_BATCH_SIZE, REMAINDERS, BatchPlan, describe_sizes

EXAMPLES = settings(max_examples=120, deadline=None)


def flat(batches: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(batches) if batches else np.empty(0, dtype=np.int64)


def expected_steps(n: int, b: int, policy: str) -> int:
    return n // b if policy in ("drop", "carry") else -(-n // b)


# -- exact examples (facts.md) ----------------------------------------------------------------


def test_1050_by_100_keep() -> None:
    plan = BatchPlan(n_samples=1050, batch_size=100, remainder="keep", shuffle=True, seed=0)
    assert plan.steps_per_epoch == 11
    assert plan.batch_sizes == (100,) * 10 + (50,)
    assert plan.samples_per_epoch == 1050
    assert plan.total_steps(epochs=3) == 33
    assert plan.describe() == "10 × 100 + 1 × 50"
    assert [len(b) for b in plan.epoch(0)] == list(plan.batch_sizes)


@pytest.mark.parametrize(
    ("policy", "steps", "sizes", "samples", "left_out", "repeated"),
    [
        ("keep", 11, "10 × 100 + 1 × 50", 1050, 0, 0),
        ("drop", 10, "10 × 100", 1000, 50, 0),
        ("fill", 11, "11 × 100", 1100, 0, 50),
        ("carry", 10, "10 × 100", 1000, 50, 0),
        ("even", 11, "5 × 96 + 6 × 95", 1050, 0, 0),
    ],
)
def test_1050_by_100_every_policy(
    policy: str, steps: int, sizes: str, samples: int, left_out: int, repeated: int
) -> None:
    plan = BatchPlan(1050, 100, remainder=policy, shuffle=True, seed=3)
    assert plan.steps_per_epoch == steps
    assert plan.describe() == sizes
    assert plan.samples_per_epoch == samples == len(flat(plan.epoch(0)))
    assert len(plan.left_out(0)) == left_out
    assert len(plan.repeated(0)) == repeated


def test_keep_matches_pytorch_batch_sampler_example() -> None:
    # BatchSampler(range(10), 3, drop_last=False) -> [0,1,2],[3,4,5],[6,7,8],[9]
    keep = BatchPlan(10, 3, remainder="keep", shuffle=False)
    assert [b.tolist() for b in keep.epoch(0)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    drop = BatchPlan(10, 3, remainder="drop", shuffle=False)
    assert [b.tolist() for b in drop.epoch(0)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert drop.left_out(0).tolist() == [9]


def test_keep_matches_tf_data_batch_example() -> None:
    # tf.data range(8).batch(3) -> [0,1,2],[3,4,5],[6,7]
    plan = BatchPlan(8, 3, remainder="keep", shuffle=False)
    assert [b.tolist() for b in plan.epoch(0)] == [[0, 1, 2], [3, 4, 5], [6, 7]]


def test_carry_1050_by_100_over_three_epochs() -> None:
    plan = BatchPlan(1050, 100, remainder="carry", shuffle=False)
    assert [plan.steps_in_epoch(e) for e in range(3)] == [10, 11, 10]
    assert plan.total_steps(3) == 31
    first = plan.epoch(1)[0]
    assert first.tolist() == list(range(1000, 1050)) + list(range(50))


def test_carry_with_batch_larger_than_n() -> None:
    plan = BatchPlan(3, 5, remainder="carry", shuffle=False)
    assert plan.steps_per_epoch == 0
    assert plan.batch_sizes == ()
    assert plan.describe() == "0 batches"
    assert plan.epoch(0) == []
    assert [b.tolist() for b in plan.epoch(1)] == [[0, 1, 2, 0, 1]]
    assert [plan.steps_in_epoch(e) for e in range(5)] == [0, 1, 0, 1, 1]
    assert plan.total_steps(5) == 3
    assert plan.left_out(0).tolist() == [0, 1, 2]


def test_batch_larger_than_n_keep_even_fill() -> None:
    for policy in ("keep", "even"):
        plan = BatchPlan(7, 20, remainder=policy, shuffle=False)
        assert plan.batch_sizes == (7,)
        assert plan.epoch(0)[0].tolist() == list(range(7))
    fill = BatchPlan(3, 8, remainder="fill", shuffle=False)
    # the epoch, then one whole copy, then the first (8 - 6) = 2 samples
    assert fill.epoch(0)[0].tolist() == [0, 1, 2, 0, 1, 2, 0, 1]


def test_fill_pads_from_start_without_shuffle() -> None:
    plan = BatchPlan(10, 4, remainder="fill", shuffle=False)
    assert [b.tolist() for b in plan.epoch(0)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    assert plan.repeated(0).tolist() == [0, 1]


def test_drop_batch_larger_than_n_explains() -> None:
    with pytest.raises(ValueError, match=r"0 steps per epoch.*remainder='keep'.*batch_size <= 5"):
        BatchPlan(5, 6, remainder="drop")


def test_batch_size_none_is_keras_default() -> None:
    plan = BatchPlan(100, None, shuffle=False)
    assert plan.batch_size == DEFAULT_BATCH_SIZE == 32
    assert plan.batch_sizes == (32, 32, 32, 4)


def test_even_sizes_match_array_split() -> None:
    plan = BatchPlan(1050, 100, remainder="even", shuffle=False)
    expected = [len(a) for a in np.array_split(np.arange(1050), 11)]
    assert list(plan.batch_sizes) == expected


# -- properties over random (N, B, policy, seed) -------------------------------------------------


@EXAMPLES
@given(plan_args(remainders=("keep", "even")), epochs)
def test_keep_and_even_visit_every_sample_once(args: PlanArgs, e: int) -> None:
    plan = args.plan()
    seen = flat(plan.epoch(e))
    assert np.array_equal(np.sort(seen), np.arange(args.n_samples))
    assert len(plan.left_out(e)) == 0 and len(plan.repeated(e)) == 0


@EXAMPLES
@given(plan_args(remainders=("even",)))
def test_even_sizes_differ_by_at_most_one_larger_first(args: PlanArgs) -> None:
    sizes = BatchPlan(*args).batch_sizes
    n, b = args.n_samples, args.batch_size
    assert len(sizes) == -(-n // b)
    assert max(sizes) - min(sizes) <= 1 and max(sizes) <= b
    assert list(sizes) == sorted(sizes, reverse=True)
    assert sum(sizes) == n


@EXAMPLES
@given(plan_args(remainders=("drop",)), epochs)
def test_drop_leaves_out_n_mod_b(args: PlanArgs, e: int) -> None:
    plan = args.plan()
    n, b = args.n_samples, args.batch_size
    seen = flat(plan.epoch(e))
    assert len(seen) == len(np.unique(seen)) == n - n % b
    assert all(len(batch) == b for batch in plan.epoch(e))
    left = plan.left_out(e)
    assert len(left) == n % b
    assert np.array_equal(np.sort(np.concatenate([seen, left])), np.arange(n))


@EXAMPLES
@given(plan_args(remainders=("fill",)), epochs)
def test_fill_repeats_only_in_the_last_batch(args: PlanArgs, e: int) -> None:
    plan = args.plan()
    n, b = args.n_samples, args.batch_size
    batches = plan.epoch(e)
    seen = flat(batches)
    assert len(seen) == b * -(-n // b)
    assert all(len(batch) == b for batch in batches)
    counts = np.bincount(seen, minlength=n)
    assert counts.min() >= 1  # every sample at least once
    head = flat(batches[:-1])
    assert len(np.unique(head)) == len(head)  # no repeat before the last batch
    if b <= n:
        r = n - len(head)  # the genuine remainder at the start of the last batch
        last = batches[-1]
        assert np.array_equal(np.sort(np.concatenate([head, last[:r]])), np.arange(n))
        padding = last[r:]
        assert len(np.unique(padding)) == len(padding)  # drawn without replacement
        assert np.isin(padding, head).all()  # from the rest of the epoch
        assert counts.max() <= 2
    else:  # whole copies then a draw without replacement: counts differ by at most one
        assert counts.max() - counts.min() <= 1


@EXAMPLES
@given(plan_args(remainders=("carry",)), positive_epochs)
def test_carry_is_a_prefix_of_the_permutation_stream(args: PlanArgs, n_epochs: int) -> None:
    plan = args.plan()
    n, b = args.n_samples, args.batch_size
    batches = [batch for e in range(n_epochs) for batch in plan.epoch(e)]
    assert all(len(batch) == b for batch in batches)
    assert len(batches) == plan.total_steps(n_epochs) == n_epochs * n // b
    # the per-epoch orders are those of a "keep" plan with the same seed
    keep = BatchPlan(n, b, "keep", args.shuffle, args.seed)
    needed = -(-len(batches) * b // n) + 1
    stream = np.concatenate([flat(keep.epoch(e)) for e in range(needed)])
    used = flat(batches)
    assert np.array_equal(used, stream[: len(used)])
    for e in range(n_epochs):
        assert plan.steps_in_epoch(e) == (e + 1) * n // b - e * n // b


@EXAMPLES
@given(plan_args(), epochs)
def test_step_counts_follow_the_formulas(args: PlanArgs, n_epochs: int) -> None:
    plan = args.plan()
    n, b, policy = args.n_samples, args.batch_size, args.remainder
    assert plan.steps_per_epoch == len(plan.epoch(0)) == len(plan.batch_sizes)
    assert plan.steps_per_epoch == expected_steps(n, b, policy)
    assert plan.samples_per_epoch == sum(plan.batch_sizes) == len(flat(plan.epoch(0)))
    if policy == "carry":
        assert plan.total_steps(n_epochs) == n_epochs * n // b
    else:
        assert plan.total_steps(n_epochs) == n_epochs * expected_steps(n, b, policy)
    assert plan.total_steps(n_epochs) == sum(plan.steps_in_epoch(e) for e in range(n_epochs))
    assert [len(x) for x in plan.epoch(n_epochs)] == [len(x) for x in plan.epoch(n_epochs)]
    assert all(x.dtype == np.int64 for x in plan.epoch(0))


@EXAMPLES
@given(plan_args(shuffle=True, remainders=("keep", "drop", "fill", "even")))
def test_shuffle_is_reproducible_and_changes_every_epoch(args: PlanArgs) -> None:
    a, b = args.plan(), args.plan()
    for e in (0, 1, 4):
        assert all(np.array_equal(x, y) for x, y in zip(a.epoch(e), b.epoch(e), strict=True))
    keep = BatchPlan(args.n_samples, args.n_samples, "keep", True, args.seed)
    if args.n_samples >= 10:  # equal permutations have probability 1/N! <= 1/3628800
        assert not np.array_equal(keep.epoch(0)[0], keep.epoch(1)[0])


@EXAMPLES
@given(plan_args(shuffle=False, remainders=("keep", "drop", "even", "carry")), epochs)
def test_no_shuffle_keeps_the_order(args: PlanArgs, e: int) -> None:
    plan = args.plan()
    seen = flat(plan.epoch(e))
    if args.remainder == "carry":
        start = e * args.n_samples // args.batch_size * args.batch_size
        assert np.array_equal(seen, (start + np.arange(len(seen))) % args.n_samples)
    else:
        assert np.array_equal(seen, np.arange(len(seen)))


def test_random_access_equals_sequential() -> None:
    plan = BatchPlan(103, 10, remainder="carry", shuffle=True, seed=11)
    later = [b.copy() for b in plan.epoch(4)]
    fresh = BatchPlan(103, 10, remainder="carry", shuffle=True, seed=11)
    for e in range(4):
        fresh.epoch(e)
    assert all(np.array_equal(x, y) for x, y in zip(later, fresh.epoch(4), strict=True))


def test_seed_none_draws_one_seed_and_stays_consistent() -> None:
    plan = BatchPlan(50, 7, shuffle=True, seed=None)
    assert isinstance(plan.seed, int) and plan.seed >= 0
    assert all(np.array_equal(x, y) for x, y in zip(plan.epoch(2), plan.epoch(2), strict=True))
    twin = BatchPlan(50, 7, shuffle=True, seed=plan.seed)
    assert all(np.array_equal(x, y) for x, y in zip(plan.epoch(2), twin.epoch(2), strict=True))
    assert BatchPlan(50, 7, shuffle=False).seed is None


def test_different_seeds_give_different_orders() -> None:
    a = BatchPlan(100, 100, seed=0).epoch(0)[0]
    b = BatchPlan(100, 100, seed=1).epoch(0)[0]
    assert not np.array_equal(a, b)


def test_uses_seed_and_epoch_seeding() -> None:
    plan = BatchPlan(20, 20, shuffle=True, seed=5)
    expected = np.random.default_rng([5, 3]).permutation(20)
    assert np.array_equal(plan.epoch(3)[0], expected)


def test_repr_and_read_only_attributes() -> None:
    plan = BatchPlan(1050, 100, remainder="drop", shuffle=False)
    assert repr(plan) == (
        "BatchPlan(n_samples=1050, batch_size=100, remainder='drop', shuffle=False, seed=None)"
    )
    with pytest.raises(AttributeError):
        plan.batch_size = 10  # type: ignore[misc]
    assert REMAINDERS == ("keep", "drop", "fill", "carry", "even")


def test_describe_sizes() -> None:
    assert describe_sizes([3, 3, 2, 3]) == "2 × 3 + 1 × 2 + 1 × 3"
    assert describe_sizes([]) == "0 batches"


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, r"n_samples must be a positive int; got 0"),
        ({"n_samples": -5}, ValueError, r"n_samples must be a positive int; got -5"),
        ({"n_samples": 10.0}, TypeError, r"n_samples must be a positive int; got 10.0"),
        ({"n_samples": True}, TypeError, r"n_samples must be a positive int; got True"),
        ({"n_samples": "10"}, TypeError, r"n_samples must be a positive int; got '10'"),
        ({"batch_size": 0}, ValueError, r"batch_size must be a positive int or None; got 0"),
        ({"batch_size": -1}, ValueError, r"batch_size must be a positive int or None; got -1"),
        ({"batch_size": 2.0}, TypeError, r"batch_size must be a positive int or None; got 2.0"),
        ({"batch_size": np.float64(2)}, TypeError, r"batch_size must be a positive int or None"),
        ({"batch_size": False}, TypeError, r"batch_size must be a positive int or None; got False"),
        ({"remainder": "last"}, ValueError, r"remainder must be one of 'keep', .*; got 'last'"),
        ({"remainder": None}, TypeError, r"remainder must be one of 'keep'"),
        ({"shuffle": 1}, TypeError, r"shuffle must be True or False; got 1"),
        ({"shuffle": "yes"}, TypeError, r"shuffle must be True or False; got 'yes'"),
        ({"seed": -1}, ValueError, r"seed must be a non-negative int; got -1"),
        ({"seed": 1.5}, TypeError, r"seed must be a non-negative int; got 1.5"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    args = {"n_samples": 10, "batch_size": 3, "remainder": "keep", "shuffle": True, "seed": 0}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        BatchPlan(**args)


def test_numpy_integers_accepted() -> None:
    plan = BatchPlan(np.int64(10), np.int32(3), seed=np.uint8(2))
    assert plan.n_samples == 10 and plan.batch_size == 3 and plan.seed == 2
    assert type(plan.n_samples) is int


@pytest.mark.parametrize("method", ["epoch", "steps_in_epoch", "left_out", "repeated"])
def test_bad_epoch(method: str) -> None:
    plan = BatchPlan(10, 3)
    with pytest.raises(ValueError, match=r"epoch must be a non-negative int; got -1"):
        getattr(plan, method)(-1)
    with pytest.raises(TypeError, match=r"epoch must be a non-negative int; got 1.0"):
        getattr(plan, method)(1.0)


def test_bad_total_steps() -> None:
    with pytest.raises(ValueError, match=r"epochs must be a non-negative int; got -2"):
        BatchPlan(10, 3).total_steps(-2)
    assert BatchPlan(10, 3).total_steps(0) == 0


def test_carry_expected_steps_formula_examples() -> None:
    plan = BatchPlan(10, 4, remainder="carry", shuffle=False)
    assert [plan.steps_in_epoch(e) for e in range(4)] == [
        math.floor((e + 1) * 10 / 4) - math.floor(e * 10 / 4) for e in range(4)
    ]


@EXAMPLES
@given(batch_plans(max_samples=200))
def test_repr_rebuilds_the_same_plan(plan: BatchPlan) -> None:
    again = eval(repr(plan), {"BatchPlan": BatchPlan})  # our own repr
    assert repr(again) == repr(plan)
    assert all(np.array_equal(x, y) for x, y in zip(again.epoch(1), plan.epoch(1), strict=True))


# -- lazy counts: closed forms, constant memory in N ---------------------------------------------


@EXAMPLES
@given(plan_args(), epochs)
def test_lazy_sizes_and_closed_forms_equal_the_materialised_batches(args: PlanArgs,
                                                                    n_epochs: int) -> None:
    plan = args.plan()
    for e in range(n_epochs):
        listed = [len(x) for x in plan.epoch(e)]
        assert list(plan.sizes(e)) == listed and plan.sizes(e) == tuple(listed)
        assert np.asarray(plan.sizes(e)).tolist() == listed
        assert plan.sizes(e).total == sum(listed) and plan.sizes(e).n_batches == len(listed)
        assert all(plan.sizes(e).count(s) == listed.count(s) for s in set(listed) | {0})
    assert plan.samples_seen(n_epochs) == sum(sum(len(x) for x in plan.epoch(e))
                                              for e in range(n_epochs))
    counts = np.bincount(flat(plan.epoch(0)), minlength=args.n_samples)
    distinct = int(np.count_nonzero(counts))
    assert plan.unseen_and_repeats() == (args.n_samples - distinct, int(counts.sum()) - distinct)
    assert describe_sizes(plan.batch_sizes) == describe_sizes(tuple(plan.batch_sizes))


def test_a_billion_samples_in_batches_of_one_costs_no_memory() -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        plan = BatchPlan(10**9, 1, shuffle=False)
        counts = (plan.steps_per_epoch, plan.samples_per_epoch, plan.describe(),
                  plan.total_steps(10**9), plan.batch_sizes[-1], len(plan.batch_sizes))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert counts == (10**9, 10**9, "1000000000 × 1", 10**18, 1, 10**9)
    assert peak < 100_000  # bytes: the 8 GB of batch sizes are never built
    huge = BatchPlan(10**19, 3, remainder="fill")
    assert huge.steps_per_epoch == 3333333333333333334 and huge.samples_per_epoch == 10**19 + 2
    assert huge.batch_sizes.runs == ((3333333333333333334, 3),)
    with pytest.raises(ValueError, match=r"n_samples=10000000000000000000 is too large to list "
                                         r"sample indices \(at most 2\*\*62"):
        huge.epoch(0)
