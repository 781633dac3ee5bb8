"""Every test of every assignment checks an answer's type before its value.

An object that compares equal to everything (``__eq__`` always True, ``__lt__`` and ``__gt__``
too, callable, indexable) passes a test that only compares values. So each question of each
master is run here without otter, in one namespace per master: the setup cells, then for each
question its answers replaced by such an object (every name the solution cells define), then
each of its test cells, public and hidden, which must all fail. The same cells with the real
solutions must all pass, so a failing test is not a broken test. (``test_assignments.py``
grades the released notebooks with otter; this is the quick, per-test-cell check.)
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchwise_instructor import find_masters
from batchwise_instructor.masters import cell_source, load_notebook

ROOT = Path(__file__).resolve().parents[1]
MASTERS = find_masters(ROOT / "notebooks" / "assignments")
#: The masters written with a type check first in every test cell.
TYPED = ("global_batch", "lr_batch", "time_memory")


class AlwaysEqual:
    """Equal to, smaller than and larger than anything; every call and item is itself."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __lt__(self, other: object) -> bool:
        return True

    __le__ = __gt__ = __ge__ = __lt__
    __hash__ = object.__hash__

    def __call__(self, *args: Any, **kwargs: Any) -> AlwaysEqual:
        return self

    def __getitem__(self, key: Any) -> AlwaysEqual:
        return self

    def __iter__(self) -> Iterator[Any]:  # else iteration calls __getitem__ forever
        return iter(())

    def __getattr__(self, name: str) -> AlwaysEqual:
        return self

    def __abs__(self) -> AlwaysEqual:
        return self

    def __sub__(self, other: Any) -> AlwaysEqual:
        return self

    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __sub__

    def __float__(self) -> float:
        return 0.0

    def __bool__(self) -> bool:
        return True


def _questions(path: Path) -> tuple[list[str], list[tuple[str, list[str], list[str]]]]:
    """The setup code, and per question (name, solution cells, test cells), in order."""
    setup: list[str] = []
    questions: list[tuple[str, list[str], list[str]]] = []
    state = "setup"
    for cell in load_notebook(path)["cells"]:
        text = cell_source(cell)
        if cell["cell_type"] == "raw":
            first = text.strip().splitlines()[0] if text.strip() else ""
            if first == "# BEGIN QUESTION":
                name = next(line.split(":", 1)[1].strip() for line in text.splitlines()
                            if line.startswith("name:"))
                questions.append((name, [], []))
            state = {"# BEGIN SOLUTION": "solution", "# END SOLUTION": "question",
                     "# BEGIN TESTS": "tests", "# END TESTS": "question",
                     "# END QUESTION": "setup"}.get(first, state)
        elif cell["cell_type"] == "code":
            if state == "solution":
                questions[-1][1].append(text)
            elif state == "tests":
                questions[-1][2].append(text)
            else:
                setup.append(text)
    return setup, questions


def _defined(code: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(code).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _run(code: str, ns: dict[str, Any]) -> str | None:
    """None if ``code`` runs, else the exception's type name."""
    try:
        exec(compile(code, "<test cell>", "exec"), ns)  # noqa: S102 - the masters are ours
    except Exception as exc:  # noqa: BLE001 - any failure fails the test cell
        return type(exc).__name__
    return None


def _results(path: Path, fake: bool) -> dict[str, list[str | None]]:
    setup, questions = _questions(path)
    ns: dict[str, Any] = {"__name__": "__main__"}
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        for code in setup:
            if "grader" not in code:
                assert _run(code, ns) is None, code
        out: dict[str, list[str | None]] = {}
        for name, solutions, tests in questions:
            for code in solutions:  # with fake earlier answers a solution may fail: no matter
                error = _run(code, ns)
                assert fake or error is None, (code, error)
            if fake:
                for var in set().union(*map(_defined, solutions)):
                    ns[var] = AlwaysEqual()
            out[name] = [_run(code, ns) for code in tests]
        return out
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("name", TYPED)
def test_an_always_equal_answer_fails_every_test(name: str) -> None:
    results = _results(ROOT / "notebooks" / "assignments" / f"{name}.ipynb", fake=True)
    assert results, "no questions found"
    passed = {q: [i for i, r in enumerate(rs) if r is None] for q, rs in results.items()}
    assert all(not p for p in passed.values()), f"tests passed by an always-equal answer: {passed}"


@pytest.mark.parametrize("name", TYPED)
def test_the_solutions_pass_every_test(name: str) -> None:
    results = _results(ROOT / "notebooks" / "assignments" / f"{name}.ipynb", fake=False)
    failed = {q: [r for r in rs if r] for q, rs in results.items() if any(rs)}
    assert not failed, failed


def test_the_typed_masters_exist() -> None:
    assert set(TYPED) <= {m.stem for m in MASTERS}
