"""Graded assignments with otter-grader: release, grade at class scale, and check for leaks.

The master notebooks live in ``notebooks/assignments/``, in otter-assign format. Three jobs,
each also a sub-command of ``python -m batchwise_instructor``:

* :func:`release_all` (``release``): ``otter assign`` every master into
  ``_build/assignments/<name>/{student,autograder}``;
* :func:`grade` (``grade``): run every submitted notebook in a bubblewrap sandbox of its own
  (:mod:`batchwise_instructor.sandbox`) and its tests outside it, on plain values
  (:mod:`batchwise_instructor.plain`), several at a time, with a timeout, into one CSV;
* :func:`check_leaks` (``check-leaks``): fail if a solution line or hidden test reaches a
  student notebook or the HTML book, or if a master's markers would let otter leak one.

>>> from batchwise_instructor import points_table, read_master
>>> callable(points_table) and callable(read_master)
True
"""

from __future__ import annotations

from .grade import GradingRun, Row, SubmissionResult, grade, question_points
from .leaks import LeakReport, check_leaks, extract_secrets, validate_markers
from .masters import Master, Question, find_masters, points_table, read_master
from .plain import Opaque
from .release import Release, ReleaseError, autograder_zip, release_all, student_notebook
from .sandbox import Limits, SandboxUnavailable

__all__ = [
    "GradingRun",
    "LeakReport",
    "Limits",
    "Master",
    "Opaque",
    "Question",
    "Release",
    "ReleaseError",
    "Row",
    "SandboxUnavailable",
    "SubmissionResult",
    "autograder_zip",
    "check_leaks",
    "extract_secrets",
    "find_masters",
    "grade",
    "points_table",
    "question_points",
    "read_master",
    "release_all",
    "student_notebook",
    "validate_markers",
]
