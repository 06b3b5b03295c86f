"""`redline demo`: Redline watching a local news site that edits itself, offline, in a minute.

The site is the one the tests use (redline.newsite): articles, an RSS feed and a live "News
Feed" page, with per-request noise (ads, tokens, "N minutes ago") that must never show as a
change. An editor thread rewrites it every few seconds; the daemon, on a temporary SQLite
database and a real configuration file, watches it; a reporter thread prints each change as
the store records it, and a console alert channel prints the alerts.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from redline.newsite import NewsSite
from redline.scheduler.terminal import terminal_safe
from redline.storage import ChangeQuery, Store, open_store
from redline.web.views import entry_dict

HEADLINES = (
    "Council approves revised budget after late-night session",
    "Council delays budget vote as talks stall",
    "Mayor defends budget cuts amid protests",
    "Budget passes narrowly; libraries spared",
)
CORRECTION = (
    "Correction: An earlier version of this article misstated the date of the council vote. "
    "It is Thursday, not Wednesday."
)


@dataclass(frozen=True, slots=True)
class Edit:
    """One thing the editor does to the site, said the way a reader would notice it."""

    what: str
    apply: Callable[[NewsSite], object]


def edits(step: int) -> Edit:
    """The editor's script: the `step`th edit (it cycles, with new words each round)."""
    round_, kind = divmod(step, 7)
    slug = f"story-{(kind + round_) % 4:05d}"
    headline = HEADLINES[(round_ + kind) % len(HEADLINES)]
    if kind == 0:
        return Edit("headline rewritten", lambda s: s.edit(slug, headline=headline))
    if kind == 1:
        return Edit("live item updated", lambda s: _update_live_item(s, round_))
    if kind == 2:
        return Edit("paragraph edited", lambda s: _edit_paragraph(s, slug, round_, stealth=False))
    if kind == 3:
        return Edit("correction appended", lambda s: _append(s, slug, CORRECTION))
    if kind == 4:
        return Edit("new live item", lambda s: _new_live_item(s, round_))
    if kind == 5:
        return Edit("stealth edit", lambda s: _edit_paragraph(s, slug, round_, stealth=True))
    return Edit("article published", lambda s: _publish(s, round_))


def _update_live_item(site: NewsSite, round_: int) -> None:
    with site.lock:
        item = site.content.live[-1]
    site.edit_live_item(
        item.key,
        f"{item.text.split(' Officials')[0]} Officials now say {round_ + 3} roads are closed.",
    )


def _new_live_item(site: NewsSite, round_: int) -> None:
    site.add_live_item(
        f"The river has risen {round_ + 1} metres overnight.", headline="Breaking: river rising"
    )


def _edit_paragraph(site: NewsSite, slug: str, round_: int, *, stealth: bool) -> None:
    body = list(site.article(slug).body)
    first = body[0].split(", officials said")[0].rstrip(".")
    body[0] = f"{first}, officials said on day {round_ + 2}."
    site.edit(slug, body=body, touch_updated=not stealth)


def _append(site: NewsSite, slug: str, text: str) -> None:
    body = site.article(slug).body
    if text not in body:
        site.edit(slug, body=[*body, text])


def _publish(site: NewsSite, round_: int) -> None:
    site.add_article(
        f"Flood warning extended for the valley, day {round_ + 1}",
        ["The weather service extended its flood warning on Monday.", "Schools stay closed."],
        slug=f"flood-{round_:03d}",
    )


def config_text(database: Path, site: str, web_port: int) -> str:
    """The demo's configuration: fast revisits of a loopback site, a console alert channel."""
    return f"""\
# Written by `redline demo`: Redline watching the demo's local news site.
database_url = "sqlite:///{database}"
allow_private_networks = true   # the demo site is on loopback
user_agent = "Redline demo"

[crawl]
autothrottle = false

[policy]                        # minutes in real life; seconds here
min_interval = "2s"
max_interval = "4s"
jitter = 0

[web]
port = {web_port}
base_url = "http://127.0.0.1:{web_port}"

[alerts]
retry_base = "2s"

[alerts.channels.console]
url = "console://"

[[alerts.rules]]
name = "demo"
when = ["headline_changed", "correction", "item_updated"]
channels = ["console"]

[[sources]]
url = "{site}/feed.xml"
kind = "feed"
every = "3s"

[[sources]]
url = "{site}/live"
kind = "live"
"""


def web_port(preferred: int) -> int:
    """`preferred` when it is free on loopback, else any free port (a Redline already running
    on 8470 must not leave the demo without its web app)."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def run_editor(site: NewsSite, every: float, stop: threading.Event, out: TextIO) -> None:
    """Edit the site every `every` seconds until `stop`, saying what was done."""
    step = 0
    while not stop.wait(every):
        edit = edits(step)
        edit.apply(site)
        _say(out, f"  editor   {edit.what}")
        step += 1


def run_reporter(database_url: str, web: str, stop: threading.Event, out: TextIO) -> None:
    """Print what the store records (new articles, then each change), polling twice a second."""
    store = open_store(database_url, create=False)
    try:
        seen: set[tuple[int, int | None, str]] = set()
        while not stop.wait(0.5):
            for line in new_lines(store, web, seen):
                _say(out, line)
    finally:
        store.close()


def new_lines(store: Store, web: str, seen: set[tuple[int, int | None, str]]) -> Iterator[str]:
    """Lines for what `seen` has not had yet: first versions, then changes, oldest first."""
    for article in reversed(store.articles_page(limit=100).rows):
        key: tuple[int, int | None, str] = (article.id, 1, "new")
        if article.revision_count and key not in seen:
            seen.add(key)
            page = store.latest_page(article.id)
            headline = page.headline if page else ""
            link = f"{web}/articles/{article.id}"
            yield f"  redline  new     #{article.id} {_quoted(headline)}  {link}"
    for entry in reversed(store.recent_changes(ChangeQuery(), limit=50).rows):
        key = (entry.article_id, entry.revision, entry.at.isoformat())
        if key not in seen:
            seen.add(key)
            yield _change_line(entry_dict(entry), web)


def _change_line(shown: dict[str, object], web: str) -> str:
    if shown["type"] == "event":
        event = shown["badges"][0]  # type: ignore[index]
        return f"  redline  {event:<7} #{shown['article_id']}  {web}{shown['article_link']}"
    what = ", ".join(shown["fields"]) or "change"  # type: ignore[arg-type]
    parts = [f"  redline  {what:<7} #{shown['article_id']} r{shown['revision']}"]
    if shown["old_headline"] is not None:
        parts.append(f"{_quoted(str(shown['old_headline']))} -> {_quoted(str(shown['headline']))}")
    elif shown["summary"]:
        parts.append(_short(str(shown["summary"])))
    if shown["badges"]:
        parts.append(f"[{', '.join(shown['badges'])}]")  # type: ignore[arg-type]
    parts.append(f"{web}{shown['diff_link']}")
    return "  ".join(parts)


def _quoted(text: str) -> str:
    return f'"{_short(text)}"'


def _short(text: str, limit: int = 70) -> str:
    text = terminal_safe(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


_OUT = threading.Lock()


def _say(out: TextIO, line: str) -> None:
    with _OUT:
        out.write(line + "\n")
        out.flush()
