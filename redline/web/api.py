"""The JSON API under /api/v1/: what the pages show (redline.web.views), as JSON, and two writes.

Reads are open like the pages. Writes (POST articles, POST sources) always need
`Authorization: Bearer <token>`: an API call carries no CSRF token, so on a machine with no
token configured any web page the user opens could otherwise POST to the loopback port. Errors
are `{"error": ..., "status": ...}` (the app's exception handlers, redline.web.security).
Times are ISO 8601 strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from redline import tracking
from redline.storage import InvalidInput, NotFound, SourceKind
from redline.web import openapi, views
from redline.web.params import change_query, page_params
from redline.web.security import require_token
from redline.web.state import WebState

PREFIX = "/api/v1"
MAX_BODY = 64 * 1024
_ARTICLE_FIELDS = {"url", "live"}
_SOURCE_FIELDS = {"url", "kind", "every", "pattern"}


def jsonable(value: Any) -> Any:
    """A view's dict with every datetime as ISO 8601 text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def answer(data: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable(data), status_code=status)


def path_int(request: Request, name: str) -> int:
    """A numeric path segment; anything else names no resource (404)."""
    text = request.path_params[name]
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise NotFound(f"{name}: no such {name.replace('_', ' ')}: {text[:40]!r}")
    return int(text)


# --- reads -------------------------------------------------------------------------------------

Read = Callable[[WebState, Request], dict[str, Any]]


def _changes(state: WebState, request: Request) -> dict[str, Any]:
    cursor, limit = page_params(request.query_params)
    query = change_query(request.query_params)
    return views.recent_changes(state.store, query, cursor, limit)


def _articles(state: WebState, request: Request) -> dict[str, Any]:
    params = request.query_params
    cursor, limit = page_params(params)
    return views.articles(state.store, params.get("site"), params.get("status"), cursor, limit)


def _article(state: WebState, request: Request) -> dict[str, Any]:
    return views.article(state.store, path_int(request, "article_id"))


def _revisions(state: WebState, request: Request) -> dict[str, Any]:
    return views.revisions(state.store, path_int(request, "article_id"))


def _revision(state: WebState, request: Request) -> dict[str, Any]:
    article_id = path_int(request, "article_id")
    return views.revision(state.store, article_id, path_int(request, "number"))


def _diff(state: WebState, request: Request) -> dict[str, Any]:
    article_id = path_int(request, "article_id")
    old, new = path_int(request, "old"), path_int(request, "new")
    return views.diff(state.store, article_id, old, new)


def _items(state: WebState, request: Request) -> dict[str, Any]:
    return views.items(state.store, path_int(request, "article_id"))


def _events(state: WebState, request: Request) -> dict[str, Any]:
    return views.events(state.store, path_int(request, "article_id"))


def _checks(state: WebState, request: Request) -> dict[str, Any]:
    cursor, limit = page_params(request.query_params)
    return views.checks(state.store, path_int(request, "article_id"), cursor, limit)


def _search(state: WebState, request: Request) -> dict[str, Any]:
    params = request.query_params
    cursor, limit = page_params(params, default=20)
    return views.search(state.store, params.get("q"), params.get("site"), cursor, limit)


def _alerts(state: WebState, request: Request) -> dict[str, Any]:
    _, limit = page_params(request.query_params)
    return views.alerts(state.store, request.query_params.get("status"), limit)


def _sources(state: WebState, request: Request) -> dict[str, Any]:
    return views.sources_health(state.store, state.clock())


READS: dict[str, Read] = {
    "/changes": _changes,
    "/articles": _articles,
    "/articles/{article_id}": _article,
    "/articles/{article_id}/revisions": _revisions,
    "/articles/{article_id}/revisions/{number}": _revision,
    "/articles/{article_id}/diff/{old}/{new}": _diff,
    "/articles/{article_id}/items": _items,
    "/articles/{article_id}/events": _events,
    "/articles/{article_id}/checks": _checks,
    "/search": _search,
    "/alerts": _alerts,
    "/sources": _sources,
}


def _read_endpoint(state: WebState, read: Read) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:  # sync: Starlette runs it in its thread pool
        return answer(read(state, request))

    return endpoint


# --- writes ------------------------------------------------------------------------------------


async def json_body(request: Request, fields: set[str]) -> dict[str, Any]:
    """The request's JSON object (at most MAX_BODY bytes), with only known fields."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"the body is over {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidInput("body: not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("body: must be a JSON object")
    unknown = sorted(set(data) - fields)
    if unknown:
        raise InvalidInput(f"{unknown[0][:40]}: unknown field (known: {', '.join(sorted(fields))})")
    return data


def _text(data: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = data.get(name, default)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{name}: must be a string")
    return value


def trackable(state: WebState, url: str | None) -> str:
    """The canonical URL to track, after the rules `redline add` applies and the egress gate."""
    if not url:
        raise InvalidInput("url: required")
    key = tracking.canonical(url)
    try:
        tracking.check_fetchable(key, allow_private=state.settings.allow_private_networks)
    except ValueError as exc:
        raise InvalidInput(f"url: {exc}") from None
    return key


def add_article(state: WebState, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    live = data.get("live", False)
    if not isinstance(live, bool):
        raise InvalidInput("live: must be true or false")
    url = trackable(state, _text(data, "url"))
    article, created = state.store.add_article(url, state.clock(), is_live=live)
    return {"article": views.article_dict(article), "created": created}, created


def add_source(state: WebState, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """`redline sources add` over HTTP: a live source is tracked as one article."""
    kinds = [k.value for k in SourceKind]
    kind = _text(data, "kind")
    if kind not in kinds:
        raise InvalidInput(f"kind: must be one of {', '.join(kinds)}")
    every = data.get("every", "10m")
    try:
        seconds = tracking.source_interval(every)
    except ValueError as exc:
        raise InvalidInput(f"every: {exc}") from None
    pattern = _text(data, "pattern")
    try:
        tracking.check_pattern(pattern)
    except ValueError as exc:
        raise InvalidInput(f"pattern: {exc}") from None
    url = trackable(state, _text(data, "url"))
    store, now = state.store, state.clock()
    if kind == SourceKind.LIVE:
        article, created = store.add_article(url, now, is_live=True)
        return {"article": views.article_dict(article), "created": created}, created
    source, created = store.add_source(url, SourceKind(kind), seconds, now, pattern=pattern)
    return {"source": views.source_dict(source), "created": created}, created


Write = Callable[[WebState, dict[str, Any]], tuple[dict[str, Any], bool]]


def _write_endpoint(state: WebState, write: Write, fields: set[str]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        require_token(request, state)
        data = await json_body(request, fields)
        result, created = await run_in_threadpool(write, state, data)
        return answer(result, 201 if created else 200)

    return endpoint


def _openapi(request: Request) -> Response:
    return JSONResponse(openapi.document())


def routes(state: WebState) -> list[BaseRoute]:
    reads: list[BaseRoute] = [
        Route(PREFIX + path, _read_endpoint(state, read), methods=["GET"])
        for path, read in READS.items()
    ]
    return [
        *reads,
        Route(
            PREFIX + "/articles",
            _write_endpoint(state, add_article, _ARTICLE_FIELDS),
            methods=["POST"],
        ),
        Route(
            PREFIX + "/sources",
            _write_endpoint(state, add_source, _SOURCE_FIELDS),
            methods=["POST"],
        ),
        Route("/openapi.json", _openapi, methods=["GET"]),
    ]
