"""Grade a folder of submitted notebooks, each in a sandbox of its own, into one CSV.

Every submission is hostile input. Each one runs in its own bubblewrap sandbox
(:mod:`batchwise_instructor.sandbox`): a throwaway folder holding only a copy of the
notebook, no network, its own PID namespace and, when grading as root, its own user; limits on
memory, CPU time, file size and processes; everything killed when the submission ends. The
tests never enter the sandbox: :mod:`batchwise_instructor._runner` runs them with otter's
test runner outside it, on plain values copied out of the student's kernel and on calls into
the student's functions whose results come back as plain values
(:mod:`batchwise_instructor.plain`). So a cell cannot read the hidden tests or the solution,
patch otter or the package the tests use, fake a result file, signal the grader, or touch
another submission's results, and one bad submission never stops the class:

* a notebook that raises is graded as far as it runs;
* a notebook that loops forever is killed at ``timeout`` seconds and gets 0;
* a notebook whose kernel dies (``os._exit``, the memory limit) is graded on the cells before
  the one that killed it, and its status says so;
* every entry of the folder gets rows: dotfiles and ``.IPYNB`` in any case are graded; a
  folder, a link, another kind of file, an unreadable file or one that is not a notebook gets
  0 and a status that says why.

The CSV has one row per submission and question: ``submission, question, score, max_score,
status``. ``status`` is ``passed``, ``partial`` or ``failed`` for graded questions and explains
why otherwise (``timeout: ...``, ``invalid-notebook: ...``, ``skipped: ...``,
``unreadable: ...``, ``error: ...``). ``grades.csv`` is written atomically, once, after every
submission's processes are gone, into ``out_dir``, which no sandbox can see. Each submission
also gets ``<name>.results.json`` (per question score and failure messages) and
``<name>.log`` (the last 8 KiB of its sandbox's output).

>>> grade("no/such/folder", "counting")
Traceback (most recent call last):
...
ValueError: submissions_dir must be an existing folder; got 'no/such/folder'
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion.core._validation import check_positive_int, check_real

from ._proc import run_logged
from ._runner import read_tests
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
    points = {q["name"]: float(sum(c["points"] for c in q["cases"]))
              for q in read_tests(str(zip_path))}
    return dict(sorted(points.items(), key=lambda kv: _natural_key(kv[0])))


#: A submission file larger than this is not graded (a notebook without outputs is kilobytes).
MAX_SUBMISSION_BYTES = 32 * 2**20
#: How much of a sandbox's output is kept in ``<name>.log``.
LOG_TAIL_BYTES = 8192
#: Seconds the grader waits for a runner beyond the submission's timeout before killing it.
RUNNER_GRACE = 120.0


def _notebook_problem(data: bytes) -> tuple[str | None, dict[str, Any] | None]:
    """Why ``data`` is not a gradable notebook (or ``None``), and the notebook."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text", None
    try:
        nb = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return f"not valid JSON ({str(exc)[:150]})", None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return "JSON without a list of cells", None
    if nb.get("nbformat") != 4:
        return f"nbformat must be 4; got {str(nb.get('nbformat'))[:30]!r}", None
    bad = [i for i, c in enumerate(nb["cells"], start=1) if not isinstance(c, dict)
           or not isinstance(c.get("source", ""), (str, list))]
    if bad:
        return f"cell {bad[0]} is not a cell with a source", None
    return None, nb


def _short_reason(line: str) -> str:
    """``pkg.mod.SomeError: text`` -> ``SomeError: text``, at most 200 characters.

    >>> _short_reason("nbclient.exceptions.DeadKernelError: Kernel died")
    'DeadKernelError: Kernel died'
    """
    qualified = re.compile(r"^(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*(?:Error|Exception|Exit)\b)")
    return qualified.sub("", line.strip())[:200]


def _safe_name(name: str, taken: set[str]) -> str:
    """A file-name stem for a submission's outputs: plain characters, unique in ``taken``.

    >>> taken = set()
    >>> _safe_name("../a b.IPYNB", taken), _safe_name("..:a b.ipynb", taken)
    ('a_b', 'a_b-2')
    """
    stem = re.sub(r"\.ipynb$", "", name, flags=re.IGNORECASE)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "submission"
    stem = stem[:80]
    candidate, n = stem, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}-{n}"
    taken.add(candidate)
    return candidate


def _tail(path: Path, limit: int = LOG_TAIL_BYTES) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read(limit)
    except OSError:
        return b""


def _zero_rows(name: str, points: dict[str, float], status: str) -> list[Row]:
    return [Row(name, q, 0.0, p, status) for q, p in points.items()]


def _rows_from_result(name: str, result: dict[str, Any], points: dict[str, float],
                      timeout: float) -> tuple[str, list[Row]]:
    status = result.get("status")
    if status == "timeout":
        message = f"timeout: killed after {timeout:g} s"
        return message, _zero_rows(name, points, message)
    if status != "graded":
        message = f"error: {str(result.get('reason', 'the sandbox failed'))[:200]}"
        return message, _zero_rows(name, points, message)
    found = {str(q.get("name")): q for q in result.get("questions", [])}
    rows = []
    for question, possible in points.items():
        q = found.get(question)
        if q is None:
            rows.append(Row(name, question, 0.0, possible, "not graded: no test file"))
            continue
        score = min(max(float(q.get("score", 0.0)), 0.0), possible)
        state = "passed" if score >= possible else "failed" if score == 0 else "partial"
        rows.append(Row(name, question, score, possible, state))
    overall = "graded"
    if result.get("died_in"):
        overall = (f"graded: the kernel died in code cell {result['died_in']}; graded on the "
                   f"cells before it")
    if result.get("stopped"):
        overall += f"; the sandbox stopped answering during the tests ({result['stopped']})"
    return overall, rows


def _grade_one(entry: Path, index: int, stem: str, tests: list[dict[str, Any]],
               assignment: str, points: dict[str, float], out_dir: Path, private: Path,
               timeout: float, unsafe: bool) -> SubmissionResult:
    from .sandbox import claim_uid

    name = entry.name
    log_path = out_dir / f"{stem}.log"

    def give_up(status: str) -> SubmissionResult:
        log_path.write_text(status + "\n", encoding="utf-8")
        return SubmissionResult(name, status, _zero_rows(name, points, status))

    if entry.is_symlink():
        return give_up("skipped: a symbolic link, not a notebook file")
    if entry.is_dir():
        return give_up("skipped: a folder, not a notebook file")
    if not entry.name.lower().endswith(".ipynb"):
        return give_up("skipped: not an .ipynb file")
    if not entry.is_file():
        return give_up("skipped: not a regular file")
    try:
        with open(entry, "rb") as f:
            data = f.read(MAX_SUBMISSION_BYTES + 1)
    except OSError as exc:
        return give_up(f"unreadable: {type(exc).__name__}: {exc.strerror or exc}")
    if len(data) > MAX_SUBMISSION_BYTES:
        return give_up(f"invalid-notebook: larger than {MAX_SUBMISSION_BYTES} bytes")
    problem, nb = _notebook_problem(data)
    if problem is not None:
        return give_up(f"invalid-notebook: {problem}")
    meta = nb.get("metadata") if nb else None
    otter_meta = meta.get("otter") if isinstance(meta, dict) else None
    meant = otter_meta.get("assignment_name") if isinstance(otter_meta, dict) else None
    if isinstance(meant, str) and meant != assignment:
        return give_up(f"wrong-assignment: the notebook is for {meant[:60]!r}")

    with claim_uid() as uid:
        job_dir = Path(tempfile.mkdtemp(prefix=f"{index:04d}-", dir=private))
        work = job_dir / "work"  # the only folder the sandbox can write
        work.mkdir()
        (work / "submission.ipynb").write_bytes(data)
        if uid is not None:
            for p in (work, work / "submission.ipynb"):
                os.chown(p, uid, uid)
        sandbox_log = job_dir / "sandbox.log"
        job = {"work": str(work), "notebook": "submission.ipynb", "tests": tests,
               "timeout": timeout, "uid": uid, "log": str(sandbox_log), "unsafe": unsafe}
        (job_dir / "job.json").write_text(json.dumps(job), encoding="utf-8")
        import sys

        finished = run_logged([sys.executable, "-m", "batchwise_instructor._runner",
                               str(job_dir / "job.json")], timeout=timeout + RUNNER_GRACE,
                              cwd=job_dir, log=job_dir / "runner.out")
    # claim_uid has now killed every process of the sandbox's user: nothing of this
    # submission runs any more, so what follows reads files no submission can change.
    log_path.write_bytes(_tail(sandbox_log))
    lines = [ln for ln in _tail(job_dir / "runner.out", 4 * 2**20).decode(
        "utf-8", "replace").splitlines() if ln.startswith("{")]
    shutil.rmtree(job_dir, ignore_errors=True)
    if finished.timed_out:
        result: dict[str, Any] = {"status": "timeout"}
    elif not lines:
        reason = finished.output.strip().splitlines()[-1:] or [f"exit {finished.returncode}"]
        result = {"status": "error", "reason": f"the runner failed: {_short_reason(reason[0])}"}
    else:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = {"status": "error", "reason": "the runner wrote no result"}
    status, rows = _rows_from_result(name, result, points, timeout)
    kept = out_dir / f"{stem}.results.json"
    kept.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return SubmissionResult(name, status, rows, kept, finished.seconds)


def _write_csv(path: Path, results: list[SubmissionResult]) -> None:
    """Write the CSV next to ``path`` and move it into place in one step."""
    fd, tmp = tempfile.mkstemp(prefix=".grades-", suffix=".csv", dir=path.parent)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for result in results:
            for row in result.rows:
                writer.writerow([row.submission, row.question, f"{row.score:g}",
                                 f"{row.max_score:g}", row.status])
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def grade(
    submissions_dir: str | Path,
    assignment: str,
    *,
    release_dir: str | Path = "_build/assignments",
    out_dir: str | Path | None = None,
    jobs: int | None = None,
    timeout: float = 300.0,
    unsafe_no_sandbox: bool = False,
) -> GradingRun:
    """Grade every entry of ``submissions_dir`` against a released assignment, each sandboxed.

    Args:
        submissions_dir: folder of submitted notebooks, one per student.
        assignment: the assignment name (as released, e.g. ``"counting"``).
        release_dir: the folder ``release`` wrote.
        out_dir: where the CSV, results and logs go (default ``_build/grades/<assignment>``).
        jobs: submissions graded at once; ``None`` uses every core.
        timeout: seconds one submission may take before it is killed and scored 0.
        unsafe_no_sandbox: grade without bubblewrap (limits only). Only for trusted notebooks:
            a submission could then read the tests and rewrite grades.

    Returns:
        A :class:`GradingRun`; its CSV is at ``run.csv_path`` (``grades.csv``).

    Raises:
        SandboxUnavailable: bubblewrap is missing and ``unsafe_no_sandbox`` is false.
    """
    from companion.core._validation import check_bool

    from .sandbox import find_bwrap

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
    unsafe = check_bool(unsafe_no_sandbox, "unsafe_no_sandbox")
    entries = sorted(submissions_dir.iterdir(), key=lambda p: _natural_key(p.name))
    if not entries:
        raise ValueError(f"submissions_dir must contain submissions; it is empty: "
                         f"{str(submissions_dir)!r}")
    if not unsafe:
        find_bwrap()

    out = Path(out_dir) if out_dir is not None else Path("_build") / "grades" / assignment
    out.mkdir(parents=True, exist_ok=True)
    zip_path = autograder_zip(release_dir, assignment).resolve()
    points = question_points(zip_path)
    tests = read_tests(str(zip_path))
    taken: set[str] = {"grades"}
    stems = [_safe_name(e.name, taken) for e in entries]
    private = Path(tempfile.mkdtemp(prefix="batchwise-grading-"))  # mode 0700, grader only
    try:
        with ThreadPoolExecutor(max_workers=min(jobs, len(entries))) as pool:
            futures = [
                pool.submit(_grade_one, entry, i, stem, tests, assignment, points, out,
                            private, timeout, unsafe)
                for i, (entry, stem) in enumerate(zip(entries, stems, strict=True))
            ]
            results = []
            for entry, future in zip(entries, futures, strict=True):
                try:
                    results.append(future.result())
                except Exception as exc:  # noqa: BLE001 - a crash is a row, never a lost run
                    status = f"error: grading crashed ({type(exc).__name__}: {str(exc)[:150]})"
                    results.append(SubmissionResult(entry.name, status,
                                                    _zero_rows(entry.name, points, status)))
    finally:
        shutil.rmtree(private, ignore_errors=True)
    csv_path = out / "grades.csv"
    _write_csv(csv_path, results)
    return GradingRun(assignment, results, csv_path)
