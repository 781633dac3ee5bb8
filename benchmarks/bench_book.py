"""What the course costs to run: each notebook, the book build, and the test suites.

Measurements (each a single run; wall times from ``time.perf_counter``):

- **Notebook wall time**: ``nbclient.NotebookClient.execute()`` on the notebook, from starting
  its ``python3`` kernel to shutting it down, with the notebook's folder as working directory
  (as the book build and nbval run it). Target <= 30 s.
- **Notebook peak memory**: the kernel's peak resident set size (RSS). Each notebook runs in a
  fresh worker process (``python -m benchmarks.bench_book --execute PATH``) whose only child is
  the kernel, so after the kernel exits ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the kernel's
  exact high-water mark; the worker also samples, every 50 ms with psutil, the RSS of the kernel
  plus any processes it started, and the larger of the two is reported. MB = 10^6 bytes.
  Target <= 500 MB.
- **Book build**: ``make book`` (the notebooks executed two at a time into the cache, then
  ``jupyter-book build . -W -n --keep-going``) in a temporary copy of the repository
  (so the user's ``_build`` is never touched), first from clean (every notebook executed;
  target <= 4 min), then again unchanged (jupyter-cache and the Sphinx environment reused;
  target <= 30 s).
- **Unit tests**: ``pytest tests companion -m "not browser"`` in the repository (no target set).
- **make test** (only with ``--full``): ``make test`` in a temporary copy whose ``.venv`` is a
  symlink to the repository's, so the book is built from clean as in CI. Target <= 6 min.

Run it through ``python -m benchmarks`` (``make bench``), which prints one table.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MB = 1e6
SAMPLE_EVERY_S = 0.05

NOTEBOOK_SECONDS = 30.0
NOTEBOOK_MB = 500.0
BUILD_CLEAN_SECONDS = 240.0
BUILD_CACHED_SECONDS = 30.0
MAKE_TEST_SECONDS = 360.0

REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt", "pyproject.toml")
# Never copied into the temporary repository: build outputs, caches and the virtualenv.
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", "_build", ".git", ".ruff_cache", ".pytest_cache", ".hypothesis", "__pycache__",
    "*.egg-info", ".ipynb_checkpoints",
)


@dataclass(frozen=True)
class Row:
    """One line of the benchmark table.

    Example:
        >>> Row("book build", "12.0 s", "<= 30 s", True).verdict
        'yes'
        >>> Row("book build", "failed", "<= 30 s", False).verdict
        '**NO**'
        >>> Row("unit tests", "40.0 s", "none set", None).verdict
        'n/a'
    """

    benchmark: str
    result: str
    target: str
    meets: bool | None

    @property
    def verdict(self) -> str:
        """``yes``, ``**NO**`` or ``n/a`` (no target, or not measured)."""
        return "n/a" if self.meets is None else ("yes" if self.meets else "**NO**")


def format_table(rows: list[Row]) -> str:
    """The rows as one markdown table with a target and a "meets target?" column.

    Example:
        >>> print(format_table([Row("book build from cache", "4.1 s", "<= 30 s", True)]))
        | benchmark | result | target | meets target? |
        |:---|---:|:---|:---:|
        | book build from cache | 4.1 s | <= 30 s | yes |
    """
    lines = ["| benchmark | result | target | meets target? |", "|:---|---:|:---|:---:|"]
    lines += [f"| {r.benchmark} | {r.result} | {r.target} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook under ``book/`` and ``notebooks/``, sorted, checkpoints excluded.

    Example:
        >>> all(p.suffix == ".ipynb" and p.parts[len(ROOT.parts)] in ("book", "notebooks")
        ...     for p in notebooks())
        True
    """
    found = [p for folder in ("book", "notebooks") for p in sorted((root / folder).rglob("*.ipynb"))
             if ".ipynb_checkpoints" not in p.parts and "_build" not in p.parts]
    return found


def cell_timeout(root: Path = ROOT) -> int:
    """The per-cell timeout of the book build (``execute.timeout`` in ``_config.yml``), in seconds.

    Example:
        >>> cell_timeout() > 0
        True
    """
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return int((config.get("execute") or {}).get("timeout", 120))


# ---------------------------------------------------------------------------------------------
# Notebooks


@dataclass(frozen=True)
class NotebookRun:
    """One notebook's execution: wall seconds, peak kernel RSS in bytes, and an error if any."""

    path: str
    seconds: float
    peak_rss: int
    error: str | None = None


class _RssSampler(threading.Thread):
    """Samples the RSS of a process and its descendants every ``SAMPLE_EVERY_S`` seconds."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.pid: int | None = None
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        while not self._halt.is_set():
            if self.pid is not None:
                try:
                    proc = psutil.Process(self.pid)
                    procs = [proc, *proc.children(recursive=True)]
                    total = 0
                    for p in procs:
                        try:
                            total += p.memory_info().rss
                        except psutil.Error:
                            pass
                    self.peak = max(self.peak, total)
                except psutil.Error:
                    pass
            self._halt.wait(SAMPLE_EVERY_S)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def execute_here(path: Path, timeout: int) -> NotebookRun:
    """Execute ``path`` in a new kernel from this process and measure it (see the module doc).

    Meant to run in a fresh worker process: ``RUSAGE_CHILDREN`` covers every child this process
    has waited for, so it is the kernel's peak only when the kernel is the sole child.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    sampler = _RssSampler()

    def on_start(**_: object) -> None:
        provisioner = client.km.provisioner  # type: ignore[union-attr]
        sampler.pid = provisioner.process.pid  # type: ignore[union-attr]

    client.on_notebook_start = on_start
    sampler.start()
    error = None
    start = time.perf_counter()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, RuntimeError) as exc:
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:120]}"
    seconds = time.perf_counter() - start
    sampler.stop()
    # ru_maxrss is in KiB on Linux.
    exact = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return NotebookRun(str(path), seconds, max(exact, sampler.peak), error)


def measure_notebook(path: Path, timeout: int | None = None) -> NotebookRun:
    """Execute ``path`` in a fresh worker process and return its :class:`NotebookRun`."""
    timeout = cell_timeout() if timeout is None else timeout
    worker = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--execute", str(path),
         "--timeout", str(timeout)],
        capture_output=True, text=True, cwd=ROOT,
    )
    lines = worker.stdout.strip().splitlines()
    if worker.returncode != 0 or not lines:
        tail = (worker.stderr.strip().splitlines() or ["no output"])[-1][:120]
        return NotebookRun(str(path), float("nan"), 0, f"worker failed: {tail}")
    return NotebookRun(**json.loads(lines[-1]))


def notebook_rows(root: Path = ROOT) -> list[Row]:
    """Two rows per notebook: wall time and peak kernel RSS."""
    rows: list[Row] = []
    timeout = cell_timeout(root)
    for path in notebooks(root):
        name = path.relative_to(root).as_posix()
        print(f"  executing {name} ...", file=sys.stderr, flush=True)
        run = measure_notebook(path, timeout)
        if run.error:
            rows.append(Row(f"notebook `{name}`: execution", f"failed ({run.error})",
                            f"<= {NOTEBOOK_SECONDS:.0f} s", False))
        rows.append(Row(f"notebook `{name}`: wall time", _seconds(run.seconds),
                        f"<= {NOTEBOOK_SECONDS:.0f} s",
                        run.error is None and run.seconds <= NOTEBOOK_SECONDS))
        rows.append(Row(f"notebook `{name}`: peak kernel RSS", f"{run.peak_rss / MB:.0f} MB",
                        f"<= {NOTEBOOK_MB:.0f} MB",
                        run.peak_rss > 0 and run.peak_rss / MB <= NOTEBOOK_MB))
    if not rows:
        rows.append(Row("notebooks under book/ and notebooks/", "none found", "-", None))
    return rows


# ---------------------------------------------------------------------------------------------
# Commands: book builds, unit tests, make test


@dataclass(frozen=True)
class CommandRun:
    """A timed command: wall seconds, exit code and the last line of its output."""

    seconds: float
    returncode: int
    last_line: str


def time_command(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> CommandRun:
    """Run ``cmd`` in ``cwd`` and time it, output captured.

    Example:
        >>> run = time_command([sys.executable, "-c", "print('hi')"], ROOT)
        >>> run.returncode, run.last_line
        (0, 'hi')
    """
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    out = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    if done.returncode == 0:
        last = (done.stdout.strip().splitlines() or [""])[-1].strip()
    else:
        # make's own "*** [Makefile:N: test] Error 1" says which step failed, not why: show the
        # failing tool's last line with it.
        tool = [line for line in out if not line.startswith("make")]
        last = out[-1] if out else ""
        if out and out[-1].startswith("make") and tool:
            last = f"{' '.join(tool[-2:])} ({out[-1]})"
    return CommandRun(seconds, done.returncode, last)


@contextmanager
def repository_copy(root: Path = ROOT, link_venv: bool = False) -> Iterator[Path]:
    """A temporary copy of the repository without build outputs, caches or ``.venv``.

    Args:
        root: The repository to copy.
        link_venv: Make ``.venv`` in the copy a symlink to the repository's (for ``make``).
    """
    tmp = Path(tempfile.mkdtemp(prefix="batchwise-bench-"))
    copy = tmp / "repo"
    try:
        shutil.copytree(root, copy, ignore=COPY_IGNORE, symlinks=True)
        if link_venv:
            (copy / ".venv").symlink_to(root / ".venv", target_is_directory=True)
        yield copy
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _copy_env(copy: Path) -> dict[str, str]:
    # Kernels and pytest import `companion` from the copy, not from the editable install.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(copy), env.get("PYTHONPATH")]))
    return env


def _command_row(label: str, run: CommandRun, limit: float | None, target: str) -> Row:
    if run.returncode != 0:
        return Row(label, f"failed (exit {run.returncode}) after {_seconds(run.seconds)}: "
                          f"{_cell(run.last_line)}", target, False)
    result = _seconds(run.seconds)
    return Row(label, result, target, None if limit is None else run.seconds <= limit)


def book_rows(root: Path = ROOT) -> list[Row]:
    """``make book`` from clean, then again from its cache, in a temporary copy.

    ``make book`` is what readers run: the notebooks executed two at a time into the cache
    (``book/_ext/execute_parallel.py``), then ``jupyter-book build``. The copy shares the
    repository's ``.venv`` with ``STAMP`` pointed at a file that exists, as in
    :func:`make_test_rows`.
    """
    with repository_copy(root, link_venv=True) as copy:
        cmd = ["make", "book", f"STAMP={copy / '.venv' / 'pyvenv.cfg'}"]
        print("  building the book from clean ...", file=sys.stderr, flush=True)
        clean = time_command(cmd, copy, _copy_env(copy))
        print("  building the book again from cache ...", file=sys.stderr, flush=True)
        cached = time_command(cmd, copy, _copy_env(copy))
    return [
        _command_row("book build from clean (`make book`, temp copy)", clean,
                     BUILD_CLEAN_SECONDS, f"<= {BUILD_CLEAN_SECONDS / 60:.0f} min"),
        _command_row("book build from cache (same copy, nothing changed)", cached,
                     BUILD_CACHED_SECONDS, f"<= {BUILD_CACHED_SECONDS:.0f} s"),
    ]


def unit_test_rows(root: Path = ROOT) -> list[Row]:
    """The unit, property and doctest suite without the browser test, in the repository."""
    print("  running the unit tests ...", file=sys.stderr, flush=True)
    run = time_command([str(BIN / "pytest"), "-q", "tests", "companion", "-m", "not browser"],
                       root)
    row = _command_row('unit tests (`pytest tests companion -m "not browser"`)', run, None,
                       "none set")
    if run.returncode == 0:
        counts = re.sub(r" in [0-9.]+s.*$", "", run.last_line.strip("= "))
        row = Row(row.benchmark, f"{row.result} ({_cell(counts)})", row.target, row.meets)
    return [row]


def venv_is_current(root: Path = ROOT) -> bool:
    """True when ``.venv`` was installed from the current requirement files (the Makefile's stamp).

    The Makefile names its stamp ``.venv/.installed-<hash>`` after the first 16 hex digits of the
    SHA-256 of ``requirements.txt``, ``requirements-dev.txt`` and ``pyproject.toml`` concatenated.

    Example:
        >>> isinstance(venv_is_current(), bool)
        True
    """
    data = b"".join((root / name).read_bytes() for name in REQUIREMENT_FILES)
    return (root / ".venv" / f".installed-{hashlib.sha256(data).hexdigest()[:16]}").exists()


def make_test_rows(root: Path = ROOT) -> list[Row]:
    """``make test`` from clean in a temporary copy sharing the repository's virtualenv.

    ``STAMP`` (the Makefile's "install is up to date" file) is pointed at a file that exists, so
    make never reinstalls into the shared ``.venv``: a ``pip install -e .`` from the copy would
    point the editable install at a folder about to be deleted.
    """
    label = "`make test` (temp copy, clean `_build`)"
    target = f"<= {MAKE_TEST_SECONDS / 60:.0f} min"
    with repository_copy(root, link_venv=True) as copy:
        print("  running make test in a temporary copy ...", file=sys.stderr, flush=True)
        run = time_command(["make", "test", f"STAMP={copy / '.venv' / 'pyvenv.cfg'}"], copy,
                           _copy_env(copy))
    row = _command_row(label, run, MAKE_TEST_SECONDS, target)
    if not venv_is_current(root):
        row = Row(row.benchmark, f"{row.result} (with the installed .venv, which is older than "
                  "the requirement files: `make venv` would reinstall first)", target, row.meets)
    return [row]


def _seconds(seconds: float) -> str:
    """Seconds for the table: ``12.3 s`` or ``4 min 05 s``.

    Example:
        >>> _seconds(12.34), _seconds(245.0)
        ('12.3 s', '4 min 05 s')
    """
    if seconds != seconds:  # NaN: not measured
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _cell(text: str) -> str:
    return text.replace("|", "/")[:160]


SECTIONS = ("notebooks", "book", "tests")


def run(quick: bool = False, only: tuple[str, ...] = SECTIONS, full: bool = False) -> list[Row]:
    """Measure the chosen sections and return the table rows.

    Args:
        quick: Accepted for symmetry with the other benchmark modules; every measurement here is
            a single run already, so it changes nothing.
        only: Which of ``notebooks``, ``book``, ``tests`` to measure.
        full: Also time ``make test`` (with the ``tests`` section).
    """
    del quick
    rows: list[Row] = []
    if "notebooks" in only:
        rows += notebook_rows()
    if "book" in only:
        rows += book_rows()
    if "tests" in only:
        rows += unit_test_rows()
        if full:
            rows += make_test_rows()
        else:
            rows.append(Row("`make test` (temp copy, clean `_build`)", "not run (add --full)",
                            f"<= {MAKE_TEST_SECONDS / 60:.0f} min", None))
    return rows


def _worker(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Execute one notebook and print its measurement.")
    parser.add_argument("--execute", type=Path, required=True)
    parser.add_argument("--timeout", type=int, default=120)
    args = parser.parse_args(argv)
    result = execute_here(args.execute.resolve(), args.timeout)
    print(json.dumps(result.__dict__))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
