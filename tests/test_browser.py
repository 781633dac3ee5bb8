"""The built book, read in a real browser: what a clean build cannot promise.

Debian's Chromium (driven by Playwright, never Playwright's own download) opens every page of
``_toc.yml`` from ``_build/html`` served over HTTP on 127.0.0.1, and checks that each page

- requests nothing from another host: every such request is blocked (route abort) and counted
  as a problem, so the page is what a reader without a network sees;
- typesets every formula (MathJax from the book's own ``_static/mathjax``, loaded once): no raw
  TeX delimiters or commands in the rendered prose, a MathJax container in every math element;
- has no empty output area and no widget output (a static page has no kernel: the live
  explorers' outputs are removed and their static twins shown);
- shows every content image crisply: an SVG whose text is at least 8 pt at the size shown, or
  a bitmap at least twice as many pixels wide as it is shown;
- raises no console or page error from our own files,
- has an ``<h1>`` equal to its title in the navigation sidebar,
- shows every image (loaded, non-zero natural width, served by the book itself),
- links only to files and ``#anchors`` that exist,
- (notebook pages) has Binder and Colab buttons that open this very notebook of the repository
  named in ``_config.yml``,
- (pages whose notebook uses ``companion.display.widgets``) shows the static fallback figure,

and saves a full-page screenshot to ``_build/screenshots/<name>.png``. The search page must
find a word the book uses. A synthetic broken page proves the checks can fail.

Offline by design: requests to any other host are aborted by a route handler, so the test is the
same with or without a network, and each aborted request is a failure of the page. Chromium also
logs each as a console error "Failed to load resource: net::ERR_FAILED" with the external URL as
its source; those lines are kept apart (``report.ignored``) because the blocked request itself
is already counted. The one page error ignored is a duplicated inline script written by Sphinx
7.4 itself (see ``browser_support.KNOWN_TOOLCHAIN_PAGE_ERRORS``). Links to other sites are not
requests and are fine; thebe (unpkg.com) loads only when a reader clicks "Live code".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HTML_DIR,
    SCREENSHOT_DIR,
    TocPage,
    expected_launch_urls,
    inspect_page,
    is_external,
    outside_any_event_loop,
    page_problems,
    screenshot_names,
    serve,
    toc_pages,
    uses_widgets,
)

pytestmark = pytest.mark.browser

PAGES = toc_pages()
SCREENSHOT_NAMES = screenshot_names(PAGES)
SEARCH_WORD = "epoch"  # the course's subject: the introduction uses it, so the index must hold it
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def html_dir() -> Path:
    if not (HTML_DIR / "index.html").is_file():
        pytest.skip(f"no built book at {HTML_DIR}; run `make book` first")
    return HTML_DIR


@pytest.fixture(scope="session")
def base_url(html_dir: Path) -> Iterator[str]:
    with serve(html_dir) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is missing; run `make venv` (requirements-dev)"
    )
    if not CHROMIUM.exists():
        pytest.skip(
            f"Chromium not found at {CHROMIUM}; install Debian's chromium with "
            "`apt-get install chromium` (as root) to run the browser test"
        )
    with outside_any_event_loop(), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def context(browser: Any, base_url: str) -> Iterator[Any]:
    """A fresh browser profile (empty storage) that may only talk to the book's server."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.route(lambda url: is_external(url, base_url), lambda route: route.abort())
    yield ctx
    ctx.close()


def _launch_problems(page: TocPage, links: list[str]) -> list[str]:
    expected = expected_launch_urls(page.docname)
    problems = []
    for kind, want in (("Binder", expected.binder), ("Colab", expected.colab)):
        hub = want.split("/v2/")[0] if kind == "Binder" else want.split("/github/")[0]
        found = [href for href in links if href.startswith(hub + "/")]
        if found != [want]:
            problems.append(f"{kind} launch link should be exactly [{want}]; found {found}")
    return problems


def _widget_problems(images: list[dict[str, Any]]) -> list[str]:
    """A page whose notebook uses companion.display.widgets must show a loaded figure in its article."""
    if any(i["inArticle"] and i["complete"] and i["width"] > 0 for i in images):
        return []
    return ["the notebook uses companion.display.widgets but its article shows no loaded image: "
            "the static fallback figure is missing"]


@pytest.mark.parametrize("page", PAGES, ids=[p.docname for p in PAGES])
def test_page(page: TocPage, context: Any, base_url: str, html_dir: Path) -> None:
    screenshot = SCREENSHOT_DIR / f"{SCREENSHOT_NAMES[page.docname]}.png"
    screenshot.unlink(missing_ok=True)
    report = inspect_page(context, base_url + page.html_path, base_url, screenshot)

    problems = page_problems(report, base_url, html_dir)
    if page.is_notebook:
        problems += _launch_problems(page, report.links)
        if uses_widgets(page.source):
            problems += _widget_problems(report.images)
    if not (screenshot.is_file() and screenshot.stat().st_size > 0):
        problems.append(f"no screenshot written to {screenshot}")
    assert not problems, f"{page.docname}: {len(problems)} problem(s)\n  " + "\n  ".join(problems)


def _search(context: Any, base_url: str, word: str) -> tuple[str, list[str]]:
    page = context.new_page()
    try:
        page.goto(f"{base_url}search.html?q={word}")
        # The summary paragraph stays empty until searchtools.js has finished.
        page.wait_for_function(
            "() => document.querySelector('#search-results .search-summary')"
            "?.textContent.trim().length > 0"
        )
        summary = page.inner_text("#search-results .search-summary")
        hrefs = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    finally:
        page.close()
    return summary, hrefs


def test_search_finds_a_word_the_book_uses(context: Any, base_url: str) -> None:
    summary, hrefs = _search(context, base_url, SEARCH_WORD)
    toc_urls = {base_url + p.html_path for p in PAGES}
    assert hrefs, f"searching {SEARCH_WORD!r} listed nothing; summary: {summary!r}"
    assert f"found {len(hrefs)} page(s)" in summary
    assert all(href.split("#")[0] in toc_urls for href in hrefs), hrefs


def test_search_finds_nothing_for_an_absent_word(context: Any, base_url: str) -> None:
    summary, hrefs = _search(context, base_url, "qxzvjwq")
    assert hrefs == []
    assert "did not match any documents" in summary


def test_index_opens_the_root_page(context: Any, base_url: str) -> None:
    page = context.new_page()
    try:
        page.goto(base_url + "index.html")
        page.wait_for_url(base_url + PAGES[0].html_path)
    finally:
        page.close()


BROKEN_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Not the heading — Book</title></head><body>
<nav class="bd-docs-nav"><a href="__broken__.html">Sidebar title</a></nav>
<main id="main-content"><article>
<h1>Broken page<a class="headerlink" href="#top">#</a></h1>
<img src="_images/no-such-figure.png" alt="missing">
<img src="https://fonts.example.org/figure.png" alt="external">
<p>A raw formula \\(\\operatorname{{tr}}\\Sigma/B\\) and <span class="math">\\(B\\)</span></p>
<div class="cell_output"></div>
<div class="cell_output"><script type="application/vnd.jupyter.widget-view+json">{{}}</script>x</div>
<img src="{blurry}" alt="blurry" style="width: 40px">
<a href="{root}">fine</a>
<a href="no/such/page.html">dead</a>
<a href="{root}#no-such-anchor">dead anchor</a>
</article></main>
<script>console.error("our own console error"); throw new Error("our own bug");</script>
</body></html>
"""


def test_the_checks_catch_a_broken_page(
    context: Any, base_url: str, html_dir: Path, tmp_path: Path
) -> None:
    """Every kind of problem on one synthetic page is reported, and nothing the page gets right."""
    url = base_url + "__broken__.html"
    blurry = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
              "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")  # 1 x 1 pixel, shown 40 px wide
    body = BROKEN_PAGE.format(root=PAGES[0].html_path, blurry=blurry)

    def fulfil(route: Any) -> None:
        route.fulfill(status=200, content_type="text/html", body=body)

    context.route(url, fulfil)
    report = inspect_page(context, url, base_url, tmp_path / "shot.png")
    problems = page_problems(report, base_url, html_dir)
    expected = [
        "console error: our own console error",
        "console error: Failed to load resource: the server responded with a status of 404 "
        "(File not found)",
        "uncaught page error: our own bug",
        "failed request: HTTP 404 for " + base_url + "_images/no-such-figure.png",
        "<h1> 'Broken page' differs from its sidebar title 'Sidebar title'",
        "document title 'Not the heading — Book' does not start with <h1> 'Broken page'",
        "image did not load (naturalWidth 0): " + base_url + "_images/no-such-figure.png",
        "image from another host (blank offline): https://fonts.example.org/figure.png",
        "request to another host (blocked): https://fonts.example.org/figure.png",
        "raw TeX in the rendered text: ['\\\\(', '\\\\)', '\\\\Sigma', '\\\\operatorname']",
        "1 of 1 math elements not typeset, e.g. '\\\\(B\\\\)'",
        "MathJax should be loaded once; script tags: []",
        "output area 0 is empty",
        "output area 1 holds a widget (a static page has no kernel)",
        "image not crisp: 1 px wide, shown 40 px (needs SVG or >= 80 px): " + blurry,
        "link to " + base_url + "__broken__.html : no file __broken__.html in the built book",
        "link to " + base_url + "__broken__.html#top : no file __broken__.html in the built book",
        "link to " + base_url + "no/such/page.html : no file no/such/page.html in the built book",
        f"link to {base_url}{PAGES[0].html_path}#no-such-anchor : no element with id "
        f"'no-such-anchor' on {PAGES[0].html_path}",
    ]
    found = [p.split(" (at ")[0] for p in problems]
    assert sorted(found) == sorted(expected), (
        f"unexpected: {sorted(set(found) - set(expected))}; "
        f"missing: {sorted(set(expected) - set(found))}")
    assert set(report.blocked) == {"https://fonts.example.org/figure.png"}
    assert (tmp_path / "shot.png").stat().st_size > 0


def test_launch_check_rejects_buttons_to_another_notebook() -> None:
    page = TocPage("book/02_iterations", None, Path("book/02_iterations.ipynb"))
    right, wrong = expected_launch_urls(page.docname), expected_launch_urls("book/01_other")
    assert _launch_problems(page, [right.binder, right.colab, "https://example.org/"]) == []
    assert len(_launch_problems(page, [wrong.binder, right.colab])) == 1
    assert len(_launch_problems(page, [right.binder])) == 1
    assert len(_launch_problems(page, [right.binder, right.binder, right.colab])) == 1


def test_widget_check_wants_a_loaded_figure_in_the_article() -> None:
    logo = {"inArticle": False, "complete": True, "width": 150}
    blank = {"inArticle": True, "complete": True, "width": 0}
    figure = {"inArticle": True, "complete": True, "width": 640}
    assert len(_widget_problems([logo, blank])) == 1
    assert _widget_problems([logo, figure]) == []
