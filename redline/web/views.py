"""What every page, the JSON API and the Atom feeds show: one function per view, `(store, ...)
-> dict`, so that the API serves exactly what the pages render.

The dicts hold plain JSON values, except times, which stay timezone-aware `datetime`s (the API
writes them as ISO 8601, templates format them). Scraped text is left as it is: the templates
escape it; only `inline_html` and `side_html` are HTML, built by crawler.diff's renderers, which
escape every piece of text themselves.

Unknown ids raise storage.NotFound; malformed parameters raise storage.InvalidInput with a
message that names the parameter (the app answers 404 and 422).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from redline.storage import (
    Alert,
    AlertStatus,
    Article,
    ArticleStatus,
    Change,
    ChangeClass,
    ChangeEntry,
    ChangeKind,
    ChangeQuery,
    CheckInfo,
    Event,
    FeedItem,
    InvalidInput,
    NotFound,
    Page,
    Revision,
    RevisionInfo,
    SearchHit,
    Source,
    Store,
)
from redline.storage.codec import clean_text
from redline.web.params import DEFAULT_LIMIT, MAX_ID, parse_site

_SUMMARY_WORDS = 12
_BADGES = {"correction": "correction", "editors_note": "editor's note"}
_BADGES |= {"update_notice": "update notice"}
# Stored patches escape these in inserted text (crawler.diff.patch): undone for summaries.
_PATCH_ESCAPE = re.compile(r"%(?:u([0-9A-F]{4})|([0-9A-F]{2}))")


# --- links -------------------------------------------------------------------------------------


def article_link(article_id: int) -> str:
    return f"/articles/{article_id}"


def revision_link(article_id: int, number: int) -> str:
    return f"/articles/{article_id}/revisions/{number}"


def diff_link(article_id: int, old: int, new: int) -> str:
    return f"/articles/{article_id}/diff/{old}/{new}"


# --- small pieces ------------------------------------------------------------------------------


def article_dict(a: Article) -> dict[str, Any]:
    return {
        "id": a.id,
        "url": a.url,
        "site": a.site,
        "status": str(a.status),
        "paused": a.paused,  # `redline pause`: not checked until resumed
        "live": a.is_live,
        "source_id": a.source_id,
        "first_seen": a.first_seen,
        "last_checked_at": a.last_checked_at,
        "last_changed_at": a.last_changed_at,
        "next_check_at": a.next_check_at,
        "revisions": a.revision_count,
        "error_count": a.error_count,
        "last_error": a.last_error,
        "link": article_link(a.id),
    }


def event_dict(e: Event) -> dict[str, Any]:
    return {"id": e.id, "at": e.at, "kind": str(e.kind), "detail": e.detail}


def item_dict(item: FeedItem) -> dict[str, Any]:
    return {
        "key": item.key,
        "headline": item.headline,
        "text": item.text,
        "time": item.time,
        "updated": item.updated,
    }


def page_dict(page: Page) -> dict[str, Any]:
    return {
        "kind": str(page.kind),
        "headline": page.headline,
        "title": page.title,
        "byline": list(page.byline),
        "published": page.published,
        "updated": page.updated,
        "body": list(page.body),
        "items": [item_dict(i) for i in page.items],
        "language": page.language,
        "canonical_url": page.canonical_url,
        "extractor": page.extractor,
        "extractor_version": page.extractor_version,
        "reason": page.reason,
    }


def _unescape(text: str) -> str:
    return _PATCH_ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def inserted_text(patch: str) -> str:
    """The text a stored patch inserts, in order: enough for a one-line summary without
    loading the old revision the patch applies to."""
    fields = patch.split("\t")[3:]
    return " … ".join(_unescape(f[1:]).strip() for f in fields if f[1:].strip() and f[0] == "+")


def _words(text: str) -> str:
    words = clean_text(text).split()
    more = "…" if len(words) > _SUMMARY_WORDS else ""
    return " ".join(words[:_SUMMARY_WORDS]) + more


def _item_words(text: str | None) -> str:
    """An item's text without its time paragraph (item_text puts the time first)."""
    parts = (text or "").split("\n\n")
    if parts and _is_time(parts[0]):
        parts = parts[1:]
    return _words(" ".join(parts))


def _is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def change_summary(change: Change) -> str:
    """One line for a body or item change: "+12 −3 words: …the first inserted words…"."""
    is_item = change.field.startswith("item:")
    if is_item and change.kind is ChangeKind.ADDED:
        return f"new item: {_item_words(change.new)}"
    if is_item and change.kind is ChangeKind.REMOVED:
        return f"item removed: {_item_words(change.old)}"
    if change.kind is ChangeKind.MOVED:
        return "moved" if is_item else "paragraphs moved"
    counts = f"+{change.words_added} −{change.words_removed} words"
    inserted = _words(inserted_text(change.patch))
    return f"{counts}: …{inserted}" if inserted else counts


def change_dict(change: Change) -> dict[str, Any]:
    """A change as every view shows it; `old`/`new` are the full values (None for the body)."""
    summary = change_summary(change) if _is_text(change.field) else None
    return {
        "field": change.field,
        "kind": str(change.kind),
        "class": str(change.class_),
        "notes": list(change.notes),
        "stealth": change.stealth,
        "coarse": change.coarse,
        "words_added": change.words_added,
        "words_removed": change.words_removed,
        "similarity": round(change.similarity, 4),
        "old": change.old,
        "new": change.new,
        "summary": summary,
    }


def _is_text(field: str) -> bool:
    return field == "body" or field.startswith("item:")


def badges(changes: Iterable[Change]) -> list[str]:
    """What a listing flags: corrections, editor's notes, update notices, stealth edits,
    rewrites; each once, in that order."""
    found: set[str] = set()
    for c in changes:
        found.update(_BADGES[n] for n in c.notes if n in _BADGES)
        if c.stealth:
            found.add("stealth edit")
        if c.class_ is ChangeClass.REWRITE:
            found.add("rewrite")
    order = [*_BADGES.values(), "stealth edit", "rewrite"]
    return [b for b in order if b in found]


# --- recent changes ----------------------------------------------------------------------------


def entry_dict(entry: ChangeEntry) -> dict[str, Any]:
    """One line of a recent-changes listing (a revision, or a URL event)."""
    changes = entry.changes
    text = [change_summary(c) for c in changes if _is_text(c.field)]
    n = entry.revision
    return {
        "type": "event" if entry.event is not None else "revision",
        "article_id": entry.article_id,
        "url": entry.url,
        "site": entry.site,
        "at": entry.at,
        "revision": n,
        "headline": entry.headline,
        "old_headline": entry.old_headline,
        "summary": "; ".join(text[:3]) + (f" (+{len(text) - 3} more)" if len(text) > 3 else ""),
        "fields": sorted({c.field.split(":", 1)[0] for c in changes}),
        "changes": [change_dict(c) for c in changes],
        "badges": badges(changes) if entry.event is None else [str(entry.event.kind)],
        "event": event_dict(entry.event) if entry.event is not None else None,
        "article_link": article_link(entry.article_id),
        "diff_link": diff_link(entry.article_id, n - 1, n) if n and n > 1 else None,
    }


def recent_changes(
    store: Store, query: ChangeQuery, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, Any]:
    listing = store.recent_changes(query, cursor=cursor, limit=limit)
    return {
        "entries": [entry_dict(e) for e in listing.rows],
        "next_cursor": listing.cursor,
    }


def articles(
    store: Store,
    site: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Tracked articles, the most recently changed first."""
    names = [s.value for s in ArticleStatus]
    if status and status not in names:
        raise InvalidInput(f"status: {status[:40]!r} is not one of {', '.join(names)}")
    listing = store.articles_page(
        site=parse_site(site),
        status=ArticleStatus(status) if status else None,
        cursor=cursor,
        limit=limit,
    )
    return {"articles": [article_dict(a) for a in listing.rows], "next_cursor": listing.cursor}


# --- one article -------------------------------------------------------------------------------


def _article(store: Store, article_id: int) -> Article:
    if not 0 < article_id <= MAX_ID:
        raise NotFound(f"no article {article_id}")
    return store.get_article_by_id(article_id)


def _revision_line(article_id: int, info: RevisionInfo) -> dict[str, Any]:
    n = info.number
    return {
        "type": "revision",
        "at": info.fetched_at,
        "revision": n,
        "headline": info.headline,
        "title": info.title,
        "changes": [
            {"field": c.field, "kind": str(c.kind), "class": str(c.class_)} for c in info.changes
        ],
        "link": revision_link(article_id, n),
        "diff_link": diff_link(article_id, n - 1, n) if n > 1 else None,
    }


def check_dict(c: CheckInfo) -> dict[str, Any]:
    return {
        "fetch_id": c.fetch_id,
        "at": c.at,
        "outcome": str(c.outcome),
        "http_status": c.http_status,
        "revision": c.revision,
        "error": c.error,
    }


def revisions(store: Store, article_id: int) -> dict[str, Any]:
    """The article's revisions, oldest first, with what changed in each."""
    a = _article(store, article_id)
    lines = [_revision_line(a.id, r) for r in store.history(a.id)]
    return {"article": article_dict(a), "revisions": lines}


def events(store: Store, article_id: int) -> dict[str, Any]:
    a = _article(store, article_id)
    return {"article": article_dict(a), "events": [event_dict(e) for e in store.events(a.id)]}


def checks(
    store: Store, article_id: int, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, Any]:
    a = _article(store, article_id)
    listing = store.checks(a.id, cursor=cursor, limit=limit)
    return {
        "article": article_dict(a),
        "checks": [check_dict(c) for c in listing.rows],
        "next_cursor": listing.cursor,
        "check_days": check_days(store, a.id),
    }


def check_days(store: Store, article_id: int) -> list[dict[str, Any]]:
    """Quiet checks older than the fetch log keeps itemised, counted per day (UTC), newest
    day first: a day's outcomes in one entry."""
    days: dict[Any, dict[str, int]] = {}
    for d in store.check_days(article_id):
        days.setdefault(d.day, {})[str(d.outcome)] = d.checks
    return [{"day": day.isoformat(), "checks": counts} for day, counts in days.items()]


def article(store: Store, article_id: int, check_limit: int = 20) -> dict[str, Any]:
    """An article's page: its fields, every URL it had, a timeline of revisions and URL events
    merged by time (newest first), and its latest checks."""
    a = _article(store, article_id)
    timeline = [_revision_line(a.id, r) for r in store.history(a.id)]
    timeline += [{"type": "event", **event_dict(e)} for e in store.events(a.id)]
    timeline.sort(key=lambda line: line["at"], reverse=True)
    latest = store.checks(a.id, limit=check_limit)
    return {
        "article": article_dict(a),
        "urls": store.article_urls(a.id),
        "timeline": timeline,
        "checks": [check_dict(c) for c in latest.rows],
        "more_checks": latest.cursor,
        "check_days": check_days(store, a.id),
        "last_error": a.last_error,
    }


def _pick(store: Store, a: Article, number: int) -> Revision:
    if not 1 <= number <= a.revision_count:
        raise NotFound(f"article {a.id} has no revision {number} (it has {a.revision_count})")
    return store.revision(a.id, number)


def revision(store: Store, article_id: int, number: int) -> dict[str, Any]:
    """One revision: the page as extraction read it, and what changed from the one before."""
    a = _article(store, article_id)
    r = _pick(store, a, number)
    return {
        "article": article_dict(a),
        "revision": r.number,
        "fetched_at": r.fetched_at,
        "content_hash": r.content_hash,
        "page": page_dict(r.page),
        "changes": [change_dict(c) for c in r.changes],
        "badges": badges(r.changes),
        "previous": revision_link(a.id, number - 1) if number > 1 else None,
        "next": revision_link(a.id, number + 1) if number < a.revision_count else None,
        "diff_link": diff_link(a.id, number - 1, number) if number > 1 else None,
    }


# --- diffs -------------------------------------------------------------------------------------


def _side(r: Revision | None) -> dict[str, Any]:
    if r is None:
        return {"revision": 0, "fetched_at": None, "headline": "", "byline": []}
    return {
        "revision": r.number,
        "fetched_at": r.fetched_at,
        "headline": r.page.headline,
        "byline": list(r.page.byline),
        "link": revision_link(r.article_id, r.number),
    }


def _rendered(changes: Iterable[Change], old_body: str) -> list[dict[str, Any]]:
    """Each change with its inline and side-by-side HTML (escaped by the renderers)."""
    from redline.crawler import diff as differ  # the differ loads only for diff pages

    out = []
    for change in changes:
        text_diff = differ.diff_change(change, old_body if change.field == "body" else None)
        out.append(
            {
                **change_dict(change),
                "inline_html": differ.render_inline_html(text_diff),
                "side_html": differ.render_side_by_side_html(text_diff),
            }
        )
    return out


def _changes(
    old: Revision | None, new: Revision
) -> tuple[tuple[Change, ...], list[dict[str, Any]]]:
    """The changes and their renderings: the stored ones for consecutive revisions; otherwise
    (or where a stored patch no longer applies) the pages compared afresh, as `redline diff`
    does."""
    from redline.crawler import diff as differ

    old_body = old.page.text if old else ""
    if old is not None and new.number == old.number + 1:
        try:
            return new.changes, _rendered(new.changes, old_body)
        except differ.PatchError:
            pass
    fresh = differ.compare(old.page if old else None, new.page)
    return fresh, _rendered(fresh, old_body)


def diff(store: Store, article_id: int, old: int, new: int) -> dict[str, Any]:
    """What changed between two revisions (`old` 0: the first version against nothing)."""
    a = _article(store, article_id)
    if not 0 <= old < new:
        raise InvalidInput(f"old: revision {old} must be older than revision {new}")
    after = _pick(store, a, new)
    before = _pick(store, a, old) if old else None
    changes, rendered = _changes(before, after)
    return {
        "article": article_dict(a),
        "old": _side(before),
        "new": _side(after),
        "changes": rendered,
        "badges": badges(changes),
        "previous": diff_link(a.id, old - 1, old) if old > 1 else None,
        "next": diff_link(a.id, new, new + 1) if new < a.revision_count else None,
        "permalink": diff_link(a.id, old, new),
    }


# --- live-feed items ---------------------------------------------------------------------------


def _item_step(
    history: dict[str, list[dict[str, Any]]],
    seen: dict[str, FeedItem],
    before: dict[str, FeedItem],
    r: Revision,
) -> dict[str, FeedItem]:
    """Note what revision `r` did to each item; return its items by key."""
    from redline.crawler.diff import keyed_items  # the keys the differ names items by

    after = keyed_items(r.page.items)
    for key, item in after.items():
        old = before.get(key)
        kind = "added" if old is None else None
        if old is not None and old != item:
            kind = "updated"
        if kind:
            step = {"revision": r.number, "at": r.fetched_at, "kind": kind}
            history.setdefault(key, []).append({**step, "updated": item.updated})
        seen[key] = item
    for key in before.keys() - after.keys():
        step = {"revision": r.number, "at": r.fetched_at, "kind": "removed", "updated": None}
        history.setdefault(key, []).append(step)
    return after


def items(store: Store, article_id: int) -> dict[str, Any]:
    """A live feed's items, each with its history: added, updated (with the page's own
    "(Updated ...)" marker) and removed, by revision. Current items first, in page order."""
    a = _article(store, article_id)
    changed = {1} | {
        r.number for r in store.history(a.id) if any(c.field.startswith("item:") for c in r.changes)
    }
    history: dict[str, list[dict[str, Any]]] = {}
    seen: dict[str, FeedItem] = {}
    current: dict[str, FeedItem] = {}
    for number in sorted(n for n in changed if n <= a.revision_count):
        current = _item_step(history, seen, current, store.revision(a.id, number))
    gone = [k for k in history if k not in current]
    rows = [
        {**item_dict(seen[k]), "key": k, "current": k in current, "history": history.get(k, [])}
        for k in [*current, *gone]
        if k in seen
    ]
    return {"article": article_dict(a), "items": rows}


# --- search, sources, alerts -------------------------------------------------------------------


def hit_dict(h: SearchHit) -> dict[str, Any]:
    removed = h.removed_in
    return {
        "article_id": h.article_id,
        "url": h.url,
        "site": h.site,
        "headline": h.headline,
        "first": h.first,
        "last": h.last,
        "latest": h.latest,
        "first_at": h.first_at,
        "last_at": h.last_at,
        "removed_in": removed,
        "removed_at": h.removed_at,
        "snippet": h.snippet,
        "article_link": article_link(h.article_id),
        "first_link": revision_link(h.article_id, h.first),
        "removed_link": diff_link(h.article_id, removed - 1, removed) if removed else None,
    }


def search(
    store: Store,
    text: str | None,
    site: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Articles any revision of which ever held `text`, and when it disappeared."""
    query = (text or "").strip()
    if not query:
        raise InvalidInput("q: give some words to search for")
    listing = store.search(query, site=parse_site(site), cursor=cursor, limit=limit)
    return {
        "query": query,
        "site": parse_site(site),
        "hits": [hit_dict(h) for h in listing.rows],
        "next_cursor": listing.cursor,
    }


def source_dict(s: Source) -> dict[str, Any]:
    return {
        "id": s.id,
        "url": s.url,
        "kind": str(s.kind),
        "every_seconds": s.every_seconds,
        "pattern": s.pattern,
        "enabled": s.enabled,
        "next_check_at": s.next_check_at,
        "last_checked_at": s.last_checked_at,
        "last_error": s.last_error,
    }


def sources_health(store: Store, now: datetime) -> dict[str, Any]:
    """Discovery sources, errors by host, the due queue and the alert outbox at a glance."""
    status = store.queue_status(now)
    return {
        "now": now,
        "sources": [source_dict(s) for s in store.list_sources()],
        "queue": {
            "due_now": status.get("due_now", 0),
            "leased": status.get("leased", 0),
            "by_status": dict(status.get("by_status", {})),
            "next_checks": [{"url": u, "at": t} for u, t in status.get("next_checks", [])],
            "plain_fallback": status.get("plain_fallback", 0),
            "plain_fallback_urls": list(status.get("plain_fallback_urls", [])),
        },
        "errors_by_host": [
            {"site": site, "count": n, "last_error": error}
            for site, n, error in status.get("errors_by_host", [])
        ],
        "alerts": dict(store.alert_counts()),
    }


def alert_dict(x: Alert) -> dict[str, Any]:
    n = x.revision
    return {
        "id": x.id,
        "channel": x.channel,
        "rule": x.rule,
        "article_id": x.article_id,
        "revision": n,
        "event_id": x.event_id,
        "kinds": list(x.kinds),
        "status": str(x.status),
        "attempts": x.attempts,
        "created_at": x.created_at,
        "next_attempt_at": x.next_attempt_at,
        "sent_at": x.sent_at,
        "last_error": x.last_error,
        "article_link": article_link(x.article_id),
        "diff_link": diff_link(x.article_id, n - 1, n) if n and n > 1 else None,
    }


def alerts(store: Store, status: str | None = None, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """The alert outbox, newest first, optionally of one status, with counts by status."""
    names = [s.value for s in AlertStatus]
    if status and status not in names:
        raise InvalidInput(f"status: {status[:40]!r} is not one of {', '.join(names)}")
    rows = store.alerts(AlertStatus(status) if status else None, limit=limit)
    return {
        "status": status or None,
        "alerts": [alert_dict(x) for x in rows],
        "counts": dict(store.alert_counts()),
    }
