"""The OpenAPI 3.1 description of the JSON API (GET /openapi.json), written by hand from the
views' dicts (redline.web.views); tests/test_web_api.py checks every answer against it."""

from __future__ import annotations

from functools import cache
from typing import Any

from redline.storage import CHANGE_GROUPS, AlertStatus, ArticleStatus, ChangeClass, SourceKind

Schema = dict[str, Any]
VERSION = "1.0.0"


def _str(nullable: bool = False, **extra: Any) -> Schema:
    return {"type": ["string", "null"] if nullable else "string", **extra}


def _time(nullable: bool = True) -> Schema:
    return _str(nullable, format="date-time")


def _int(nullable: bool = False) -> Schema:
    return {"type": ["integer", "null"] if nullable else "integer"}


def _bool() -> Schema:
    return {"type": "boolean"}


def _list(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def _obj(**props: Schema) -> Schema:
    return {"type": "object", "properties": props, "required": sorted(props)}


def _ref(name: str, nullable: bool = False) -> Schema:
    ref = {"$ref": f"#/components/schemas/{name}"}
    return {"oneOf": [ref, {"type": "null"}]} if nullable else ref


def _components() -> dict[str, Schema]:
    article = _obj(
        id=_int(),
        url=_str(),
        site=_str(),
        status=_str(enum=[s.value for s in ArticleStatus]),
        paused=_bool(),
        live=_bool(),
        source_id=_int(True),
        first_seen=_time(False),
        last_checked_at=_time(),
        last_changed_at=_time(),
        next_check_at=_time(),
        revisions=_int(),
        error_count=_int(),
        last_error=_str(True),
        link=_str(),
    )
    change = _obj(
        field=_str(),
        kind=_str(),
        **{"class": _str(enum=[c.value for c in ChangeClass])},
        notes=_list(_str()),
        stealth=_bool(),
        coarse=_bool(),
        words_added=_int(),
        words_removed=_int(),
        similarity={"type": "number"},
        old=_str(True),
        new=_str(True),
        summary=_str(True),
    )
    rendered = {
        "allOf": [
            _ref("Change"),
            _obj(inline_html=_str(), side_html=_str()),
        ]
    }
    summary = _obj(field=_str(), kind=_str(), **{"class": _str()})
    event = _obj(id=_int(True), at=_time(False), kind=_str(), detail=_str())
    revision_line = _obj(
        type=_str(const="revision"),
        at=_time(False),
        revision=_int(),
        headline=_str(),
        title=_str(),
        changes=_list(summary),
        link=_str(),
        diff_link=_str(True),
    )
    event_line = {"allOf": [_ref("Event"), _obj(type=_str(const="event"))]}
    check = _obj(
        fetch_id=_str(),
        at=_time(False),
        outcome=_str(),
        http_status=_int(True),
        revision=_int(True),
        error=_str(True),
    )
    entry = _obj(
        type=_str(enum=["revision", "event"]),
        article_id=_int(),
        url=_str(),
        site=_str(),
        at=_time(False),
        revision=_int(True),
        headline=_str(),
        old_headline=_str(True),
        summary=_str(),
        fields=_list(_str()),
        changes=_list(_ref("Change")),
        badges=_list(_str()),
        event=_ref("Event", nullable=True),
        article_link=_str(),
        diff_link=_str(True),
    )
    item = _obj(key=_str(), headline=_str(), text=_str(), time=_time(), updated=_str(True))
    item_step = _obj(
        revision=_int(),
        at=_time(False),
        kind=_str(enum=["added", "updated", "removed"]),
        updated=_str(True),
    )
    tracked_item = {
        "allOf": [_ref("Item"), _obj(current=_bool(), history=_list(item_step))],
    }
    page = _obj(
        kind=_str(),
        headline=_str(),
        title=_str(),
        byline=_list(_str()),
        published=_time(),
        updated=_time(),
        body=_list(_str()),
        items=_list(_ref("Item")),
        language=_str(True),
        canonical_url=_str(True),
        extractor=_str(),
        extractor_version=_str(),
        reason=_str(True),
    )
    side = {
        "type": "object",
        "properties": {
            "revision": _int(),
            "fetched_at": _time(),
            "headline": _str(),
            "byline": _list(_str()),
            "link": _str(),
        },
        "required": ["revision", "fetched_at", "headline", "byline"],
    }
    hit = _obj(
        article_id=_int(),
        url=_str(),
        site=_str(),
        headline=_str(),
        first=_int(),
        last=_int(),
        latest=_int(),
        first_at=_time(False),
        last_at=_time(False),
        removed_in=_int(True),
        removed_at=_time(),
        snippet=_str(),
        article_link=_str(),
        first_link=_str(),
        removed_link=_str(True),
    )
    source = _obj(
        id=_int(),
        url=_str(),
        kind=_str(enum=[k.value for k in SourceKind]),
        every_seconds=_int(),
        pattern=_str(True),
        enabled=_bool(),
        next_check_at=_time(),
        last_checked_at=_time(),
        last_error=_str(True),
    )
    alert = _obj(
        id=_int(),
        channel=_str(),
        rule=_str(),
        article_id=_int(),
        revision=_int(True),
        event_id=_int(True),
        kinds=_list(_str()),
        status=_str(enum=[s.value for s in AlertStatus]),
        attempts=_int(),
        created_at=_time(False),
        next_attempt_at=_time(),
        sent_at=_time(),
        last_error=_str(True),
        article_link=_str(),
        diff_link=_str(True),
    )
    counts = {"type": "object", "additionalProperties": _int()}
    return {
        "Article": article,
        "Change": change,
        "RenderedChange": rendered,
        "Event": event,
        "RevisionLine": revision_line,
        "EventLine": event_line,
        "Check": check,
        "CheckDay": _obj(
            day=_str(format="date"),
            checks={"type": "object", "additionalProperties": _int()},
        ),
        "ChangeEntry": entry,
        "Item": item,
        "TrackedItem": tracked_item,
        "Page": page,
        "DiffSide": side,
        "SearchHit": hit,
        "Source": source,
        "Alert": alert,
        "Counts": counts,
        "Error": _obj(error=_str(), status=_int()),
        # --- whole answers
        "Changes": _obj(entries=_list(_ref("ChangeEntry")), next_cursor=_str(True)),
        "Articles": _obj(articles=_list(_ref("Article")), next_cursor=_str(True)),
        "ArticleDetail": _obj(
            article=_ref("Article"),
            urls=_list(_str()),
            timeline=_list({"oneOf": [_ref("RevisionLine"), _ref("EventLine")]}),
            checks=_list(_ref("Check")),
            more_checks=_str(True),
            check_days=_list(_ref("CheckDay")),
            last_error=_str(True),
        ),
        "Revisions": _obj(article=_ref("Article"), revisions=_list(_ref("RevisionLine"))),
        "Revision": _obj(
            article=_ref("Article"),
            revision=_int(),
            fetched_at=_time(False),
            content_hash=_str(),
            page=_ref("Page"),
            changes=_list(_ref("Change")),
            badges=_list(_str()),
            previous=_str(True),
            next=_str(True),
            diff_link=_str(True),
        ),
        "Diff": _obj(
            article=_ref("Article"),
            old=_ref("DiffSide"),
            new=_ref("DiffSide"),
            changes=_list(_ref("RenderedChange")),
            badges=_list(_str()),
            previous=_str(True),
            next=_str(True),
            permalink=_str(),
        ),
        "Items": _obj(article=_ref("Article"), items=_list(_ref("TrackedItem"))),
        "Events": _obj(article=_ref("Article"), events=_list(_ref("Event"))),
        "Checks": _obj(
            article=_ref("Article"),
            checks=_list(_ref("Check")),
            next_cursor=_str(True),
            check_days=_list(_ref("CheckDay")),
        ),
        "Search": _obj(
            query=_str(), site=_str(True), hits=_list(_ref("SearchHit")), next_cursor=_str(True)
        ),
        "Alerts": _obj(status=_str(True), alerts=_list(_ref("Alert")), counts=_ref("Counts")),
        "SourcesHealth": _obj(
            now=_time(False),
            sources=_list(_ref("Source")),
            queue=_obj(
                due_now=_int(),
                leased=_int(),
                by_status=_ref("Counts"),
                next_checks=_list(_obj(url=_str(), at=_time())),
                plain_fallback=_int(),
                plain_fallback_urls=_list(_str()),
            ),
            errors_by_host=_list(_obj(site=_str(), count=_int(), last_error=_str(True))),
            alerts=_ref("Counts"),
        ),
        "Added": {
            "type": "object",
            "properties": {
                "article": _ref("Article"),
                "source": _ref("Source"),
                "created": _bool(),
            },
            "required": ["created"],
        },
    }


# --- operations --------------------------------------------------------------------------------

_ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
_NUMBER = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
_CURSOR = {
    "name": "cursor",
    "in": "query",
    "schema": _str(),
    "description": "next_cursor of the previous page",
}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 200},
}


def _query(name: str, schema: Schema, description: str = "") -> Schema:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _path(name: str, schema: Schema = _ID) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _json(name: str) -> Schema:
    return {"application/json": {"schema": _ref(name)}}


def _errors() -> dict[str, Schema]:
    error = {"description": "An error, explained", "content": _json("Error")}
    return {"4XX": error, "503": {**error, "description": "The database is unavailable"}}


def _get(summary: str, answer: str, *params: Schema) -> Schema:
    return {
        "get": {
            "summary": summary,
            "parameters": list(params),
            "responses": {"200": {"description": summary, "content": _json(answer)}, **_errors()},
        }
    }


def _post(summary: str, body: Schema) -> Schema:
    added = {"description": "Added", "content": _json("Added")}
    return {
        "summary": summary,
        "security": [{"bearer": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "201": added,
            "200": {**added, "description": "Already tracked"},
            **_errors(),
        },
    }


def _filters() -> list[Schema]:
    groups = ", ".join(CHANGE_GROUPS)
    return [
        _query("site", _str(), "only this site (host without www.)"),
        _query("article", _ID, "only this article"),
        _query("kind", _str(), f"what changed, comma-separated: {groups}"),
        _query("class", _str(), "change classes, comma-separated: " + ", ".join(ChangeClass)),
        _query("since", _str(), "from this date or ISO 8601 time (inclusive)"),
        _query("until", _str(), "before this date or ISO 8601 time"),
        _CURSOR,
        _LIMIT,
    ]


def _paths() -> dict[str, Schema]:
    one = _path("article_id")
    article_body = {
        "type": "object",
        "properties": {"url": _str(), "live": _bool()},
        "required": ["url"],
        "additionalProperties": False,
    }
    source_body = {
        "type": "object",
        "properties": {
            "url": _str(),
            "kind": _str(enum=[k.value for k in SourceKind]),
            "every": {"type": ["string", "number"], "description": "90s, 10m, 6h, 1d"},
            "pattern": _str(True),
        },
        "required": ["url", "kind"],
        "additionalProperties": False,
    }
    status = _str(enum=[s.value for s in ArticleStatus])
    articles = _get(
        "Tracked articles, the most recently changed first",
        "Articles",
        _query("site", _str()),
        _query("status", status),
        _CURSOR,
        _LIMIT,
    )
    articles["post"] = _post("Track an article URL", article_body)
    sources = _get("Discovery sources, errors by host, the due queue, alerts", "SourcesHealth")
    sources["post"] = _post("Add a discovery source (live: a live feed article)", source_body)
    search = (_query("q", _str(), 'words, "a phrase", -not, or'), _query("site", _str()))
    return {
        "/api/v1/changes": _get("Recent changes and URL events", "Changes", *_filters()),
        "/api/v1/articles": articles,
        "/api/v1/articles/{article_id}": _get("An article and its timeline", "ArticleDetail", one),
        "/api/v1/articles/{article_id}/revisions": _get("Its revisions", "Revisions", one),
        "/api/v1/articles/{article_id}/revisions/{number}": _get(
            "One revision", "Revision", one, _path("number")
        ),
        "/api/v1/articles/{article_id}/diff/{old}/{new}": _get(
            "What changed between two revisions", "Diff", one, _path("old", _NUMBER), _path("new")
        ),
        "/api/v1/articles/{article_id}/items": _get(
            "Live-feed items and their history", "Items", one
        ),
        "/api/v1/articles/{article_id}/events": _get("What happened to its URL", "Events", one),
        "/api/v1/articles/{article_id}/checks": _get(
            "Its checks, newest first; older quiet checks as daily counts (check_days)",
            "Checks",
            one,
            _CURSOR,
            _LIMIT,
        ),
        "/api/v1/search": _get(
            "Articles that ever held some text", "Search", *search, _CURSOR, _LIMIT
        ),
        "/api/v1/alerts": _get(
            "The alert outbox",
            "Alerts",
            _query("status", _str(enum=[s.value for s in AlertStatus])),
            _LIMIT,
        ),
        "/api/v1/sources": sources,
    }


@cache
def document() -> Schema:
    """The whole description; built once."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Redline",
            "version": VERSION,
            "description": "Every revision of the articles Redline watches, diffed word by word.",
        },
        "paths": _paths(),
        "components": {
            "schemas": _components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
