"""Command line: ``python -m batchwise_instructor {release,grade,check-leaks,points}``.

>>> main(["grade", "no/such/folder", "--assignment", "counting"])
Traceback (most recent call last):
...
SystemExit: 2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from companion.core._validation import check_positive_int, check_real

__all__ = ["build_parser", "main"]

DEFAULT_MASTERS = "notebooks/assignments"
DEFAULT_RELEASE = "_build/assignments"
DEFAULT_HTML = "_build/html"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive int; got {text!r}") from None
    try:
        return int(check_positive_int(value, "value"))  # type: ignore[arg-type]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive int; got {text!r}") from None


def _positive_seconds(text: str) -> float:
    try:
        return check_real(float(text), "seconds", low=0.0, low_inclusive=False)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds; got {text!r}"
        ) from None


def _folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"must be an existing folder; got {text!r}")
    return path


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per job.

    >>> sorted(build_parser()._subparsers._group_actions[0].choices)
    ['check-leaks', 'grade', 'points', 'release']
    """
    parser = argparse.ArgumentParser(
        prog="python -m batchwise_instructor",
        description="Release, grade and leak-check the Batchwise assignments (otter-grader).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rel = sub.add_parser(
        "release",
        help="run otter assign on every master notebook",
        description="Run 'otter assign' on every master into OUT/<name>/{student,autograder}. "
        "Masters whose solution markers otter would mis-read are refused.",
    )
    rel.add_argument("--masters", type=_folder, default=Path(DEFAULT_MASTERS),
                     help=f"folder of master notebooks (default: {DEFAULT_MASTERS})")
    rel.add_argument("--out", type=Path, default=Path(DEFAULT_RELEASE),
                     help=f"output folder (default: {DEFAULT_RELEASE})")
    rel.add_argument("--only", nargs="+", metavar="NAME",
                     help="release only these assignments (default: all)")
    rel.add_argument("--no-run-tests", action="store_true",
                     help="skip otter's check that each solution notebook gets full marks")
    rel.add_argument("--student-only", action="store_true",
                     help="keep only the student versions (for Binder): no autograder, no "
                     "hidden tests, no solutions in OUT")
    rel.add_argument("--jobs", type=_positive_int, default=None,
                     help="otter assign processes at once (default: every core)")

    gra = sub.add_parser(
        "grade",
        help="grade a folder of submitted notebooks, each in its own sandbox",
        description="Grade every entry of SUBMISSIONS_DIR against the released autograder: "
        "each notebook runs in its own bubblewrap sandbox (no network, no access to the tests "
        "or other submissions, limits on memory, CPU, files and processes) and the tests run "
        "outside it, on plain values taken from the student's kernel. Writes grades.csv "
        "(submission, question, score, max_score, status) plus each submission's results.json "
        "and log into OUT.",
    )
    gra.add_argument("submissions_dir", type=_folder, metavar="SUBMISSIONS_DIR",
                     help="folder of submitted notebooks (*.ipynb)")
    gra.add_argument("--assignment", required=True, metavar="NAME",
                     help="the assignment to grade against, e.g. counting")
    gra.add_argument("--release", type=Path, default=Path(DEFAULT_RELEASE),
                     help=f"folder the release command wrote (default: {DEFAULT_RELEASE})")
    gra.add_argument("--out", type=Path, default=None,
                     help="output folder (default: _build/grades/NAME)")
    gra.add_argument("--jobs", type=_positive_int, default=None,
                     help="submissions graded at once (default: every core)")
    gra.add_argument("--timeout", type=_positive_seconds, default=300.0,
                     help="seconds one submission may run before it is killed and scored 0 "
                     "(default: 300)")
    gra.add_argument("--unsafe-no-sandbox", action="store_true",
                     help="grade without bubblewrap (only resource limits): a submission can "
                     "then read the hidden tests and rewrite grades. Only for notebooks you "
                     "trust, on a machine without bwrap")

    leak = sub.add_parser(
        "check-leaks",
        help="fail if a solution or hidden test reaches students or the book",
        description="Validate the solution and test markers of every master, then search the "
        "student versions and the built HTML book for any solution line or hidden test. Exit "
        "status 1 on any finding.",
    )
    leak.add_argument("--masters", type=_folder, default=Path(DEFAULT_MASTERS),
                      help=f"folder of master notebooks (default: {DEFAULT_MASTERS})")
    leak.add_argument("--release", type=Path, default=Path(DEFAULT_RELEASE),
                      help=f"folder the release command wrote (default: {DEFAULT_RELEASE})")
    leak.add_argument("--html", type=Path, default=Path(DEFAULT_HTML),
                      help=f"built book to search, if present (default: {DEFAULT_HTML})")
    leak.add_argument("--masters-only", action="store_true",
                      help="only validate the masters' markers (no release needed)")

    pts = sub.add_parser(
        "points",
        help="print each assignment's questions and points as a Markdown table",
        description="Read the masters and print a Markdown table of questions and points, in "
        "the order of their titles (Assignment 1, 2, ...). book/assignments.md holds a copy "
        "that a test keeps in sync.",
    )
    pts.add_argument("--masters", type=_folder, default=Path(DEFAULT_MASTERS),
                     help=f"folder of master notebooks (default: {DEFAULT_MASTERS})")
    return parser


def _release(args: argparse.Namespace) -> int:
    from .masters import find_masters
    from .release import ReleaseError, release_all, select_masters

    if args.only is not None:  # checked here so that the message names the option
        select_masters(find_masters(args.masters), args.only, "--only")
    try:
        releases = release_all(
            args.masters,
            args.out,
            names=args.only,
            run_tests=not args.no_run_tests,
            student_only=args.student_only,
            jobs=args.jobs,
        )
    except ReleaseError as exc:
        print(f"release failed: {exc}", file=sys.stderr)
        return 1
    for r in releases:
        print(r.describe())
    print(f"released {len(releases)} assignment(s) into {args.out}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from .grade import grade
    from .sandbox import SandboxUnavailable

    try:
        run = grade(
            args.submissions_dir,
            args.assignment,
            release_dir=args.release,
            out_dir=args.out,
            jobs=args.jobs,
            timeout=args.timeout,
            unsafe_no_sandbox=args.unsafe_no_sandbox,
        )
    except SandboxUnavailable as exc:
        print(f"grade refused: {exc}\nInstall bubblewrap, or pass --unsafe-no-sandbox to grade "
              "trusted notebooks without a sandbox.", file=sys.stderr)
        return 3
    print(run.summary())
    return 0


def _check_leaks(args: argparse.Namespace) -> int:
    from .leaks import check_leaks

    if args.masters_only:
        report = check_leaks(args.masters, None, None)
    else:
        report = check_leaks(args.masters, args.release, args.html)
    print(report.summary())
    return 0 if report.ok else 1


def _points(args: argparse.Namespace) -> int:
    from .masters import find_masters, points_table, read_master

    masters = sorted((read_master(p) for p in find_masters(args.masters)), key=lambda m: m.title)
    print(points_table(masters))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command; return the exit status.

    Argument errors exit with status 2 and a message naming the argument.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"release": _release, "grade": _grade, "check-leaks": _check_leaks,
                "points": _points}
    try:
        return handlers[args.command](args)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
        return 2  # pragma: no cover - parser.error exits
