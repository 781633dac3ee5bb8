"""Execute the book's notebooks on every core before ``jupyter-book build`` reads them.

The book executes in myst-nb's ``cache`` mode (``execute:`` in ``_config.yml``): Sphinx reads the
pages one after the other and runs each notebook whose code is not in the jupyter-cache yet, so
the execution, most of the build's time, uses one core. This script fills the same cache first,
``--jobs`` notebooks at a time, exactly the way myst-nb would execute each one
(``jupyter_cache``'s ``single_nb_execution`` in the notebook's own folder, with the timeout and
``allow_errors`` of ``_config.yml``, a notebook's own ``execution`` metadata overriding them);
the build then finds every notebook in the cache and executes nothing. A notebook that is
already cached is not run again; one that fails is reported here and left out of the cache,
so the build runs it again and fails on it with its usual message. The kernels run with
the progress bars off, as the build's own do (``offline_book.no_progress_bars``).

The Makefile runs it before every book build (``make book``, ``make test``). Run
``python book/_ext/execute_parallel.py [--jobs N]`` from the repository root.

>>> [p.name for p in toc_notebooks(Path(__file__).parents[2])][:2]
['start_here.ipynb', '01_vocabulary.ipynb']
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import yaml
from offline_book import no_progress_bars


def _toc_files(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root") and isinstance(value, str):
                yield value
            else:
                yield from _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def toc_notebooks(root: Path) -> list[Path]:
    """The ``.ipynb`` pages of ``_toc.yml``, in reading order, less ``exclude_patterns``."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    excluded = (config.get("execute") or {}).get("exclude_patterns") or []
    pages = [root / f"{name}.ipynb" for name in _toc_files(toc)]
    return [p for p in pages if p.is_file() and not any(
        fnmatch.fnmatch(p.relative_to(root).as_posix(), pattern) for pattern in excluded)]


def _execute(path: str, timeout: int | None,
             allow_errors: bool) -> tuple[str, nbformat.NotebookNode, float, str | None]:
    """Run one notebook as myst-nb's cache mode does; ``(path, notebook, seconds, error)``."""
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True)
    return path, nb, result.time, result.exc_string if result.err is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="notebooks executed at a time (default: the number of CPUs)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be a positive integer; got {args.jobs}")
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    root = Path.cwd()
    if not (root / "_config.yml").is_file() or not (root / "_toc.yml").is_file():
        parser.error(f"run it from the book's root (the folder of _config.yml and _toc.yml); "
                     f"{root} has no _config.yml or no _toc.yml")
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    execute = config.get("execute") or {}
    if execute.get("execute_notebooks") != "cache":
        print("execute_parallel: the book does not execute in cache mode; nothing to do")
        return 0
    cache = get_cache(str(root / execute.get("cache", "_build/.jupyter_cache")))
    todo = []
    for path in toc_notebooks(root):
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    if not todo:
        return 0
    print(f"execute_parallel: {len(todo)} notebook(s), {args.jobs} at a time", flush=True)
    no_progress_bars()  # inherited by every kernel
    start, failed = time.perf_counter(), []
    timeout, allow = execute.get("timeout", 30), bool(execute.get("allow_errors", False))
    with ProcessPoolExecutor(max_workers=min(args.jobs, len(todo))) as pool:
        futures = [pool.submit(_execute, str(p), timeout, allow) for p in todo]
        for future in futures:  # the cache database is written here only, in reading order
            path, nb, seconds, error = future.result()
            name = Path(path).relative_to(root)
            if error is not None:
                failed.append(name)
                print(f"execute_parallel: {name} failed; the build will run it again\n{error}",
                      file=sys.stderr, flush=True)
                continue
            record = cache.add_nb_to_project(path)
            cache.cache_notebook_bundle(
                CacheBundleIn(nb, record.uri, data={"execution_seconds": seconds}),
                check_validity=False, overwrite=True,
            )
            print(f"execute_parallel: {name} in {seconds:.1f} s", flush=True)
    print(f"execute_parallel: done in {time.perf_counter() - start:.1f} s"
          + (f", {len(failed)} failed" if failed else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
