"""``python -m companion.assignments``: see :mod:`companion.assignments.cli`."""

from __future__ import annotations

if __name__ == "__main__":
    import sys

    from .cli import main

    sys.exit(main())
