"""Read otter-grader master notebooks: their questions, tests and points.

A master notebook is an ordinary notebook with otter's raw-cell markers (``# ASSIGNMENT
CONFIG``, ``# BEGIN QUESTION`` ... ``# END QUESTION`` and so on). This module reads the
JSON directly (no nbformat import, so it stays fast) and only *reads*: turning a master
into student and autograder versions is otter's job (see :mod:`batchwise_instructor.release`).

>>> nb = new_notebook([raw_cell("# BEGIN QUESTION\\nname: q1\\npoints: 2"),
...                    raw_cell("# BEGIN TESTS"), code_cell("assert True"),
...                    code_cell("# HIDDEN\\nassert 1 + 1 == 2"), raw_cell("# END TESTS"),
...                    raw_cell("# END QUESTION")])
>>> questions_of(nb)
(Question(name='q1', points=2.0, public_tests=1, hidden_tests=1),)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Master",
    "Question",
    "cell_source",
    "code_cell",
    "find_masters",
    "load_notebook",
    "markdown_cell",
    "new_notebook",
    "points_table",
    "questions_of",
    "raw_cell",
    "read_master",
]

#: Raw-cell block markers exactly as otter 7 recognises them (case-insensitive, at the start).
BLOCK_MARKER = re.compile(r"#\s+(begin|end)\s+(question|prompt|solution|tests)\s*", re.IGNORECASE)
#: The assignment configuration cell.
CONFIG_MARKER = re.compile(r"#\s+assignment\s+config\s*", re.IGNORECASE)
#: otter marks a test cell hidden when its first line is a comment containing the word "hidden".
HIDDEN_WORD = re.compile(r"\bhidden\b", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    """One autograded question of a master notebook.

    Attributes:
        name: the otter question name (``q1``, ``q2`` ...), as used in ``grader.check("q1")``.
        points: the question's total points, resolved the way otter resolves them.
        public_tests: number of test cells students see and can run.
        hidden_tests: number of test cells that only the autograder runs.

    >>> Question("q1", 2.0, 1, 2).tests
    3
    """

    name: str
    points: float
    public_tests: int
    hidden_tests: int

    @property
    def tests(self) -> int:
        """Total number of test cells."""
        return self.public_tests + self.hidden_tests


@dataclass(frozen=True)
class Master:
    """A master notebook: its name (the file stem), path, title and questions.

    >>> m = Master("demo", Path("demo.ipynb"), "Demo", (Question("q1", 2.0, 1, 1),
    ...                                                  Question("q2", 1.5, 2, 1)))
    >>> m.total_points
    3.5
    """

    name: str
    path: Path
    title: str
    questions: tuple[Question, ...]

    @property
    def total_points(self) -> float:
        """Sum of the questions' points."""
        return float(sum(q.points for q in self.questions))


def new_notebook(cells: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Build a minimal nbformat-4 notebook dict with the ``python3`` kernelspec.

    >>> new_notebook([code_cell("1 + 1")])["metadata"]["kernelspec"]["name"]
    'python3'
    """
    return {
        "cells": list(cells),
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _cell(cell_type: str, source: str, **extra: Any) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": cell_type, "metadata": {}, "source": source}
    cell.update(extra)
    return cell


def code_cell(source: str) -> dict[str, Any]:
    """A code cell without outputs.

    >>> code_cell("x = 1")["outputs"]
    []
    """
    return _cell("code", source, outputs=[], execution_count=None)


def raw_cell(source: str) -> dict[str, Any]:
    """A raw cell (otter's markers live in raw cells).

    >>> raw_cell("# END TESTS")["cell_type"]
    'raw'
    """
    return _cell("raw", source)


def markdown_cell(source: str) -> dict[str, Any]:
    """A markdown cell.

    >>> markdown_cell("# Title")["cell_type"]
    'markdown'
    """
    return _cell("markdown", source)


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat allows a string or a list of lines).

    >>> cell_source({"source": ["a\\n", "b"]})
    'a\\nb'
    """
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def load_notebook(path: str | Path) -> dict[str, Any]:
    """Read a notebook file as a dict, raising ``ValueError`` if it is not a notebook.

    >>> load_notebook("no/such/file.ipynb")
    Traceback (most recent call last):
    ...
    ValueError: path must be an existing notebook file; got 'no/such/file.ipynb'
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path must be an existing notebook file; got {str(path)!r}")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a notebook: not valid JSON ({exc})") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path} is not a notebook: no list of cells")
    return nb


def _question_points(config: dict[str, Any], n_tests: int) -> float:
    """Resolve a question's ``points`` setting to its total, following otter's rules."""
    points = config.get("points")
    if points is None:
        return 1.0
    if isinstance(points, dict):
        return float(points.get("each", 1)) * n_tests
    if isinstance(points, list):
        return float(sum(points))
    return float(points)


def questions_of(nb: dict[str, Any]) -> tuple[Question, ...]:
    """The questions of a master notebook dict, in notebook order.

    Only well-formed ``BEGIN QUESTION`` cells are read; structural problems are reported by
    :func:`batchwise_instructor.leaks.validate_markers`, not here.

    >>> questions_of(new_notebook([code_cell("x = 1")]))
    ()
    """
    questions: list[Question] = []
    config: dict[str, Any] | None = None
    in_tests = False
    public = hidden = 0
    for cell in nb.get("cells", []):
        source = cell_source(cell)
        first = source.split("\n", 1)[0]
        if cell.get("cell_type") == "raw":
            marker = BLOCK_MARKER.match(first)
            if marker:
                edge, block = marker.group(1).lower(), marker.group(2).lower()
                if block == "question" and edge == "begin":
                    loaded = yaml.safe_load(source.split("\n", 1)[1] if "\n" in source else "")
                    config = loaded if isinstance(loaded, dict) else {}
                    public = hidden = 0
                elif block == "question" and config is not None:
                    name = str(config.get("name", f"question{len(questions) + 1}"))
                    points = _question_points(config, public + hidden)
                    questions.append(Question(name, points, public, hidden))
                    config = None
                elif block == "tests":
                    in_tests = edge == "begin"
                continue
        if in_tests and cell.get("cell_type") == "code":
            if first.lstrip().startswith("#") and HIDDEN_WORD.search(first):
                hidden += 1
            else:
                public += 1
    return tuple(questions)


def _title(nb: dict[str, Any], default: str) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in cell_source(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return default


def read_master(path: str | Path) -> Master:
    """Read one master notebook.

    >>> read_master("missing.ipynb")
    Traceback (most recent call last):
    ...
    ValueError: path must be an existing notebook file; got 'missing.ipynb'
    """
    path = Path(path)
    nb = load_notebook(path)
    return Master(path.stem, path, _title(nb, path.stem), questions_of(nb))


def find_masters(masters_dir: str | Path) -> list[Path]:
    """The master notebooks in a folder, sorted by name (checkpoints ignored).

    >>> find_masters("no/such/folder")
    Traceback (most recent call last):
    ...
    ValueError: masters_dir must be an existing folder; got 'no/such/folder'
    """
    masters_dir = Path(masters_dir)
    if not masters_dir.is_dir():
        raise ValueError(f"masters_dir must be an existing folder; got {str(masters_dir)!r}")
    return sorted(p for p in masters_dir.glob("*.ipynb") if p.is_file())


def _fmt(points: float) -> str:
    return f"{points:g}"


def points_table(masters: Iterable[Master]) -> str:
    """A Markdown table of every question and its points, one row per question.

    >>> print(points_table([Master("demo", Path("demo.ipynb"), "Demo",
    ...                            (Question("q1", 2.0, 1, 1),))]))
    | assignment | question | points | public tests | hidden tests |
    | --- | --- | --- | --- | --- |
    | demo | q1 | 2 | 1 | 1 |
    | demo | total | 2 | | |
    """
    lines = [
        "| assignment | question | points | public tests | hidden tests |",
        "| --- | --- | --- | --- | --- |",
    ]
    for master in masters:
        for q in master.questions:
            lines.append(
                f"| {master.name} | {q.name} | {_fmt(q.points)} | {q.public_tests} "
                f"| {q.hidden_tests} |"
            )
        lines.append(f"| {master.name} | total | {_fmt(master.total_points)} | | |")
    return "\n".join(lines)
