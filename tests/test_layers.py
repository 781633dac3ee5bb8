"""The package's layers: core → measure → display, and the instructors' tool on its own.

A module may import from its own layer and the layers before it, never from a later one, so a
contributor can change the training pipeline without reading the experiments or the figures.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "companion"
ORDER = ["core", "measure", "display"]


def _imports(path: pathlib.Path) -> set[str]:
    """Every absolute module name a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parts = path.relative_to(ROOT).with_suffix("").parts
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _layer_files(layer: str) -> list[pathlib.Path]:
    return sorted((PACKAGE / layer).glob("*.py"))


@pytest.mark.parametrize("layer", ORDER)
def test_a_layer_imports_nothing_from_a_later_layer(layer: str) -> None:
    later = ORDER[ORDER.index(layer) + 1 :]
    files = _layer_files(layer)
    assert files, f"companion/{layer}/ has no modules"
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if any(name == f"companion.{x}" or name.startswith(f"companion.{x}.") for x in later)
    ]
    assert offenders == []


def test_the_learner_package_never_imports_the_instructor_tool() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in {"batchwise_instructor", "otter", "yaml"}
    ]
    assert offenders == []


def test_every_module_lives_in_a_layer() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py"]
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(
        ORDER
    )


def test_importing_the_core_loads_neither_measurement_nor_display() -> None:
    code = (
        "import sys, companion, companion.core.training, companion.core.batching;"
        "print(sorted(m for m in sys.modules if m.startswith(('companion.measure',"
        " 'companion.display', 'matplotlib', 'batchwise_instructor'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert out == "[]"


def test_the_checker_sees_a_violation(tmp_path: pathlib.Path) -> None:
    """The AST walk finds absolute and relative imports alike (so the tests above can fail)."""
    bad = ROOT / "companion" / "core" / "_layer_probe_tmp.py"
    bad.write_text("from ..display import plots\nimport companion.measure.noise\n")
    try:
        names = _imports(bad)
    finally:
        bad.unlink()
    assert "companion.display.plots" in names
    assert "companion.measure.noise" in names
