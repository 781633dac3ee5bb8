"""Reading and working times for each chapter, computed from the chapter itself.

The book never types a time by hand: a chapter's opening says ``{reading-time}`this``` and the
instructors' page says ``{working-time}`book/05_noise``` and both are computed here, at build
time, from the notebook's own text.

* **Reading time**: prose at :data:`WORDS_PER_MINUTE` words a minute, plus the code a reader sees
  (cells not tagged ``remove-cell`` or ``remove-input``) at :data:`CODE_LINES_PER_MINUTE` lines a
  minute, rounded up to whole minutes.
* **Working time**: the reading time, plus :data:`MINUTES_PER_RUN` for each visible code cell a
  learner runs and looks at, plus :data:`MINUTES_PER_EXERCISE` for each exercise, rounded up to
  five minutes.

>>> times = chapter_times({"cells": [
...     {"cell_type": "markdown", "source": "word " * 400},
...     {"cell_type": "code", "source": "x = 1\\ny = 2", "metadata": {}},
...     {"cell_type": "code", "source": "glue('x', 1)", "metadata": {"tags": ["remove-cell"]}},
...     {"cell_type": "markdown", "source": "```{exercise}\\nDo it.\\n```"}]})
>>> times
ChapterTimes(words=403, code_lines=2, code_cells=1, exercises=1, reading=3, working=15)
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import NamedTuple

WORDS_PER_MINUTE = 200
CODE_LINES_PER_MINUTE = 10
MINUTES_PER_RUN = 1
MINUTES_PER_EXERCISE = 10
HIDDEN_TAGS = {"remove-cell", "remove-input"}
EXERCISE = re.compile(r"^(```|:::)\{exercise\}", re.MULTILINE)
WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")


class ChapterTimes(NamedTuple):
    """What a chapter holds and the minutes it takes to read and to work through."""

    words: int
    code_lines: int
    code_cells: int
    exercises: int
    reading: int
    working: int


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def chapter_times(notebook: dict) -> ChapterTimes:
    """Count a notebook's prose words, visible code and exercises, and turn them into minutes."""
    words = code_lines = code_cells = exercises = 0
    for cell in notebook.get("cells", []):
        text = _source(cell)
        if cell.get("cell_type") == "markdown":
            words += len(WORD.findall(text))
            exercises += len(EXERCISE.findall(text))
        elif cell.get("cell_type") == "code":
            if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
                continue
            lines = [line for line in text.splitlines() if line.strip()]
            if lines:
                code_cells += 1
                code_lines += len(lines)
    reading = max(1, math.ceil(words / WORDS_PER_MINUTE + code_lines / CODE_LINES_PER_MINUTE))
    working = reading + MINUTES_PER_RUN * code_cells + MINUTES_PER_EXERCISE * exercises
    working = 5 * math.ceil(working / 5)
    return ChapterTimes(words, code_lines, code_cells, exercises, reading, working)


def times_of(path: Path) -> ChapterTimes:
    """:func:`chapter_times` of a notebook (``.ipynb``) or a Markdown page (``.md``) on disk."""
    if path.suffix == ".ipynb":
        return chapter_times(json.loads(path.read_text(encoding="utf-8")))
    return chapter_times({"cells": [{"cell_type": "markdown", "source": path.read_text("utf-8")}]})


def _role(kind: str):
    from docutils import nodes

    def role(name, rawtext, text, lineno, inliner, options=None, content=None):
        env = inliner.document.settings.env
        docname = env.docname if text.strip() == "this" else text.strip()
        if docname not in env.found_docs:
            message = inliner.reporter.error(
                f"{name}: no page {docname!r} (give a docname such as book/05_noise, or 'this')",
                line=lineno,
            )
            return [inliner.problematic(rawtext, rawtext, message)], [message]
        path = Path(env.doc2path(docname))
        env.note_dependency(str(path))
        minutes = getattr(times_of(path), kind)
        return [nodes.inline(rawtext, f"{minutes} min")], []

    return role


def setup(app):  # pragma: no cover - exercised by every book build
    from docutils.parsers.rst import roles

    roles.register_local_role("reading-time", _role("reading"))
    roles.register_local_role("working-time", _role("working"))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
