"""The book build and nbval turn mistakes into failures.

A tiny book is built in a temporary folder with the repository's own ``_config.yml`` and the
same steps and flags as ``make book`` (the parallel pre-execution, then ``jupyter-book build``):
a broken cross-reference and a cell that raises must each fail the build, and a clean page must
pass, its notebook executed once, by the pre-execution, and only read from the cache by Sphinx.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
FLAGS = ["-W", "-n", "--keep-going"]
PREEXECUTE = ROOT / "book" / "_ext" / "execute_parallel.py"

pytestmark = pytest.mark.skipif(
    not JUPYTER_BOOK.exists(), reason=f"jupyter-book is not installed beside {sys.executable}"
)


def notebook(*cells: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A page\n\nSome text.")]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def build(tmp_path: Path, page: nbformat.NotebookNode, extra_markdown: str = "",
          preexecute: bool = True) -> subprocess.CompletedProcess:
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
    # Nothing here sets the progress switch: the book's own extensions must.
    env = {k: v for k, v in os.environ.items() if k != "BATCHWISE_PROGRESS"}
    log = ""
    if preexecute:
        pre = subprocess.run([sys.executable, str(PREEXECUTE), "--jobs", "2"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300, env=env)
        assert pre.returncode == 0, pre.stdout + pre.stderr  # a failing notebook is the build's
        log = pre.stdout + pre.stderr
    result = subprocess.run(
        [str(JUPYTER_BOOK), "build", ".", *FLAGS], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, env=env,
    )
    result.stdout = log + result.stdout
    return result


def recipe(target: str) -> list[str]:
    """The command lines of a Makefile target, variables left as written."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert match, f"no {target} target in the Makefile"
    return [line.strip() for line in match.group(1).splitlines()]


def test_the_pre_execution_outside_a_book_says_where_to_run_it(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(PREEXECUTE)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "run it from the book's root" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("target", ["book", "pdf", "test"])
def test_every_book_build_pre_executes_the_notebooks_first(target: str) -> None:
    lines = recipe(target)
    build = next(i for i, line in enumerate(lines) if "jupyter-book build" in line)
    assert "$(PREEXECUTE)" in lines[:build], lines
    assert "PREEXECUTE := $(PY) book/_ext/execute_parallel.py --jobs $(JOBS)" in (
        ROOT / "Makefile").read_text(encoding="utf-8")


def test_clean_book_builds(tmp_path: Path) -> None:
    result = build(tmp_path, notebook("print(6 * 7 * 1001)",
                                      "import os\nprint('bars', os.environ['BATCHWISE_PROGRESS'])"),
                   "See {doc}`page`.")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "_build" / "html" / "book" / "page.html").exists()
    assert "execute_parallel: book/page.ipynb in" in result.stdout
    assert "Using cached notebook" in result.stdout
    assert "Executing notebook" not in result.stdout
    page = (tmp_path / "_build" / "html" / "book" / "page.html").read_text(encoding="utf-8")
    assert "42042" in page  # the output the pre-execution cached
    assert "bars 0" in page  # its kernels ran with the progress bars off


def test_a_build_that_executes_a_notebook_itself_turns_the_progress_bars_off(tmp_path: Path) -> None:
    """Without the pre-execution (a plain ``jupyter-book build``), Sphinx starts the kernel;
    book/_ext/offline_book.py turns the bars off for it."""
    result = build(tmp_path, notebook("import os\nprint('bars', os.environ['BATCHWISE_PROGRESS'])"),
                   preexecute=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Executing notebook" in result.stdout
    page = (tmp_path / "_build" / "html" / "book" / "page.html").read_text(encoding="utf-8")
    assert "bars 0" in page


def test_broken_reference_fails_the_build(tmp_path: Path) -> None:
    result = build(tmp_path, notebook("x = 1"), "See {ref}`a-label-that-does-not-exist`.")
    assert result.returncode != 0
    assert "a-label-that-does-not-exist" in result.stdout + result.stderr


def test_raising_cell_fails_the_build(tmp_path: Path) -> None:
    result = build(tmp_path, notebook("raise RuntimeError('boom from a cell')"))
    assert result.returncode != 0
    assert "book/page.ipynb failed; the build will run it again" in result.stdout
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
