"""The web app in a real browser: Debian's chromium driven by Playwright, against the app served
by uvicorn on loopback over a real store.

A user opens the recent-changes page, follows an article, compares two revisions and reads the
highlighted words; the XSS payloads of a hostile article render as text (no dialog opens, no
script runs). Screenshots are saved under the test's temp dir. Skips, saying why, only where no
chromium is installed (`.ci/run` installs it from Debian's packages).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redline.storage import open_store
from redline.web import WebState, create_app
from tests import seeded

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="no chromium: install Debian's package (apt-get install chromium), as .ci/run does",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The app on a free loopback port, over a SQLite store holding a story and a hostile page."""
    import uvicorn

    path = tmp_path_factory.mktemp("web") / "redline.sqlite"
    store = open_store(f"sqlite:///{path}")
    ids = {"story": seeded.story(store), "hostile": seeded.hostile(store)}
    port = _free_port()
    config = uvicorn.Config(
        create_app(WebState(store)), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.05)
    yield {"base": f"http://127.0.0.1:{port}", "ids": ids}
    server.should_exit = True
    thread.join(10)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records every dialog and every script error it sees."""
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    tab = context.new_page()
    tab.dialogs = []  # type: ignore[attr-defined]
    tab.errors = []  # type: ignore[attr-defined]
    tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    yield tab
    context.close()


def test_follow_a_story_and_compare_two_revisions(
    site: dict[str, Any], page: Any, tmp_path: Path
) -> None:
    page.goto(site["base"] + "/")
    page.screenshot(path=str(tmp_path / "recent.png"), full_page=True)
    assert "Minister quits as budget row deepens" in page.inner_text("body")

    story = site["ids"]["story"]
    page.locator(f'a.article-link[href="/articles/{story}"]').first.click()
    page.wait_for_url(f"**/articles/{story}")
    page.screenshot(path=str(tmp_path / "article.png"), full_page=True)

    page.check('#compare input[name="from"][value="1"]')
    page.check('#compare input[name="to"][value="3"]')
    page.click('#compare button[type="submit"]')
    page.wait_for_url(f"**/articles/{story}/diff/1/3*")
    page.screenshot(path=str(tmp_path / "diff.png"), full_page=True)

    inserted = " ".join(page.locator(".diff ins").all_inner_texts())
    deleted = " ".join(page.locator(".diff del").all_inner_texts())
    assert "bitter" in inserted
    assert "Correction" in inserted
    assert "thanked her staff" in deleted
    assert (tmp_path / "diff.png").stat().st_size > 1000


def test_side_by_side_view_highlights_the_same_words(site: dict[str, Any], page: Any) -> None:
    story = site["ids"]["story"]
    page.goto(f"{site['base']}/articles/{story}/diff/2/3?view=side")
    assert "bitter" in " ".join(page.locator(".diff ins").all_inner_texts())
    assert "thanked her staff" in " ".join(page.locator(".diff del").all_inner_texts())


HOSTILE_PATHS = (
    "/",
    "/articles/{id}",
    "/articles/{id}/diff/1/2",
    "/articles/{id}/diff/1/2?view=side",
    "/articles/{id}/revisions/2",
    "/articles/{id}/items",
    "/search?q=calm",
)


def test_hostile_text_renders_as_text_everywhere(
    site: dict[str, Any], page: Any, tmp_path: Path
) -> None:
    hostile = site["ids"]["hostile"]
    for number, path in enumerate(HOSTILE_PATHS):
        page.goto(site["base"] + path.format(id=hostile))
        page.screenshot(path=str(tmp_path / f"hostile-{number}.png"), full_page=True)
        assert "<script>alert(1)</script>" in page.inner_text("body"), path
        assert page.locator('img[src="x"]').count() == 0, path
        assert page.locator('a[href^="javascript:"]').count() == 0, path
    assert page.dialogs == []
    assert page.errors == []
