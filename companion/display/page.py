"""What a chapter page needs to run anywhere: in the book build, in JupyterLab, on Colab.

:func:`glue` is ``myst_nb.glue`` when myst-nb is installed (the book build stores the value for
``{glue:text}`` in the prose). Where myst-nb is missing — Colab, a plain Jupyter — it degrades to
showing the value like any cell output (or nothing, with ``display=False``), so a chapter runs
from top to bottom in any kernel that has the course package.

>>> glue("answer", 42, display=False)  # never raises, with or without myst-nb
"""

from __future__ import annotations

import importlib
from typing import Any

from companion.core._validation import check_bool


def _myst_glue() -> Any | None:
    try:
        return importlib.import_module("myst_nb").glue
    except ImportError:
        return None


def glue(name: str, variable: Any, display: bool = True) -> None:
    """Store ``variable`` under ``name`` for the book (myst-nb), or just show it without myst-nb.

    Args:
        name: The key the prose uses, e.g. ``{glue:text}`name```; a non-empty string.
        variable: Any value (a number, a figure, a DataFrame…).
        display: Also show the value in the notebook.

    Raises:
        TypeError: If ``name`` is not a string or ``display`` not a bool.
        ValueError: If ``name`` is empty.

    >>> glue("", 1)
    Traceback (most recent call last):
    ...
    ValueError: name must be a non-empty string; got ''
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; got {type(name).__name__}")
    if not name:
        raise ValueError("name must be a non-empty string; got ''")
    show = check_bool(display, "display")
    myst = _myst_glue()
    if myst is not None:
        myst(name, variable, display=show)
    elif show:
        from IPython.display import display as show_value

        show_value(variable)
