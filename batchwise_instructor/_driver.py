"""Inside the sandbox: run the student's notebook in a kernel, then answer the grader's requests.

Started by :mod:`batchwise_instructor._runner` as
``python -m batchwise_instructor._driver NOTEBOOK DEADLINE_SECONDS`` inside bubblewrap, with
the grader's request pipe on stdin and the reply pipe on stdout. Cell outputs are discarded
(a cell printing 1 GiB costs the grader nothing); the kernel's own stdout and stderr go to a
log file that the file-size limit caps. If a cell kills the kernel (``os._exit``, a crash,
the memory limit), a fresh kernel re-runs the cells before it once, so the answers that ran
are graded and the status says which cell ended the run.

This process shares the sandbox with the student's code, so the grader trusts nothing it
says beyond its plain, size-capped replies.

Protocol (one JSON object per line): first ``{"ready": true, "cells": n, "died_in": k|null,
"timed_out_in": k|null, "errors": m, "serving": bool}``, then one reply per request line,
passed on to and from :func:`batchwise_instructor._kernel_side.serve_forever` through two
named pipes in the sandbox's ``/tmp``.
"""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

TMP = os.environ.get("TMPDIR", "/tmp")
REQUEST = os.path.join(TMP, ".bw-requests")
REPLY = os.path.join(TMP, ".bw-replies")
#: A reply file larger than this is refused (the grader caps its pipe too).
MAX_REPLY_BYTES = 256 * 1024 * 1024
SERVE = (
    "__import__('batchwise_instructor._kernel_side', fromlist=['serve_forever'])"
    f".serve_forever(globals(), {REQUEST!r}, {REPLY!r})"
)


def _code_cells(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    cells = []
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append("".join(source) if isinstance(source, list) else str(source))
    return cells


class Kernel:
    """One IPython kernel, its stdout and stderr appended to ``log``.

    Only the shell channel is used. ``sys.stdout`` and ``sys.stderr`` discard what a cell
    prints (:class:`batchwise_instructor._kernel_side.Discard`), nobody subscribes to the
    kernel's other output (IOPub), so ZeroMQ drops it, and the kernel's file descriptors 1
    and 2 go straight to ``log``, where the file-size limit stops them.
    """

    def __init__(self, log: str) -> None:
        from jupyter_client.manager import KernelManager

        self.log = open(log, "ab")
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
                             extra_arguments=[
                                 "--IPKernelApp.capture_fd_output=False",
                                 "--IPKernelApp.outstream_class="
                                 "batchwise_instructor._kernel_side.Discard"])
        self.kc = self.km.client()
        self.kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        self.kc.kernel_info()
        if self._reply(None, time.monotonic() + 60) is None:
            raise RuntimeError("the kernel did not start")

    def _reply(self, msg_id: str | None, end: float) -> dict[str, Any] | None:
        """The shell reply to ``msg_id`` (any reply if ``None``), or ``None`` if dead or late."""
        while time.monotonic() < end:
            try:
                msg = self.kc.get_shell_msg(timeout=min(0.2, max(0.01, end - time.monotonic())))
            except queue.Empty:
                if not self.km.is_alive():
                    return None
                continue
            if msg_id is None or msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
        return None

    def run(self, code: str, timeout: float) -> str:
        """``ok``, ``error``, ``timeout`` or ``dead``."""
        if timeout <= 0:
            return "timeout"
        msg_id = self.kc.execute(code, allow_stdin=False, stop_on_error=False)
        reply = self._reply(msg_id, time.monotonic() + timeout)
        if reply is None:
            return "timeout" if self.km.is_alive() else "dead"
        return "ok" if reply["content"].get("status") == "ok" else "error"

    def alive(self) -> bool:
        return self.km.is_alive()

    def stop(self) -> None:
        try:
            self.kc.stop_channels()
            self.km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - the sandbox is torn down anyway
            pass


def _run_cells(cells: list[str], deadline: float, log: str) -> tuple[Kernel, dict[str, Any]]:
    kernel = Kernel(log)
    status: dict[str, Any] = {"cells": len(cells), "died_in": None, "timed_out_in": None,
                              "errors": 0}
    for index, code in enumerate(cells):
        outcome = kernel.run(code, deadline - time.monotonic())
        if outcome == "error":
            status["errors"] += 1
        elif outcome == "timeout":
            status["timed_out_in"] = index + 1
            break
        elif outcome == "dead":
            status["died_in"] = index + 1
            kernel.stop()
            kernel = Kernel(log)  # run what came before the fatal cell once more
            for code_before in cells[:index]:
                kernel.run(code_before, deadline - time.monotonic())
            break
    return kernel, status


def _send(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _open_pipes(kernel: Kernel, deadline: float) -> tuple[int, Any] | None:
    """Start :func:`serve_forever` in the kernel; the request fd and the reply file."""
    for path in (REQUEST, REPLY):
        if os.path.exists(path):
            os.remove(path)
        os.mkfifo(path, 0o600)
    replies = os.open(REPLY, os.O_RDONLY | os.O_NONBLOCK)
    msg_id = kernel.kc.execute(SERVE, allow_stdin=False)
    end = min(deadline, time.monotonic() + 60)
    while time.monotonic() < end:
        try:
            requests = os.open(REQUEST, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader yet (ENXIO)
            if not kernel.alive() or kernel._reply(msg_id, time.monotonic() + 0.01):
                return None  # dead, or serve_forever already failed
            time.sleep(0.01)
            continue
        os.set_blocking(requests, True)
        return requests, os.fdopen(replies, "rb", buffering=0)
    return None


def _reply_line(replies: Any, deadline: float, buffer: bytearray) -> bytes | None:
    """One line from the kernel, or ``None`` at the deadline, at EOF or past the size cap."""
    while b"\n" not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([replies], [], [], remaining)
        if not ready:
            return None
        chunk = os.read(replies.fileno(), 1 << 20)
        if not chunk:
            return None
        buffer += chunk
        if len(buffer) > MAX_REPLY_BYTES:
            return None
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


def main(argv: list[str] | None = None) -> int:
    """Run the notebook, report, then forward requests until stdin closes."""
    args = sys.argv[1:] if argv is None else argv
    notebook, seconds = args[0], float(args[1])
    deadline = time.monotonic() + seconds
    log = str(Path(TMP) / "kernel.log")
    kernel, status = _run_cells(_code_cells(notebook), deadline, log)
    pipes = None if status["timed_out_in"] else _open_pipes(kernel, deadline)
    _send({"ready": True, **status, "serving": pipes is not None})
    buffer = bytearray()
    for line in sys.stdin:
        if pipes is None:
            _send({"kind": "error", "message": "the kernel does not answer requests"})
            continue
        requests, replies = pipes
        try:
            os.write(requests, line.strip().encode() + b"\n")
        except OSError as exc:
            pipes = None
            _send({"kind": "error", "message": f"the kernel stopped listening ({exc})"})
            continue
        reply = _reply_line(replies, deadline, buffer)
        if reply is None:
            pipes = None
            _send({"kind": "error", "message": "the kernel did not answer in time"})
            continue
        sys.stdout.write(reply.decode("utf-8", "replace").replace("\n", " ") + "\n")
        sys.stdout.flush()
    kernel.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
