"""The ``python -m benchmarks`` command (``make bench``): measure the course, print the results.

Prints one markdown table for the notebooks, the book build and the test suites (see
``benchmarks/bench_book.py`` for exactly what each row measures), then the tables of the other
benchmark modules that are present (``bench_fit``, ``bench_measure``, ``bench_sweep``).

Options:
    --quick     fewer repeats in the modules that repeat (fit, measure)
    --only S    measure only section S (repeatable): notebooks, book, tests, fit, measure, sweep
    --full      also time the whole ``make test`` (several minutes)
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from types import ModuleType
from typing import Any

from benchmarks import bench_book

OTHER_MODULES = ("fit", "measure", "sweep")
ALL_SECTIONS = (*bench_book.SECTIONS, *OTHER_MODULES)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line.

    Example:
        >>> args = parse_args(["--only", "book", "--only", "fit", "--quick"])
        >>> args.only, args.quick, args.full
        (['book', 'fit'], True, False)
    """
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Measure the course and print one table."
    )
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats in the benchmarks that repeat (fit, measure)")
    parser.add_argument("--only", action="append", choices=ALL_SECTIONS, metavar="SECTION",
                        help=f"measure only this section (repeatable): {', '.join(ALL_SECTIONS)}")
    parser.add_argument("--full", action="store_true",
                        help="also time the whole `make test` (several minutes)")
    return parser.parse_args(argv)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A generic markdown table for a module that returns rows but has no ``format_table``.

    Example:
        >>> print(markdown_table([{"batch size": 8, "ms": 1.2345}]))
        | batch size | ms |
        |---|---|
        | 8 | 1.234 |
    """
    if not rows:
        return "(no rows)"
    keys = list(rows[0])

    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"benchmarks.bench_{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"benchmarks.bench_{name}":
            return None
        raise


def run_module(name: str, quick: bool) -> str:
    """Run ``benchmarks/bench_<name>.py`` if present and return its table (or why there is none)."""
    try:
        module = _load(name)
    except Exception as exc:  # a broken module must not hide the other results
        return f"benchmarks/bench_{name}.py could not be imported: {type(exc).__name__}: {exc}"
    if module is None:
        return f"benchmarks/bench_{name}.py is not present; skipped."
    if not hasattr(module, "run"):
        return f"benchmarks/bench_{name}.py has no run(quick=...) function; skipped."
    title = (module.__doc__ or "").strip().splitlines()[0:1]
    result = module.run(quick=quick)
    if isinstance(result, str):
        table = result
    elif hasattr(module, "format_table"):
        table = module.format_table(result)
    else:
        table = markdown_table(list(result))
    return "\n".join([*title, "", table])


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and print their tables."""
    args = parse_args(argv)
    chosen = tuple(args.only or ALL_SECTIONS)
    started = time.perf_counter()

    own = tuple(s for s in chosen if s in bench_book.SECTIONS)
    if own:
        rows = bench_book.run(quick=args.quick, only=own, full=args.full)
        print("## Notebooks, book build and tests\n")
        print(bench_book.format_table(rows))
        missed = [r.benchmark for r in rows if r.meets is False]
        print(f"\n{len(missed)} target(s) missed" + (": " + "; ".join(missed) if missed else "."))
        print("Notebook wall time: kernel start to shutdown with nbclient; peak kernel RSS: the "
              "kernel's high-water mark (getrusage in a worker whose only child is the kernel, "
              "or the kernel and its children sampled every 50 ms if larger); MB = 10^6 bytes.")

    for name in OTHER_MODULES:
        if name in chosen:
            print(f"\n## {name} (benchmarks/bench_{name}.py)\n")
            sys.stdout.flush()
            print(run_module(name, args.quick))

    print(f"\n(benchmarks took {time.perf_counter() - started:.0f} s)")
    return 0
