"""The HTML pages: server-rendered from the dicts of `redline.web.views`, the same the JSON API
serves, with Jinja2 templates that escape everything.

Scraped text is hostile: autoescape is on for every template, and `visible` (the environment's
`finalize`) shows bidirectional overrides and control characters as their code point, so a
headline cannot reorder what is around it. The only HTML inserted as it is comes from
crawler.diff's renderers (`inline_html`, `side_html`), which escape every piece of text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from redline.storage import CHANGE_GROUPS, ChangeClass, InvalidInput, SourceKind
from redline.web import api, security, views
from redline.web.params import MAX_ID, change_query, page_params, parse_id
from redline.web.state import WebState
from redline.web.text import shown

TEMPLATES = Path(__file__).parent / "templates"
_FILTERS = ("site", "kind", "class", "since", "until", "article")
_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\s]*$")


def visible(value: Any) -> Any:
    """Every `{{ }}` output passes here before escaping: None shows as nothing, and hidden
    characters as "[U+202E]" (plain text, so it is safe inside attributes and Markup alike)."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return Markup(shown(str(value)))
    if isinstance(value, str):
        return shown(value)
    return value


def utc(value: datetime | None, with_seconds: bool = False) -> str:
    if value is None:
        return ""
    moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if with_seconds else "%Y-%m-%d %H:%M UTC")


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def web_url(value: str | None) -> str | None:
    """A link target for a stored URL: http(s) only (anything else is shown, never linked)."""
    if value and value.lower().startswith(("http://", "https://")):
        return value
    return None


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=visible,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {"utc": utc, "iso": iso, "web_url": web_url}
    env.globals |= {
        "change_groups": CHANGE_GROUPS,
        "change_classes": [c.value for c in ChangeClass],
        "source_kinds": [k.value for k in SourceKind],
    }
    return env


templates = Jinja2Templates(env=_environment())


# --- rendering ---------------------------------------------------------------------------------


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """A page, with what the layout needs: the CSRF value for its forms, whether this browser
    may write, the feed it names."""
    state: WebState = request.app.state.web
    context = {
        "csrf": security.csrf_token(request, state),
        "can_write": security.has_session(request, state),
        "login_needed": security.token_required(state),
        "feed": None,
        "feed_title": None,
        **context,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    security.set_csrf_cookie(request, response)
    response.headers["cache-control"] = "no-store"
    return response


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(
        request, "error.html", {"status": status, "title": title, "message": message}, status
    )


def _params(request: Request) -> dict[str, str]:
    """Query parameters, repeated names (checkboxes) joined by commas as views expect."""
    query = request.query_params
    return {key: ",".join(v for v in query.getlist(key) if v) for key in query}


def _query(params: Mapping[str, str], **extra: str | None) -> str:
    pairs = {k: v for k, v in {**params, **extra}.items() if v}
    return ("?" + urlencode(pairs)) if pairs else ""


def _path_id(request: Request, name: str = "id") -> int:
    value = parse_id(name, request.path_params[name])
    assert value is not None
    return value


def _path_number(request: Request, name: str) -> int:
    text = request.path_params[name]
    if not text.isascii() or not text.isdigit() or int(text) > MAX_ID:
        raise InvalidInput(f"{name}: not a revision number: {text[:40]!r}")
    return int(text)


# --- recent changes and articles --------------------------------------------------------------


def home(request: Request) -> Response:
    state: WebState = request.app.state.web
    params = _params(request)
    query = change_query(params)
    cursor, limit = page_params(params)
    data = views.recent_changes(state.store, query, cursor, limit)
    filters = {k: params[k] for k in _FILTERS if params.get(k)}
    older = _query(filters, cursor=data["next_cursor"]) if data["next_cursor"] else None
    context = {
        **data,
        "filters": filters,
        "kinds": set(query.groups),
        "classes": {str(c) for c in query.classes},
        "older": older,
        "first_page": _query(filters) or "/" if cursor else None,
        "feed": "/feeds/changes.atom" + _query(filters),
        "feed_title": "Recent changes",
    }
    return render(request, "changes.html", context)


def articles_list(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    state: WebState = request.app.state.web
    params = _params(request)
    cursor, limit = page_params(params)
    data = views.articles(state.store, params.get("site"), params.get("status"), cursor, limit)
    filters = {k: params[k] for k in ("site", "status") if params.get(k)}
    more = _query(filters, cursor=data["next_cursor"]) if data["next_cursor"] else None
    context = {**data, "filters": filters, "more": more, "error": error}
    return render(request, "articles.html", context, status_code)


def article_page(request: Request) -> Response:
    state: WebState = request.app.state.web
    article_id = _path_id(request)
    data = views.article(state.store, article_id)
    revisions = sorted(
        (line for line in data["timeline"] if line["type"] == "revision"),
        key=lambda line: line["revision"],
    )
    previous = {r["revision"]: r["headline"] for r in revisions}
    for line in revisions:
        before = previous.get(line["revision"] - 1)
        line["old_headline"] = before if before is not None and before != line["headline"] else None
    newest = revisions[-1]["revision"] if revisions else 0
    context = {
        **data,
        "revision_numbers": [r["revision"] for r in reversed(revisions)],
        "compare_from": max(newest - 1, 1),
        "compare_to": newest,
        "feed": f"/articles/{article_id}/feed.atom",
        "feed_title": "Changes to this article",
        "added": request.query_params.get("added"),
    }
    return render(request, "article.html", context)


def compare(request: Request) -> Response:
    article_id = _path_id(request)
    numbers = []
    for name in ("from", "to"):
        text = request.query_params.get(name, "")
        if not text.isascii() or not text.isdigit() or int(text) > MAX_ID:
            raise InvalidInput(f"{name}: pick a revision to compare")
        numbers.append(int(text))
    old, new = sorted(numbers)
    if old == new:
        raise InvalidInput("from: pick two different revisions")
    return RedirectResponse(views.diff_link(article_id, old, new), status_code=303)


def diff_page(request: Request) -> Response:
    state: WebState = request.app.state.web
    article_id = _path_id(request)
    old, new = _path_number(request, "old"), _path_number(request, "new")
    view = request.query_params.get("view") or "inline"
    if view not in ("inline", "side"):
        raise InvalidInput(f"view: {view[:20]!r} is not inline or side")
    data = views.diff(state.store, article_id, old, new)
    changes = data["changes"]
    for change in changes:
        change["html"] = Markup(change["inline_html" if view == "inline" else "side_html"])
    top = [c for c in changes if c["field"] in ("headline", "title", "byline")]
    dates = [c for c in changes if c["field"] in ("published", "updated")]
    body = [c for c in changes if c["field"] == "body"]
    items = [c for c in changes if c["field"].startswith("item:")]
    context = {
        **data,
        "view": view,
        "top": top,
        "dates": dates,
        "body": body,
        "items": items,
        "feed": f"/articles/{article_id}/feed.atom",
        "feed_title": "Changes to this article",
    }
    return render(request, "diff.html", context)


def revision_page(request: Request) -> Response:
    state: WebState = request.app.state.web
    article_id = _path_id(request)
    data = views.revision(state.store, article_id, _path_number(request, "n"))
    return render(request, "revision.html", data)


def raw_page(request: Request) -> Response:
    """The stored HTML as text: escaped inside <pre>, never served as a page of its own."""
    state: WebState = request.app.state.web
    article_id = _path_id(request)
    number = _path_number(request, "n")
    data = views.revision(state.store, article_id, number)
    raw = state.store.raw_html(article_id, number)
    text = raw.decode("utf-8", errors="replace") if raw is not None else None
    return render(request, "raw.html", {**data, "raw": text, "size": len(raw or b"")})


def items_page(request: Request) -> Response:
    state: WebState = request.app.state.web
    article_id = _path_id(request)
    data = views.items(state.store, article_id)
    context = {
        "article": data["article"],
        "rows": data["items"],
        "feed": f"/articles/{article_id}/feed.atom",
        "feed_title": "Changes to this live feed",
    }
    return render(request, "items.html", context)


def search_page(request: Request) -> Response:
    state: WebState = request.app.state.web
    params = _params(request)
    q = (params.get("q") or "").strip()
    site = (params.get("site") or "").strip() or None
    context: dict[str, Any] = {"q": q, "site": site, "hits": None, "more": None}
    if q:
        cursor, limit = page_params(params, default=20)
        data = views.search(state.store, q, site, cursor, limit)
        filters = {"q": q, "site": site or ""}
        more = _query(filters, cursor=data["next_cursor"]) if data["next_cursor"] else None
        context |= {
            "hits": data["hits"],
            "more": more,
            "feed": "/feeds/search.atom" + _query(filters),
            "feed_title": f"Search: {q}",
        }
    return render(request, "search.html", context)


def sources_page(
    request: Request,
    error: str | None = None,
    form: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    state: WebState = request.app.state.web
    status = request.query_params.get("status") or None
    health = views.sources_health(state.store, state.clock())
    outbox = views.alerts(state.store, status, limit=50)
    context = {
        **health,
        "outbox": outbox,
        "error": error,
        "form": dict(form or {}),
        "added": request.query_params.get("added"),
    }
    return render(request, "sources.html", context, status_code)


# --- forms -------------------------------------------------------------------------------------


async def _form(request: Request) -> FormData:
    """The posted form, once its CSRF value and the browser's right to write are checked."""
    state: WebState = request.app.state.web
    form = await request.form(max_files=0, max_fields=20, max_part_size=64 * 1024)
    security.check_csrf(request, state, form)
    security.require_session(request, state)
    return form


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def add_article(request: Request) -> Response:
    """POST /articles: track a URL under the rules the CLI and the JSON API share
    (`api.add_article`: canonical form, http(s) only, the egress gate's SSRF rules)."""
    state: WebState = request.app.state.web
    form = await _form(request)
    data = {"url": _field(form, "url"), "live": bool(_field(form, "live"))}

    def track() -> Response:
        try:
            result, created = api.add_article(state, data)
        except InvalidInput as exc:
            return articles_list(request, str(exc), 422)
        target = f"{result['article']['link']}?added={int(created)}"
        return RedirectResponse(target, status_code=303)

    return await run_in_threadpool(track)


async def add_source(request: Request) -> Response:
    """POST /sources: a discovery source under the rules `redline sources add` and the JSON
    API share (`api.add_source`; a live source is tracked as one article)."""
    state: WebState = request.app.state.web
    form = await _form(request)
    values = {name: _field(form, name) for name in ("url", "kind", "every", "pattern")}
    data = {name: value for name, value in values.items() if value}

    def add() -> Response:
        try:
            result, created = api.add_source(state, data)
        except InvalidInput as exc:
            return sources_page(request, str(exc), values, 422)
        if "article" in result:
            target = f"{result['article']['link']}?added={int(created)}"
        else:
            target = f"/sources?added={int(created)}"
        return RedirectResponse(target, status_code=303)

    return await run_in_threadpool(add)


def login_form(request: Request) -> Response:
    return render(request, "login.html", {"next": _next(request.query_params.get("next"))})


async def login(request: Request) -> Response:
    """POST /login: the token, compared in constant time; sets the HttpOnly session cookie."""
    state: WebState = request.app.state.web
    form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
    security.check_csrf(request, state, form)
    target = _next(_field(form, "next"))
    if not state.settings.token:
        raise HTTPException(403, "no token is configured: set [web] token_env")
    if not security.check_login(state, _field(form, "token")):
        context = {"next": target, "error": "that is not the token"}
        return render(request, "login.html", context, 401)
    response = RedirectResponse(target, status_code=303)
    security.set_session_cookie(request, response, state)
    return response


async def logout(request: Request) -> Response:
    state: WebState = request.app.state.web
    form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
    security.check_csrf(request, state, form)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(security.SESSION_COOKIE, httponly=True, samesite="strict")
    return response


def _next(value: str | None) -> str:
    """Where to go after logging in: a path of this site only (no open redirect)."""
    return value if value and _LOCAL_PATH.match(value) else "/"


def routes(state: WebState) -> list[BaseRoute]:
    return [
        Route("/", home, name="home"),
        Route("/articles", articles_list, name="articles"),
        Route("/articles", add_article, methods=["POST"], name="add_article"),
        Route("/articles/{id}", article_page, name="article"),
        Route("/articles/{id}/compare", compare, name="compare"),
        Route("/articles/{id}/diff/{old}/{new}", diff_page, name="diff"),
        Route("/articles/{id}/revisions/{n}", revision_page, name="revision"),
        Route("/articles/{id}/revisions/{n}/raw", raw_page, name="raw"),
        Route("/articles/{id}/items", items_page, name="items"),
        Route("/search", search_page, name="search"),
        Route("/sources", sources_page, name="sources"),
        Route("/sources", add_source, methods=["POST"], name="add_source"),
        Route("/login", login_form, name="login_form"),
        Route("/login", login, methods=["POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
    ]
