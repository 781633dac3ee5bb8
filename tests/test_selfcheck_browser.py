"""The self-checks work in the built book: answered in a real browser, with no kernel or network.

Debian's Chromium (driven by Playwright) opens chapter 01 of ``_build/html`` served on
127.0.0.1, with every request to another host aborted. On its self-check it answers the
numeric question right, then wrong, and the multiple-choice question wrong, then right, and
reads the feedback the page gives each time. The right answers are computed here from
``companion``, not read from the page. A second test checks that every chapter's page holds
a rendered quiz with as many questions as its notebook asks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HTML_DIR,
    KNOWN_TOOLCHAIN_PAGE_ERRORS,
    is_external,
    outside_any_event_loop,
    serve,
)

from companion import BatchPlan
from companion.display.selfcheck import CORRECT

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
# Every chapter has a self-check; Start here is a map of the book, not a chapter.
CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.ipynb") if p.stem != "start_here")
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    if not (HTML_DIR / "index.html").is_file():
        pytest.skip(f"no built book at {HTML_DIR}; run `make book` first")
    with serve(HTML_DIR) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is missing; run `make venv` (requirements-dev)"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; `apt-get install chromium` (as root)")
    with outside_any_event_loop(), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser: Any, base_url: str) -> Iterator[Any]:
    """A page in a fresh profile that may only talk to the book's server; records problems."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    ctx.set_default_timeout(TIMEOUT_MS)
    blocked: list[str] = []

    def abort(route: Any) -> None:
        blocked.append(route.request.url)
        route.abort()

    ctx.route(lambda url: is_external(url, base_url), abort)
    pg = ctx.new_page()
    pg.errors = []  # uncaught exceptions in the page
    pg.blocked = blocked

    def record(exc: Any) -> None:
        if str(exc) not in KNOWN_TOOLCHAIN_PAGE_ERRORS:  # Sphinx 7.4's, see browser_support
            pg.errors.append(str(exc))

    pg.on("pageerror", record)
    yield pg
    ctx.close()


def _quiz_questions(page: Any, url: str) -> Any:
    page.goto(url)
    questions = page.locator("div[id^='selfcheck'] div.Quiz")
    questions.first.wait_for()
    return questions


def _feedback(question: Any) -> tuple[str, str]:
    fb = question.locator(".Feedback")
    fb.wait_for(state="visible")
    return fb.inner_text().strip(), fb.get_attribute("class") or ""


def test_chapter_01_self_check_says_right_and_wrong(page: Any, base_url: str) -> None:
    questions = _quiz_questions(page, base_url + "book/01_vocabulary.html")
    assert questions.count() == 3
    steps = BatchPlan(1050, 100).steps_per_epoch  # the question's N and B

    numeric_q = questions.nth(0)
    assert "1050 samples" in numeric_q.inner_text()
    box = numeric_q.locator("input.Input-text")
    box.fill(str(steps - 1))  # the count of full batches only: wrong
    box.press("Enter")
    text, classes = _feedback(numeric_q)
    assert "incorrect" in classes.split() and text.startswith("Count the full batches"), text
    box.fill(str(steps))
    box.press("Enter")
    text, classes = _feedback(numeric_q)
    assert "correct" in classes.split() and text == CORRECT, (text, classes)

    choice_q = questions.nth(2)
    choice_q.locator("label.MCButton", has_text=re.compile(r"^one batch$")).click()
    text, classes = _feedback(choice_q)
    assert "incorrect" in classes.split() and "samples of one iteration" in text, text
    choice_q.locator("label.MCButton", has_text="one pass over every training sample").click()
    text, classes = _feedback(choice_q)
    assert "correct" in classes.split() and text == CORRECT, (text, classes)

    assert page.errors == [], page.errors
    assert not [u for u in page.blocked if "jupyterquiz" in u or "mathjax@3/es5/tex-svg" in u]


def _asked(notebook: Path) -> int:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = "".join(
        "".join(c["source"]) for c in cells
        if c["cell_type"] == "code" and "selfcheck" in c["metadata"].get("tags", [])
    )
    return len(re.findall(r"\b(?:numeric|multiple_choice)\(", code))


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_page_renders_its_self_check(page: Any, base_url: str,
                                                   notebook: Path) -> None:
    questions = _quiz_questions(page, f"{base_url}book/{notebook.stem}.html")
    assert questions.count() == _asked(notebook) >= 2
    assert page.locator("div[id^='selfcheck'] input.Input-text").count() >= 1
    assert page.locator("div[id^='selfcheck'] label.MCButton").count() >= 2
    html = (HTML_DIR / "book" / f"{notebook.stem}.html").read_text(encoding="utf-8")
    assert "from companion.display.selfcheck import" not in html, "the code cell is hidden"
    assert page.errors == [], page.errors
