"""time_to_target: the step it reports is the first checked step at the target, checked
against an independent full-batch loop; timings are one per repeat; bad input is named."""

from __future__ import annotations

import numpy as np
import pytest

from companion import SGD
from companion.core.datasets import multi_class
from companion.core.models import SoftmaxRegression
from companion.measure.time_to_target import TargetRun, time_to_target


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return multi_class(n=120, n_classes=3, seed=0)


def test_full_batch_step_matches_a_hand_written_loop(data) -> None:
    X, y = data
    start = SoftmaxRegression(2, 3, seed=1)
    target = 0.3
    run = time_to_target(start, X, y, batch_size=len(X), lr=0.5, target=target, max_epochs=200,
                         seed=0, check_every=1, repeats=2)
    # gradient descent by hand: the first step whose loss is at or below the target
    m, opt, losses = start.copy(), SGD(0.5), [start.loss(X, y)]
    while losses[-1] > target:
        opt.step(m.params, m.grad(X, y))
        losses.append(m.loss(X, y))
    first = len(losses) - 1
    assert run.reached and run.steps == first and run.samples == first * len(X)
    assert run.loss == pytest.approx(losses[first], abs=1e-12)
    assert run.loss_before == pytest.approx(losses[first - 1], abs=1e-12)
    assert run.loss <= target < run.loss_before


def test_timings_one_per_repeat_and_start_untouched(data) -> None:
    X, y = data
    start = SoftmaxRegression(2, 3, seed=0)
    before = start.get_flat().copy()
    run = time_to_target(start, X, y, batch_size=10, lr=0.5, target=0.3, seed=3, repeats=4)
    assert isinstance(run, TargetRun) and run.seconds.shape == (4,)
    assert np.all(np.isfinite(run.seconds)) and np.all(run.seconds > 0)
    assert run.median_seconds == float(np.median(run.seconds))
    assert np.array_equal(start.get_flat(), before)
    again = time_to_target(start, X, y, batch_size=10, lr=0.5, target=0.3, seed=3, repeats=1)
    assert (again.steps, again.samples, again.loss) == (run.steps, run.samples, run.loss)


def test_checks_fall_on_multiples_of_check_every(data) -> None:
    X, y = data
    run = time_to_target(SoftmaxRegression(2, 3, seed=0), X, y, batch_size=7, lr=0.3,
                         target=0.3, check_every=25, seed=0, repeats=1)
    assert run.reached
    # the check happens at the first update at or past a multiple of 25 samples
    assert run.samples % 25 < 7


def test_not_reached_within_budget(data) -> None:
    X, y = data
    run = time_to_target(SoftmaxRegression(2, 3, seed=0), X, y, batch_size=40, lr=1e-4,
                         target=0.01, max_epochs=3, repeats=2)
    assert not run.reached and run.steps == 3 * 3 and run.samples == 3 * len(X)
    assert np.all(np.isnan(run.seconds)) and run.loss > 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 0.0}, "target must be"),
        ({"target": -1.0}, "target must be"),
        ({"lr": 0.0}, "lr must be"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"max_epochs": 0}, "max_epochs must be"),
        ({"repeats": 0}, "repeats must be"),
        ({"check_every": 0}, "check_every must be"),
    ],
)
def test_bad_input_names_the_argument(data, kwargs, message) -> None:
    X, y = data
    args = {"batch_size": 10, "lr": 0.1, "target": 0.5} | kwargs
    with pytest.raises(ValueError, match=message):
        time_to_target(SoftmaxRegression(2, 3), X, y, **args)


def test_model_must_be_a_companion_model(data) -> None:
    X, y = data
    with pytest.raises(TypeError, match="model"):
        time_to_target("not a model", X, y, 10, 0.1, 0.5)
