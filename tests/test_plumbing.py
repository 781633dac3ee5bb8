"""The HTML book shows prose, the computation that matters and the figure, not the plumbing.

A chapter's ``glue(...)`` calls and ``assert`` statements are its tests: they stay in the
notebook, but in cells tagged ``remove-cell`` so the reader of the HTML book does not wade
through them. This test counts, per book notebook, the code lines a reader sees (code cells
not tagged ``remove-cell`` or ``remove-input``, blank lines not counted) and how many of them
belong to a top-level ``glue(...)`` call, an ``assert`` or a loop doing only those, and fails
when plumbing is 5 % of the visible code or more.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HIDDEN_TAGS = {"remove-cell", "remove-input"}
MAX_SHARE = 0.05
BOOK = sorted((ROOT / "book").glob("*.ipynb"))
MAGIC = re.compile(r"^\s*[%!]")


def _is_plumbing(node: ast.stmt) -> bool:
    """A top-level statement that only glues a value or asserts a claim."""
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return name == "glue"
    if isinstance(node, ast.For | ast.While) and not node.orelse:
        return all(_is_plumbing(child) for child in node.body)
    return False


def count_lines(source: str) -> tuple[int, int]:
    """(non-blank lines, non-blank lines of plumbing statements) of one code cell.

    >>> count_lines("x = 1\\nassert x == 1\\nglue('x',\\n     x, display=False)\\n\\nx")
    (5, 3)
    >>> count_lines("%matplotlib inline\\nfor k in 'ab':\\n    glue(k, 1, display=False)")
    (3, 2)
    """
    lines = source.splitlines()
    parsable = "\n".join("pass" if MAGIC.match(line) else line for line in lines)
    tree = ast.parse(parsable)
    plumbing: set[int] = set()
    for node in tree.body:
        if _is_plumbing(node):
            plumbing.update(range(node.lineno, node.end_lineno + 1))
    visible = [i for i, line in enumerate(lines, start=1) if line.strip()]
    return len(visible), sum(1 for i in visible if i in plumbing)


def chapter_counts(path: Path) -> tuple[int, int]:
    """(visible code lines, of which plumbing) over the code cells the HTML book shows."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    shown = plumbing = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        source = cell["source"]
        lines, glued = count_lines("".join(source) if isinstance(source, list) else source)
        shown += lines
        plumbing += glued
    return shown, plumbing


def test_plumbing_statements_are_recognised() -> None:
    source = "\n".join([
        "fig = figure()",
        "assert (fig is not None\n        and True)",
        "glue('a', 1, display=False)",
        "for b in (1, 2):\n    glue(f'k{b}', b, display=False)",
        "for b in (1, 2):\n    print(b)",
        "np.testing.assert_allclose(1, 1)",
        "fig",
    ])
    assert count_lines(source) == (10, 5)


def test_a_notebook_of_plumbing_in_hidden_cells_counts_none(tmp_path: Path) -> None:
    nb = {"cells": [
        {"cell_type": "code", "metadata": {}, "source": "x = 2\nx"},
        {"cell_type": "code", "metadata": {"tags": ["remove-cell"]},
         "source": "assert x == 2\nglue('x', x, display=False)"},
        {"cell_type": "code", "metadata": {}, "source": ["assert x > 1\n", "y = x"]},
        {"cell_type": "markdown", "metadata": {}, "source": "assert nothing"},
    ]}
    path = tmp_path / "page.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert chapter_counts(path) == (4, 1)


@pytest.mark.parametrize("path", BOOK, ids=lambda p: p.stem)
def test_visible_code_is_not_plumbing(path: Path) -> None:
    shown, plumbing = chapter_counts(path)
    assert shown > 0, f"{path.name} shows no code at all"
    assert plumbing < MAX_SHARE * shown, (
        f"{path.name}: {plumbing} of its {shown} visible code lines are glue/assert plumbing "
        f"({plumbing / shown:.0%}); move them into a cell tagged remove-cell")
