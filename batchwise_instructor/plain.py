"""Plain values across the sandbox wall: a strict, size-capped JSON codec.

The student's kernel turns its answers into this format (:func:`encode`); the trusted grader
turns them back (:func:`decode`) into freshly built Python objects of exact built-in types:
``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``tuple``, ``list``, ``dict``
with plain keys, NumPy scalars and arrays of numeric or bool dtype. Nothing else crosses: an
object of any other type (an ``int`` subclass whose ``__eq__`` is always true, a pandas frame,
a generator) arrives as an :class:`Opaque` stand-in that equals nothing and passes no type
check. The decoder never calls code chosen by the sender, so a lying kernel can only send
plain values it made up, never objects that misbehave.

>>> import numpy as np
>>> decode(encode((3, [1.5, "a"], np.arange(3, dtype=np.int32))))
(3, [1.5, 'a'], array([0, 1, 2], dtype=int32))
>>> class Sneaky(int):
...     def __eq__(self, other):
...         return True
>>> fake = decode(encode(Sneaky(1)))
>>> fake == 1, isinstance(fake, int), type(fake).__name__
(False, False, 'Opaque')
"""

from __future__ import annotations

import base64
import math
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "Opaque", "PlainError", "decode", "encode"]

#: Nesting deeper than this is refused (a list of lists of ... 40 levels).
MAX_DEPTH = 40
#: At most this many containers items in one value, all levels together.
MAX_ITEMS = 2_000_000
#: NumPy dtypes that may cross, by name.
DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
     "float16", "float32", "float64", "complex64", "complex128"]
)
#: Longest ``int`` accepted, in decimal digits (CPython's own default limit).
MAX_INT_DIGITS = 4300


class PlainError(ValueError):
    """An encoded value is malformed or exceeds a limit."""


class Opaque:
    """Stands in for an answer that is not a plain value: equals nothing, is no number.

    >>> o = Opaque("Sneaky")
    >>> o == o, o == 1, repr(o)
    (False, False, '<not a plain value: Sneaky>')
    """

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = str(type_name)[:200]

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<not a plain value: {self.type_name}>"


def _type_name(value: object) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.")


def encode(value: object, _depth: int = 0) -> dict[str, Any]:
    """A JSON-ready description of ``value``; non-plain parts become ``{"t": "opaque"}``.

    Exact types only: subclasses of ``int``, ``list``, ``np.ndarray`` ... are opaque.

    >>> encode(2), encode(True), encode(2.5), encode(float("nan"))
    ({'t': 'int', 'v': '2'}, {'t': 'bool', 'v': True}, {'t': 'float', 'v': '2.5'}, {'t': 'float', 'v': 'nan'})
    >>> encode(object())["t"]
    'opaque'
    """
    kind = type(value)
    if _depth > MAX_DEPTH:
        return {"t": "opaque", "type": "nesting too deep"}
    if value is None:
        return {"t": "none"}
    if kind is bool:
        return {"t": "bool", "v": bool(value)}
    if kind is int:
        if value.bit_length() > MAX_INT_DIGITS * 3:  # type: ignore[attr-defined]
            return {"t": "opaque", "type": "int too large"}
        return {"t": "int", "v": int.__repr__(value)}  # type: ignore[arg-type]
    if kind is float:
        return {"t": "float", "v": float.__repr__(value)}  # type: ignore[arg-type]
    if kind is complex:
        return {"t": "complex", "v": [float.__repr__(value.real),  # type: ignore[attr-defined]
                                      float.__repr__(value.imag)]}  # type: ignore[attr-defined]
    if kind is str:
        return {"t": "str", "v": str.__str__(value)}  # type: ignore[arg-type]
    if kind in (tuple, list):
        items = tuple.__iter__(value) if kind is tuple else list.__iter__(value)  # type: ignore
        return {"t": kind.__name__, "v": [encode(x, _depth + 1) for x in items]}
    if kind is dict:
        pairs = dict.items(value)  # type: ignore[arg-type]
        return {"t": "dict", "v": [[encode(k, _depth + 1), encode(v, _depth + 1)]
                                   for k, v in pairs]}
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return {"t": "opaque", "type": _type_name(value)}
    if kind is np.ndarray or (isinstance(value, np.generic) and kind.__module__ == "numpy"):
        array = np.ndarray.__array__(value) if kind is np.ndarray else np.asarray(value)
        dtype = array.dtype
        if dtype.name not in DTYPES or dtype.byteorder not in ("=", "|", "<"):
            return {"t": "opaque", "type": f"{_type_name(value)} of dtype {dtype.name}"}
        data = np.ascontiguousarray(array).tobytes()
        return {"t": "ndarray" if kind is np.ndarray else "npscalar", "dtype": dtype.name,
                "shape": [int(n) for n in array.shape],
                "data": base64.b64encode(data).decode("ascii")}
    return {"t": "opaque", "type": _type_name(value)}


class _Budget:
    def __init__(self) -> None:
        self.items = 0

    def take(self, n: int) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise PlainError(f"value has more than {MAX_ITEMS} items")


def _float(text: object) -> float:
    if not isinstance(text, str) or len(text) > 40:
        raise PlainError(f"bad float {str(text)[:50]!r}")
    try:
        return float(text)
    except ValueError:
        raise PlainError(f"bad float {text[:50]!r}") from None


def decode(data: object, _depth: int = 0, _budget: _Budget | None = None) -> Any:
    """Rebuild a value from :func:`encode`'s format, checking every field.

    >>> decode({"t": "int", "v": "12"}) + 1
    13
    >>> decode({"t": "eval", "v": "__import__('os')"})
    Traceback (most recent call last):
    ...
    batchwise_instructor.plain.PlainError: unknown tag 'eval'
    """
    budget = _budget or _Budget()
    budget.take(1)
    if _depth > MAX_DEPTH + 1:
        raise PlainError("nesting too deep")
    if type(data) is not dict or type(data.get("t")) is not str:
        raise PlainError("each value must be an object with a tag 't'")
    tag, v = data["t"], data.get("v")
    if tag == "none":
        return None
    if tag == "bool":
        if type(v) is not bool:
            raise PlainError("bad bool")
        return bool(v)
    if tag == "int":
        if type(v) is not str or len(v) > MAX_INT_DIGITS + 1 or not v.lstrip("-").isdigit():
            raise PlainError(f"bad int {str(v)[:50]!r}")
        return int(v)
    if tag == "float":
        return _float(v)
    if tag == "complex":
        if type(v) is not list or len(v) != 2:
            raise PlainError("bad complex")
        return complex(_float(v[0]), _float(v[1]))
    if tag == "str":
        if type(v) is not str:
            raise PlainError("bad str")
        return str(v)
    if tag in ("tuple", "list"):
        if type(v) is not list:
            raise PlainError(f"bad {tag}")
        budget.take(len(v))
        items = [decode(x, _depth + 1, budget) for x in v]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict":
        if type(v) is not list:
            raise PlainError("bad dict")
        out = {}
        for pair in v:
            if type(pair) is not list or len(pair) != 2:
                raise PlainError("bad dict item")
            key = decode(pair[0], _depth + 1, budget)
            if isinstance(key, (list, dict)) or type(key).__module__ == "numpy":
                raise PlainError("dict keys must be hashable plain values")
            out[key] = decode(pair[1], _depth + 1, budget)
        return out
    if tag in ("ndarray", "npscalar"):
        return _decode_array(data, tag, budget)
    if tag == "opaque":
        return Opaque(str(data.get("type", "unknown"))[:200])
    raise PlainError(f"unknown tag {tag[:30]!r}")


def _decode_array(data: dict[str, Any], tag: str, budget: _Budget) -> Any:
    import numpy as np

    dtype_name, shape, payload = data.get("dtype"), data.get("shape"), data.get("data")
    if type(dtype_name) is not str or dtype_name not in DTYPES:
        raise PlainError(f"dtype must be one of {sorted(DTYPES)}; got {str(dtype_name)[:30]!r}")
    if type(shape) is not list or len(shape) > 32 or not all(
        type(n) is int and n >= 0 for n in shape
    ):
        raise PlainError("bad shape")
    if type(payload) is not str:
        raise PlainError("bad array data")
    dtype = np.dtype(dtype_name)
    count = math.prod(shape)
    budget.take(count)
    raw = base64.b64decode(payload.encode("ascii"), validate=True)
    if len(raw) != count * dtype.itemsize:
        raise PlainError(f"array data has {len(raw)} bytes; shape {shape} needs "
                         f"{count * dtype.itemsize}")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if tag == "npscalar":
        if shape:
            raise PlainError("a NumPy scalar has shape []")
        return array[()]
    return array
