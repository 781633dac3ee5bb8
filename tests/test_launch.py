"""The launch buttons work: Binder builds from pinned, cacheable files; Colab and any plain
Jupyter run a chapter, where myst-nb (and the course package, on Colab) is missing."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
import tomllib
import yaml
from nbclient import NotebookClient
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CHAPTERS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if "_build" not in p.parts)


def binder_pins() -> dict[str, str]:
    pins = {}
    for line in (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{line!r} must be pinned with =="
            pins[req.name.lower()] = spec.version
    return pins


def readers_requirements() -> list[Requirement]:
    """The requirements of the root requirements.txt (what readers and CI install), less
    comments and pip options such as ``-e .``."""
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in (raw.split("#")[0].strip() for raw in lines)
            if line and not line.startswith("-")]


def test_binder_requirements_are_pinned_and_do_not_refer_to_the_repository() -> None:
    text = (BINDER / "requirements.txt").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(-e|\.|file:|git\+)", text, re.MULTILINE)
    pins = binder_pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    needed = project["dependencies"] + project["optional-dependencies"]["instructor"]
    for line in needed:
        req = Requirement(line)
        assert req.name.lower() in pins, f"{req.name} is missing from binder/requirements.txt"
        assert req.specifier.contains(pins[req.name.lower()]), (req, pins[req.name.lower()])
    # and every pin Binder shares with the readers' requirements.txt is inside its range
    for req in readers_requirements():
        if req.name.lower() in pins:
            assert req.specifier.contains(pins[req.name.lower()]), (req, pins[req.name.lower()])
    assert {"jupyterlab", "ipykernel", "myst-nb"} <= set(pins)


def test_binder_runtime_satisfies_requires_python() -> None:
    runtime = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip()
    version = re.fullmatch(r"python-(\d+\.\d+)", runtime).group(1)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert Requirement(f"python{project['requires-python']}").specifier.contains(version + ".0")
    assert not (ROOT / "runtime.txt").exists() and not (ROOT / "postBuild").exists()


def test_postbuild_installs_the_package_without_dependencies() -> None:
    script = BINDER / "postBuild"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    commands = [line for line in script.read_text(encoding="utf-8").splitlines()
                if line and not line.startswith("#")]
    assert "python -m pip install --no-deps ." in commands
    install = commands.index("python -m pip install --no-deps .")
    release = next(i for i, c in enumerate(commands) if "batchwise_instructor release" in c)
    assert install < release  # the release needs the package


def _colab_cell(path: Path) -> dict:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_code_cell_installs_the_package_on_colab_only(path: Path) -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url, branch = config["repository"]["url"], config["repository"]["branch"]
    cell = _colab_cell(path)
    source = "".join(cell["source"])
    assert 'if "google.colab" in sys.modules:' in source
    assert f"batchwise @ git+{url}@{branch}" in source
    assert "remove-cell" in cell["metadata"].get("tags", [])
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "from myst_nb import" not in code and "import myst_nb" not in code


def test_a_chapter_runs_where_myst_nb_cannot_be_imported(tmp_path: Path, monkeypatch) -> None:
    """Chapter 01 from top to bottom in a kernel whose `import myst_nb` raises ImportError."""
    blocker = tmp_path / "blocker" / "myst_nb"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("myst_nb is not installed here")\n')
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(blocker.parent), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(ROOT / "book" / "01_vocabulary.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "try:\n    import myst_nb\nexcept ImportError as exc:\n    print('blocked:', exc)\n"
        "glue('probe', 1050 // 100)"))
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "book")}})
    # In a thread of its own: nbclient's event loop must not stay behind in the test worker's
    # main thread, where a later test drives Playwright's sync API.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(client.execute).result()
    probe = nb.cells[-1].outputs
    assert probe[0]["text"] == "blocked: myst_nb is not installed here\n"
    # glue() fell back to a plain display of the value.
    assert probe[1]["data"]["text/plain"] == "10"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert errors == []
