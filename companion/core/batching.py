"""Batch plans: which sample indices go into which batch, epoch by epoch.

A :class:`BatchPlan` answers the counting questions of the course (how many steps per
epoch, how big is the last batch, which samples are left out or seen twice) and hands
out the index arrays that :func:`companion.fit` trains on.

>>> plan = BatchPlan(n_samples=1050, batch_size=100, remainder="keep", shuffle=False)
>>> plan.steps_per_epoch, plan.describe(), plan.total_steps(epochs=3)
(11, '10 × 100 + 1 × 50', 33)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import overload

import numpy as np
from numpy.typing import DTypeLike

from companion.core._validation import (
    check_bool,
    check_choice,
    check_each,
    check_nonnegative_int,
    check_positive_int,
    check_seed,
    is_int,
)

MAX_INDEXED_SAMPLES = 2**62
"""Largest ``n_samples`` whose indices a plan lists (int64 arrays); counts work for any size."""

REMAINDERS: tuple[str, ...] = ("keep", "drop", "fill", "carry", "even")
"""The remainder policies, i.e. what happens when ``batch_size`` does not divide ``n_samples``."""

DEFAULT_BATCH_SIZE = 32
"""The batch size used when ``batch_size=None`` (the Keras default)."""


def describe_sizes(sizes: Sequence[int]) -> str:
    """Compress a sequence of batch sizes into runs, e.g. ``"10 × 100 + 1 × 50"``.

    Args:
        sizes: Batch sizes in order (positive ints), e.g. ``plan.batch_sizes``.

    Returns:
        Runs of equal consecutive sizes joined by ``" + "``; ``"0 batches"`` if empty.

    >>> describe_sizes((100,) * 10 + (50,))
    '10 × 100 + 1 × 50'
    >>> describe_sizes(())
    '0 batches'
    >>> describe_sizes("abc")
    Traceback (most recent call last):
    ...
    TypeError: sizes must be a sequence of positive ints, e.g. (100, 100, 50); got 'abc'
    """
    if isinstance(sizes, BatchSizes):
        runs = [list(run) for run in sizes.runs]
    else:
        runs = []
        for size in check_each(sizes, "sizes", check_positive_int, example="(100, 100, 50)"):
            if runs and runs[-1][1] == size:
                runs[-1][0] += 1
            else:
                runs.append([1, size])
    if not runs:
        return "0 batches"
    return " + ".join(f"{count} × {size}" for count, size in runs)


class BatchSizes(Sequence[int]):
    """The batch sizes of one epoch, computed lazily from at most two runs of equal sizes.

    A sequence of ints (``len``, indexing, slicing, iteration, ``==`` with tuples) that
    stores only its runs, so ``BatchPlan(10**9, 1).batch_sizes`` costs no memory.
    ``n_batches`` and ``total`` are the number of batches and of samples (Python ints, exact
    for any size, where ``len`` is limited to ``sys.maxsize``); ``count(size)`` and
    ``index(size)`` behave as a tuple's, in closed form.

    >>> sizes = BatchPlan(1050, 100, shuffle=False).batch_sizes
    >>> sizes.runs, sizes.n_batches, sizes.total, sizes[-1], list(sizes[-2:])
    (((10, 100), (1, 50)), 11, 1050, 50, [100, 50])
    >>> sizes.count(100), sizes.count(50), sizes.count(7), sizes.index(50)
    (10, 1, 0, 10)
    """

    __slots__ = ("_runs", "_count")

    def __init__(self, runs: Iterable[tuple[int, int]]) -> None:
        self._runs = tuple((int(c), int(s)) for c, s in runs if c > 0)
        self._count = sum(c for c, _ in self._runs)

    @property
    def runs(self) -> tuple[tuple[int, int], ...]:
        """``((count, size), ...)``: consecutive batches of equal size."""
        return self._runs

    @property
    def n_batches(self) -> int:
        """Number of batches (exact for any size; ``len`` stops at ``sys.maxsize``)."""
        return self._count

    def count(self, value: object) -> int:
        """How many batches hold exactly ``value`` samples, as ``tuple.count`` would say."""
        return sum(c for c, s in self._runs if s == value)

    def index(self, value: object, start: int = 0, stop: int | None = None) -> int:
        """Position of the first batch of ``value`` samples, as ``tuple.index`` would say."""
        if start != 0 or stop is not None:
            return super().index(value, start, stop)
        position = 0
        for c, s in self._runs:
            if s == value:
                return position
            position += c
        raise ValueError(f"no batch of {value!r} samples in {self!r}")

    @property
    def total(self) -> int:
        """Number of samples, the sum of the sizes."""
        return sum(c * s for c, s in self._runs)

    def __len__(self) -> int:
        return self._count

    def _at(self, i: int) -> int:
        for count, size in self._runs:
            if i < count:
                return size
            i -= count
        raise AssertionError("unreachable")  # pragma: no cover

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[int, ...]: ...
    def __getitem__(self, index: int | slice) -> int | tuple[int, ...]:
        if isinstance(index, slice):
            return tuple(self._at(i) for i in range(*index.indices(self._count)))
        if not is_int(index):
            raise TypeError(f"index must be an int or a slice; got {index!r}")
        i = int(index) + (self._count if index < 0 else 0)
        if not 0 <= i < self._count:
            raise IndexError(f"batch index out of range: {index} ({self._count} batches)")
        return self._at(i)

    def __iter__(self) -> Iterator[int]:
        for count, size in self._runs:
            for _ in range(count):
                yield size

    def __array__(self, dtype: DTypeLike = None, copy: bool | None = None) -> np.ndarray:
        return np.repeat(
            np.array([s for _, s in self._runs], dtype=np.int64),
            [c for c, _ in self._runs],
        ).astype(dtype or np.int64, copy=False)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BatchSizes):
            return self._runs == other._runs
        if isinstance(other, (tuple, list)):
            return len(other) == self._count and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._runs)

    def __repr__(self) -> str:
        if self._count <= 20:
            return repr(tuple(self))
        return f"BatchSizes({describe_sizes(self)})"


class BatchPlan:
    """The batches of every epoch for ``n_samples`` samples and a remainder policy.

    Each epoch visits the samples in an order: ``0, 1, …, N−1`` when ``shuffle=False``,
    otherwise a fresh permutation drawn from ``np.random.default_rng([seed, epoch])``,
    so that ``epoch(e)`` is random-access and reproducible. ``seed=None`` draws one
    seed at construction and stores it, so a plan always agrees with itself.

    The order is cut into batches of ``batch_size`` (``None`` means the Keras default
    32). When ``batch_size`` does not divide ``n_samples`` the ``remainder`` policy
    decides what happens to the ``N mod B`` samples at the end:

    * ``"keep"`` — the last batch is smaller: ``ceil(N/B)`` steps (Keras ``fit``,
      PyTorch ``DataLoader(drop_last=False)``, tf.data ``batch()``). If ``B > N``
      there is one batch of N.
    * ``"drop"`` — the partial batch is dropped: ``floor(N/B)`` steps (``drop_last=True``,
      ``drop_remainder=True``); with shuffling a different subset is left out each
      epoch. ``B > N`` raises ``ValueError`` because training would take 0 steps.
    * ``"fill"`` — the last batch is topped up to B with samples drawn without
      replacement from the rest of the same epoch (the samples not already in the
      last batch), as distributed samplers pad: ``ceil(N/B)`` steps and
      ``B·ceil(N/B) − N`` samples seen twice, all repeats in the last batch. Without
      shuffling the padding is the start of the epoch (``0, 1, …``). If ``B > N``
      the single batch is the epoch's order, then whole copies of it while more than
      N extra samples are needed, then the last ``(B − N) mod N`` drawn without
      replacement (or taken from the start without shuffling).
    * ``"carry"`` — leftovers roll into the next epoch (tf.data ``repeat().batch()``):
      the stream is epoch 0's order, then epoch 1's, … laid end to end and cut into
      batches of exactly B. ``epoch(e)`` holds the batches that *complete* inside
      epoch e's span of the stream (their last position lies in ``[e·N, (e+1)·N)``),
      so the first batch of epoch e may begin with samples of epoch e−1 (or earlier
      if ``B > N``). ``steps_in_epoch(e) = floor((e+1)N/B) − floor(eN/B)``,
      ``total_steps(E) = floor(E·N/B)``, and the tail left after the last epoch is
      never used. ``B > N`` is allowed: some epochs then hold no complete batch
      (0 steps), including epoch 0. ``steps_per_epoch`` and ``batch_sizes`` describe
      epoch 0.
    * ``"even"`` — ``ceil(N/B)`` batches whose sizes differ by at most one, larger
      ones first (like ``np.array_split``); no batch exceeds B.

    Args:
        n_samples: Number of samples N (positive int).
        batch_size: Samples per batch B (positive int), or None for 32.
        remainder: One of :data:`REMAINDERS`.
        shuffle: Visit the samples in a new random order every epoch.
        seed: Seed of the shuffling (non-negative int), or None for a random one.
            Without shuffling no randomness is needed and ``seed`` stays as given.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument has a wrong value, or ``remainder="drop"`` with
            ``batch_size > n_samples``.

    >>> plan = BatchPlan(n_samples=10, batch_size=3, remainder="keep", shuffle=False)
    >>> [b.tolist() for b in plan.epoch(0)]
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    >>> BatchPlan(10, 3, remainder="even", shuffle=False).batch_sizes
    (3, 3, 2, 2)
    >>> carry = BatchPlan(10, 4, remainder="carry", shuffle=False)
    >>> [b.tolist() for b in carry.epoch(1)]
    [[8, 9, 0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]
    """

    def __init__(
        self,
        n_samples: int,
        batch_size: int | None = None,
        remainder: str = "keep",
        shuffle: bool = True,
        seed: int | None = None,
    ) -> None:
        n = check_positive_int(n_samples, "n_samples")
        b = check_positive_int(batch_size, "batch_size", allow_none=True)
        self._n = int(n)  # type: ignore[arg-type]
        self._b = DEFAULT_BATCH_SIZE if b is None else b
        self._remainder = check_choice(remainder, "remainder", REMAINDERS)
        self._shuffle = check_bool(shuffle, "shuffle")
        seed = check_seed(seed)
        if seed is None and self._shuffle:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self._seed = seed
        if self._remainder == "drop" and self._b > self._n:
            raise ValueError(
                f"batch_size={self._b} is larger than n_samples={self._n}, so remainder='drop' "
                "drops every sample and training would do nothing (0 steps per epoch); use "
                f"remainder='keep' (one batch of {self._n}) or a batch_size <= {self._n}"
            )

    # -- the arguments, read-only so the derived numbers stay true ------------------
    @property
    def n_samples(self) -> int:
        """Number of samples N."""
        return self._n

    @property
    def batch_size(self) -> int:
        """Batch size B (32 if the plan was built with ``batch_size=None``)."""
        return self._b

    @property
    def remainder(self) -> str:
        """The remainder policy, one of :data:`REMAINDERS`."""
        return self._remainder

    @property
    def shuffle(self) -> bool:
        """Whether each epoch visits the samples in a new random order."""
        return self._shuffle

    @property
    def seed(self) -> int | None:
        """The seed of the shuffling (drawn at construction if None was given)."""
        return self._seed

    # -- counts ---------------------------------------------------------------------
    @property
    def batch_sizes(self) -> BatchSizes:
        """Sizes of epoch 0's batches, in order (a lazy :class:`BatchSizes`).

        >>> BatchPlan(1050, 100, shuffle=False).batch_sizes[-2:]
        (100, 50)
        >>> BatchPlan(10**9, 1).batch_sizes
        BatchSizes(1000000000 × 1)
        """
        return self._sizes(0)

    @property
    def steps_per_epoch(self) -> int:
        """Number of batches (optimizer steps) in epoch 0.

        >>> BatchPlan(1050, 100, remainder="drop", shuffle=False).steps_per_epoch
        10
        """
        return self._steps(0)

    @property
    def samples_per_epoch(self) -> int:
        """Samples processed in epoch 0, the sum of :attr:`batch_sizes`.

        >>> BatchPlan(1050, 100, remainder="fill", shuffle=False).samples_per_epoch
        1100
        """
        return self._sizes(0).total

    def steps_in_epoch(self, epoch: int) -> int:
        """Number of batches in epoch ``epoch`` (only ``"carry"`` varies between epochs).

        >>> plan = BatchPlan(10, 4, remainder="carry", shuffle=False)
        >>> [plan.steps_in_epoch(e) for e in range(4)]
        [2, 3, 2, 3]
        """
        e = check_nonnegative_int(epoch, "epoch")
        return self._steps(e)

    def total_steps(self, epochs: int) -> int:
        """Number of batches over epochs ``0 … epochs−1``.

        >>> BatchPlan(1050, 100, remainder="carry", shuffle=False).total_steps(epochs=3)
        31
        """
        n_epochs = check_nonnegative_int(epochs, "epochs")
        if self._remainder == "carry":
            return n_epochs * self._n // self._b
        return n_epochs * self._steps(0)

    def sizes(self, epoch: int) -> BatchSizes:
        """Sizes of epoch ``epoch``'s batches, in order (lazy, closed form).

        >>> BatchPlan(10, 4, remainder="carry", shuffle=False).sizes(1)
        (4, 4, 4)
        """
        return self._sizes(check_nonnegative_int(epoch, "epoch"))

    def _steps(self, e: int) -> int:
        n, b = self._n, self._b
        if self._remainder == "carry":
            return (e + 1) * n // b - e * n // b
        if self._remainder == "drop":
            return n // b
        return -(-n // b)

    def _sizes(self, e: int) -> BatchSizes:
        n, b = self._n, self._b
        if self._remainder == "carry":
            return BatchSizes([(self._steps(e), b)])
        if self._remainder == "even":
            k = -(-n // b)
            q, r = divmod(n, k)
            return BatchSizes([(r, q + 1), (k - r, q)])
        full, rest = divmod(n, b)
        if rest == 0 or self._remainder == "drop":
            return BatchSizes([(full, b)])
        last = rest if self._remainder == "keep" else b
        if last == b:
            return BatchSizes([(full + 1, b)])
        return BatchSizes([(full, b), (1, last)])

    def samples_seen(self, epochs: int) -> int:
        """Samples processed (with repeats) over epochs ``0 … epochs−1``, in closed form.

        >>> BatchPlan(1050, 100, remainder="fill").samples_seen(10**12)
        1100000000000000
        """
        n_epochs = check_nonnegative_int(epochs, "epochs")
        if self._remainder == "carry":
            return self.total_steps(n_epochs) * self._b
        return n_epochs * self._sizes(0).total

    def unseen_and_repeats(self) -> tuple[int, int]:
        """Epoch 0's (samples never visited, extra visits of repeated samples), closed form.

        >>> BatchPlan(1050, 100, remainder="drop").unseen_and_repeats()
        (50, 0)
        >>> BatchPlan(1050, 100, remainder="fill").unseen_and_repeats()
        (0, 50)
        """
        n, b = self._n, self._b
        if self._remainder in ("drop", "carry"):
            return n - n // b * b, 0
        return 0, self._sizes(0).total - n

    # -- indices --------------------------------------------------------------------
    def _rng(self, e: int) -> np.random.Generator:
        return np.random.default_rng([self._seed, e])  # type: ignore[list-item]

    def _check_indexable(self) -> None:
        if self._n > MAX_INDEXED_SAMPLES:
            raise ValueError(
                f"n_samples={self._n} is too large to list sample indices (at most "
                f"2**62 = {MAX_INDEXED_SAMPLES}); the counts (steps_per_epoch, batch_sizes, "
                "total_steps, samples_seen) work for any n_samples"
            )

    def _order(self, e: int, rng: np.random.Generator | None = None) -> np.ndarray:
        if not self._shuffle:
            return np.arange(self._n, dtype=np.int64)
        return (rng if rng is not None else self._rng(e)).permutation(self._n)

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """The batches of epoch ``epoch``: a list of int64 index arrays.

        Args:
            epoch: Epoch number, from 0.

        Returns:
            One array of sample indices per batch, in training order.

        >>> plan = BatchPlan(5, 2, remainder="fill", shuffle=False)
        >>> [b.tolist() for b in plan.epoch(0)]
        [[0, 1], [2, 3], [4, 0]]
        >>> shuffled = BatchPlan(5, 2, shuffle=True, seed=0)
        >>> all(np.array_equal(a, b) for a, b in zip(shuffled.epoch(3), shuffled.epoch(3)))
        True
        """
        stream = self.epoch_stream(epoch)
        if self._remainder == "even":
            return np.split(stream, np.cumsum(np.asarray(self._sizes(epoch)))[:-1])
        b = self._b
        return [stream[i : i + b] for i in range(0, len(stream), b)]

    def epoch_stream(self, epoch: int) -> np.ndarray:
        """Epoch ``epoch``'s batches laid end to end: ``np.concatenate(plan.epoch(epoch))``,
        without forming the batches (what a trainer that slices its own batches needs).

        Args:
            epoch: Epoch number, from 0.

        Returns:
            The int64 sample indices of the epoch's batches, in training order.

        >>> plan = BatchPlan(5, 2, remainder="fill", shuffle=False)
        >>> plan.epoch_stream(0).tolist()
        [0, 1, 2, 3, 4, 0]
        >>> BatchPlan(5, 2, remainder="drop", shuffle=False).epoch_stream(0).tolist()
        [0, 1, 2, 3]
        """
        e = check_nonnegative_int(epoch, "epoch")
        self._check_indexable()
        if self._remainder == "carry":
            return self._carry_stream(e)
        n, b = self._n, self._b
        rng = self._rng(e) if self._shuffle else None
        order = self._order(e, rng)
        full = n // b * b
        if full == n or self._remainder in ("even", "keep"):
            return order
        if self._remainder == "drop":
            return order[:full]
        return np.concatenate([order, self._padding(order, full, b - (n - full), rng)])

    def _padding(
        self, order: np.ndarray, full: int, k: int, rng: np.random.Generator | None
    ) -> np.ndarray:
        """``k`` samples to top up the last batch under ``"fill"``."""
        pool = order[:full] if full > 0 else order  # the rest of the epoch, or all of it if B > N
        copies, extra = divmod(k, len(pool))
        if rng is None:
            drawn = pool[:extra]
        else:
            drawn = rng.choice(pool, size=extra, replace=False)
        return np.concatenate([pool] * copies + [drawn])

    def _carry_stream(self, e: int) -> np.ndarray:
        n, b = self._n, self._b
        start, stop = e * n // b * b, (e + 1) * n // b * b
        if stop == start:
            return np.empty(0, dtype=np.int64)
        first, last = start // n, (stop - 1) // n
        stream = np.concatenate([self._order(k) for k in range(first, last + 1)])
        return stream[start - first * n : stop - first * n]

    def _counts(self, e: int) -> np.ndarray:
        return np.bincount(self.epoch_stream(e), minlength=self._n)

    def left_out(self, epoch: int) -> np.ndarray:
        """Sorted indices of the samples that appear in no batch of epoch ``epoch``.

        Non-empty under ``"drop"`` (``N mod B`` samples) and, for ``"carry"``, the samples
        whose batch completes in a later epoch.

        >>> BatchPlan(10, 4, remainder="drop", shuffle=False).left_out(0).tolist()
        [8, 9]
        """
        return np.flatnonzero(self._counts(epoch) == 0)

    def repeated(self, epoch: int) -> np.ndarray:
        """Sorted indices of the samples that appear more than once in epoch ``epoch``.

        Non-empty under ``"fill"`` (the padding) and possibly under ``"carry"``.

        >>> BatchPlan(10, 4, remainder="fill", shuffle=False).repeated(0).tolist()
        [0, 1]
        """
        return np.flatnonzero(self._counts(epoch) > 1)

    def describe(self) -> str:
        """Epoch 0's batch sizes in compressed form.

        >>> BatchPlan(1050, 100, remainder="even").describe()
        '5 × 96 + 6 × 95'
        """
        return describe_sizes(self._sizes(0))

    def __repr__(self) -> str:
        return (
            f"BatchPlan(n_samples={self._n}, batch_size={self._b}, "
            f"remainder={self._remainder!r}, shuffle={self._shuffle}, seed={self._seed})"
        )
