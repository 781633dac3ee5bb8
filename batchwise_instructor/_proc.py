"""Run a command in its own process group and kill all of it (kernels included) on timeout.

``otter run`` starts a Jupyter kernel in a new session, so killing ``otter``'s process group
alone would orphan a kernel that is stuck in a student's ``while True``. The whole tree is
therefore collected with psutil (a dependency of ipykernel, which otter needs) before killing.

>>> import sys
>>> run_logged([sys.executable, "-c", "print('hi')"], timeout=30).returncode
0
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Finished", "otter_command", "run_logged"]


@dataclass(frozen=True)
class Finished:
    """How a command ended.

    Attributes:
        returncode: the exit code (``None`` if it was killed at the timeout).
        timed_out: whether the timeout killed it.
        seconds: wall-clock duration.
        output: everything it printed (stdout and stderr interleaved).
    """

    returncode: int | None
    timed_out: bool
    seconds: float
    output: str


#: What the ``otter`` console script does. Started this way rather than with ``-m otter``:
#: under CPython 3.11, ``runpy``'s extra stack frames make the deep recursion of a grammar
#: that otter's dependencies build (lark, via jsonschema's optional rfc3987-syntax) thrash the
#: interpreter's 16 KiB frame-stack chunks: strace counted about 515 000 mmap calls for one
#: ``python -m otter run`` and 100 000 this way, about 2 CPU-seconds of system time less.
_OTTER_MAIN = "from otter.cli import cli; cli()"


def otter_command(*args: str) -> list[str]:
    """``otter ARGS`` run by this interpreter, so it grades with this environment's packages.

    >>> otter_command("run", "--help")[1:]
    ['-c', 'from otter.cli import cli; cli()', 'run', '--help']
    """
    return [sys.executable, "-c", _OTTER_MAIN, *args]


def _kill_tree(pid: int) -> None:
    """Kill a process, every descendant (found before killing), and its process group."""
    try:
        import psutil

        try:
            parent = psutil.Process(pid)
            victims = [*parent.children(recursive=True), parent]
        except psutil.NoSuchProcess:
            victims = []
        for proc in victims:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(victims, timeout=5)
    except ImportError:  # pragma: no cover - psutil ships with ipykernel
        pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def run_logged(
    command: list[str],
    *,
    timeout: float | None,
    cwd: str | Path | None = None,
    log: str | Path | None = None,
    env: dict[str, str] | None = None,
) -> Finished:
    """Run ``command``; on timeout kill its whole process tree. Output goes to ``log`` too.

    >>> import sys
    >>> r = run_logged([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
    >>> r.timed_out, r.returncode
    (True, None)
    """
    start = time.perf_counter()
    log_path = Path(log) if log is not None else None
    sink = open(log_path, "w+b") if log_path is not None else subprocess.PIPE
    try:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timed_out = False
        try:
            if log_path is None:
                out, _ = proc.communicate(timeout=timeout)
            else:
                proc.wait(timeout=timeout)
                out = b""
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_tree(proc.pid)
            out, _ = proc.communicate() if log_path is None else (b"", None)
            proc.wait()
        if log_path is not None:
            sink.seek(0)  # type: ignore[union-attr]
            out = sink.read()  # type: ignore[union-attr]
    finally:
        if log_path is not None:
            sink.close()  # type: ignore[union-attr]
    return Finished(
        None if timed_out else proc.returncode,
        timed_out,
        time.perf_counter() - start,
        (out or b"").decode("utf-8", errors="replace"),
    )
