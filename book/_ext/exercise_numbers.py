"""Number the exercises of each chapter 1, 2, 3... instead of across the whole book.

sphinx-exercise numbers exercises with Sphinx's ``numfig`` machinery. Without numbered
sections (Jupyter Book's table of contents is not numbered) Sphinx runs one counter over the
whole book, so the first exercise of chapter 03 came out as "Exercise 6". After Sphinx has
assigned its numbers, this extension renumbers the ``exercise`` entries of every page from 1
in their order on the page. Titles, solution headings ("Solution to Exercise 2") and
``{numref}`` references all read the same table, so they agree.

>>> book = {"book/01": {"exercise": {"a": (1,), "b": (2,)}, "figure": {"f": (1,)}},
...         "book/03": {"exercise": {"c": (4,), "d": (3,)}}}
>>> sorted(number_per_page(book))
['book/03']
>>> book["book/03"]["exercise"], book["book/01"]["figure"]
({'d': (1,), 'c': (2,)}, {'f': (1,)})
"""

from __future__ import annotations

FIGTYPE = "exercise"


def number_per_page(fignumbers: dict[str, dict[str, dict[str, tuple[int, ...]]]],
                    figtype: str = FIGTYPE) -> set[str]:
    """Renumber ``figtype`` per page, 1, 2, 3... in page order; return the pages changed.

    ``fignumbers`` is Sphinx's ``env.toc_fignumbers``: page → figure type → node id →
    number. Other figure types are left alone.
    """
    changed: set[str] = set()
    for docname, kinds in fignumbers.items():
        numbers = kinds.get(figtype)
        if not numbers:
            continue
        in_order = sorted(numbers, key=numbers.__getitem__)
        renumbered = {ident: (k,) for k, ident in enumerate(in_order, start=1)}
        if renumbered != numbers:
            kinds[figtype] = renumbered
            changed.add(docname)
    return changed


def _renumber(app, env) -> list[str]:  # pragma: no cover - exercised by every book build
    number_per_page(env.toc_fignumbers)
    return []  # the numbers of a page depend on that page alone: nothing else to re-read


def setup(app):  # pragma: no cover - exercised by every book build
    # Sphinx's toctree collector assigns the book-wide numbers at the default priority (500).
    app.connect("env-get-updated", _renumber, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
