"""Grade a folder of submitted notebooks with ``otter run``, in parallel, into one CSV.

The grading itself is otter's: each submission goes through ``otter run`` (local, no Docker)
with the released autograder zip, in its own subprocess, several at a time. This module only
orchestrates and reports, so that one bad submission never stops the class:

* a notebook that raises is graded as far as it runs (otter ignores cell errors and runs every
  remaining test at the end);
* a notebook that loops forever is killed at ``timeout`` seconds, kernel included, and gets 0;
* a notebook that deletes or overwrites names the tests use fails those tests, as otter says;
* a file that is not a notebook is not run at all and gets 0.

The CSV has one row per submission and question: ``submission, question, score, max_score,
status``. ``status`` is ``passed``, ``partial`` or ``failed`` for graded questions and explains
why otherwise (``timeout: ...``, ``invalid-notebook: ...``, ``error: ...``). Each submission's
``results.json`` from otter is kept as ``<submission>.results.json``, and its output as
``<submission>.log``.

>>> grade("no/such/folder", "counting")
Traceback (most recent call last):
...
ValueError: submissions_dir must be an existing folder; got 'no/such/folder'
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion.core._validation import check_positive_int, check_real

from ._proc import otter_command, run_logged
from .release import autograder_zip

__all__ = [
    "CSV_COLUMNS",
    "GradingRun",
    "Row",
    "SubmissionResult",
    "grade",
    "question_points",
    "released_assignments",
]

CSV_COLUMNS = ("submission", "question", "score", "max_score", "status")


@dataclass(frozen=True)
class Row:
    """One line of the grading CSV."""

    submission: str
    question: str
    score: float
    max_score: float
    status: str


@dataclass
class SubmissionResult:
    """Everything known about one graded submission.

    Attributes:
        submission: file name of the submission.
        status: ``graded``, or why it could not be (``timeout: ...``, ``invalid-notebook: ...``,
            ``error: ...``).
        rows: one :class:`Row` per question.
        results_json: otter's results file, when otter wrote one.
        seconds: wall-clock grading time.
    """

    submission: str
    status: str
    rows: list[Row] = field(default_factory=list)
    results_json: Path | None = None
    seconds: float = 0.0

    @property
    def score(self) -> float:
        """Points earned over all questions."""
        return float(sum(r.score for r in self.rows))

    @property
    def max_score(self) -> float:
        """Points possible over all questions."""
        return float(sum(r.max_score for r in self.rows))


@dataclass
class GradingRun:
    """A finished grading run: per-submission results and where the CSV went."""

    assignment: str
    results: list[SubmissionResult]
    csv_path: Path

    def summary(self) -> str:
        """A plain-text table: one line per submission with its total and status.

        >>> run = GradingRun("demo", [SubmissionResult("a.ipynb", "graded",
        ...     [Row("a.ipynb", "q1", 2.0, 2.0, "passed")], None, 3.0)], Path("g.csv"))
        >>> print(run.summary())
        submission  score  status  seconds
        a.ipynb     2/2    graded  3.0
        grades: g.csv
        """
        table = [("submission", "score", "status", "seconds")]
        for r in self.results:
            table.append(
                (r.submission, f"{r.score:g}/{r.max_score:g}", r.status, f"{r.seconds:.1f}")
            )
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in table]
        return "\n".join([*lines, f"grades: {self.csv_path}"])


def released_assignments(release_dir: str | Path) -> list[str]:
    """Names of the assignments in a release folder that have an autograder zip.

    >>> released_assignments("no/such/release")
    []
    """
    root = Path(release_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if autograder_zip(root, p.name).is_file())


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def question_points(zip_path: str | Path) -> dict[str, float]:
    """Each question's possible points, read from the autograder zip's tests the way otter does.

    >>> import tempfile, zipfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     z = Path(tmp) / "ag.zip"
    ...     with zipfile.ZipFile(z, "w") as zf:
    ...         zf.writestr("tests/q1.py", "OK_FORMAT = True\\ntest = {'name': 'q1', "
    ...             "'points': 3, 'suites': [{'cases': [{'code': '>>> 1', 'hidden': False}, "
    ...             "{'code': '>>> 2', 'hidden': True}], 'scored': True, 'setup': '', "
    ...             "'teardown': '', 'type': 'doctest'}]}")
    ...     question_points(z)
    {'q1': 3.0}
    """
    from otter.test_files.ok_test import OKTestFile

    points: dict[str, float] = {}
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            if not re.fullmatch(r"tests/[^/]+\.py", info.filename):
                continue
            module = ast.parse(zf.read(info).decode("utf-8"))
            spec = None
            for node in module.body:
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "test" for t in node.targets
                ):
                    spec = ast.literal_eval(node.value)
            if spec is None:
                continue
            test_file = OKTestFile.from_spec(spec, path=info.filename)
            points[test_file.name] = float(test_file.possible)
    return dict(sorted(points.items(), key=lambda kv: _natural_key(kv[0])))


def _notebook_problem(path: Path) -> str | None:
    """Why ``path`` is not a gradable notebook, or ``None`` if it is one."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return "JSON without a list of cells"
    if nb.get("nbformat") != 4:
        return f"nbformat must be 4; got {nb.get('nbformat')!r}"
    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. MissingIDFieldWarning: otter copes
            nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several kinds
        return f"nbformat cannot read it ({type(exc).__name__}: {exc})"
    return None


def _short_reason(line: str) -> str:
    """``pkg.mod.SomeError: text`` -> ``SomeError: text``, at most 200 characters.

    >>> _short_reason("nbclient.exceptions.DeadKernelError: Kernel died")
    'DeadKernelError: Kernel died'
    """
    qualified = re.compile(r"^(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*(?:Error|Exception|Exit)\b)")
    return qualified.sub("", line.strip())[:200]


def _rows_from_results(
    name: str, results: dict[str, Any], points: dict[str, float]
) -> tuple[str, list[Row]]:
    tests = {t.get("name"): t for t in results.get("tests", []) if "max_score" in t}
    if not tests:
        message = next(
            (t.get("output", "") for t in results.get("tests", []) if t.get("output")),
            "otter produced no question results",
        )
        last = message.strip().splitlines()[-1] if message.strip() else "no results"
        status = f"error: {_short_reason(last)}"
        return status, [Row(name, q, 0.0, p, status) for q, p in points.items()]
    rows = []
    for question, possible in points.items():
        test = tests.get(question)
        if test is None:
            rows.append(Row(name, question, 0.0, possible, "not graded: no result from otter"))
            continue
        score, max_score = float(test.get("score", 0.0)), float(test["max_score"])
        status = "passed" if score >= max_score else "failed" if score == 0 else "partial"
        rows.append(Row(name, question, score, max_score, status))
    return "graded", rows


def _grade_one(
    submission: Path, zip_path: Path, points: dict[str, float], out_dir: Path, timeout: float
) -> SubmissionResult:
    name = submission.name
    problem = _notebook_problem(submission)
    if problem is not None:
        status = f"invalid-notebook: {problem}"
        rows = [Row(name, q, 0.0, p, status) for q, p in points.items()]
        (out_dir / f"{submission.stem}.log").write_text(status + "\n", encoding="utf-8")
        return SubmissionResult(name, status, rows)

    work = Path(tempfile.mkdtemp(prefix=f"grade-{submission.stem}-", dir=out_dir))
    try:
        results_dir = work / "results"
        results_dir.mkdir()
        env = {**os.environ, "TMPDIR": str(work)}  # whatever otter leaves is removed with work
        finished = run_logged(
            otter_command(
                "run", "--no-logo", "-a", str(zip_path.resolve()), "-o", str(results_dir),
                str(submission.resolve()),
            ),
            timeout=timeout,
            cwd=work,
            log=out_dir / f"{submission.stem}.log",
            env=env,
        )
        results_file = results_dir / "results.json"
        kept: Path | None = None
        if finished.timed_out:
            status = f"timeout: killed after {timeout:g} s"
            rows = [Row(name, q, 0.0, p, status) for q, p in points.items()]
        elif results_file.is_file():
            kept = out_dir / f"{submission.stem}.results.json"
            shutil.copyfile(results_file, kept)
            status, rows = _rows_from_results(
                name, json.loads(results_file.read_text(encoding="utf-8")), points
            )
        else:
            lines = [ln for ln in finished.output.strip().splitlines() if ln.strip()]
            reason = _short_reason(lines[-1]) if lines else f"exit code {finished.returncode}"
            status = f"error: {reason}"
            rows = [Row(name, q, 0.0, p, status) for q, p in points.items()]
        return SubmissionResult(name, status, rows, kept, finished.seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def grade(
    submissions_dir: str | Path,
    assignment: str,
    *,
    release_dir: str | Path = "_build/assignments",
    out_dir: str | Path | None = None,
    jobs: int | None = None,
    timeout: float = 300.0,
) -> GradingRun:
    """Grade every ``*.ipynb`` in ``submissions_dir`` against a released assignment.

    Args:
        submissions_dir: folder of submitted notebooks, one per student.
        assignment: the assignment name (as released, e.g. ``"counting"``).
        release_dir: the folder ``release`` wrote.
        out_dir: where the CSV, results and logs go (default ``_build/grades/<assignment>``).
        jobs: submissions graded at once; ``None`` uses every core.
        timeout: seconds one submission may take before it is killed and scored 0.

    Returns:
        A :class:`GradingRun`; its CSV is at ``run.csv_path`` (``grades.csv``).
    """
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise ValueError(
            f"submissions_dir must be an existing folder; got {str(submissions_dir)!r}"
        )
    if not isinstance(assignment, str):
        raise TypeError(f"assignment must be a str; got {assignment!r}")
    available = released_assignments(release_dir)
    if assignment not in available:
        shown = ", ".join(repr(a) for a in available) or (
            f"none in {str(release_dir)!r}: run 'python -m batchwise_instructor release' first"
        )
        raise ValueError(f"assignment must be a released assignment ({shown}); got {assignment!r}")
    jobs = check_positive_int(jobs, "jobs", allow_none=True) or (os.cpu_count() or 1)
    timeout = check_real(timeout, "timeout", low=0.0, low_inclusive=False)
    submissions = sorted(p for p in submissions_dir.glob("*.ipynb") if p.is_file())
    if not submissions:
        raise ValueError(
            f"submissions_dir must contain .ipynb files; found none in {str(submissions_dir)!r}"
        )

    out = Path(out_dir) if out_dir is not None else Path("_build") / "grades" / assignment
    out.mkdir(parents=True, exist_ok=True)
    zip_path = autograder_zip(release_dir, assignment)
    points = question_points(zip_path)

    with ThreadPoolExecutor(max_workers=min(jobs, len(submissions))) as pool:
        futures = [pool.submit(_grade_one, s, zip_path, points, out, timeout) for s in submissions]
        results = [f.result() for f in futures]

    csv_path = out / "grades.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for result in results:
            for row in result.rows:
                writer.writerow(
                    [row.submission, row.question, f"{row.score:g}", f"{row.max_score:g}",
                     row.status]
                )
    return GradingRun(assignment, results, csv_path)
