"""Channels: where messages go. The only I/O of the alert path, kept at its edge.

`build_channel(name, url, ...)` picks the sender from the URL: http:// and https:// are our own
webhooks (signed JSON, see docs/alerts.md "Webhooks"); any other scheme goes through Apprise
(slack://, mailto://, json://, ntfy://...). Every sender raises DeliveryError with a short
reason that is safe to log: channel URLs hold tokens and passwords, so no error, repr or
description here ever shows more of a URL than `mask_url` does.

Sending never blocks the event loop nor its default thread pool (the store's calls use it):
webhooks use aiohttp on the running loop; Apprise, which blocks, runs in a one-thread pool owned
by its channel, bounded by the channel's timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import sys
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol, TextIO
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import apprise

from redline.scheduler.alerts.messages import Message
from redline.scheduler.terminal import terminal_safe

BODY_FORMATS = ("text", "html", "markdown")
# Schemes whose URL names a server before its path: mask_url shows that host. Elsewhere (slack://,
# tgram://, ntfy://...) the part after :// is itself a token or a secret topic.
_SERVERS = (
    "http",
    "json",
    "form",
    "xml",
    "mailto",
    "gotify",
    "mmost",
    "matrix",
    "rocket",
    "apprise",
)
HOST_SCHEMES = frozenset(_SERVERS + tuple(f"{scheme}s" for scheme in _SERVERS))
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# Characters JSON allows raw that can spoof or break whatever displays the payload.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S+")
_REASON_CHARS = 200
# Apprise logs the URLs it loads and fails on, tokens and passwords included, from DEBUG to
# ERROR. Whatever logging the process sets up, none of it may reach a log: what failed is said
# by DeliveryError, with the URL masked.
logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)


def _user_agent() -> str:
    try:
        return f"Redline/{version('redline')}"
    except PackageNotFoundError:
        return "Redline"


USER_AGENT = _user_agent()


class DeliveryError(Exception):
    """A message was not delivered. The text is short and safe to log (no secret, no URL
    beyond its masked form)."""


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> None:
        """Deliver one message; DeliveryError when it was not accepted."""

    async def close(self) -> None:
        """Release connections and threads; call it on the loop that sent."""

    def describe(self) -> str:
        """The channel's URL, masked, for logs and the CLI."""


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON. Characters JSON would leave raw but that reorder or hide text when
    displayed (C1 controls, bidi controls, line separators) are written as \\uXXXX escapes:
    the decoded value is unchanged."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


def mask_url(url: str) -> str:
    """A URL safe to show: its scheme, and its host for schemes that name a server
    ("https://***@hooks.example.org/..."); everything else replaced by "..."."""
    scheme, sep, rest = url.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return "..."
    scheme = scheme.lower()
    if scheme not in HOST_SCHEMES:
        return f"{scheme}://..." if rest else f"{scheme}://"
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    _, at, host = netloc.rpartition("@")
    shown = f"{scheme}://{'***@' if at else ''}{host}"
    return shown + "/..." if rest[len(netloc) :].strip("/") else shown


def build_channel(
    name: str,
    url: str,
    *,
    secret: str | None = None,
    timeout: float = 10.0,
    body_format: str | None = None,
) -> Channel:
    """The sender for a channel URL; ValueError (with the URL masked) when it cannot work."""
    if not timeout > 0:
        raise ValueError(f"channel {name}: timeout must be positive")
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "console":
        return _console(name, url, secret, body_format)
    if scheme in ("http", "https"):
        if body_format is not None:
            raise ValueError(f"channel {name}: body_format applies to Apprise URLs only")
        key = secret.encode("utf-8") if secret else None
        return WebhookChannel(name, url, secret=key, timeout=timeout)
    if secret:
        raise ValueError(
            f"channel {name}: a secret signs webhooks (http:// or https:// URLs); "
            f"{mask_url(url)} is not one"
        )
    return AppriseChannel(name, url, timeout=timeout, body_format=body_format)


class WebhookChannel:
    """POSTs the message's payload as JSON, signed with HMAC-SHA256 when a secret is set.

    2xx is success; any other status (redirects are not followed), a timeout or a connection
    error raises DeliveryError. One aiohttp session, made on the running loop at first use.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        secret: bytes | None = None,
        timeout: float = 10.0,
        user_agent: str = USER_AGENT,
    ) -> None:
        if url.partition("://")[0].lower() not in ("http", "https") or not _host(url):
            raise ValueError(f"channel {name}: not an http(s) URL with a host: {mask_url(url)}")
        self.name = name
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"WebhookChannel({self.name!r}, {self.describe()!r})"

    def describe(self) -> str:
        return mask_url(self._url)

    def headers(self, body: bytes, idempotency_key: str) -> dict[str, str]:
        """The request headers for one body: what a receiver checks (docs/alerts.md)."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            "Idempotency-Key": idempotency_key,
            "X-Redline-Timestamp": str(int(time.time())),
        }
        if self._secret:
            digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            headers["X-Redline-Signature"] = f"sha256={digest}"
        return headers

    async def send(self, message: Message) -> None:
        body = encode_payload(message.payload)
        headers = self.headers(body, message.idempotency_key)
        # Errors are raised `from None`: aiohttp's own can quote the URL, which may hold a token.
        try:
            status = await self._post(body, headers)
        except TimeoutError:
            raise DeliveryError(f"timed out after {self._timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(_client_reason(exc)) from None
        if 300 <= status < 400:
            raise DeliveryError(f"HTTP {status} (redirects are not followed)")
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status}")

    async def _post(self, body: bytes, headers: dict[str, str]) -> int:
        session = self._session_here()
        async with session.post(
            self._url, data=body, headers=headers, allow_redirects=False
        ) as response:
            return response.status

    def _session_here(self) -> aiohttp.ClientSession:
        """The session, made on the running loop (a session cannot move between loops)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _client_reason(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "cannot resolve the host name"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "TLS certificate not trusted"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS error"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused"
        return f"cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected without answering"
    return f"request failed ({type(exc).__name__})"


class AppriseChannel:
    """Sends through Apprise (any scheme it knows), in a thread of its own, within `timeout`.

    `body_format` says which body is sent: "html" (message.html) by default for mailto:// and
    mailtos://, "text" (message.text) otherwise; "markdown" sends the text as Markdown.
    """

    def __init__(
        self, name: str, url: str, *, timeout: float = 10.0, body_format: str | None = None
    ) -> None:
        if body_format is not None and body_format not in BODY_FORMATS:
            raise ValueError(
                f"channel {name}: body_format must be one of {', '.join(BODY_FORMATS)}"
            )
        self.name = name
        self._url = url
        self._timeout = timeout
        self._format = body_format or _default_format(url)
        self._apprise = _load(name, url)
        self._secrets = _secret_parts(url)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"apprise-{name}")

    def __repr__(self) -> str:
        return f"AppriseChannel({self.name!r}, {self.describe()!r})"

    def describe(self) -> str:
        return mask_url(self._url)

    async def send(self, message: Message) -> None:
        body = message.html if self._format == "html" else message.text
        loop = asyncio.get_running_loop()
        try:
            job = loop.run_in_executor(self._executor, self._notify, message.title, body)
        except RuntimeError:  # the executor was shut down
            raise DeliveryError("channel closed") from None
        try:
            failure = await asyncio.wait_for(job, self._timeout)
        except TimeoutError:  # the thread may linger until Apprise gives up; it is not awaited
            raise DeliveryError(f"timed out after {self._timeout:g} s") from None
        if failure is not None:
            raise DeliveryError(failure)

    def _notify(self, title: str, body: str) -> str | None:
        """In the channel's thread: None when delivered, else a short reason safe to log."""
        try:
            with self._apprise.notify(
                body=body, title=title, body_format=self._format, timeout=self._timeout
            ) as result:
                if result:
                    return None
                if result.status == apprise.AppriseResultStatus.TIMEOUT:
                    return f"timed out after {self._timeout:g} s"
                return self._scrub(_apprise_reason(result))
        except Exception as exc:  # a plug-in bug must fail this send, not the worker
            return f"apprise failed ({type(exc).__name__})"

    def _scrub(self, text: str) -> str:
        text = _URL_IN_TEXT.sub(lambda m: mask_url(m.group()), text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text[:_REASON_CHARS]

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _default_format(url: str) -> str:
    return "html" if url.lower().startswith(("mailto:", "mailtos:")) else "text"


def _load(name: str, url: str) -> apprise.Apprise:
    notifier = apprise.Apprise()
    with warnings.catch_warnings():
        # Apprise's e-mail plug-in imports the deprecated imghdr module when plug-ins first load.
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        usable = notifier.add(url)
    if not usable:
        raise ValueError(f"channel {name}: not a usable Apprise URL ({mask_url(url)})")
    return notifier


def _apprise_reason(result: apprise.AppriseResult) -> str:
    status = result.status.name.lower()
    problems = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
    return f"apprise {status}: {problems[-1]}" if problems else f"apprise {status}"


def _secret_parts(url: str) -> list[str]:
    """The parts of a URL that may be secret (user, password, path, query values, and the
    host of schemes whose host is a token), longest first, to blank them out of log text."""
    scheme, _, rest = url.partition("://")
    try:
        parts = urlsplit(url)
        found = [parts.username, parts.password, *parts.path.split("/"), parts.fragment]
        found += [value for _, value in parse_qsl(parts.query)]
        if scheme.lower() not in HOST_SCHEMES:  # as written: hostname would lowercase it
            found += re.split(r"[:]", parts.netloc.rpartition("@")[2])
    except ValueError:  # not even splittable: every piece counts
        found = re.split(r"[/:@?&=#]", rest)
    return sorted({part for part in found if part and len(part) >= 4}, key=len, reverse=True)


def _console(name: str, url: str, secret: str | None, body_format: str | None) -> Channel:
    """`console://` (standard output) or `console://stderr`: for `redline demo` and for trying
    rules out before pointing them at people."""
    target = url.partition("://")[2].strip("/").lower()
    if target not in ("", "stdout", "stderr") or secret or body_format not in (None, "text"):
        raise ValueError(
            f"channel {name}: console:// or console://stderr, with no secret and text format"
        )
    return ConsoleChannel(name, sys.stderr if target == "stderr" else sys.stdout)


class ConsoleChannel:
    """Writes each message's title and text to a stream (demos, and trying rules out), with
    control and bidi characters escaped: a headline must not drive the terminal."""

    def __init__(self, name: str, stream: TextIO) -> None:
        self.name = name
        self._stream = stream

    def describe(self) -> str:
        return "console://"

    async def send(self, message: Message) -> None:
        text = terminal_safe(f"{message.title}\n\n{message.text}")
        try:
            self._stream.write(f"{text}\n\n")
            self._stream.flush()
        except (OSError, ValueError) as exc:  # a closed pipe or stream
            raise DeliveryError(f"cannot write to the console: {exc}") from exc

    async def close(self) -> None:
        return None
