"""The licences: MIT for the code, CC BY 4.0 for text and figures, named in every page's footer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


def test_licence_files_say_what_pyproject_and_the_footer_say() -> None:
    code = (ROOT / "LICENSE").read_text(encoding="utf-8")
    content = (ROOT / "LICENSE-CONTENT").read_text(encoding="utf-8")
    assert code.startswith("MIT License\n") and "Batchwise contributors" in code
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^license = \{ text = "MIT" \}$', pyproject, re.M)
    assert "Creative Commons Attribution 4.0 International Public License" in content
    assert "Section 1 -- Definitions." in content and "Section 8 -- Interpretation." in content
    footer = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["html"]
    assert "MIT" in footer["extra_footer"] and "CC BY 4.0" in footer["extra_footer"]
    assert "LICENSE-CONTENT" in footer["extra_footer"]


def test_every_built_page_shows_both_licences() -> None:
    pages = sorted(HTML.glob("book/*.html"))
    if not pages:
        pytest.skip(f"no built book at {HTML}; run `make book` first")
    missing = [p.name for p in pages
               if 'class="batchwise-licence"' not in (text := p.read_text(encoding="utf-8"))
               or "creativecommons.org/licenses/by/4.0/" not in text]
    assert not missing, f"pages without the licence footer: {missing}"
