"""Numbers written the way the prose reads them.

A chapter glues computed values into its sentences; some sentences need the value as an
English ordinal ("the 61st epoch"), which a format string cannot produce.

>>> ordinal(61)
'61st'
>>> [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 22, 101, 111)]
['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '22nd', '101st', '111th']
"""

from __future__ import annotations

import numbers

_SUFFIX = {1: "st", 2: "nd", 3: "rd"}


def ordinal(n: int) -> str:
    """``n`` as an English ordinal: ``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``...

    >>> ordinal(23), ordinal(113)
    ('23rd', '113th')
    >>> ordinal(0)
    Traceback (most recent call last):
    ...
    ValueError: n must be a positive integer; got 0
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be a positive integer; got {type(n).__name__} {n!r}")
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be a positive integer; got {n}")
    suffix = "th" if n % 100 in (11, 12, 13) else _SUFFIX.get(n % 10, "th")
    return f"{n}{suffix}"
