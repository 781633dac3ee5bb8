"""``python -m batchwise_instructor``: see :mod:`batchwise_instructor.cli`."""

from __future__ import annotations

if __name__ == "__main__":
    import sys

    from .cli import main

    sys.exit(main())
