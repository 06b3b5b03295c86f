"""What keeps the web app safe to open: security headers on every response, CSRF tokens for the
browser's forms, the write token, and error pages that never show a traceback.

- Headers: `SecurityHeaders` (pure ASGI) adds a strict Content-Security-Policy (no inline script
  or style, nothing from elsewhere), nosniff, no referrer and no framing to every response,
  static files and errors included.
- CSRF: `csrf_token(request, state)` gives the value a form carries; the browser keeps a random
  nonce in the `redline_csrf` cookie (HttpOnly, SameSite=Strict) and the form carries
  HMAC(secret, nonce), so a cookie planted by a sibling host is useless without the secret.
  `check_csrf(request, state, form)` refuses a POST whose pair does not match (403), and one whose
  Origin header names another site.
- The token: the JSON API's writes always need `Authorization: Bearer <token>`
  (`require_token`). The browser's forms (which also carry the CSRF value) need it when
  `[web] token_env` names a token or the app listens beyond loopback: the browser logs in once
  at /login and carries an HttpOnly SameSite=Strict session cookie derived from the token
  (`require_session`). Every comparison is `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redline.storage import DamagedRevision, DatabaseUnavailable, InvalidInput, NotFound
from redline.web.state import WebState

logger = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
CSRF_COOKIE = "redline_csrf"
CSRF_FIELD = "csrf"
SESSION_COOKIE = "redline_session"
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class SecurityHeaders:
    """Adds HEADERS to every HTTP response that does not already set them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    return headers + [(name, value) for name, value in HEADERS if name not in present]


def middleware(state: WebState) -> list[Middleware]:
    return [Middleware(SecurityHeaders)]


# --- CSRF ------------------------------------------------------------------------------------


def _secret(state: WebState) -> bytes:
    """The key CSRF values are signed with: random per process (a form older than a restart is
    refused once, and the page reload that follows carries a fresh one)."""
    secret = state.extra.get("csrf_secret")
    if not isinstance(secret, bytes):
        secret = state.extra.setdefault("csrf_secret", secrets.token_bytes(32))
    return secret


def _sign(state: WebState, nonce: str) -> str:
    return hmac.new(_secret(state), nonce.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request, state: WebState) -> str:
    """The value a form's hidden `csrf` field carries. Starts a nonce when the browser has none
    (`set_csrf_cookie` then sends it with the response)."""
    nonce = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_nonce", None)
    if not nonce or len(nonce) > 128:
        nonce = secrets.token_urlsafe(32)
        request.state.csrf_nonce = nonce
    return _sign(state, nonce)


def set_csrf_cookie(request: Request, response: Response) -> None:
    nonce = getattr(request.state, "csrf_nonce", None)
    if nonce:
        response.set_cookie(
            CSRF_COOKIE, nonce, httponly=True, samesite="strict", secure=_https(request)
        )


def check_csrf(request: Request, state: WebState, form: FormData) -> None:
    """Raise 403 unless the form's `csrf` value signs the browser's nonce and the request does
    not come from another origin."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and not _same_origin(origin, request, state):
        raise HTTPException(403, "this form was sent from another site")
    nonce = request.cookies.get(CSRF_COOKIE, "")
    given = form.get(CSRF_FIELD)
    if not nonce or not isinstance(given, str) or not given:
        raise HTTPException(403, "the form's security token is missing: reload the page")
    if not hmac.compare_digest(given.encode(), _sign(state, nonce).encode()):
        raise HTTPException(403, "the form's security token is wrong: reload the page")


def _same_origin(origin: str, request: Request, state: WebState) -> bool:
    own = {f"{request.url.scheme}://{request.url.netloc}"}
    if state.settings.base_url:
        base = state.settings.base_url.rstrip("/")
        own.add("/".join(base.split("/")[:3]))
    return origin.rstrip("/") in own


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


# --- the write token ---------------------------------------------------------------------------


def token_required(state: WebState) -> bool:
    """Writes need the token when one is configured, or when the app listens beyond loopback
    (then, with no token configured, nobody can write through the web)."""
    return bool(state.settings.token) or not is_loopback(state.settings.bind)


def is_loopback(bind: str) -> bool:
    host = bind.strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _no_token_configured() -> HTTPException:
    return HTTPException(
        403,
        "writes through the web are off: the app listens beyond loopback and no token is "
        "configured (set [web] token_env)",
    )


def require_token(request: Request, state: WebState) -> None:
    """For the JSON API's writes: `Authorization: Bearer <token>`, always (a page elsewhere can
    make a browser POST to a loopback port, so loopback alone is no credential for the API).
    Raises HTTPException 401 (wrong or missing token) or 403 (no token configured)."""
    token = state.settings.token
    if not token:
        raise HTTPException(
            403, "writes through the API are off: no token is configured (set [web] token_env)"
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise HTTPException(
            401,
            "this needs the token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )


def session_value(token: str) -> str:
    """What the session cookie holds: derived from the token, never the token itself."""
    return hmac.new(token.encode(), b"redline web session", hashlib.sha256).hexdigest()


def has_session(request: Request, state: WebState) -> bool:
    """Whether this browser may write: no token needed, or it logged in with the token."""
    if not token_required(state):
        return True
    token = state.settings.token
    if not token:
        return False
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


def require_session(request: Request, state: WebState) -> None:
    """For the browser's writes: 401 until it logged in (403 when no token is configured)."""
    if has_session(request, state):
        return
    if not state.settings.token:
        raise _no_token_configured()
    raise HTTPException(401, "log in with the token first")


def check_login(state: WebState, given: str) -> bool:
    token = state.settings.token
    if not token:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def set_session_cookie(request: Request, response: Response, state: WebState) -> None:
    token = state.settings.token
    if token:
        response.set_cookie(
            SESSION_COOKIE,
            session_value(token),
            httponly=True,
            samesite="strict",
            secure=_https(request),
        )


# --- errors ------------------------------------------------------------------------------------

_TITLES = {
    400: "Bad request",
    401: "Log in needed",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    422: "Invalid input",
    500: "Server error",
    503: "Database unavailable",
}


def error_response(request: Request, status: int, message: str) -> Response:
    """JSON under /api/, an HTML page elsewhere."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message, "status": status}, status_code=status)
    try:
        from redline.web.pages import error_page  # pages imports this module: import late

        return error_page(request, status, _TITLES.get(status, "Error"), message)
    except Exception:  # the error page itself failed: a plain answer still goes out
        logger.exception("rendering the error page failed")
        return PlainTextResponse(f"{status} {message}", status_code=status)


def exception_handlers(state: WebState) -> dict[Any, Any]:
    def not_found(request: Request, exc: Exception) -> Response:
        return error_response(request, 404, str(exc) or "no such page")

    def invalid(request: Request, exc: Exception) -> Response:
        return error_response(request, 422, str(exc) or "invalid input")

    def unavailable(request: Request, exc: Exception) -> Response:
        logger.warning("database unavailable: %s", exc)
        return error_response(request, 503, "the database is unavailable; try again shortly")

    def damaged(request: Request, exc: Exception) -> Response:
        # The stored bytes of one revision fail their checksum: say which, not "went wrong".
        logger.error("%s %s: %s", request.method, request.url.path, exc)
        return error_response(request, 500, str(exc))

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = error_response(request, exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    def server_error(request: Request, exc: Exception) -> Response:
        # Starlette's outermost middleware calls this, outside SecurityHeaders: add them here.
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        response = error_response(request, 500, "something went wrong on our side")
        for name, value in HEADERS:
            response.headers[name.decode()] = value.decode()
        return response

    return {
        NotFound: not_found,
        InvalidInput: invalid,
        DatabaseUnavailable: unavailable,
        DamagedRevision: damaged,
        HTTPException: http_error,
        Exception: server_error,
    }
