"""Whether ``fit`` and ``sweep`` may draw a progress bar: ``progress=True``, unless the
environment says no.

A bar is for someone watching a live notebook. On a built page it is a dead widget, and
whether it appears would depend on the builder's speed (a bar shows only once a run has
lasted :data:`~companion.core.training.PROGRESS_DELAY_SECONDS`). So the book's builds set
``BATCHWISE_PROGRESS=0`` for their kernels (``book/_ext/offline_book.py``, loaded by every
``jupyter-book build`` of the book, and ``book/_ext/execute_parallel.py``), and
``progress=True`` then draws nothing.

>>> bars_enabled({})
True
>>> bars_enabled({"BATCHWISE_PROGRESS": "0"})
False
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["ENV_VAR", "bars_enabled"]

ENV_VAR = "BATCHWISE_PROGRESS"
_ON = frozenset({"", "1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off"})


def bars_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """False when ``BATCHWISE_PROGRESS`` is 0, false, no or off (any case); True when unset.

    >>> bars_enabled({"BATCHWISE_PROGRESS": "Off"}), bars_enabled({"BATCHWISE_PROGRESS": "1"})
    (False, True)
    >>> bars_enabled({"BATCHWISE_PROGRESS": "sometimes"})
    Traceback (most recent call last):
    ...
    ValueError: the environment variable BATCHWISE_PROGRESS must be one of 0, 1, false, true, no, yes, off, on (or unset); got 'sometimes'
    """
    value = environ.get(ENV_VAR, "").strip().lower()
    if value in _OFF:
        return False
    if value in _ON:
        return True
    raise ValueError(f"the environment variable {ENV_VAR} must be one of 0, 1, false, true, no, "
                     f"yes, off, on (or unset); got {environ[ENV_VAR]!r}")
