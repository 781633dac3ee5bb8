"""Importing otter or nbformat stays cheap: jsonschema's IRI checker is not installed.

Every graded submission's kernel runs ``import otter`` and every notebook build imports
nbformat. jsonschema 4.25 added rfc3987-syntax to its ``format-nongpl`` extra, whose import
builds ~35 Earley parsers (about 2.5 s here); ``requirements.txt`` keeps jsonschema below
4.25 and Binder pins a version from that range.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _requirement(path: Path, name: str) -> Requirement:
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-") and Requirement(line).name.lower() == name:
            return Requirement(line)
    raise AssertionError(f"{name} is not in {path.relative_to(ROOT)}")


@pytest.mark.parametrize("module", ["otter", "nbformat"])
def test_importing_does_not_build_the_rfc3987_grammars(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if 'rfc3987' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"import {module} loaded {out}"


def test_binder_pins_a_jsonschema_the_readers_requirements_allow() -> None:
    allowed = _requirement(ROOT / "requirements.txt", "jsonschema").specifier
    (pin,) = _requirement(ROOT / "binder" / "requirements.txt", "jsonschema").specifier
    assert pin.operator == "==" and allowed.contains(pin.version), (allowed, pin)
    assert not allowed.contains("4.25.0")
