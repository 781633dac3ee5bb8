"""The printable book: ``make pdf`` builds one PDF, and it holds the whole course, typeset.

The build runs once per session (``make pdf``: Jupyter Book 1's ``pdflatex`` builder with
xelatex, warnings as errors). Under ``make test`` it follows the HTML build, whose execution
cache (``_build/.jupyter_cache``) it reuses, so no notebook runs again and the time is the
LaTeX run's. The PDF's text (``pdftotext``) must hold every chapter's title and no raw TeX
(a formula left as source), and its page count (``pdfinfo``) must lie in
:data:`PAGE_RANGE`.

Needs Debian's TeX Live and poppler-utils (``.ci/run`` installs them); without them the test
skips and names the missing program.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PDF = ROOT / "_build" / "latex" / "book.pdf"
# Every notebook page of the book (the chapters and Start here), whatever its file name.
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
PAGES = ["intro.md", "instructors.md", "assignments.md"]
#: The book had 124 pages (A4-sized letter paper, Sphinx's default) when this test was written:
#: 10 chapters and the instructors' pages. The range lets chapters grow or shrink by about a
#: third, not vanish or double.
PAGE_RANGE = (90, 180)
#: TeX that only survives into the PDF's text when a formula was not typeset.
RAW_TEX = re.compile(
    r"\$\$|\\(?:frac|sum|sqrt|mathbb|mathrm|operatorname|lceil|rceil|left|right|begin|end|"
    r"cdot|times|approx|propto|lVert|rVert|Sigma|eta|bmod|text)\b"
)
PROGRAMS = ("xelatex", "latexmk", "pdftotext", "pdfinfo", "make")


def _title(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    return next(line[2:].strip() for line in text.splitlines() if line.startswith("# "))


def _plain(text: str) -> str:
    """Whitespace collapsed, hyphenation at line ends undone, typographic quotes made plain."""
    text = re.sub(r"-\n(?=[a-z])", "", text)
    text = text.replace("’", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def pdf_text() -> str:
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)}: install TeX Live and poppler-utils "
                    "(see .ci/run) to build and check the PDF")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    build = subprocess.run(["make", "pdf"], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert PDF.is_file()
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(PDF), "-"], capture_output=True,
                         text=True, check=True)
    return out.stdout


def _pages() -> int:
    info = subprocess.run(["pdfinfo", str(PDF)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


def test_the_pdf_holds_every_chapter_and_page_title(pdf_text: str) -> None:
    text = _plain(pdf_text)
    titles = [_title(p) for p in CHAPTERS] + [_title(ROOT / "book" / p) for p in PAGES]
    assert len(titles) == len(CHAPTERS) + len(PAGES) >= 13
    missing = [t for t in titles if _plain(t).replace("`", "") not in text]
    assert not missing, f"titles not in the PDF: {missing}"


def test_the_pdf_has_no_raw_tex(pdf_text: str) -> None:
    found = sorted({m.group(0) for m in RAW_TEX.finditer(pdf_text)})
    assert not found, f"formulas left as TeX source in the PDF: {found}"


def test_the_pdf_page_count_is_in_range(pdf_text: str) -> None:
    pages = _pages()
    assert PAGE_RANGE[0] <= pages <= PAGE_RANGE[1], pages


def test_the_raw_tex_check_can_fail() -> None:
    assert RAW_TEX.search(r"the variance is \frac{\sigma^2}{B}")
    assert RAW_TEX.search("$$ B_{noise} $$")
    assert not RAW_TEX.search("steps = ceil(N / B)\nprint('\\n')")
