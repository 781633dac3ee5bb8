"""Reading and working times are computed from the chapters (book/_ext/course_times.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import course_times  # noqa: E402


def _nb(*cells: dict) -> dict:
    return {"cells": list(cells)}


def test_prose_is_read_at_200_words_a_minute() -> None:
    assert course_times.chapter_times(_nb({"cell_type": "markdown", "source": "w " * 200})).reading == 1
    assert course_times.chapter_times(_nb({"cell_type": "markdown", "source": "w " * 201})).reading == 2


def test_hidden_code_is_not_counted() -> None:
    shown = {"cell_type": "code", "source": "a = 1\n\nb = 2\n", "metadata": {}}
    hidden = {"cell_type": "code", "source": "glue('a', a)\n", "metadata": {"tags": ["remove-cell"]}}
    folded = {"cell_type": "code", "source": "assert a\n", "metadata": {"tags": ["hide-input"]}}
    times = course_times.chapter_times(_nb(shown, hidden, folded))
    assert (times.code_cells, times.code_lines) == (2, 3)


def test_each_exercise_adds_ten_working_minutes() -> None:
    one = _nb({"cell_type": "markdown", "source": "```{exercise}\nA\n```\n"})
    three = _nb({"cell_type": "markdown", "source": "```{exercise}\nA\n```\n:::{exercise}\nB\n:::\n```{exercise}\nC\n```"})
    assert course_times.chapter_times(one).exercises == 1
    assert course_times.chapter_times(three).exercises == 3
    assert course_times.chapter_times(three).working == 35  # 1 read + 30 exercises, to 5 min


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_chapter_has_a_plausible_time(path: Path) -> None:
    times = course_times.times_of(path)
    assert times.words > 500  # a chapter, not a stub
    assert times.code_cells > 0
    assert 1 <= times.reading < times.working
