"""Helpers for the browser test: the table of contents, a static server and one page's inspection.

Everything that needs no browser lives here as plain functions (reading ``_toc.yml`` and
``_config.yml``, spotting widget notebooks, parsing element ids from built HTML, serving the built
book over HTTP); :func:`inspect_page` drives one Playwright page and :func:`page_problems` turns what
it saw into a list of readable problems, so a test asserts that list is empty.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = ROOT / "_build" / "html"
SCREENSHOT_DIR = ROOT / "_build" / "screenshots"

CHROMIUM = Path("/usr/bin/chromium")
# This machine (and CI) has no internet: without the background-networking flags Chromium keeps
# trying to reach Google services and its refused connections slow every launch.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Page errors raised by the toolchain, not by the book or `companion`, matched exactly.
# Sphinx 7.4's ``Sphinx.add_js_file(None, body=...)`` gives the HTML builder the inline script
# with filename ``None`` while ``StandaloneHTMLBuilder.prepare_writing`` re-adds it from the
# registry with filename ``''``; the two differ, so sphinx-thebe's inline
# ``const THEBE_JS_URL = ...`` is written twice into every page and the second copy throws.
# The first copy already defined the constants, so thebe still works. Fixed upstream in
# sphinx-doc/sphinx#13402 (Sphinx 8.2), which jupyter-book 1 cannot use.
KNOWN_TOOLCHAIN_PAGE_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)

SOURCE_SUFFIXES = (".ipynb", ".md", ".rst")
# A notebook "uses companion.display.widgets" when a code cell imports from or calls into it.
WIDGETS_USE = re.compile(
    r"\bcompanion\.display\.widgets\b|\bfrom\s+companion\.display\s+import\s+(?:\([^)]*|[^\n]*)\bwidgets\b"
)


@dataclass(frozen=True)
class TocPage:
    """One ``file:`` entry of ``_toc.yml`` and where its source and HTML live.

    Example:
        >>> page = TocPage("book/intro", None, Path("book/intro.md"))
        >>> page.html_path, page.name, page.is_notebook
        ('book/intro.html', 'intro', False)
    """

    docname: str
    toc_title: str | None
    source: Path | None

    @property
    def html_path(self) -> str:
        """The page's path under ``_build/html``."""
        return f"{self.docname}.html"

    @property
    def name(self) -> str:
        """The page's file name without folder or suffix (``book/01_vocabulary`` -> ``01_vocabulary``)."""
        return self.docname.rsplit("/", 1)[-1]

    @property
    def is_notebook(self) -> bool:
        """True when the page is built from a ``.ipynb`` file."""
        return self.source is not None and self.source.suffix == ".ipynb"


def _docname(entry: str) -> str:
    for suffix in SOURCE_SUFFIXES:
        if entry.endswith(suffix):
            return entry[: -len(suffix)]
    return entry


def _source(root: Path, docname: str) -> Path | None:
    for suffix in SOURCE_SUFFIXES:
        candidate = root / f"{docname}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def toc_pages(root: Path = ROOT) -> list[TocPage]:
    """Every page of ``_toc.yml`` in reading order (the root first), with its source file.

    Args:
        root: The book's root folder, holding ``_toc.yml``.

    Returns:
        One :class:`TocPage` per ``root``/``file`` entry; ``url`` and ``glob`` entries are skipped.

    Example:
        >>> pages = toc_pages()
        >>> pages[0].docname == yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
        True
    """
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    entries: list[tuple[str, str | None]] = [(toc["root"], None)]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                entries.append((str(node["file"]), node.get("title")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in toc.items() if key != "root"})
    pages: list[TocPage] = []
    for entry, title in entries:
        docname = _docname(entry)
        if all(p.docname != docname for p in pages):
            pages.append(TocPage(docname, title, _source(root, docname)))
    return pages


def screenshot_names(pages: list[TocPage]) -> dict[str, str]:
    """A file name for each page's screenshot: its bare name, or its docname where names clash.

    Example:
        >>> pages = [TocPage("book/a", None, None), TocPage("x/a", None, None),
        ...          TocPage("book/b", None, None)]
        >>> screenshot_names(pages)
        {'book/a': 'book__a', 'x/a': 'x__a', 'book/b': 'b'}
    """
    counts: dict[str, int] = {}
    for page in pages:
        counts[page.name] = counts.get(page.name, 0) + 1
    return {p.docname: p.name if counts[p.name] == 1 else p.docname.replace("/", "__")
            for p in pages}


def uses_widgets(notebook: Path) -> bool:
    """True when a code cell of ``notebook`` imports or calls something from ``companion.display.widgets``.

    Example:
        >>> import tempfile
        >>> cell = {"cell_type": "code", "source": ["from companion.display.widgets import explorer\\n"]}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = Path(tmp) / "n.ipynb"
        ...     _ = path.write_text(json.dumps({"cells": [cell]}))
        ...     uses_widgets(path)
        True
    """
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    return any(
        cell.get("cell_type") == "code" and WIDGETS_USE.search(
            "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"])
        for cell in cells
    )


@dataclass(frozen=True)
class LaunchTargets:
    """Where a notebook page's Binder and Colab buttons must point, built from ``_config.yml``."""

    binder: str
    colab: str


def expected_launch_urls(docname: str, root: Path = ROOT) -> LaunchTargets:
    """The Binder and Colab URLs jupyter-book 1 (sphinx-book-theme 1.x) writes for a notebook page.

    The repository URL, branch, book path, interface and hubs come from ``_config.yml``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "_config.yml").write_text(
        ...         "repository: {url: 'https://github.com/org/repo', branch: main}\\n"
        ...         "launch_buttons: {notebook_interface: jupyterlab,\\n"
        ...         "  binderhub_url: 'https://mybinder.org',\\n"
        ...         "  colab_url: 'https://colab.research.google.com'}\\n")
        ...     urls = expected_launch_urls("book/01_vocabulary", Path(tmp))
        >>> urls.binder
        'https://mybinder.org/v2/gh/org/repo/main?urlpath=lab/tree/book/01_vocabulary.ipynb'
        >>> urls.colab
        'https://colab.research.google.com/github/org/repo/blob/main/book/01_vocabulary.ipynb'
    """
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    parts = urlsplit(repo["url"])
    if parts.netloc != "github.com":
        raise ValueError(f"repository.url must be a https://github.com/ URL; got {repo['url']!r}")
    org, name = parts.path.strip("/").split("/")[:2]
    branch = repo.get("branch", "main")
    book_path = (repo.get("path_to_book") or "").strip("/")
    path = f"{book_path}/{docname}.ipynb" if book_path else f"{docname}.ipynb"
    launch = config.get("launch_buttons", {})
    interface = {"classic": "tree", "jupyterlab": "lab/tree"}[
        launch.get("notebook_interface", "classic")]
    binderhub = launch["binderhub_url"].strip("/")
    colab = launch["colab_url"].strip("/")
    return LaunchTargets(
        binder=f"{binderhub}/v2/gh/{org}/{name}/{branch}?urlpath={interface}/{path}",
        colab=f"{colab}/github/{org}/{name}/blob/{branch}/{path}",
    )


class _IdParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            # A fragment may name an element's id, or the name of an <a> (HTML's legacy anchor).
            if value is not None and (key == "id" or (tag == "a" and key == "name")):
                self.ids.add(value)


@functools.cache
def element_ids(html_file: Path) -> frozenset[str]:
    """The ids (and ``<a name>`` anchors) in a built HTML file, for checking ``#fragment`` links.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     page = Path(tmp) / "p.html"
        ...     _ = page.write_text('<section id="s"><a name="old"></a><p id="q">x</p></section>')
        ...     sorted(element_ids(page))
        ['old', 'q', 's']
    """
    parser = _IdParser()
    parser.feed(html_file.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 at a free port, in a background thread.

    Yields:
        The base URL, ending with ``/``.

    Example:
        >>> import tempfile, urllib.request
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "a.txt").write_text("hi")
        ...     with serve(Path(tmp)) as base:
        ...         urllib.request.urlopen(base + "a.txt").read()
        b'hi'
    """
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def is_external(url: str, base: str) -> bool:
    """True for a network URL on another host than the book's server (``data:`` etc. are local).

    Example:
        >>> base = "http://127.0.0.1:8000/"
        >>> [is_external(u, base) for u in
        ...  ("https://cdn.jsdelivr.net/x.js", base + "a.html", "data:image/png;base64,AA")]
        [True, False, False]
    """
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != urlsplit(base).netloc


# Run in the page once it has loaded: wait for every image to settle, then report what a reader
# would see. Headerlink "#" anchors are dropped from heading text.
_COLLECT_JS = """
async () => {
  const settle = (img) => img.complete ? null : new Promise((done) => {
    img.addEventListener("load", done, {once: true});
    img.addEventListener("error", done, {once: true});
  });
  const images = Array.from(document.images);
  images.forEach((img) => { img.loading = "eager"; });
  await Promise.race([Promise.all(images.map(settle)),
                      new Promise((done) => setTimeout(done, 10000))]);
  // MathJax typesets after the "load" event; its startup promise settles when the first pass ends.
  const mathjax = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
  if (mathjax) {
    await Promise.race([mathjax.catch(() => null),
                        new Promise((done) => setTimeout(done, 10000))]);
  }
  const text = (el) => {
    if (!el) return null;
    const copy = el.cloneNode(true);
    copy.querySelectorAll(".headerlink").forEach((a) => a.remove());
    return copy.textContent.replace(/\\s+/g, " ").trim();
  };
  const main = document.querySelector("main#main-content") || document.body;
  const article = main.querySelector("article") || main;
  // The prose a reader sees: the article's text without code blocks and without what MathJax
  // rendered (its assistive MathML repeats the formula).
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, mjx-container, script, style, .headerlink")
    .forEach((el) => el.remove());
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  return {
    prose: prose.textContent,
    math: Array.from(article.querySelectorAll(".math")).map((el) => ({
      typeset: el.querySelector("mjx-container") !== null,
      text: el.textContent.slice(0, 80),
    })),
    mathjaxScripts: Array.from(document.querySelectorAll("script[src]"))
      .map((el) => el.src).filter((src) => /mathjax/i.test(src)),
    outputs: Array.from(article.querySelectorAll(".cell_output")).map((el) => ({
      text: el.innerText.trim().length,
      media: el.querySelectorAll("img, svg, table, canvas, iframe, video").length,
      widgetViews: el.querySelectorAll(
        'script[type="application/vnd.jupyter.widget-view+json"], .jupyter-widgets').length,
      height: el.getBoundingClientRect().height,
    })),
    h1: text(main.querySelector("article h1") || main.querySelector("h1")),
    title: document.title,
    nav: Array.from(document.querySelectorAll("nav.bd-docs-nav a[href]"))
      .map((a) => [a.href, text(a)]),
    images: images.map((img) => ({
      src: img.currentSrc || img.src,
      width: img.naturalWidth,
      shownWidth: img.getBoundingClientRect().width,
      shown: visible(img),
      complete: img.complete,
      inArticle: img.closest("article") !== null,
    })),
    links: Array.from(new Set(Array.from(document.querySelectorAll("a[href]"))
      .map((a) => a.href))),
    ids: Array.from(document.querySelectorAll("[id]")).map((el) => el.id)
      .concat(Array.from(document.querySelectorAll("a[name]")).map((a) => a.name)),
  };
}
"""


@dataclass
class PageReport:
    """What a browser saw on one page: errors, title, images, links, and failed requests."""

    url: str
    h1: str | None = None
    title: str = ""
    nav: list[tuple[str, str]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    prose: str = ""
    math: list[dict[str, Any]] = field(default_factory=list)
    mathjax_scripts: list[str] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)


def inspect_page(context: Any, url: str, base: str, screenshot: Path | None = None) -> PageReport:
    """Open ``url`` in a new page of ``context`` and record everything :func:`page_problems` checks.

    The context must already abort requests to external hosts (see the test's ``context``
    fixture). Console errors whose source is an external host are the ``net::ERR_FAILED`` lines of
    those aborted requests and are kept in ``report.ignored``; so are the page errors listed in
    :data:`KNOWN_TOOLCHAIN_PAGE_ERRORS`.

    Args:
        context: A Playwright ``BrowserContext``.
        url: The page to open.
        base: The book server's base URL (what counts as "our own" host).
        screenshot: Where to save a full-page PNG, if given.

    Returns:
        The :class:`PageReport`.
    """
    report = PageReport(url=url)
    page = context.new_page()

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        source = (message.location or {}).get("url", "")
        line = f"{message.text} (at {source or 'unknown source'})"
        (report.ignored if is_external(source, base) else report.console_errors).append(line)

    def on_page_error(error: Any) -> None:
        text = str(getattr(error, "message", error))
        known = any(k in text for k in KNOWN_TOOLCHAIN_PAGE_ERRORS)
        (report.ignored if known else report.page_errors).append(text)

    def on_response(response: Any) -> None:
        if response.status >= 400 and not is_external(response.url, base):
            report.failed_requests.append(f"HTTP {response.status} for {response.url}")

    def on_request_failed(request: Any) -> None:
        if is_external(request.url, base):
            report.blocked.append(request.url)
        else:
            report.failed_requests.append(f"{request.failure} for {request.url}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("response", on_response)
    page.on("requestfailed", on_request_failed)
    try:
        response = page.goto(url, wait_until="load")
        if response is not None and response.status >= 400:
            report.failed_requests.append(f"HTTP {response.status} for {url}")
        # "load" already waits for every script (async and defer ones too), stylesheet and image
        # the HTML names, so the theme's setup has run and its errors have been reported.
        seen = page.evaluate(_COLLECT_JS)
        report.h1 = seen["h1"]
        report.title = seen["title"]
        report.nav = [(href, text) for href, text in seen["nav"]]
        report.images = seen["images"]
        report.links = seen["links"]
        report.ids = set(seen["ids"])
        report.prose = seen["prose"]
        report.math = seen["math"]
        report.mathjax_scripts = seen["mathjaxScripts"]
        report.outputs = seen["outputs"]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    return report


def _link_problem(href: str, report: PageReport, html_dir: Path) -> str | None:
    target, fragment = urldefrag(href)
    path = unquote(urlsplit(target).path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    file = html_dir / path
    if file.is_dir():
        file = file / "index.html"
    if not file.is_file():
        return f"link to {href} : no file {file.relative_to(html_dir)} in the built book"
    fragment = unquote(fragment)
    if not fragment or file.suffix != ".html":
        return None
    same_page = urldefrag(report.url)[0].split("?")[0] == target.split("?")[0]
    ids = report.ids if same_page else element_ids(file)
    if fragment not in ids:
        return f"link to {href} : no element with id {fragment!r} on {file.relative_to(html_dir)}"
    return None


#: Text a reader would see only if MathJax did not run: TeX delimiters and commands.
RAW_TEX = re.compile(r"\\[()\[\]]|\$\$|\\(?:begin|end)\{|\\[A-Za-z]{2,}")
#: Smallest text, in points, a figure may show at the size the page displays it.
MIN_SHOWN_FONT_PT = 8.0
_SVG_FONT = re.compile(r"font-size:\s*([0-9.]+)px")
_SVG_VIEWBOX = re.compile(r'<svg[^>]*\sviewBox="[-0-9.]+ [-0-9.]+ ([0-9.]+) [0-9.]+"')


def svg_smallest_shown_font(svg: str, shown_width_px: float) -> float | None:
    """Smallest font size, in points, of an SVG's text when the page shows it ``shown_width_px`` wide.

    Matplotlib's SVGs measure in points (viewBox units; 1 pt = 4/3 CSS px at natural size).

    Example:
        >>> svg = '<svg width="360pt" viewBox="0 0 360 200"><text style="font-size: 9px">a</text>'
        >>> svg_smallest_shown_font(svg, 480.0), svg_smallest_shown_font(svg, 240.0)
        (9.0, 4.5)
    """
    sizes = [float(v) for v in _SVG_FONT.findall(svg)]
    box = _SVG_VIEWBOX.search(svg)
    if not sizes or box is None:
        return None
    return min(sizes) * shown_width_px / (float(box.group(1)) * 4 / 3)


def _image_problem(image: dict[str, Any], base: str, html_dir: Path) -> str | None:
    """A content image that is neither an SVG nor at least twice its shown width in pixels."""
    if not (image["inArticle"] and image.get("shown") and image["complete"] and image["width"]):
        return None
    shown = float(image["shownWidth"])
    path = unquote(urlsplit(image["src"]).path)
    if path.endswith(".svg"):
        file = html_dir / path.lstrip("/")
        if not file.is_file():
            return None  # a load failure is reported on its own
        smallest = svg_smallest_shown_font(file.read_text(encoding="utf-8"), shown)
        if smallest is not None and smallest < MIN_SHOWN_FONT_PT - 0.05:
            return (f"figure text {smallest:.1f} pt at the size shown (< {MIN_SHOWN_FONT_PT} pt): "
                    f"{image['src']}")
        return None
    if image["width"] < 2 * shown - 1:
        return (f"image not crisp: {image['width']} px wide, shown {shown:.0f} px "
                f"(needs SVG or >= {2 * shown:.0f} px): {image['src']}")
    return None


def page_problems(report: PageReport, base: str, html_dir: Path = HTML_DIR) -> list[str]:
    """Everything wrong on a page that any page of the book must get right.

    Checks: no request attempted to another host (each one is blocked and counted), no raw TeX
    in the prose and every math element typeset by MathJax (loaded once, from the book), no
    empty output area and no widget output (it needs a kernel), every content image an SVG
    whose text is at least 8 pt at the size shown or a bitmap at least twice its shown width,
    no console or page errors from our own host, no failed request to our own host,
    an ``<h1>`` equal to the page's entry in the navigation sidebar (and starting the document
    title), every image served by the book and loaded with a non-zero natural width, and every
    same-site link resolving to a built file and, for ``#fragment`` links, to an element id there.

    Args:
        report: What :func:`inspect_page` saw.
        base: The book server's base URL.
        html_dir: The built HTML folder the server serves.

    Returns:
        One readable line per problem (empty when the page is fine).

    Example:
        >>> base = "http://127.0.0.1:1/"
        >>> report = PageReport(url=base + "a.html", h1="A", title="A — Book",
        ...                     nav=[(base + "a.html#", "A")], console_errors=["boom (at x.js)"])
        >>> page_problems(report, base)
        ['console error: boom (at x.js)']
    """
    # Each blocked URL once: Chromium may ask again for an image (eager loading, screenshot).
    problems = [f"request to another host (blocked): {u}" for u in dict.fromkeys(report.blocked)]
    raw = sorted(set(RAW_TEX.findall(report.prose)))
    if raw:
        problems.append(f"raw TeX in the rendered text: {raw}")
    untypeset = [m["text"] for m in report.math if not m["typeset"]]
    if untypeset:
        problems.append(f"{len(untypeset)} of {len(report.math)} math elements not typeset, "
                        f"e.g. {untypeset[0]!r}")
    if report.math and len(report.mathjax_scripts) != 1:
        problems.append(f"MathJax should be loaded once; script tags: {report.mathjax_scripts}")
    for i, out in enumerate(report.outputs):
        if out["widgetViews"]:
            problems.append(f"output area {i} holds a widget (a static page has no kernel)")
        elif out["height"] < 2 or (out["text"] == 0 and out["media"] == 0):
            problems.append(f"output area {i} is empty")
    problems += [f"console error: {e}" for e in report.console_errors]
    problems += [f"uncaught page error: {e}" for e in report.page_errors]
    problems += [f"failed request: {e}" for e in report.failed_requests]

    page_url = urldefrag(report.url)[0].split("?")[0]
    nav_titles = [text for href, text in report.nav if urldefrag(href)[0] == page_url]
    if report.h1 is None:
        problems.append("no <h1> in the main content")
    elif not nav_titles:
        problems.append(f"page {report.h1!r} has no entry in the navigation sidebar")
    elif report.h1 not in nav_titles:
        problems.append(f"<h1> {report.h1!r} differs from its sidebar title {nav_titles[0]!r}")
    if report.h1 is not None and not report.title.startswith(report.h1):
        problems.append(f"document title {report.title!r} does not start with <h1> {report.h1!r}")

    for image in report.images:
        if is_external(image["src"], base):
            problems.append(f"image from another host (blank offline): {image['src']}")
        elif not image["complete"] or image["width"] == 0:
            problems.append(f"image did not load (naturalWidth 0): {image['src']}")
        else:
            problem = _image_problem(image, base, html_dir)
            if problem:
                problems.append(problem)

    for href in report.links:
        if href.startswith(base):
            problem = _link_problem(href, report, html_dir)
            if problem:
                problems.append(problem)
    # Each problem once: Chromium may fetch an image twice (eager loading, the screenshot).
    return list(dict.fromkeys(problems))


@contextmanager
def outside_any_event_loop() -> Iterator[None]:
    """Run a block with no asyncio loop registered as running in this thread.

    Playwright's sync API refuses to start where ``asyncio.get_running_loop()`` answers; a test
    that ran earlier in the same pytest worker can leave a loop registered there. The block
    runs with that registration cleared, and it is put back afterwards.
    """
    left_over = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(left_over)
