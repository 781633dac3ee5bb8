"""What runs inside the student's kernel, after the student's cells: answer one request.

The sandbox driver (:mod:`batchwise_instructor._driver`) starts :func:`serve_forever` in the
kernel, which answers one request line after another through two named pipes, and forwards
the replies to the grader (:func:`serve` answers a single request held in a file). Everything here runs
in the student's process, so the grader trusts none of it: a student may replace this module,
and then the grader receives made-up plain values (no worse than a function that returns
them) or nothing (the question fails). Requests:

* ``{"op": "get", "name": N}``: describe the student's global ``N``: ``missing``, ``module``,
  ``callable`` or its plain value (:func:`batchwise_instructor.plain.encode`);
* ``{"op": "call", "name": N, "args": B64}``: call the student's ``N`` with the pickled
  ``(args, kwargs)`` the grader built, and return the plain result or the exception's name.

>>> import json, tempfile, os
>>> folder = tempfile.mkdtemp()
>>> req, rep = os.path.join(folder, "req"), os.path.join(folder, "rep")
>>> _ = open(req, "w").write(json.dumps({"op": "get", "name": "x"}))
>>> serve({"x": (1, 2)}, req, rep)
>>> json.load(open(rep))["value"]
{'t': 'tuple', 'v': [{'t': 'int', 'v': '1'}, {'t': 'int', 'v': '2'}]}
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import types
from typing import Any

from .plain import encode

__all__ = ["Discard", "serve", "serve_forever"]


class Discard(io.TextIOBase):
    """The kernel's ``sys.stdout`` and ``sys.stderr`` while grading: printing costs nothing.

    Given to ipykernel as ``outstream_class``, so it takes (and ignores) its arguments.

    >>> Discard("session", "iopub", "stdout").write("x" * 10)
    10
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)



def _handle(namespace: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    name = str(request.get("name", ""))
    if name not in namespace:
        return {"kind": "missing"}
    value = namespace[name]
    if request.get("op") == "get":
        if isinstance(value, types.ModuleType):
            return {"kind": "module"}
        if callable(value) and not isinstance(value, type(None)):
            if encode(value)["t"] == "opaque":
                return {"kind": "callable"}
        return {"kind": "value", "value": encode(value)}
    if request.get("op") == "call":
        args, kwargs = pickle.loads(base64.b64decode(request["args"]))
        try:
            result = value(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - the grader decides what counts
            return {"kind": "raised", "type": type(exc).__name__, "message": str(exc)[:500]}
        return {"kind": "value", "value": encode(result)}
    return {"kind": "error", "message": "unknown op"}


def serve(namespace: dict[str, Any], request_path: str, reply_path: str) -> None:
    """Read one request from ``request_path``, answer it into ``reply_path``."""
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    try:
        reply = _handle(namespace, request)
    except BaseException as exc:  # noqa: BLE001
        reply = {"kind": "error", "message": f"{type(exc).__name__}: {str(exc)[:300]}"}
    with open(reply_path, "w", encoding="utf-8") as f:
        json.dump(reply, f)


def serve_forever(namespace: dict[str, Any], request_fifo: str, reply_fifo: str) -> None:
    """Answer request lines from ``request_fifo`` into ``reply_fifo`` until it closes."""
    with open(request_fifo, encoding="utf-8") as requests, \
            open(reply_fifo, "w", encoding="utf-8") as replies:
        for line in requests:
            try:
                reply = _handle(namespace, json.loads(line))
            except BaseException as exc:  # noqa: BLE001
                reply = {"kind": "error", "message": f"{type(exc).__name__}: {str(exc)[:300]}"}
            replies.write(json.dumps(reply) + "\n")
            replies.flush()
