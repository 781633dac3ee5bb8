"""The book build and nbval turn mistakes into failures.

A tiny book is built in a temporary folder with the repository's own ``_config.yml`` and the
same flags as ``make book``: a broken cross-reference and a cell that raises must each fail the
build, and a clean page must pass.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
FLAGS = ["-W", "-n", "--keep-going"]

pytestmark = pytest.mark.skipif(
    not JUPYTER_BOOK.exists(), reason=f"jupyter-book is not installed beside {sys.executable}"
)


def notebook(*cells: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A page\n\nSome text.")]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def build(tmp_path: Path, page: nbformat.NotebookNode, extra_markdown: str = "") -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
    # The book's local Sphinx extensions, which _config.yml loads from book/_ext, and the
    # vendored assets (MathJax) that one of them serves.
    for folder in ("_ext", "_vendor"):
        shutil.copytree(ROOT / "book" / folder, tmp_path / "book" / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "book" / "intro.md").write_text(f"# Intro\n\n{extra_markdown}\n")
    (tmp_path / "book" / "references.md").write_text("# References\n\n```{bibliography}\n:all:\n```\n")
    nbformat.write(page, tmp_path / "book" / "page.ipynb")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/page\n  - file: book/references\n"
    )
    return subprocess.run(
        [str(JUPYTER_BOOK), "build", ".", *FLAGS], cwd=tmp_path, capture_output=True, text=True,
        timeout=300,
    )


def test_clean_book_builds(tmp_path: Path) -> None:
    result = build(tmp_path, notebook("x = 1 + 1\nx"), "See {doc}`page`.")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "_build" / "html" / "book" / "page.html").exists()


def test_broken_reference_fails_the_build(tmp_path: Path) -> None:
    result = build(tmp_path, notebook("x = 1"), "See {ref}`a-label-that-does-not-exist`.")
    assert result.returncode != 0
    assert "a-label-that-does-not-exist" in result.stdout + result.stderr


def test_raising_cell_fails_the_build(tmp_path: Path) -> None:
    result = build(tmp_path, notebook("raise RuntimeError('boom from a cell')"))
    assert result.returncode != 0
    assert "boom from a cell" in result.stdout + result.stderr


def test_nbval_fails_on_a_raising_cell(tmp_path: Path) -> None:
    """The same nbval options as ``make test``: a cell that raises is a failing test."""
    nbformat.write(notebook("x = 1", "raise ValueError('cell failure')", "y = 2"),
                   tmp_path / "bad.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", "bad.ipynb"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "cell failure" in result.stdout
    assert "1 failed" in result.stdout
