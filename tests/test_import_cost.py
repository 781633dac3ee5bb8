"""Importing otter or nbformat stays cheap: jsonschema's IRI checker is not installed.

Every graded submission's kernel runs ``import otter`` and every notebook build imports
nbformat. jsonschema 4.25 added rfc3987-syntax to its ``format-nongpl`` extra, whose import
builds ~35 Earley parsers (about 2.5 s here); ``requirements.txt`` keeps jsonschema below
4.25 and Binder pins a version from that range.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["otter", "nbformat"])
def test_importing_does_not_build_the_rfc3987_grammars(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if 'rfc3987' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"import {module} loaded {out}"


def test_the_readers_requirements_keep_jsonschema_below_4_25() -> None:
    """(test_launch checks that Binder's pin lies inside this range.)"""
    from test_launch import binder_pins, readers_requirements

    (allowed,) = [r.specifier for r in readers_requirements() if r.name == "jsonschema"]
    assert not allowed.contains("4.25.0")
    assert allowed.contains(binder_pins()["jsonschema"])
