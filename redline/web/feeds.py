"""Atom 1.0 feeds of what changed: all changes (with the recent-changes page's filters), one
article's, and a search's.

Each entry is one revision (or one URL event) and carries its word diff as `<content
type="html">`: the diff page's inline HTML (built by crawler.diff's renderer, which escapes
every scraped word), escaped once more by ElementTree as the text of the element, as Atom's
type="html" requires. Nothing scraped is ever written to the XML unescaped.

Ids are tag: URIs that depend only on the article id and the revision number (or the event
id), so an entry keeps its id whatever the base URL or the filters it is read through (a search
feed's entries, which say something else about a revision, have ids of their own: `search/...`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree import ElementTree as ET

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from redline import __version__
from redline.storage import InvalidInput, NotFound
from redline.web import views
from redline.web.params import change_query, parse_id
from redline.web.state import WebState
from redline.web.text import shown

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
TAG = "tag:redline,2026:"  # the prefix of every id (RFC 4151)
FEED_LIMIT = 30  # entries per feed: each carries a rendered diff
FIELD_NAMES = {"published": "published time", "updated": "updated time"}

ET.register_namespace("", ATOM)


def routes(state: WebState) -> list[BaseRoute]:
    def changes_feed(request: Request) -> Response:
        params = request.query_params
        query = change_query(params)
        listing = views.recent_changes(state.store, query, limit=FEED_LIMIT)
        kept = _filters(params)
        alternate = "/" + (f"?{urlencode(kept)}" if kept else "")
        feed = _feed(
            request,
            state,
            feed_id=TAG + "changes" + (f"?{urlencode(kept)}" if kept else ""),
            title="Redline: recent changes" + _described(kept),
            alternate=alternate,
            entries=[_change_entry(state, request, e) for e in listing["entries"]],
        )
        return _atom(feed)

    def article_feed(request: Request) -> Response:
        article_id = parse_id("id", request.path_params["id"])
        if article_id is None:
            raise NotFound("no such article")
        article = state.store.get_article_by_id(article_id)
        query = change_query({"article": str(article_id)})
        listing = views.recent_changes(state.store, query, limit=FEED_LIMIT)
        feed = _feed(
            request,
            state,
            feed_id=f"{TAG}articles/{article_id}",
            title=f"Redline: {article.url}",
            alternate=views.article_link(article_id),
            entries=[_change_entry(state, request, e) for e in listing["entries"]],
        )
        return _atom(feed)

    def search_feed(request: Request) -> Response:
        params = request.query_params
        text = (params.get("q") or "").strip()
        site = (params.get("site") or "").strip().lower() or None
        found = views.search(state.store, text, site=site, limit=FEED_LIMIT)
        kept = {"q": text, **({"site": site} if site else {})}
        feed = _feed(
            request,
            state,
            feed_id=f"{TAG}search?{urlencode(kept, quote_via=quote)}",
            title=f"Redline: search for {text}" + (f" on {site}" if site else ""),
            alternate=f"/search?{urlencode(kept)}",
            entries=[_hit_entry(state, request, h) for h in found["hits"]],
        )
        return _atom(feed)

    return [
        Route("/feeds/changes.atom", changes_feed, methods=["GET", "HEAD"], name="changes_feed"),
        Route("/feeds/search.atom", search_feed, methods=["GET", "HEAD"], name="search_feed"),
        Route(
            "/articles/{id}/feed.atom", article_feed, methods=["GET", "HEAD"], name="article_feed"
        ),
    ]


# --- the feed -----------------------------------------------------------------------------------
def base_url(request: Request, state: WebState) -> str:
    """settings.base_url when set (behind a proxy), else the URL this request came to."""
    return (state.settings.base_url or str(request.base_url)).rstrip("/")


def _feed(
    request: Request,
    state: WebState,
    *,
    feed_id: str,
    title: str,
    alternate: str,
    entries: list[ET.Element],
) -> ET.Element:
    base = base_url(request, state)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", feed_id)
    _text(feed, "title", title)
    times = [e.findtext(f"{{{ATOM}}}updated") or "" for e in entries]
    _text(feed, "updated", max(times) if times else _time(state.clock()))
    self_url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    _link(feed, self_url, rel="self", type="application/atom+xml")
    _link(feed, base + alternate, rel="alternate", type="text/html")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "Redline")
    generator = _text(feed, "generator", "Redline")
    generator.set("version", __version__)
    for entry in entries:
        for link in entry.iter(f"{{{ATOM}}}link"):
            link.set("href", base + link.get("href", ""))
        feed.append(entry)
    return feed


def _atom(feed: ET.Element) -> Response:
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type=MEDIA_TYPE)


def _text(parent: ET.Element, name: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = _xml_safe(value)
    return element


def _link(parent: ET.Element, href: str, **attrs: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}link", {"href": href, **attrs})


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _xml_safe(text: str) -> str:
    """Hidden characters shown as on the pages (a bidi override cannot reorder a feed reader's
    line); what XML 1.0 cannot carry at all (lone surrogates) is dropped."""
    return "".join(
        ch
        for ch in shown(text)
        if ch in "\t\n\r"
        or ("\x20" <= ch <= "\ud7ff")
        or ("\ue000" <= ch <= "\ufffd")
        or ch > "\uffff"
    )


def _filters(params: Mapping[str, str]) -> dict[str, str]:
    names = ("site", "article", "kind", "group", "class", "since", "until")
    return {k: params[k] for k in names if params.get(k)}


def _described(kept: Mapping[str, str]) -> str:
    return f" ({', '.join(f'{k} {v}' for k, v in kept.items())})" if kept else ""


# --- entries ------------------------------------------------------------------------------------
def _entry(
    entry_id: str, title: str, at: datetime, link: str, content_html: str, summary: str = ""
) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _text(entry, "id", entry_id)
    _text(entry, "title", title)
    _text(entry, "updated", _time(at))
    _link(entry, link, rel="alternate", type="text/html")  # made absolute by _feed
    if summary:
        _text(entry, "summary", summary)
    content = _text(entry, "content", content_html)
    content.set("type", "html")
    return entry


def _change_entry(state: WebState, request: Request, e: Mapping[str, Any]) -> ET.Element:
    article_id, number = e["article_id"], e["revision"]
    headline = e["headline"] or e["url"]
    if e["event"] is not None:
        event = e["event"]
        kind = str(event["kind"]).replace("_", " ")
        return _entry(
            f"{TAG}articles/{article_id}/events/{event.get('id') or _time(e['at'])}",
            f"{kind}: {headline}",
            e["at"],
            e["article_link"],
            f"<p>{escape(e['url'])}: {escape(kind)}"
            + (f" ({escape(event['detail'])})" if event.get("detail") else "")
            + "</p>",
        )
    try:
        shown = views.diff(state.store, article_id, number - 1, number)["changes"]
    except (NotFound, InvalidInput):  # a revision gone between the listing and now
        shown = []
    return _entry(
        f"{TAG}articles/{article_id}/revisions/{number}",
        headline,
        e["at"],
        e["diff_link"] or views.revision_link(article_id, number),
        _diff_html(e, shown),
        summary=e["summary"],
    )


def _diff_html(e: Mapping[str, Any], changes: Iterable[Mapping[str, Any]]) -> str:
    """The entry's HTML: its URL and badges, then each change's inline word diff (already
    escaped by the renderer: inserted as it is)."""
    parts = [f'<p><a href="{escape(e["url"])}">{escape(e["url"])}</a></p>']
    if e["badges"]:
        parts.append(f"<p><strong>{escape(', '.join(e['badges']))}</strong></p>")
    for change in changes:
        field = str(change["field"])
        name = (
            f"item {field.split(':', 1)[1]}"
            if field.startswith("item:")
            else FIELD_NAMES.get(field, field)
        )
        label = f"{name}: {change['kind']}, {change['class']}"
        parts.append(f"<h3>{escape(label)}</h3>")
        parts.append(f"<div>{_breaks(change['inline_html'])}</div>")
    return "\n".join(parts)


def _hit_entry(state: WebState, request: Request, h: Mapping[str, Any]) -> ET.Element:
    article_id = h["article_id"]
    snippet = f"<p>{escape(h['snippet'])}</p>" if h["snippet"] else ""
    removed = h["removed_in"]
    if removed:
        try:
            shown = views.diff(state.store, article_id, removed - 1, removed)["changes"]
        except (NotFound, InvalidInput):
            shown = []
        body = "".join(f"<div>{_breaks(c['inline_html'])}</div>" for c in shown)
        return _entry(
            f"{TAG}search/articles/{article_id}/revisions/{removed}",
            f"Removed: {h['headline'] or h['url']}",
            h["removed_at"],
            h["removed_link"],
            f"<p>No longer in revision {removed} of {escape(h['url'])}:</p>{snippet}{body}",
        )
    return _entry(
        f"{TAG}search/articles/{article_id}/revisions/{h['last']}",
        h["headline"] or h["url"],
        h["last_at"],
        views.revision_link(article_id, h["last"]),
        f"<p>In revisions {h['first']} to {h['last']} of {escape(h['url'])}:</p>{snippet}",
    )


def _breaks(inline_html: str) -> str:
    """The renderer keeps line breaks for a white-space: pre-wrap page; readers get <br>."""
    return inline_html.replace("\n", "<br>")
