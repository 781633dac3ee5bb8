"""Grade one submission: its notebook runs in a sandbox, the tests run here, outside it.

``python -m batchwise_instructor._runner JOB.json`` is started by
:func:`batchwise_instructor.grade.grade` once per submission, as the grader's user and outside
any sandbox. It

1. starts the sandbox (:mod:`batchwise_instructor.sandbox`) with the driver
   (:mod:`batchwise_instructor._driver`), which runs the student's cells in a kernel; the
   sandbox holds only the submission, never the tests, the masters or the release;
2. runs the autograder's test cases (read from the zip by the grader, points resolved by
   otter) here, each as a doctest the way otter runs them, in a namespace where every name the tests read from the notebook is either the student's
   plain value, copied out of the kernel (:mod:`batchwise_instructor.plain`), or a
   :class:`RemoteFunction` that calls the student's function *inside the sandbox* with
   arguments pickled here and returns a plain result;
3. kills the sandbox and prints one JSON result line on stdout, which the grader reads
   (size-capped) only after every process of the submission is gone.

Names of built-ins are never taken from the notebook, and modules neither: a test imports the
modules it needs, so patching ``math``, ``builtins.len``, ``companion`` or otter in a cell
changes nothing here.
"""

from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import doctest
import io
import json
import os
import pickle
import re
import select
import subprocess
import sys
import textwrap
import time
import zipfile
from typing import IO, Any

from .plain import Opaque, PlainError, decode
from .sandbox import SANDBOX_HOME, Limits, bwrap_command, preexec

__all__ = ["RemoteError", "RemoteFunction", "Sandbox", "main", "names_read", "read_tests",
           "run_case"]

#: The most the grader reads from the sandbox, all replies together.
MAX_REPLY_BYTES = 512 * 2**20
#: Exceptions a student function may be reported to raise, re-raised here under their name.
RERAISED = {name: getattr(builtins, name) for name in (
    "ValueError", "TypeError", "KeyError", "IndexError", "ZeroDivisionError", "ArithmeticError",
    "OverflowError", "RuntimeError", "NotImplementedError", "AttributeError", "LookupError",
    "StopIteration", "RecursionError", "MemoryError", "AssertionError")}


class RemoteError(Exception):
    """A student function raised an exception that is not a plain built-in one."""


class SandboxGone(RuntimeError):
    """The sandbox stopped answering (timeout, crash, garbage)."""


class Sandbox:
    """The bwrap process and its two pipes."""

    def __init__(self, work: str, notebook: str, seconds: float, log: IO[bytes],
                 uid: int | None, limits: Limits, unsafe: bool = False) -> None:
        self.deadline = time.monotonic() + seconds
        driver = [sys.executable, "-m", "batchwise_instructor._driver", notebook,
                  f"{seconds:.3f}"]
        env = None
        if unsafe:  # --unsafe-no-sandbox: limits only, the grader's own user and files
            env = {**os.environ, "TMPDIR": os.path.join(work, ".tmp"), "MPLBACKEND": "Agg"}
            os.makedirs(env["TMPDIR"], exist_ok=True)
            command = driver
        else:
            command = bwrap_command(work, driver, limits=limits, uid=uid)
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=log, preexec_fn=preexec(limits), bufsize=0,
                                     cwd=work, env=env)
        self.buffer = b""
        self.read_bytes = 0
        self.gone: str | None = None

    def _line(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxGone("timeout")
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if not ready:
                raise SandboxGone("timeout")
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)  # type: ignore[union-attr]
            if not chunk:
                raise SandboxGone("the sandbox closed its output")
            self.read_bytes += len(chunk)
            if self.read_bytes > MAX_REPLY_BYTES:
                raise SandboxGone(f"more than {MAX_REPLY_BYTES} bytes of replies")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return {"kind": "error", "message": "garbled reply"}
        return message if isinstance(message, dict) else {"kind": "error", "message": "garbled"}

    def ready(self) -> dict[str, Any]:
        """The driver's report on running the cells."""
        message = self._line()
        if message.get("ready") is not True:
            raise SandboxGone("the driver did not report")
        return message

    def request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request and return its reply (``{"kind": "error"}`` on any garbage)."""
        if self.gone:
            raise SandboxGone(self.gone)
        remaining = self.deadline - time.monotonic()
        request = {**request, "timeout": max(0.0, remaining)}
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
            return self._line()
        except (SandboxGone, OSError) as exc:
            self.gone = str(exc) or type(exc).__name__
            raise SandboxGone(self.gone) from None

    def close(self) -> None:
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()


def _value(reply: dict[str, Any]) -> Any:
    try:
        return decode(reply.get("value"))
    except (PlainError, ValueError, TypeError, RecursionError) as exc:
        return Opaque(f"malformed reply ({exc})")


class RemoteFunction:
    """The student's function, called in the sandbox; its result comes back as a plain value."""

    def __init__(self, sandbox: Sandbox, name: str) -> None:
        self._sandbox, self._name = sandbox, name

    def __repr__(self) -> str:
        return f"<student function {self._name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        payload = base64.b64encode(pickle.dumps((args, kwargs))).decode("ascii")
        reply = self._sandbox.request({"op": "call", "name": self._name, "args": payload})
        kind = reply.get("kind")
        if kind == "value":
            return _value(reply)
        if kind == "raised":
            kind_name = str(reply.get("type", ""))
            message = f"{self._name} raised {kind_name}: {str(reply.get('message', ''))[:300]}"
            raise RERAISED.get(kind_name, RemoteError)(message)
        raise RemoteError(f"{self._name}: {str(reply.get('message', 'no answer'))[:300]}")


def resolve_points(total: object, given: list[float | None]) -> list[float]:
    """Each case's points from a question's ``points`` and the cases' own, as otter 7 does.

    (``otter.test_files.abstract_test.TestFile.resolve_test_file_points``; written out here so
    that grading never imports otter, which takes seconds; a test compares the two.)

    >>> resolve_points(3, [None, None]), resolve_points(None, [None, None, None, None])
    ([1.5, 1.5], [0.25, 0.25, 0.25, 0.25])
    >>> resolve_points([1, 2], [None, None]), resolve_points(4, [1, None])
    ([1.0, 2.0], [1.0, 3.0])
    """
    if isinstance(total, list):
        if len(total) != len(given):
            raise ValueError("points has a different length than the number of test cases")
        given, total = [float(p) for p in total], None
    elif total is not None and not isinstance(total, (int, float)):
        raise TypeError(f"points must be a number or a list; got {total!r}")
    pre = sum(p for p in given if p is not None)
    n_open = sum(p is None for p in given)
    if total is not None:
        if pre > total:  # type: ignore[operator]
            raise ValueError("more points in the test cases than the question's points")
        per = (total - pre) / n_open if n_open else 0.0  # type: ignore[operator]
    elif pre == 0 and all(p in (0, None) for p in given):
        per = 1 / n_open if n_open else 0.0
    else:
        per = 0.0
    return [float(p) if p is not None else float(per) for p in given]


def read_tests(zip_path: str) -> list[dict[str, Any]]:
    """Each question's test cases from an autograder zip (OK format), read without running them.

    Points are resolved the way otter does (:func:`resolve_points`); cases are hidden unless
    they say otherwise, as in otter.
    """
    questions = []
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            if not re.fullmatch(r"tests/[^/]+\.py", info.filename):
                continue
            module = ast.parse(zf.read(info).decode("utf-8"))
            for node in module.body:
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "test" for t in node.targets
                ):
                    spec = ast.literal_eval(node.value)
                    (suite,) = spec["suites"]
                    cases = suite["cases"]
                    points = resolve_points(spec.get("points"), [c.get("points") for c in cases])
                    questions.append({
                        "name": str(spec["name"]),
                        "all_or_nothing": bool(spec.get("all_or_nothing", False)),
                        "cases": [{"body": textwrap.dedent(c["code"]),
                                   "hidden": bool(c.get("hidden", True)), "points": p}
                                  for c, p in zip(cases, points, strict=True)],
                    })
    return questions


def run_case(name: str, body: str, env: dict[str, Any]) -> tuple[bool, str]:
    r"""Run one doctest-format case in ``env`` as otter's ``run_doctest`` does.

    >>> run_case("q", ">>> x = 2\n>>> assert x + 1 == 3", {})
    (True, '')
    >>> run_case("q", ">>> assert 1 == 2, 'no'", {})[0]
    False
    """
    examples = doctest.DocTestParser().parse(body, name)
    test = doctest.DocTest([e for e in examples if isinstance(e, doctest.Example)], env, name,
                           None, None, body)
    runner = doctest.DocTestRunner(verbose=False)
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        runner.run(test, clear_globs=False, out=output.write)
    return runner.failures == 0, output.getvalue()[-1500:]


def names_read(doctest_text: str) -> set[str]:
    """Every name a doctest-format test reads or binds, minus built-ins and its imports.

    >>> sorted(names_read(">>> assert len(steps) == n_keep\\n>>> import math"))
    ['n_keep', 'steps']
    """
    names: set[str] = set()
    for example in doctest.DocTestParser().get_examples(doctest_text):
        try:
            tree = ast.parse(example.source)
        except SyntaxError:
            continue
        names.update(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    return {n for n in names if not hasattr(builtins, n)}


def _namespace(sandbox: Sandbox, names: set[str]) -> dict[str, Any]:
    env: dict[str, Any] = {"__name__": "__main__"}
    for name in sorted(names):
        reply = sandbox.request({"op": "get", "name": name})
        kind = reply.get("kind")
        if kind == "value":
            env[name] = _value(reply)
        elif kind == "callable":
            env[name] = RemoteFunction(sandbox, name)
        elif kind == "error":
            env[name] = Opaque(f"unreadable ({str(reply.get('message', ''))[:100]})")
        # missing and module: left out; the test imports what it needs, or fails on NameError
    return env


def grade_tests(sandbox: Sandbox, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run every question's cases here, against the student's plain values and functions."""
    wanted: set[str] = set()
    for question in questions:
        for case in question["cases"]:
            wanted |= names_read(case["body"])
    env = _namespace(sandbox, wanted)
    results = []
    for question in questions:
        scope = dict(env)  # one namespace per question, as its cases run in order
        passed, failures = [], []
        for i, case in enumerate(question["cases"]):
            ok, message = run_case(f"{question['name']} {i}", case["body"], scope)
            passed.append(ok)
            if not ok:
                failures.append(message)
        possible = sum(c["points"] for c in question["cases"])
        if question["all_or_nothing"]:
            score = possible if all(passed) else 0.0
        else:
            score = sum(c["points"] for c, ok in zip(question["cases"], passed, strict=True)
                        if ok)
        results.append({"name": question["name"], "score": float(score),
                        "possible": float(possible), "failures": failures})
    return results


def run_job(job: dict[str, Any], log: IO[bytes]) -> dict[str, Any]:
    """Sandbox, run, test; the result dictionary printed for the grader."""
    limits = Limits(cpu_seconds=int(job["timeout"]) + 30)
    unsafe = bool(job.get("unsafe"))
    notebook = os.path.join(job["work"], job["notebook"]) if unsafe else (
        f"{SANDBOX_HOME}/{job['notebook']}")
    sandbox = Sandbox(job["work"], notebook, float(job["timeout"]), log, job.get("uid"),
                      limits, unsafe)
    start = time.monotonic()
    try:
        try:
            report = sandbox.ready()
        except SandboxGone as exc:
            if str(exc) == "timeout":
                return {"status": "timeout"}
            return {"status": "sandbox-error", "reason": str(exc)}
        if report.get("timed_out_in"):
            return {"status": "timeout", "cell": report["timed_out_in"]}
        ran = time.monotonic() - start
        try:
            questions = grade_tests(sandbox, job["tests"])
        except SandboxGone as exc:
            if str(exc) == "timeout":
                return {"status": "timeout", "while": "tests"}
            return {"status": "sandbox-error", "reason": f"while testing: {exc}"}
        return {"status": "graded", "questions": questions, "died_in": report.get("died_in"),
                "cells": report.get("cells"), "stopped": sandbox.gone,
                "seconds": {"cells": round(ran, 2),
                            "tests": round(time.monotonic() - start - ran, 2)}}
    finally:
        sandbox.close()


def main(argv: list[str] | None = None) -> int:
    """Read the job file, grade, print the result as one JSON line."""
    args = sys.argv[1:] if argv is None else argv
    with open(args[0], encoding="utf-8") as f:
        job = json.load(f)
    with open(job["log"], "ab") as log:
        result = run_job(job, log)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
