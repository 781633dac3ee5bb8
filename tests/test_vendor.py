"""The vendored MathJax is the pinned release, complete, licensed, and loaded once per page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import offline_book  # noqa: E402
import vendor_mathjax  # noqa: E402

FOLDER = ROOT / "book" / "_vendor" / "mathjax"


def test_vendored_files_match_their_manifest_and_the_pin() -> None:
    assert vendor_mathjax.check(FOLDER) == []
    manifest = json.loads((FOLDER / "MANIFEST.json").read_text())
    assert (manifest["package"], manifest["version"]) == ("mathjax", "3.2.2")
    # What the book needs: the combined component, its fonts and the autoloaded extensions.
    files = manifest["files"]
    assert "tex-chtml.js" in files and "LICENSE" in files
    assert sum(f.startswith("output/chtml/fonts/woff-v2/") and f.endswith(".woff")
               for f in files) == 23
    assert "input/tex/extensions/boldsymbol.js" in files
    # The script itself says which release it is.
    assert 'VERSION="3.2.2"' in (FOLDER / "tex-chtml.js").read_text(encoding="utf-8")
    assert "Apache License" in (FOLDER / "LICENSE").read_text(encoding="utf-8")


def test_check_notices_a_changed_file(tmp_path: Path) -> None:
    copy = tmp_path / "mathjax"
    subprocess.run(["cp", "-r", str(FOLDER), str(copy)], check=True)
    assert vendor_mathjax.check(copy) == []
    (copy / "tex-chtml.js").write_text("changed")
    (copy / "extra.js").write_text("")
    problems = vendor_mathjax.check(copy)
    assert [p.split(":")[0] for p in problems] == ["extra.js", "tex-chtml.js"]


def test_the_extension_serves_mathjax_from_static_and_loads_it_once(tmp_path: Path) -> None:
    """A minimal Sphinx project with the extension: one script tag, the file is copied."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        f"import sys; sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['sphinx.ext.mathjax', 'offline_book']\n")
    (src / "index.rst").write_text("Title\n=====\n\n:math:`a^2 + b^2`\n")
    out = tmp_path / "html"
    subprocess.run([sys.executable, "-m", "sphinx", "-q", "-W", "-b", "html", str(src), str(out)],
                   check=True)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count('src="_static/mathjax/tex-chtml.js') == 1
    assert "cdn.jsdelivr.net" not in page and "/mathjax/input/" not in page
    assert (out / "_static" / offline_book.MATHJAX_PATH).is_file()
    assert (out / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
