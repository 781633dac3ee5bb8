"""One bubblewrap sandbox per submission: what it sees, what it may use, and its own user.

:func:`bwrap_command` builds the command line: a fresh root with read-only binds of the
system folders, the Python installation, the virtual environment and the two packages the
kernel needs (``companion`` and this one: not the masters, not the release, not the grades),
the submission's own throwaway folder as the only writable place besides a private ``/tmp``,
``--unshare-all`` (no network, own PID, IPC and UTS namespaces), ``--die-with-parent``,
``--new-session`` and a cleared environment. :class:`Limits` are set with ``setrlimit`` just
before ``bwrap`` starts, so every process inside inherits them.

When the grader runs as root, each sandbox also runs as a user of its own (a *slot* uid from
:data:`UID_BASE`, claimed with a lock file), which cannot signal the grader, write its files,
or count against another sandbox's process limit; :func:`kill_uid` then proves that no
process of that submission is left before its results are read.

>>> cmd = bwrap_command("/tmp/work-1", ["python", "-V"], bwrap="/usr/bin/bwrap")
>>> cmd[0], "--unshare-all" in cmd, "--die-with-parent" in cmd, cmd[-2:]
('/usr/bin/bwrap', True, True, ['python', '-V'])
"""

from __future__ import annotations

import fcntl
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Limits",
    "SandboxUnavailable",
    "UID_BASE",
    "bwrap_command",
    "claim_uid",
    "find_bwrap",
    "kill_uid",
    "preexec",
]

#: Slot uids for sandboxes started by root: UID_BASE, UID_BASE + 1, ...
UID_BASE = 61000
UID_SLOTS = 512
#: Where the sandbox sees its own folder.
SANDBOX_HOME = "/submission"
PACKAGES = ("companion", "batchwise_instructor")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create a sandbox here."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for every process of one submission.

    Attributes:
        address_space: bytes of virtual memory per process (``RLIMIT_AS``).
        cpu_seconds: CPU seconds per process (``RLIMIT_CPU``).
        file_size: largest file a process may write, in bytes (``RLIMIT_FSIZE``).
        processes: processes of the sandbox's user (``RLIMIT_NPROC``).
        tmp_size: bytes of the private ``/tmp``.

    >>> Limits().address_space // 2**30, Limits().processes
    (4, 128)
    """

    address_space: int = 4 * 2**30
    cpu_seconds: int = 600
    file_size: int = 64 * 2**20
    processes: int = 128
    tmp_size: int = 256 * 2**20


def find_bwrap() -> str:
    """The path of ``bwrap``, or :class:`SandboxUnavailable` saying why grading needs it.

    >>> find_bwrap().endswith("bwrap")  # .ci/run installs Debian's bubblewrap
    True
    """
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed: 'apt-get install bubblewrap' (Debian/Ubuntu; "
            ".ci/run does this). Grading without it would run every submission with your own "
            "permissions, able to read the hidden tests and rewrite other students' grades."
        )
    return path


def _python_roots() -> list[str]:
    """Folders the interpreter and the virtual environment live in."""
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    return sorted(roots)


def _package_dirs() -> list[str]:
    import importlib.util

    dirs = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(os.path.realpath(p) for p in spec.submodule_search_locations)
    return dirs


#: Run inside the sandbox by root's bwrap: become the slot user, then run the command. bwrap
#: itself must start as root to bind folders that only root can read (a pyenv under /root).
DROP_TO_UID = (
    "import os, sys; u = int(sys.argv[1]); os.setgroups([]); os.setgid(u); os.setuid(u); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def bwrap_command(work: str | Path, command: list[str], *, bwrap: str | None = None,
                  limits: Limits | None = None, uid: int | None = None) -> list[str]:
    """The bubblewrap command that runs ``command`` in ``work`` (seen as ``/submission``).

    With ``uid``, ``command`` runs as that user (bwrap must then be started by root).
    """
    limits = limits or Limits()
    if uid is not None:
        command = [sys.executable, "-I", "-c", DROP_TO_UID, str(int(uid)), *command]
    # As root, a user namespace would map the sandbox back to root outside: the namespaces of
    # --unshare-all but the user one, and the sandbox runs as the real, unprivileged slot uid.
    unshare = ["--unshare-all"] if uid is None else [
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    cmd = [bwrap or find_bwrap(), *unshare, "--die-with-parent", "--new-session", "--clearenv"]
    for folder in ("/usr", "/etc"):
        cmd += ["--ro-bind", folder, folder]
    for link in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        target = os.path.join("/", link)
        if os.path.islink(target):
            cmd += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            cmd += ["--ro-bind", target, target]
    # /proc, /dev and the private /tmp first: a later bind (the repository's venv, say) may sit
    # below /tmp, and a tmpfs mounted after it would hide it.
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs", "/tmp"]
    seen, made = ["/usr", "/etc"], {"/tmp", "/proc", "/dev"}
    for folder in [*_python_roots(), *_package_dirs()]:
        if not any(folder == s or folder.startswith(s + "/") for s in seen):
            # bwrap would create the folders above a bind as 0700, closed to the slot user.
            for parent in reversed(Path(folder).parents[:-1]):
                if str(parent) not in made:
                    cmd += ["--perms", "0755", "--dir", str(parent)]
                    made.add(str(parent))
            cmd += ["--ro-bind", folder, folder]
            seen.append(folder)
    cmd += ["--bind", str(work), SANDBOX_HOME, "--chdir", SANDBOX_HOME]
    env = {
        "HOME": "/tmp", "PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin",
        "TMPDIR": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/mpl",
        "IPYTHONDIR": "/tmp/ipython", "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
        "JUPYTER_CONFIG_DIR": "/tmp/jupyter-config", "JUPYTER_DATA_DIR": "/tmp/jupyter-data",
        "JUPYTER_PLATFORM_DIRS": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return [*cmd, *command]


def preexec(limits: Limits) -> Callable[[], None]:
    """A ``preexec_fn``: a new session and ``limits``, inherited by everything started after.

    ``RLIMIT_NPROC`` counts the processes of the sandbox's user, so it holds once
    :data:`DROP_TO_UID` has switched to the slot user.

    >>> import subprocess, sys
    >>> code = "import resource; print(resource.getrlimit(resource.RLIMIT_FSIZE)[0])"
    >>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
    ...                preexec_fn=preexec(Limits(file_size=2**20))).stdout.strip()
    '1048576'
    """

    def run() -> None:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (limits.address_space, limits.address_space))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size, limits.file_size))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return run


@contextmanager
def claim_uid() -> Iterator[int | None]:
    """A slot uid nobody else is using (``None`` unless running as root).

    >>> with claim_uid() as uid:
    ...     uid is None or UID_BASE <= uid < UID_BASE + UID_SLOTS
    True
    """
    if os.geteuid() != 0:
        yield None
        return
    locks = Path(tempfile.gettempdir()) / "batchwise-sandbox-uids"
    locks.mkdir(mode=0o700, exist_ok=True)
    for offset in range(UID_SLOTS):
        uid = UID_BASE + offset
        handle = open(locks / f"{uid}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            kill_uid(uid)  # a previous grader that was killed may have left some
            yield uid
        finally:
            kill_uid(uid)
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise SandboxUnavailable(f"all {UID_SLOTS} sandbox uids are in use")


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                state = f.read().rsplit(")", 1)[-1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):  # a zombie runs nothing; its parent reaps it
            pids.append(int(entry))
    return pids


def kill_uid(uid: int, timeout: float = 10.0) -> int:
    """SIGKILL every process of ``uid`` until none is left; return how many were killed.

    >>> kill_uid(UID_BASE + UID_SLOTS)  # a uid no sandbox uses
    0
    """
    killed = 0
    end = time.monotonic() + timeout
    while True:
        pids = _pids_of(uid)
        if not pids:
            return killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        if time.monotonic() > end:
            raise SandboxUnavailable(f"processes of uid {uid} survive SIGKILL: {pids}")
        time.sleep(0.05)
