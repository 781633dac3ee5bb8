"""Leak scan: no solution and no hidden test of a master may reach students or the book.

Two checks, both needed:

1. **Marker structure** (:func:`validate_markers`). otter strips a solution only when its
   markers are exactly right. A misspelt ``# BEGN SOLUTION``, an ``# END SOLUTON``, a code cell
   inside a ``SOLUTION`` block with no in-cell marker at all, or a ``# SOLUTION`` line outside a
   ``SOLUTION`` block are all copied to the student notebook *without a warning*. Likewise a
   test whose first line says ``# HIDEN`` becomes a public test. So the masters themselves are
   checked first.
2. **Content** (:func:`scan_paths`). Every solution line and every line of hidden-test code is
   extracted from the masters (leniently: misspelt markers count as markers here) and searched
   for, whitespace-normalised, in the released student versions and in the built HTML book.
   Lines that any master shows students anyway (prompts, starter code, public tests), imports,
   comments, trivially short lines (``pass``, ``...``, closing brackets) and lines that carry no
   answer (``for lr in lrs:``, ``return batches``; in hidden tests everything but the
   assertions, since their set-up code is ordinary library use) are not secrets.

>>> from batchwise_instructor.masters import code_cell, new_notebook, raw_cell
>>> nb = new_notebook([
...     raw_cell("# BEGIN QUESTION\\nname: q1\\npoints: 1"), raw_cell("# BEGIN SOLUTION"),
...     code_cell("# BEGN SOLUTION\\nanswer = 6 * 7\\n# END SOLUTION"),
...     raw_cell("# END SOLUTION"), raw_cell("# END QUESTION")])
>>> for p in validate_markers(nb):
...     print(p.cell, p.line, p.message[:45])
3 1 misspelt or malformed marker '# BEGN SOLUTION
3 3 '# END SOLUTION' without '# BEGIN SOLUTION' b
>>> [s.text for s in extract_secrets(nb)]
['answer = 6 * 7']
"""

from __future__ import annotations

import ast
import html
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import yaml

from .masters import (
    BLOCK_MARKER,
    CONFIG_MARKER,
    HIDDEN_WORD,
    cell_source,
    find_masters,
    load_notebook,
)

__all__ = [
    "LeakReport",
    "Leak",
    "MarkerProblem",
    "Secret",
    "check_leaks",
    "extract_secrets",
    "is_generic",
    "is_trivial",
    "normalise",
    "scan_paths",
    "validate_markers",
]

#: Normalised lines shorter than this are too common to call a leak (``x = 1``, ``pass``).
MIN_SECRET_CHARS = 8
_TRIVIAL = {"pass", "...", "return", "break", "continue", "else:", "try:", "finally:", "None"}
_TEXT_SUFFIXES = {".ipynb", ".html", ".htm", ".py", ".md", ".txt", ".json", ".js", ".tex", ".rst"}

# In-cell solution markers exactly as otter 7 (otter/assign/solutions.py) strips them.
_BEGIN_SOLUTION = re.compile(r"\s*# BEGIN SOLUTION( NO PROMPT)?\s*$")
_END_SOLUTION = re.compile(r"\s*# END SOLUTION\s*$")
_SOLUTION_SUFFIX = re.compile(r"# ?SOLUTION( NO PROMPT)?\s*$")
_OTHER_INCELL = re.compile(r"#\s*(BEGIN|END)\s*(PROMPT|IGNORE)\s*$|#\s*(SEED|IGNORE)\s*$")

_BLOCK_WORDS = ("QUESTION", "PROMPT", "SOLUTION", "TESTS")


@dataclass(frozen=True)
class MarkerProblem:
    """A marker in a master that otter would mis-read (and so leak, or fail on).

    Attributes:
        master: the master notebook's path.
        cell: 1-based cell number (as Jupyter shows it).
        line: 1-based line within the cell, or 0 for the whole cell.
        message: what is wrong and what otter would do with it.
    """

    master: Path
    cell: int
    line: int
    message: str

    def __str__(self) -> str:
        if not self.cell:
            return f"{self.master}: {self.message}"
        where = f"cell {self.cell}" + (f", line {self.line}" if self.line else "")
        return f"{self.master}: {where}: {self.message}"


@dataclass(frozen=True)
class Secret:
    """One normalised line of a solution or of a hidden test.

    >>> Secret(Path("m.ipynb"), 3, "solution", "answer = 6 * 7").text
    'answer = 6 * 7'
    """

    master: Path
    cell: int
    kind: str
    text: str


@dataclass(frozen=True)
class Leak:
    """A secret found where students or readers can see it."""

    secret: Secret
    path: Path
    location: str

    def __str__(self) -> str:
        s = self.secret
        return (
            f"{self.path} ({self.location}): {s.kind} line from {s.master.name} "
            f"cell {s.cell}: {s.text!r}"
        )


@dataclass
class LeakReport:
    """Result of a leak scan: marker problems, leaks found, and what was scanned.

    >>> LeakReport().ok
    True
    """

    problems: list[MarkerProblem] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)
    secrets: int = 0
    files_scanned: int = 0

    @property
    def ok(self) -> bool:
        """True when there is neither a marker problem nor a leak."""
        return not self.problems and not self.leaks

    def summary(self) -> str:
        """A human-readable report, one finding per line."""
        lines = [str(p) for p in self.problems] + [f"LEAK {leak}" for leak in self.leaks]
        verdict = "PASS" if self.ok else "FAIL"
        lines.append(
            f"leak scan {verdict}: {len(self.problems)} marker problem(s), {len(self.leaks)} "
            f"leak(s); {self.secrets} secret line(s) searched in {self.files_scanned} file(s)"
        )
        return "\n".join(lines)


def normalise(line: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends.

    >>> normalise("  total   =  sum( x )  ")
    'total = sum( x )'
    """
    return " ".join(line.split())


def is_trivial(line: str) -> bool:
    """True for lines too short or too generic to count as a leak.

    >>> is_trivial("pass"), is_trivial("])"), is_trivial("steps = math.ceil(n / b)")
    (True, True, False)
    """
    text = normalise(line)
    if len(text) < MIN_SECRET_CHARS or text in _TRIVIAL:
        return True
    return not re.search(r"[A-Za-z0-9]", text)


def _similar(word: str, target: str, cutoff: float = 0.75) -> bool:
    return SequenceMatcher(None, word, target).ratio() >= cutoff


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", text.upper())


def _block_like(text: str) -> tuple[str, str] | None:
    """If ``text`` (after a ``#``) reads like ``BEGIN/END <block>``, return (edge, block)."""
    words = _words(text)
    if len(words) < 2:
        return None
    edge = "BEGIN" if _similar(words[0], "BEGIN") else "END" if _similar(words[0], "END") else ""
    if not edge:
        return None
    for block in _BLOCK_WORDS:
        if _similar(words[1], block):
            return edge, block
    return None


def _solution_word_only(text: str) -> bool:
    """True if ``text`` is a lone word close to SOLUTION (optionally + NO PROMPT)."""
    words = _words(text)
    if words[-2:] == ["NO", "PROMPT"]:
        words = words[:-2]
    return len(words) == 1 and _similar(words[0], "SOLUTION")


def _hidden_like(first_line: str) -> bool:
    stripped = first_line.strip()
    if not stripped.startswith("#"):
        return False
    return any(_similar(w, "HIDDEN", 0.7) for w in _words(stripped))


def _comment_fragments(line: str) -> Iterator[str]:
    """Each piece of ``line`` from a ``#`` to the end (strings are not parsed: good enough)."""
    for match in re.finditer("#", line):
        yield line[match.start() :]


@dataclass
class _Parsed:
    problems: list[MarkerProblem]
    secret_lines: list[tuple[int, str, str]]  # (cell, kind, raw line)
    public_lines: list[str]


def _parse(nb: dict[str, Any], master: Path) -> _Parsed:
    """Walk a master once: strict problems for :func:`validate_markers`, lenient secrets."""
    problems: list[MarkerProblem] = []
    secrets: list[tuple[int, str, str]] = []
    public: list[str] = []
    stack: list[str] = []  # strict: what otter would see
    lenient_block: str | None = None  # lenient: innermost of SOLUTION / TESTS
    strip_all = False

    def problem(cell: int, line: int, message: str) -> None:
        problems.append(MarkerProblem(master, cell, line, message))

    cells = nb.get("cells", [])
    for index, cell in enumerate(cells, start=1):
        kind = cell.get("cell_type")
        source = cell_source(cell)
        lines = source.split("\n")
        first = lines[0]

        if kind == "raw":
            if CONFIG_MARKER.match(first):
                try:
                    config = yaml.safe_load("\n".join(lines[1:])) or {}
                except yaml.YAMLError as exc:
                    problem(index, 0, f"ASSIGNMENT CONFIG is not valid YAML: {exc}")
                    config = {}
                strip_all = isinstance(config, dict) and bool(
                    config.get("strip_solutions_from_all_cells")
                )
                public.extend(lines)
                continue
            strict = BLOCK_MARKER.match(first)
            fuzzy = _block_like(first[1:]) if first.lstrip().startswith("#") else None
            if strict:
                edge, block = strict.group(1).upper(), strict.group(2).upper()
                _check_block(stack, edge, block, index, problem)
            elif fuzzy:
                edge, block = fuzzy
                problem(
                    index,
                    1,
                    f"misspelt or malformed marker {first.strip()!r}: otter does not read it as "
                    f"'# {edge} {block}' and passes the cell and what it encloses to students",
                )
            else:
                public.extend(lines)
                continue
            if block in ("SOLUTION", "TESTS"):
                lenient_block = block if edge == "BEGIN" else None
            elif block == "QUESTION":
                lenient_block = None
                if edge == "BEGIN":
                    public.extend(lines[1:])
            continue

        if kind == "markdown":
            if first.lstrip().startswith("#") and _block_like(first.lstrip().lstrip("#")):
                problem(
                    index, 1, f"marker {first.strip()!r} is in a markdown cell: otter only reads "
                    "markers in raw cells"
                )
            if lenient_block == "SOLUTION":
                secrets.extend((index, "solution", line) for line in lines)
            else:
                public.extend(lines)
            continue

        if kind != "code":
            continue

        in_solution_block = bool(stack) and stack[-1] == "SOLUTION"
        in_tests_block = bool(stack) and stack[-1] == "TESTS"
        if lenient_block == "TESTS" or in_tests_block:
            _test_cell(lines, index, problem, secrets, public)
            continue
        _code_cell(
            lines,
            index,
            problem,
            secrets,
            public,
            strip=in_solution_block or strip_all,
            lenient_solution=lenient_block == "SOLUTION" or in_solution_block,
        )

    for block in reversed(stack):
        problem(len(cells), 0, f"'# BEGIN {block}' is never closed by '# END {block}'")
    return _Parsed(problems, secrets, public)


def _check_block(stack: list[str], edge: str, block: str, index: int, problem: Any) -> None:
    """Mirror otter's block grammar: questions at top level, the rest one level inside."""
    if edge == "BEGIN":
        if block == "QUESTION" and stack:
            problem(index, 1, "'# BEGIN QUESTION' inside another question")
        elif block != "QUESTION" and not stack:
            problem(index, 1, f"'# BEGIN {block}' outside a question")
        elif block != "QUESTION" and len(stack) > 1:
            problem(index, 1, f"'# BEGIN {block}' inside a {stack[-1]} block")
        stack.append(block)
        return
    if stack and stack[-1] == block:
        stack.pop()
    elif block in stack:
        problem(index, 1, f"'# END {block}' while '# BEGIN {stack[-1]}' is still open")
        while stack and stack.pop() != block:
            pass
    else:
        problem(index, 1, f"'# END {block}' without a '# BEGIN {block}' before it")


def _test_cell(
    lines: list[str], index: int, problem: Any, secrets: list[tuple[int, str, str]],
    public: list[str],
) -> None:
    """A test cell: hidden when its first line is a comment containing the word ``hidden``."""
    first = lines[0]
    strict_hidden = first.lstrip().startswith("#") and bool(HIDDEN_WORD.search(first))
    lenient_hidden = strict_hidden or _hidden_like(first)
    if lenient_hidden and not strict_hidden:
        problem(
            index, 1, f"{first.strip()!r} is not otter's '# HIDDEN' marker: this test would be "
            "public"
        )
    for number, line in enumerate(lines[1:], start=2):
        if line.lstrip().startswith("#") and _hidden_like(line):
            problem(
                index, number, "otter reads '# HIDDEN' only on a test cell's first line: this "
                "test would be public"
            )
    body = lines[1:] if lenient_hidden else lines
    target = secrets if lenient_hidden else None
    unparsed = _unparsed_lines("\n".join(body))
    for line in body + unparsed:
        if target is not None:
            target.append((index, "hidden test", line))
        else:
            public.append(line)


def _unparsed_lines(code: str) -> list[str]:
    """Test code as otter stores it (``ast.unparse``), so reformatted copies are found too."""
    try:
        return ast.unparse(ast.parse(code)).split("\n")
    except SyntaxError:
        return []


def _code_cell(
    lines: list[str],
    index: int,
    problem: Any,
    secrets: list[tuple[int, str, str]],
    public: list[str],
    *,
    strip: bool,
    lenient_solution: bool,
) -> None:
    """A code cell: check in-cell solution markers and split secret from public lines.

    ``strip`` says whether otter will strip solutions from this cell (it is inside a
    ``SOLUTION`` raw-cell block, or the assignment strips all cells); ``lenient_solution``
    whether it sits in something that reads like a ``SOLUTION`` block, misspelt or not.
    """
    kinds: list[str] = []  # per line: begin, end, suffix, plain
    for number, line in enumerate(lines, start=1):
        fragments = [f[1:] for f in _comment_fragments(line)]
        fuzzy_edge = next(
            (b[0] for b in map(_block_like, fragments) if b and b[1] == "SOLUTION"), None
        )
        fuzzy_suffix = any(_solution_word_only(f) for f in fragments)
        if _BEGIN_SOLUTION.match(line):
            kind = "begin"
        elif _END_SOLUTION.match(line):
            kind = "end"
        elif _SOLUTION_SUFFIX.search(line):
            kind = "suffix"
        else:
            kind = "plain"
        exact = kind != "plain" or bool(_OTHER_INCELL.search(line))
        if (fuzzy_edge or fuzzy_suffix) and not exact:
            problem(
                index, number, f"misspelt or malformed marker {line.strip()!r}: otter leaves "
                "this line and the solution it should hide in the student notebook"
            )
        if kind != "plain" and not strip:
            problem(
                index, number, "solution marker outside a '# BEGIN SOLUTION' raw-cell block: "
                "otter does not strip it, so students would see the solution"
            )
        # Lenient reading: a misspelt marker still marks what it was meant to hide.
        if kind == "plain" and fuzzy_edge:
            kind = "lenient-" + fuzzy_edge.lower()
        elif kind == "plain" and fuzzy_suffix:
            kind = "lenient-suffix"
        kinds.append(kind)

    if strip:
        open_at = 0
        for number, kind in enumerate(kinds, start=1):
            if kind == "begin":
                if open_at:
                    problem(index, number, f"nested '# BEGIN SOLUTION' (line {open_at} is open)")
                open_at = number
            elif kind == "end":
                if not open_at:
                    problem(index, number, "'# END SOLUTION' without '# BEGIN SOLUTION' before it")
                open_at = 0
        if open_at:
            problem(index, open_at, "'# BEGIN SOLUTION' without '# END SOLUTION' in the same cell")
        if lenient_solution and not any(k in ("begin", "end", "suffix") for k in kinds):
            problem(
                index, 0, "code cell inside a SOLUTION block has no '# SOLUTION' or '# BEGIN "
                "SOLUTION' marker: otter copies it to students unchanged"
            )

    if lenient_solution and all(k == "plain" for k in kinds):
        secrets.extend((index, "solution", line) for line in lines)
        return
    inside = False
    for line, kind in zip(lines, kinds, strict=True):
        if kind in ("begin", "lenient-begin"):
            inside = True
        elif kind in ("end", "lenient-end"):
            inside = False
        elif inside:
            secrets.append((index, "solution", line))
        elif kind in ("suffix", "lenient-suffix"):
            secrets.append((index, "solution", re.sub(r"#.*$", "", line)))
        else:
            public.append(line)


def validate_markers(nb: dict[str, Any], master: str | Path = "<notebook>") -> list[MarkerProblem]:
    """Every marker problem in a master notebook dict (empty list when all is well).

    >>> from batchwise_instructor.masters import code_cell, new_notebook, raw_cell
    >>> ok = new_notebook([raw_cell("# BEGIN QUESTION\\nname: q1"), raw_cell("# BEGIN SOLUTION"),
    ...     code_cell("x = 6 * 7  # SOLUTION"), raw_cell("# END SOLUTION"),
    ...     raw_cell("# END QUESTION")])
    >>> validate_markers(ok)
    []
    """
    return _parse(nb, Path(master)).problems


_IMPORT = re.compile(r"(from\s+[\w.]+\s+)?import\s+[\w., ()]+(\s+as\s+\w+)?$")
_HEADER = re.compile(r"(if|elif|else|for|while|try|except|finally|with|def|class)\b.*:$")
_BARE = re.compile(r"(return\s+)?[\w.]+(\(\))?(,\s*[\w.]+)*$")
_ASSERTION = re.compile(r"assert\b|raise\s+AssertionError\b")


def is_generic(text: str, kind: str) -> bool:
    """True for lines that carry no answer: headers, bare names, imports; for hidden tests,
    everything but the assertions (their set-up code is ordinary library use).

    >>> is_generic('for lr in lrs:', "solution"), is_generic("return best_lr, best_steps", "solution")
    (True, True)
    >>> is_generic("return total * (n // b)", "solution")
    False
    >>> is_generic("rng = np.random.default_rng(0)", "hidden test")
    True
    >>> is_generic("assert answer == 42", "hidden test")
    False
    """
    text = normalise(text)
    if _IMPORT.fullmatch(text) or _HEADER.fullmatch(text) or _BARE.fullmatch(text):
        return True
    return kind == "hidden test" and not _ASSERTION.match(text)


def _secrets_from(parsed: _Parsed, master: Path, public_text: str) -> list[Secret]:
    seen: set[str] = set()
    out: list[Secret] = []
    for cell, kind, line in parsed.secret_lines:
        text = normalise(line)
        if text in seen or is_trivial(text) or text.startswith("#") or is_generic(text, kind):
            continue
        seen.add(text)
        if _find(text, public_text) != -1:
            continue  # also shown to students on purpose (in a prompt, a public test, ...)
        out.append(Secret(master, cell, kind, text))
    return out


def extract_secrets(
    nb: dict[str, Any], master: str | Path = "<notebook>", *, public: Iterable[str] = ()
) -> list[Secret]:
    """The solution and hidden-test lines of a master, normalised.

    Lines that also occur in the master's public parts (prompts, starter code, public tests)
    or in ``public`` (e.g. other masters' public parts), comments, trivially short lines and
    generic ones (:func:`is_generic`) are left out: they are not secrets.

    >>> from batchwise_instructor.masters import code_cell, new_notebook, raw_cell
    >>> nb = new_notebook([raw_cell("# BEGIN QUESTION\\nname: q1"), raw_cell("# BEGIN TESTS"),
    ...     code_cell("#  HIDDEN\\nimport math\\nassert   answer == 42"), raw_cell("# END TESTS"),
    ...     raw_cell("# END QUESTION")])
    >>> [(s.kind, s.text) for s in extract_secrets(nb)]
    [('hidden test', 'assert answer == 42')]
    """
    parsed = _parse(nb, Path(master))
    public_text = "\n".join(normalise(line) for line in [*parsed.public_lines, *public])
    return _secrets_from(parsed, Path(master), public_text)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            yield "".join(value)
        else:
            for item in value:
                yield from _strings(item)


def _strip_prompts(text: str) -> str:
    return "\n".join(re.sub(r"^\s*(>>>|\.\.\.)\s", "", line) for line in text.split("\n"))


def _chunks(path: Path) -> list[tuple[str, str]]:
    """A file's searchable text as (location, text) pieces; [] for binary or unknown files."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []
    suffix = path.suffix.lower()
    if suffix == ".ipynb":
        try:
            nb = json.loads(raw)
        except json.JSONDecodeError:
            return [("file", raw)]
        chunks = []
        for i, cell in enumerate(nb.get("cells", []) if isinstance(nb, dict) else [], start=1):
            chunks.append((f"cell {i}", "\n".join(_strings(cell))))
        meta = nb.get("metadata", {}) if isinstance(nb, dict) else {}
        chunks.append(("metadata", _strip_prompts("\n".join(_strings(meta)))))
        return chunks
    if suffix in (".html", ".htm"):
        text = re.sub(r"<[^>]*>", "", raw)
        return [("file", html.unescape(text))]
    if suffix == ".json":
        try:
            return [("file", _strip_prompts("\n".join(_strings(json.loads(raw)))))]
        except json.JSONDecodeError:
            return [("file", raw)]
    return [("file", _strip_prompts(raw))]


_WORD = re.compile(r"\w")


def _find(needle: str, haystack: str) -> int:
    """Index of ``needle`` in ``haystack`` on word boundaries, or -1."""
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        before_ok = start == 0 or not (_WORD.match(needle[0]) and _WORD.match(haystack[start - 1]))
        after_ok = end == len(haystack) or not (
            _WORD.match(needle[-1]) and _WORD.match(haystack[end])
        )
        if before_ok and after_ok:
            return start
        start = haystack.find(needle, start + 1)
    return -1


def _text_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in _TEXT_SUFFIXES:
            if ".ipynb_checkpoints" not in path.parts:
                yield path


def scan_paths(secrets: Iterable[Secret], roots: Iterable[str | Path]) -> tuple[list[Leak], int]:
    """Search every text file under ``roots`` for the secrets; return (leaks, files scanned).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "page.html").write_text("<span>answer</span> = <b>6 * 7</b>")
    ...     leaks, n = scan_paths([Secret(Path("m.ipynb"), 3, "solution", "answer = 6 * 7")],
    ...                           [tmp])
    >>> n, [leak.location for leak in leaks]
    (1, ['line 1'])
    """
    secrets = list(secrets)
    leaks: list[Leak] = []
    n_files = 0
    for root in roots:
        for path in _text_files(Path(root)):
            n_files += 1
            for location, text in _chunks(path):
                lines = [normalise(line) for line in text.split("\n")]
                haystack = "\n".join(lines)
                for secret in secrets:
                    pos = _find(secret.text, haystack)
                    if pos == -1:
                        continue
                    where = location
                    if location == "file":
                        where = f"line {haystack.count(chr(10), 0, pos) + 1}"
                    leaks.append(Leak(secret, path, where))
    return leaks, n_files


def check_leaks(
    masters_dir: str | Path,
    release_dir: str | Path | None,
    html_dir: str | Path | None = None,
) -> LeakReport:
    """Validate every master's markers and search the student release and the HTML book.

    Args:
        masters_dir: folder holding the master notebooks.
        release_dir: folder that ``release`` wrote (``<name>/student/`` per assignment); every
            master must have its student notebook there. ``None`` checks the masters only.
        html_dir: the built book (``_build/html``); skipped when ``None`` or absent.

    Returns:
        A :class:`LeakReport`; ``report.ok`` is False on any marker problem or leak.

    >>> check_leaks("no/such/masters", None)
    Traceback (most recent call last):
    ...
    ValueError: masters_dir must be an existing folder; got 'no/such/masters'
    """
    masters = find_masters(masters_dir)
    if not masters:
        raise ValueError(
            f"masters_dir must contain master notebooks (*.ipynb); got {str(masters_dir)!r}"
        )
    report = LeakReport()
    parsed = {}
    for master in masters:
        parsed[master] = _parse(load_notebook(master), master)
        report.problems.extend(parsed[master].problems)
    # What any master shows students is public for all of them (shared imports, set-up code).
    public_text = "\n".join(
        normalise(line) for p in parsed.values() for line in p.public_lines
    )
    secrets = [s for master, p in parsed.items() for s in _secrets_from(p, master, public_text)]
    report.secrets = len(secrets)

    roots: list[Path] = []
    if release_dir is not None:
        release_dir = Path(release_dir)
        if not release_dir.is_dir():
            raise ValueError(
                f"release_dir must be a folder written by 'release'; got {str(release_dir)!r} "
                "(run: python -m batchwise_instructor release)"
            )
        for master in masters:
            student_dir = release_dir / master.stem / "student"
            if not (student_dir / master.name).is_file():
                missing = student_dir / master.name
                report.problems.append(
                    MarkerProblem(master, 0, 0, f"no student notebook at {missing}: release first")
                )
            elif student_dir.is_dir():
                roots.append(student_dir)
    if html_dir is not None and Path(html_dir).is_dir():
        roots.append(Path(html_dir))
    report.leaks, report.files_scanned = scan_paths(secrets, roots)
    return report

