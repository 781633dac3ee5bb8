"""``sweep``: many :func:`~companion.core.training.fit` runs at once, in lockstep where they can be.

A sweep over batch size × learning rate × seed is many independent training runs.
``sweep(models, X, y, ...)`` takes the arguments of ``fit``; any argument that differs
between runs is a list with one entry per run, the others are shared. Runs that share the
model's architecture and dtype, the batch size, the remainder policy, the accumulation
and which optimiser terms they use (momentum, Nesterov, weight decay) form a *group*
trained in lockstep: their parameters are the rows of one ``(K, P)`` array and every NumPy
call of a step serves all K runs (:mod:`companion.core.stacked`). Groups run one after the
other in this process, or on any :class:`concurrent.futures.Executor` (a process pool, or a
Dask cluster through ``distributed.Client.get_executor()``).

Each run's result equals what ``fit`` returns for the same arguments: the parameters and
every history row and column (to rounding error: 1e-12 relative in float64; the ``time``
column counts seconds since its group started), the stop reason and message, the
optimiser's state. Events stay per run: a run that diverges, is stopped by a callback or
interrupted by one (a callback raising ``KeyboardInterrupt``) stops alone and the others
go on; a callback that raises another exception fails its run only, and the sweep then
raises :class:`SweepError` naming every failed run with its arguments, holding the other
runs' histories. A real Ctrl-C stops every run at its last recorded step and returns their
histories (runs not yet started are returned interrupted after 0 steps); with an executor
the groups not yet finished are cancelled and the ``KeyboardInterrupt`` propagates.

>>> from companion.core.datasets import multi_class
>>> from companion.core.models import SoftmaxRegression
>>> from companion.core.optim import SGD
>>> X, y = multi_class(n=200, n_classes=3, seed=0)
>>> lrs = [0.01, 0.1, 1.0]
>>> histories = sweep([SoftmaxRegression(2, 3) for _ in lrs], X, y, batch_size=16, epochs=2,
...                   optimizers=[SGD(lr) for lr in lrs], seeds=0, progress=False)
>>> [len(h.steps) for h in histories], [h.stop_reason for h in histories]
([26, 26, 26], ['completed', 'completed', 'completed'])
>>> from companion.core.training import fit
>>> alone = fit(SoftmaxRegression(2, 3), X, y, batch_size=16, epochs=2, optimizer=SGD(1.0),
...             seed=0, progress=False)
>>> bool(np.allclose(histories[2].model.get_flat(), alone.model.get_flat(), rtol=1e-12, atol=0))
True
"""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from companion.core._validation import (
    check_bool,
    check_choice,
    check_executor,
    check_positive_int,
    check_real,
    check_seed,
)
from companion.core.batching import REMAINDERS, BatchPlan
from companion.core.callbacks import Callback
from companion.core.history import History
from companion.core.lockstep import _REFRESH_SECONDS, _Outcome, _Run, _train_groups
from companion.core.models import Model, check_model
from companion.core.optim import SGD
from companion.core.progress import bars_enabled
from companion.core.stacked import signature
from companion.core.training import DEFAULT_DIVERGENCE_FACTOR

#: A sweep's progress bar appears only once the sweep has lasted this long (tqdm ``delay``).
PROGRESS_DELAY_SECONDS = 2.0


class SweepError(RuntimeError):
    """Some runs of a sweep failed; the others finished and are kept.

    Attributes:
        failures: ``{run index: (exception, traceback text)}``.
        histories: One entry per run: its :class:`History`, or None for a failed run.
    """

    def __init__(self, message: str, failures: dict[int, tuple[BaseException, str]],
                 histories: list[History | None]) -> None:
        super().__init__(message)
        self.failures = failures
        self.histories = histories



def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _per_run(value: Any, name: str, k: int) -> list[Any]:
    if _is_list(value):
        if len(value) != k:
            raise ValueError(
                f"{name} must be a single value or a list with one entry per run ({k}); "
                f"got a list of {len(value)}"
            )
        return list(value)
    return [value] * k


def _check_callbacks(callbacks: Any, k: int) -> list[list[Callback]]:
    if callbacks is None or (_is_list(callbacks) and not callbacks):
        return [[] for _ in range(k)]
    if callable(callbacks) and not isinstance(callbacks, Callback):
        made = [callbacks(i) for i in range(k)]
    elif _is_list(callbacks) and all(isinstance(c, Callback) for c in callbacks):
        raise TypeError(
            "callbacks must hold one list of Callback per run, e.g. [[EarlyStopping()] for _ "
            "in models], or be a function run_index -> list of Callback: a Callback keeps "
            f"state, so runs cannot share one; got a flat list of {len(callbacks)} Callback"
        )
    else:
        made = _per_run(callbacks, "callbacks", k)
    out: list[list[Callback]] = []
    seen: dict[int, int] = {}
    for i, entry in enumerate(made):
        if isinstance(entry, Callback) or not isinstance(entry, Iterable):
            raise TypeError(f"callbacks[{i}] must be a list of Callback; got {entry!r}")
        entry = list(entry)
        for j, cb in enumerate(entry):
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks[{i}][{j}] must be a Callback; got {cb!r}")
            if id(cb) in seen:
                raise ValueError(
                    f"callbacks[{i}][{j}] is the same object as one of run {seen[id(cb)]}'s; "
                    "each run needs its own Callback objects"
                )
            seen[id(cb)] = i
        out.append(entry)
    return out


def _check_runs(models: Any, n_samples: int, optimizers: Any, batch_size: Any, epochs: Any,
                remainder: Any, shuffle: Any, seeds: Any, accumulate: Any,
                callbacks: Any, divergence_factor: Any) -> list[_Run]:
    if not _is_list(models) or not models:
        raise TypeError(
            f"models must be a non-empty list of companion.core.models models (one per run); "
            f"got {models!r}"
        )
    k = len(models)
    seen: dict[int, int] = {}
    for i, m in enumerate(models):
        check_model(m, f"models[{i}]")
        signature(m)
        if id(m) in seen:
            raise ValueError(f"models[{i}] is the same object as models[{seen[id(m)]}]; "
                             "each run trains its own model (use model.copy())")
        seen[id(m)] = i
    if optimizers is None:
        opts = [SGD(0.01) for _ in range(k)]
    elif isinstance(optimizers, SGD):
        opts = [optimizers.copy() for _ in range(k)]
    else:
        opts = _per_run(optimizers, "optimizers", k) if _is_list(optimizers) else None
        if opts is None:
            raise TypeError(
                f"optimizers must be an SGD (copied for every run), a list of SGD (one per run) "
                f"or None; got {type(optimizers).__name__}"
            )
        seen = {}
        for i, o in enumerate(opts):
            if not isinstance(o, SGD):
                raise TypeError(f"optimizers[{i}] must be an SGD; got {type(o).__name__}")
            if id(o) in seen:
                raise ValueError(f"optimizers[{i}] is the same object as optimizers[{seen[id(o)]}];"
                                 " each run needs its own optimiser (it keeps state)")
            seen[id(o)] = i

    def each(value: Any, name: str, check: Callable[[Any, str], Any]) -> list[Any]:
        if _is_list(value):
            return [check(v, f"{name}[{i}]") for i, v in enumerate(_per_run(value, name, k))]
        return [check(value, name)] * k

    sizes = each(batch_size, "batch_size", lambda v, n: check_positive_int(v, n, allow_none=True))
    n_epochs = each(epochs, "epochs", check_positive_int)
    policies = each(remainder, "remainder", lambda v, n: check_choice(v, n, REMAINDERS))
    shuffles = each(shuffle, "shuffle", check_bool)
    seed_list = each(seeds, "seeds", check_seed)
    accs = each(accumulate, "accumulate", check_positive_int)
    factors = each(divergence_factor, "divergence_factor", lambda v, n: None if v is None else
                   check_real(v, n, low=1.0, low_inclusive=False))
    for i, (m, o) in enumerate(zip(models, opts, strict=True)):
        if o.layout is not None and o.layout != m.layout:
            raise ValueError(
                f"optimizers[{i}] holds the state of parameters {list(o.layout)} (after "
                f"{o.iterations} updates); models[{i}] has {list(m.layout)}. Use a new SGD for "
                "another model, or call reset() to start over"
            )
    cbs = _check_callbacks(callbacks, k)
    runs = []
    for i in range(k):
        run = _Run(i, models[i], opts[i], sizes[i], n_epochs[i], policies[i], shuffles[i],
                   seed_list[i], accs[i], cbs[i], factors[i])
        name = "batch_size" if not _is_list(batch_size) else f"batch_size[{i}]"
        try:
            run.plan = BatchPlan(n_samples, sizes[i], policies[i], shuffles[i], seed_list[i])
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        runs.append(run)
    return runs




def _remote_group(runs: list[_Run], X: Any, y: Any, val: Any) -> list[_Outcome]:
    """What an executor runs: one group, on copies of the runs' objects."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _train_groups([runs], X, y, val, None)


def _adopt(run: _Run, outcome: _Outcome) -> None:
    """Copy a remote run's results into the caller's objects."""
    if outcome.model is not None:
        np.copyto(run.model.params.vector, outcome.model.params.vector)
    if outcome.optimizer is not None:
        run.optimizer.load_state(outcome.optimizer.state)
    if outcome.history is not None:
        outcome.history.model = run.model
        for local, remote in zip(run.callbacks, outcome.callbacks or [], strict=False):
            state = {k: v for k, v in vars(remote).items() if k != "history"}
            vars(local).update(state)
            local.history = outcome.history


def sweep(
    models: Sequence[Model],
    X: Any,
    y: Any,
    *,
    optimizers: SGD | Sequence[SGD] | None = None,
    batch_size: int | None | Sequence[int | None] = None,
    epochs: int | Sequence[int] = 1,
    remainder: str | Sequence[str] = "keep",
    shuffle: bool | Sequence[bool] = True,
    seeds: int | None | Sequence[int | None] = 0,
    validation_data: tuple[Any, Any] | None = None,
    accumulate: int | Sequence[int] = 1,
    callbacks: Sequence[Sequence[Callback]] | Callable[[int], Sequence[Callback]] | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    divergence_factor: float | None | Sequence[float | None] = DEFAULT_DIVERGENCE_FACTOR,
) -> list[History]:
    """Train one model per run, like :func:`~companion.core.training.fit`; return their histories.

    Args:
        models: One model per run (distinct objects), each trained in place as by ``fit``.
        X: Inputs shared by every run.
        y: Targets shared by every run.
        optimizers: An :class:`~companion.core.optim.SGD` copied for every run (the given one
            is not changed), a list with one per run (each updated as ``fit`` updates its
            optimiser), or None for ``SGD(0.01)``.
        batch_size: As in ``fit``, or a list with one per run.
        epochs: As in ``fit``, or a list.
        remainder: As in ``fit``, or a list.
        shuffle: As in ``fit``, or a list.
        seeds: ``fit``'s ``seed`` (default 0), or a list (one batch order per run).
        validation_data: None or ``(X_val, y_val)``, shared.
        accumulate: As in ``fit``, or a list.
        callbacks: None, one list of :class:`~companion.core.callbacks.Callback` per run,
            or a function ``run_index -> list of Callback`` (callbacks keep state, so runs
            cannot share one).
        executor: None to train in this process, or any ``concurrent.futures.Executor``:
            each lockstep group is submitted to it and the results gathered in order (the
            runs' models, optimisers and callbacks are sent to the worker and their final
            state copied back).
        progress: Show one ``tqdm`` bar over the sweep (runs done, steps per second), which
            appears only once the sweep has lasted ``PROGRESS_DELAY_SECONDS``, unless the
            environment sets ``BATCHWISE_PROGRESS=0`` (:mod:`companion.core.progress`).
        divergence_factor: As in ``fit`` (a run stops as diverged when a batch loss exceeds
            this multiple of its first batch loss; None: only on non-finite values), or a list.

    Returns:
        One :class:`~companion.core.history.History` per run, in order.

    Raises:
        SweepError: Some runs failed (a callback raised, or a worker failed); the error
            names each with its arguments and holds the other runs' histories.

    >>> from companion.core.datasets import two_class
    >>> from companion.core.models import LinearRegression, SoftmaxRegression
    >>> X, y = two_class(n=100, seed=0)
    >>> hs = sweep([SoftmaxRegression(2, 2), SoftmaxRegression(2, 2)], X, y,
    ...            batch_size=[10, 25], epochs=2, seeds=[0, 1], progress=False)
    >>> [h.settings["batch_size"] for h in hs], [len(h.steps) for h in hs]
    ([10, 25], [20, 8])
    >>> sweep([LinearRegression(2)], X, y, batch_size=[10, 20], progress=False)
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be a single value or a list with one entry per run (1); got a list of 2
    """
    if not _is_list(models) or not models:
        raise TypeError(
            f"models must be a non-empty list of companion.core.models models (one per run); "
            f"got {type(models).__name__}"
        )
    check_model(models[0], "models[0]")
    Xc, _ = models[0].check_data(X, y)
    runs = _check_runs(models, len(Xc), optimizers, batch_size, epochs, remainder, shuffle,
                       seeds, accumulate, callbacks, divergence_factor)
    show = check_bool(progress, "progress") and bars_enabled()
    if validation_data is not None and (
        not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2
    ):
        raise TypeError(
            f"validation_data must be None or a pair (X_val, y_val), shared by every run; got "
            f"{type(validation_data).__name__}"
        )
    check_executor(executor)
    for run in runs:  # check each run's data against its model (dtype, columns, labels)
        run.model.check_data(X, y)
    keyed: dict[tuple, list[_Run]] = {}
    for run in runs:
        keyed.setdefault(run.group_key(), []).append(run)
    groups = list(keyed.values())

    bar = _bar(len(runs)) if show else None
    steps_done = [0, time.perf_counter()]

    def on_progress(runs_done: int, steps: int) -> None:
        if bar is None:
            return
        steps_done[0] += steps
        rate = steps_done[0] / max(time.perf_counter() - steps_done[1], 1e-9)
        bar.set_postfix_str(f"{rate:,.0f} steps/s", refresh=False)
        bar.update(runs_done)

    try:
        if executor is None:
            outcomes = _train_groups(groups, X, y, validation_data, on_progress)
        else:
            outcomes = _on_executor(executor, groups, X, y, validation_data, on_progress)
    finally:
        if bar is not None:
            bar.close()
    by_index = {o.index: o for o in outcomes}
    failures: dict[int, tuple[BaseException, str]] = {}
    histories: list[History | None] = []
    for run in runs:
        o = by_index[run.index]
        if executor is not None:
            _adopt(run, o)
        if o.error is not None:
            failures[run.index] = (o.error, o.error_text)
            histories.append(None)
        else:
            histories.append(o.history)
    if failures:
        lines = [f"{len(failures)} of {len(runs)} runs failed; the other runs' histories are in "
                 "this error's .histories"]
        for i, (exc, _) in failures.items():
            lines.append(f"  {runs[i].describe()}: {type(exc).__name__}: {exc}")
        raise SweepError("\n".join(lines), failures, histories)
    return histories  # type: ignore[return-value]


def _on_executor(executor: Executor, groups: list[list[_Run]], X: Any, y: Any, val: Any,
                 on_progress: Callable[[int, int], None]) -> list[_Outcome]:
    futures = [executor.submit(_remote_group, runs, X, y, val) for runs in groups]
    outcomes: list[_Outcome] = []
    try:
        for runs, fut in zip(groups, futures, strict=True):
            try:
                result = fut.result()
            except Exception as exc:  # the worker failed: every run of the group is reported
                text = traceback.format_exc()
                result = [_Outcome(r.index, None, exc, text) for r in runs]
            else:
                on_progress(len(runs), sum(len(o.history.steps) for o in result if o.history))
            outcomes += result
    except KeyboardInterrupt:
        for fut in futures:
            fut.cancel()
        raise
    return outcomes


def _bar(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", desc="sweep", delay=PROGRESS_DELAY_SECONDS,
                mininterval=_REFRESH_SECONDS)
