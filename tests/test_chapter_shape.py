"""Every chapter keeps the shape the introduction promises a reader.

Each page of the book opens with its prerequisites and a reading time computed from its
content (the ``{reading-time}`this``` role of book/_ext/course_times.py), ends its reading with
a "Key take-aways" box before the exercises, and numbers its exercises from 1 (the local
extension book/_ext/exercise_numbers.py). The "Start here" page follows the introduction in
the table of contents. Where the book has been built (``make book``), the rendered pages are
checked too: exercise numbers restart on every page and no ordinal reads "61th".
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import exercise_numbers  # noqa: E402

BOOK = sorted((ROOT / "book").glob("*.ipynb"))
HTML = ROOT / "_build" / "html"
EXERCISE = re.compile(r"^(```|:::)\{exercise\}", re.MULTILINE)


def _cells(path: Path) -> list[tuple[str, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list)
             else c["source"]) for c in nb["cells"]]


def _title_cell(path: Path) -> str:
    for kind, text in _cells(path):
        if kind == "markdown" and text.startswith("# "):
            return text
    raise AssertionError(f"{path.name} has no '# ' title")


@pytest.mark.parametrize("path", BOOK, ids=lambda p: p.stem)
def test_chapter_opens_with_reading_time_and_prerequisites(path: Path) -> None:
    head = _title_cell(path).split("\n\n")[1]  # the paragraph right under the title
    assert "**Reading time:** {reading-time}`this`" in head
    assert "**Prerequisites:**" in head


@pytest.mark.parametrize("path", BOOK, ids=lambda p: p.stem)
def test_chapter_has_key_takeaways_before_its_exercises(path: Path) -> None:
    markdown = [text for kind, text in _cells(path) if kind == "markdown"]
    boxes = [i for i, text in enumerate(markdown) if "{admonition} Key take-aways" in text]
    assert len(boxes) == 1, f"{path.name}: expected one Key take-aways box, found {len(boxes)}"
    exercises = [i for i, text in enumerate(markdown) if EXERCISE.search(text)]
    assert all(i > boxes[0] for i in exercises), "the take-aways close the reading, " \
        "before the exercises"


def test_start_here_follows_the_introduction() -> None:
    files = re.findall(r"(?:root|file):\s*(\S+)", (ROOT / "_toc.yml").read_text("utf-8"))
    assert files[:2] == ["book/intro", "book/start_here"]


def test_exercises_are_renumbered_per_page() -> None:
    # book-wide numbers as Sphinx assigns them without numbered sections
    numbers = {"book/01": {"exercise": {"e1": (1,), "e2": (2,), "e3": (3,)}},
               "book/02": {"exercise": {"e4": (4,), "e5": (5,)}, "figure": {"f": (7,)}},
               "book/04": {"figure": {"g": (8,)}}}
    changed = exercise_numbers.number_per_page(numbers)
    assert changed == {"book/02"}
    assert numbers["book/02"]["exercise"] == {"e4": (1,), "e5": (2,)}
    assert numbers["book/01"]["exercise"] == {"e1": (1,), "e2": (2,), "e3": (3,)}
    assert numbers["book/02"]["figure"] == {"f": (7,)}
    assert exercise_numbers.number_per_page(numbers) == set()  # idempotent


def _built_pages() -> list[Path]:
    if not (HTML / "index.html").exists():
        pytest.skip(f"no built book at {HTML}; run `make book` first")
    return [HTML / "book" / f"{p.stem}.html" for p in BOOK]


def _text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_built_pages_number_exercises_from_one() -> None:
    for page in _built_pages():
        text = _text(page.read_text(encoding="utf-8"))
        numbers = [int(n) for n in re.findall(r"(?<!Solution to )Exercise (\d+)\b", text)]
        if numbers:
            assert numbers == list(range(1, len(numbers) + 1)), f"{page.name}: {numbers}"


def test_built_pages_write_ordinals_correctly() -> None:
    for page in _built_pages():
        text = _text(page.read_text(encoding="utf-8"))
        wrong = re.findall(r"\b(?:\d*[02-9])?[123]th\b", text)  # 61th, 2th; not 11th
        assert not wrong, f"{page.name}: {wrong}"
