"""Release: run ``otter assign`` on every master into ``<out>/<name>/{student,autograder}``.

Each master is first checked with :func:`batchwise_instructor.leaks.validate_markers`: a
master whose solution markers otter would mis-read is refused, because otter would copy the
solution into the student version without a warning. The masters then go through
``otter assign`` in parallel subprocesses. Nothing is downloaded or installed: otter 7 builds
the autograder zip locally and, unless ``run_tests=False``, grades the solution notebook with
``otter run`` (no Docker) to prove that it earns full marks.

After a release, ``<out>/<name>/student/<name>.ipynb`` is what learners get (public tests
only) and ``<out>/<name>/autograder/<name>-autograder.zip`` is what ``grade`` uses.

>>> release_all("no/such/masters", "/tmp/unused")
Traceback (most recent call last):
...
ValueError: masters_dir must be an existing folder; got 'no/such/masters'
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from companion.core._validation import check_bool, check_positive_int

from ._proc import otter_command, run_logged
from .leaks import validate_markers
from .masters import CONFIG_MARKER, Master, cell_source, find_masters, load_notebook, read_master

__all__ = ["Release", "ReleaseError", "autograder_zip", "release_all", "student_notebook"]

#: otter assign of one master should take seconds; this only stops a wedged process.
ASSIGN_TIMEOUT = 600.0


class ReleaseError(RuntimeError):
    """``otter assign`` failed, or a master was refused before it ran."""


@dataclass(frozen=True)
class Release:
    """One released assignment.

    Attributes:
        master: what was read from the master notebook (name, questions, points).
        student_notebook: the notebook learners open.
        autograder_zip: the zip ``grade`` uses (``None`` for a student-only release).
        seconds: how long ``otter assign`` took.
        tests_run: whether otter graded the solution notebook during the release.
    """

    master: Master
    student_notebook: Path
    autograder_zip: Path | None
    seconds: float
    tests_run: bool

    def describe(self) -> str:
        """One line for the release log.

        >>> from batchwise_instructor.masters import Question
        >>> m = Master("demo", Path("demo.ipynb"), "Demo", (Question("q1", 2.0, 1, 1),))
        >>> Release(m, Path("out/demo/student/demo.ipynb"), None, 1.23, False).describe()
        'demo: 1 questions, 2 points -> out/demo/student/demo.ipynb (student only; 1.2 s)'
        """
        total = f"{self.master.total_points:g}"
        grader = f"autograder {self.autograder_zip}" if self.autograder_zip else "student only"
        checked = "; solutions checked: full marks" if self.tests_run else ""
        return (
            f"{self.master.name}: {len(self.master.questions)} questions, {total} points -> "
            f"{self.student_notebook} ({grader}{checked}; {self.seconds:.1f} s)"
        )


def student_notebook(release_dir: str | Path, name: str) -> Path:
    """Where the student version of assignment ``name`` lives in a release.

    >>> student_notebook("_build/assignments", "counting").as_posix()
    '_build/assignments/counting/student/counting.ipynb'
    """
    return Path(release_dir) / name / "student" / f"{name}.ipynb"


def autograder_zip(release_dir: str | Path, name: str) -> Path:
    """Where the autograder zip of assignment ``name`` lives in a release.

    >>> autograder_zip("_build/assignments", "counting").as_posix()
    '_build/assignments/counting/autograder/counting-autograder.zip'
    """
    return Path(release_dir) / name / "autograder" / f"{name}-autograder.zip"


def _config_name(path: Path) -> str | None:
    for cell in load_notebook(path)["cells"]:
        source = cell_source(cell)
        if cell.get("cell_type") == "raw" and CONFIG_MARKER.match(source):
            config = yaml.safe_load(source.split("\n", 1)[1] if "\n" in source else "") or {}
            return str(config["name"]) if isinstance(config, dict) and "name" in config else None
    return None


def _check_master(path: Path) -> None:
    problems = validate_markers(load_notebook(path), path)
    if problems:
        listed = "\n  ".join(str(p) for p in problems)
        raise ReleaseError(f"refusing to release {path}: its markers would leak\n  {listed}")
    name = _config_name(path)
    if name != path.stem:
        raise ReleaseError(
            f"{path}: ASSIGNMENT CONFIG must set 'name: {path.stem}' (the file name), so that "
            f"otter rejects submissions meant for another assignment; got {name!r}"
        )


def _assign_one(master: Path, out_dir: Path, run_tests: bool, student_only: bool) -> Release:
    target = out_dir / master.stem
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    args = ["assign", "--no-pdfs"] + ([] if run_tests else ["--no-run-tests"])
    finished = run_logged(
        otter_command(*args, str(master.resolve()), str(target.resolve())),
        timeout=ASSIGN_TIMEOUT,
        cwd=master.parent,
    )
    if finished.timed_out or finished.returncode != 0:
        tail = "\n".join(finished.output.strip().splitlines()[-25:])
        raise ReleaseError(f"otter assign failed for {master}:\n{tail}")
    zips = sorted((target / "autograder").glob(f"{master.stem}-autograder_*.zip"))
    if len(zips) != 1:
        raise ReleaseError(f"otter assign wrote {len(zips)} autograder zips for {master}")
    stable = autograder_zip(out_dir, master.stem)
    zips[0].replace(stable)
    if student_only:
        shutil.rmtree(target / "autograder")
    student = student_notebook(out_dir, master.stem)
    if not student.is_file():
        raise ReleaseError(f"otter assign wrote no student notebook at {student}")
    return Release(
        read_master(master),
        student,
        None if student_only else stable,
        finished.seconds,
        run_tests,
    )


def select_masters(masters: list[Path], names: Iterable[str], argument: str = "names"
                   ) -> list[Path]:
    """The masters named in ``names``, in that order; the error names ``argument``.

    Every name must be one master's file stem, and none may repeat (two releases of one
    master would write the same folders at once).

    >>> masters = [Path("a/counting.ipynb"), Path("a/variance.ipynb")]
    >>> [m.name for m in select_masters(masters, ["variance"])]
    ['variance.ipynb']
    >>> select_masters(masters, ["counting", "nosuch"], "--only")
    Traceback (most recent call last):
    ...
    ValueError: --only must be among 'counting', 'variance'; got 'nosuch'
    >>> select_masters(masters, ["counting", "counting"])
    Traceback (most recent call last):
    ...
    ValueError: names must name each assignment once; got 'counting' twice
    """
    wanted = list(names)
    known = {m.stem: m for m in masters}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(f"{argument} must be among "
                         f"{', '.join(repr(k) for k in known)}; got {unknown[0]!r}")
    repeated = [n for i, n in enumerate(wanted) if n in wanted[:i]]
    if repeated:
        raise ValueError(f"{argument} must name each assignment once; got {repeated[0]!r} twice")
    return [known[n] for n in wanted]


def release_all(
    masters_dir: str | Path = "notebooks/assignments",
    out_dir: str | Path = "_build/assignments",
    *,
    names: Iterable[str] | None = None,
    run_tests: bool = True,
    student_only: bool = False,
    jobs: int | None = None,
) -> list[Release]:
    """Release every master (or those in ``names``) with ``otter assign``, in parallel.

    Args:
        masters_dir: folder of master notebooks (``<name>.ipynb``).
        out_dir: where ``<name>/student`` and ``<name>/autograder`` are written.
        names: release only these assignments (file stems); ``None`` for all.
        run_tests: let otter grade each solution notebook and fail unless it gets full marks.
        student_only: delete the autograder folders afterwards (for Binder images).
        jobs: parallel ``otter assign`` processes; ``None`` uses every core.

    Returns:
        One :class:`Release` per master, in name order.

    Raises:
        ValueError: bad arguments. ReleaseError: a master was refused or otter failed.
    """
    run_tests = check_bool(run_tests, "run_tests")
    student_only = check_bool(student_only, "student_only")
    jobs = check_positive_int(jobs, "jobs", allow_none=True) or (os.cpu_count() or 1)
    masters = find_masters(masters_dir)
    if not masters:
        raise ValueError(
            f"masters_dir must contain master notebooks (*.ipynb); got {str(masters_dir)!r}"
        )
    if names is not None:
        masters = select_masters(masters, names)
    for master in masters:
        _check_master(master)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=min(jobs, len(masters))) as pool:
        futures = [pool.submit(_assign_one, m, out, run_tests, student_only) for m in masters]
        return [f.result() for f in futures]
