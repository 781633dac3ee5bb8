"""The instructors' page and the self-checks: every chapter, assignment and self-check is on it.

``book/instructors.md`` promises a time per chapter (computed by ``book/_ext/course_times.py``),
a map from every chapter to its self-check and assignments, and misconceptions that each point
at a section. These tests fail when a chapter, a master or a self-check is added or renamed and
the page is not, and when a chapter's self-check stops holding 2 to 4 questions of both kinds.
The rendering and checking of the quizzes in a browser is ``test_selfcheck_browser.py``.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

from batchwise_instructor import find_masters, read_master

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "instructors.md"
TEXT = PAGE.read_text(encoding="utf-8")
#: Notebooks of the book that are not chapters (no times, self-check or assignments).
NOT_CHAPTERS = {"start_here"}
CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.ipynb") if p.stem not in NOT_CHAPTERS)
MASTERS = find_masters(ROOT / "notebooks" / "assignments")
LABEL = re.compile(r"^\(([\w-]+)\)=", re.MULTILINE)


def _section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", TEXT, re.S | re.M)
    assert found, f"book/instructors.md lost its section {title!r}"
    return found.group(1)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _labels() -> set[str]:
    labels: set[str] = set()
    for path in CHAPTERS:
        for cell in _cells(path):
            if cell["cell_type"] == "markdown":
                labels.update(LABEL.findall(_source(cell)))
    return labels


def _selfcheck_cells(path: Path) -> list[dict]:
    return [c for c in _cells(path) if "selfcheck" in c.get("metadata", {}).get("tags", [])]


def test_the_page_is_in_the_table_of_contents_under_for_instructors() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    part = next(p for p in toc["parts"] if p["caption"] == "For instructors")
    assert {"file": "book/instructors"} in part["chapters"]


def test_the_chapters_are_the_notebooks_of_parts_one_and_two_of_the_table_of_contents() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    listed = [c["file"] for p in toc["parts"] if p["caption"].startswith("Part ")
              for c in p["chapters"]]
    assert len(CHAPTERS) >= 10
    assert sorted(listed) == [f"book/{p.stem}" for p in CHAPTERS]


def test_every_chapter_has_its_reading_and_working_time() -> None:
    times = _section("Time per chapter")
    assert CHAPTERS, "no chapters found"
    for path in CHAPTERS:
        doc = f"book/{path.stem}"
        row = rf"\| {{doc}}`{path.stem}` \| {{reading-time}}`{doc}` \| {{working-time}}`{doc}` \|"
        assert re.search(row, times), f"no time row for {path.stem}"


@pytest.mark.parametrize("weeks", ["Two weeks", "Three weeks"])
def test_each_schedule_covers_every_chapter_and_assignment_once(weeks: str) -> None:
    schedules = _section("Two schedules")
    start = schedules.index(f"**{weeks}**")
    table = schedules[start:].split("\n\n")[1]
    rows = [r for r in table.splitlines() if re.match(r"\| \d+ \|", r)]
    assert len(rows) == {"Two weeks": 2, "Three weeks": 3}[weeks]
    docs = re.findall(r"\{doc\}`(\w+)`", table)
    assert sorted(docs) == [p.stem for p in CHAPTERS]
    handed = re.findall(r"\d `(\w+)`", table)
    assert sorted(handed) == sorted(m.stem for m in MASTERS)


def test_the_map_names_every_chapter_self_check_and_assignment() -> None:
    table = _section("What exercises what")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| \{doc\}`(\w+)` \| (.*)$", table,
                                                         re.M)}
    assert sorted(rows) == [p.stem for p in CHAPTERS]
    named: set[str] = set()
    for path in CHAPTERS:
        cells = _selfcheck_cells(path)
        assert cells, f"{path.name} has no self-check (run /tmp/work/kit_notebooks.py)"
        label = LABEL.findall(_source(cells[0]))[0]
        assert f"{{ref}}`{label}`" in rows[path.stem], f"{path.stem}: self-check {label} missing"
        named.update(re.findall(r"\d `(\w+)`", rows[path.stem]))
    titles = {m.stem: read_master(m).title for m in MASTERS}
    assert named == set(titles), "every assignment exercises some chapter, and only those exist"
    for number, master in enumerate(sorted(MASTERS, key=lambda m: titles[m.stem]), start=1):
        assert titles[master.stem].startswith(f"Assignment {number} "), titles[master.stem]
        assert f"{number} `{master.stem}`" in table


def test_every_misconception_points_at_an_existing_section() -> None:
    table = _section("Misconceptions the course corrects")
    refs = re.findall(r"^\| .+ \| .+ \| \{ref\}`([\w-]+)` \|$", table, re.M)
    rows = [r for r in table.splitlines() if r.startswith("| ") and "---" not in r][1:]
    assert len(refs) == len(rows) >= 10, "each belief needs exactly one {ref} to its section"
    assert len(set(refs)) == len(refs), "two beliefs point at the same section"
    missing = sorted(set(refs) - _labels())
    assert not missing, f"no such section label in the chapters: {missing}"


def _calls(code: str) -> list[str]:
    return [n.func.id for n in ast.walk(ast.parse(code))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_each_self_check_asks_two_to_four_questions_of_both_kinds(path: Path) -> None:
    cells = _selfcheck_cells(path)
    kinds = [c["cell_type"] for c in cells]
    assert kinds == ["markdown", "code"], kinds
    code_cell = cells[1]
    assert "remove-input" in code_cell["metadata"]["tags"], "the page shows the quiz, not its code"
    calls = _calls(_source(code_cell))
    n_mc, n_num = calls.count("multiple_choice"), calls.count("numeric")
    assert n_mc >= 1 and n_num >= 1 and 2 <= n_mc + n_num <= 4, (n_mc, n_num)
    assert "selfcheck" in calls and "assert" in _source(code_cell)
    # The self-check comes right before the exercises (or ends a chapter that has none).
    cells_all = _cells(path)
    after = cells_all.index(code_cell) + 1
    if after < len(cells_all):
        assert _source(cells_all[after]).startswith("## Exercises")
