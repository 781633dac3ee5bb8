"""Author–year labels for the references page, matching the author–year citations in the text.

pybtex's ``plain`` style numbers the entries ``[1]`` … ``[25]`` while the chapters cite
"Goyal et al., 2017". This extension registers the pybtex style ``authoryear``: ``plain``'s
formatting (titles in sentence case; names and acronyms that must keep their capitals are
braced in ``book/references.bib``), entries sorted by author name then year, and labels of the
form ``Goyal et al., 2017`` — one author by surname, two joined by "and", three or more as
"et al.", a braced organisation (``{Keras team}``) as written. Labels that would collide get
``a``, ``b``, … after the year, in the page's order. With ``bibtex_reference_style: label`` the
text shows these same labels, so a citation and its entry read alike.

>>> from pybtex.database import parse_string
>>> bib = parse_string('''
... @misc{a, author = {Goyal, Priya and Doll{\\'a}r, Piotr and He, Kaiming}, year = {2017}, title = {T}}
... @misc{b, author = {{Keras team}}, year = {2024}, title = {Model.fit}}
... @misc{c, author = {{Keras team}}, year = {2024}, title = {PR 19363}}
... @misc{d, author = {Smith, Samuel L. and Le, Quoc V.}, year = {2018}, title = {B}}
... ''', "bibtex")
>>> style = AuthorYearStyle()
>>> [e.label for e in style.format_entries(style.sort(bib.entries.values()))]
['Goyal et al., 2017', 'Keras team, 2024a', 'Keras team, 2024b', 'Smith and Le, 2018']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle


def _surname(person: Any) -> str:
    """A person's surname as shown, braces of protected names removed (``{Keras team}``)."""
    parts = person.rich_prelast_names + person.rich_last_names
    return " ".join(str(Text(p)) for p in parts) if parts else str(person)


def _authors(entry: Any) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    if not names:
        return entry.fields.get("key", entry.key)
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


class AuthorYearLabels(BaseLabelStyle):
    """``Surname, Year``; ``Surname and Surname, Year``; ``Surname et al., Year``."""

    def format_labels(self, sorted_entries: Iterable[Any]) -> Iterator[str]:
        entries = list(sorted_entries)
        bases = [f"{_authors(e)}, {e.fields.get('year', 'n.d.')}" for e in entries]
        counts = Counter(bases)
        seen: Counter[str] = Counter()
        for base in bases:
            if counts[base] == 1:
                yield base
            else:
                yield base + "abcdefghijklmnopqrstuvwxyz"[seen[base]]
                seen[base] += 1


class AuthorYearSorting(BaseSortingStyle):
    """By the label's author part (case-insensitive, braces ignored), then year, then title."""

    def sorting_key(self, entry: Any) -> tuple[str, str, str]:
        return (_authors(entry).casefold(), entry.fields.get("year", ""),
                entry.fields.get("title", "").casefold())


class AuthorYearStyle(PlainStyle):
    """``plain`` with author–year labels and sorting."""

    default_label_style = AuthorYearLabels
    default_sorting_style = AuthorYearSorting


def setup(app: Any) -> dict[str, Any]:
    """Register the pybtex style ``authoryear`` (``bibtex_default_style: authoryear``)."""
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle, force=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
