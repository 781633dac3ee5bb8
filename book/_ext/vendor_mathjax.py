"""Refresh the vendored MathJax in ``book/_vendor/mathjax`` from the npm registry (``make vendor``).

The book typesets its formulas with MathJax 3 served from the book itself, so a reader without a
network sees typeset math. This script is the only way the vendored files change:

1. ``npm pack mathjax@<VERSION>`` downloads the registry's tarball into a temporary folder;
2. its SHA-512 must equal the pinned :data:`INTEGRITY` (what ``npm view mathjax@3.2.2
   dist.integrity`` prints), so a changed or tampered tarball is refused;
3. the files the book needs (:data:`KEEP`: the ``tex-chtml`` combined component, its woff-v2
   fonts and the autoloaded TeX extensions) and the package's ``LICENSE`` (Apache-2.0) are copied
   into ``book/_vendor/mathjax`` with the same layout as the package's ``es5/`` folder (MathJax
   finds its fonts and extensions relative to the script's URL);
4. ``MANIFEST.json`` records the package, version, integrity and the SHA-256 of every file, which
   ``tests/test_vendor.py`` checks against the folder.

Run ``python book/_ext/vendor_mathjax.py`` (or ``make vendor``); ``--check`` only verifies the folder
against its manifest. The book build never runs this and never downloads anything.

>>> sorted(manifest_for(Path(__file__).parent / "no-such-folder")["files"])
[]
>>> selected("es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff"), selected("es5/tex-svg.js")
('output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff', None)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "mathjax"
VERSION = "3.2.2"
#: ``npm view mathjax@3.2.2 dist.integrity``
INTEGRITY = (
    "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
)
#: Paths inside the tarball's ``package/es5/`` that the book serves (a file or a folder prefix).
KEEP = ("tex-chtml.js", "output/chtml/fonts/woff-v2/", "input/tex/extensions/")
ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "book" / "_vendor" / "mathjax"
MANIFEST = "MANIFEST.json"


def selected(member: str) -> str | None:
    """The vendored path of a tarball member below ``package/``, or None if the book needs none.

    Example:
        >>> selected("es5/tex-chtml.js"), selected("LICENSE"), selected("README.md")
        ('tex-chtml.js', 'LICENSE', None)
    """
    if member == "LICENSE":
        return member
    if not member.startswith("es5/"):
        return None
    rel = member[len("es5/"):]
    keep = any(rel == k or (k.endswith("/") and rel.startswith(k)) for k in KEEP)
    return rel if keep else None


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_for(folder: Path) -> dict:
    """The manifest describing ``folder`` as it is on disk (every file but the manifest)."""
    files = {}
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
            files[path.relative_to(folder).as_posix()] = sha256(path)
    return {"package": PACKAGE, "version": VERSION, "integrity": INTEGRITY,
            "source": f"npm pack {PACKAGE}@{VERSION}", "files": files}


def check(folder: Path = TARGET) -> list[str]:
    """Differences between ``folder`` and its ``MANIFEST.json`` (empty when they agree)."""
    path = folder / MANIFEST
    if not path.is_file():
        return [f"{path} is missing; run `make vendor`"]
    recorded = json.loads(path.read_text(encoding="utf-8"))
    actual = manifest_for(folder)
    problems = [f"manifest {key} is {recorded.get(key)!r}, the pin is {actual[key]!r}"
                for key in ("package", "version", "integrity") if recorded.get(key) != actual[key]]
    for name in sorted(set(recorded["files"]) | set(actual["files"])):
        if recorded["files"].get(name) != actual["files"].get(name):
            problems.append(f"{name}: on disk {actual['files'].get(name)}, "
                            f"manifest {recorded['files'].get(name)}")
    return problems


def refresh(folder: Path = TARGET) -> None:
    """Download the pinned tarball with npm, verify it, and rewrite ``folder`` from it."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        tarball = Path(tmp) / f"{PACKAGE}-{VERSION}.tgz"
        digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if digest != INTEGRITY:
            raise SystemExit(f"{tarball.name}: integrity {digest} differs from the pin {INTEGRITY}")
        staging = Path(tmp) / "mathjax"
        with tarfile.open(tarball) as archive:
            for member in archive.getmembers():
                rel = selected(member.name.removeprefix("package/")) if member.isfile() else None
                if rel is None:
                    continue
                out = staging / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(archive.extractfile(member).read())  # type: ignore[union-attr]
        (staging / MANIFEST).write_text(json.dumps(manifest_for(staging), indent=1) + "\n",
                                        encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, folder)
    print(f"vendored {PACKAGE} {VERSION}: {len(manifest_for(folder)['files'])} files in {folder}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only verify against the manifest")
    args = parser.parse_args(argv)
    if not args.check:
        refresh()
    problems = check()
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
