"""One safe HTTP GET for one-shot commands (`redline extract URL`, `redline add` previews).

The daemon fetches through Scrapy; this is the small stdlib path for everything else, with the
same guarantees: only http(s), every hop checked by the egress gate (netguard), the connection
made to the very address that passed the check (so DNS rebinding fails), TLS verified, a total
deadline, and the body capped before and after decompression (gzip, deflate, br, zstd bombs
stop at the cap instead of filling memory).
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import http.client
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urljoin, urlsplit

import brotli
import zstandard

from redline.crawler.errors import BlockedURL, FetchError, HTTPStatusError, Reason
from redline.crawler.netguard import (
    Network,
    Resolver,
    Target,
    parse_target,
    resolve_checked,
    system_resolver,
)

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
# Sent to the first host only: a redirect to another origin must not carry them (Scrapy CVEs).
_ORIGIN_BOUND_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """What came back: the final URL, its status and headers, and the decoded body."""

    url: str
    status: int
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes  # after Content-Encoding was undone
    encoding: str | None  # charset from Content-Type, if it names a real codec
    redirects: tuple[str, ...] = field(default=())  # URLs that redirected, in order

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def raise_for_status(self) -> None:
        """Turn a non-2xx answer into an `HTTPStatusError` (429 and 503 are `rate_limited`)."""
        if self.ok:
            return
        reason = Reason.RATE_LIMITED if self.status in (429, 503) else Reason.HTTP_ERROR
        raise HTTPStatusError(reason, f"HTTP {self.status}", url=self.url, status=self.status)


def fetch_once(
    url: str,
    *,
    allow_private: bool,
    timeout: float = 30,
    max_bytes: int = 10 * 2**20,
    user_agent: str = "Redline",
    headers: Mapping[str, str] | None = None,
    connect_timeout: float = 10,
    ssl_context: ssl.SSLContext | None = None,
    resolver: Resolver = system_resolver,
    allowed_networks: Sequence[Network] = (),
) -> FetchedPage:
    """GET `url`, following up to 5 redirects; any answer that is not a redirect is returned.

    Raises `FetchError` (a `BlockedURL` for refused URLs and addresses) with a `reason`.
    `timeout` bounds the whole call, redirects included; `max_bytes` bounds the body both on
    the wire and after decompression. `ssl_context` replaces the default verifying context
    (for a private CA). `resolver` and `allowed_networks` let tests stand in for DNS and for
    public address space.
    """
    guard = _Guard(allow_private, tuple(allowed_networks), resolver)
    deadline = time.monotonic() + timeout
    context = ssl_context or _default_tls_context()
    sent = {"User-Agent": user_agent, "Accept": ACCEPT, **dict(headers or {})}
    redirects: list[str] = []
    current = url
    while True:
        target = _checked_hop(current, redirects, guard)
        hop = _Hop(target, sent, deadline, connect_timeout, context, max_bytes)
        status, location = hop.send(guard)
        if status in REDIRECT_STATUSES and location is not None:
            hop.close()
            if len(redirects) == MAX_REDIRECTS:
                raise FetchError(
                    Reason.TOO_MANY_REDIRECTS, f"more than {MAX_REDIRECTS} redirects", url=url
                )
            redirects.append(current)
            following = _join(current, location)
            sent = _headers_for(following, current, sent)
            current = following
            continue
        return hop.read_page(tuple(redirects))


@dataclass(frozen=True, slots=True)
class _Guard:
    allow_private: bool
    allowed_networks: tuple[Network, ...]
    resolver: Resolver


def _checked_hop(current: str, redirects: list[str], guard: _Guard) -> Target:
    try:
        return parse_target(
            current, allow_private=guard.allow_private, allowed_networks=guard.allowed_networks
        )
    except BlockedURL as exc:
        if not redirects:
            raise
        raise BlockedURL(
            exc.reason, f"redirect from {redirects[-1]} refused: {exc.args[0]}", url=current
        ) from exc


def _join(current: str, location: str) -> str:
    try:
        return urljoin(current, location.strip())
    except ValueError as exc:
        raise BlockedURL(
            Reason.BAD_URL, f"redirect from {current} to a malformed URL", url=location
        ) from exc


def _headers_for(following: str, current: str, sent: dict[str, str]) -> dict[str, str]:
    before, after = urlsplit(current), urlsplit(following)
    if (before.scheme, before.netloc) == (after.scheme, after.netloc):
        return sent
    return {k: v for k, v in sent.items() if k.lower() not in _ORIGIN_BOUND_HEADERS}


@functools.cache
def _default_tls_context() -> ssl.SSLContext:
    """Built once: loading the system CA store costs milliseconds per call."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Hop:
    """One request/response on a connection pinned to a checked address, under the deadline."""

    def __init__(self, target, sent, deadline, connect_timeout, context, max_bytes) -> None:
        self.target, self.sent, self.deadline = target, sent, deadline
        self.connect_timeout, self.context, self.max_bytes = connect_timeout, context, max_bytes
        self.conn: http.client.HTTPConnection | None = None
        self.response: http.client.HTTPResponse | None = None
        self.expired = threading.Event()
        self.watchdog: threading.Timer | None = None

    def send(self, guard: _Guard) -> tuple[int, str | None]:
        target = self.target
        addresses = [target.ip] if target.ip else None
        with self._translated_errors():
            if addresses is None:
                addresses = resolve_checked(
                    target.host,
                    target.port,
                    allow_private=guard.allow_private,
                    allowed_networks=guard.allowed_networks,
                    timeout=self._remaining(),
                    resolver=guard.resolver,
                )
            self.conn = _pinned_connection(
                target, addresses, self._remaining(self.connect_timeout), self.context
            )
            self._arm_watchdog()
            self.conn.request("GET", target.request_target, headers=self._request_headers())
            self.response = self.conn.getresponse()
        return self.response.status, self.response.getheader("Location")

    def read_page(self, redirects: tuple[str, ...]) -> FetchedPage:
        assert self.response is not None
        response = self.response
        try:
            with self._translated_errors():
                body = self._read_body(response)
        finally:
            self.close()
        headers = _header_map(response.msg)
        charset = response.msg.get_content_charset()
        return FetchedPage(
            self.target.url, response.status, headers, body, _known_codec(charset), redirects
        )

    def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
        if self.response is not None:  # holds the socket when the server said Connection: close
            self.response.close()
        if self.conn is not None:
            self.conn.close()

    def _read_body(self, response: http.client.HTTPResponse) -> bytes:
        length = response.getheader("Content-Length")
        if length and length.strip().isdigit() and int(length) > self.max_bytes:
            raise FetchError(
                Reason.TOO_LARGE, f"Content-Length {length} is over {self.max_bytes} bytes"
            )
        reader = decoded_reader(
            _WireReader(response, self.max_bytes), response.getheader("Content-Encoding")
        )
        chunks, total = [], 0
        while chunk := reader.read(_CHUNK):
            total += len(chunk)
            if total > self.max_bytes:
                raise FetchError(
                    Reason.TOO_LARGE, f"body is over {self.max_bytes} bytes after decompression"
                )
            chunks.append(chunk)
        if self.expired.is_set():  # the watchdog cut the socket: EOF is not the end of the body
            raise FetchError(Reason.TIMEOUT, "the body did not arrive in time", url=self.target.url)
        if response.length:  # http.client's read1 does not raise IncompleteRead itself
            raise FetchError(
                Reason.CONNECTION_ERROR, "the body ended before Content-Length", url=self.target.url
            )
        return b"".join(chunks)

    def _request_headers(self) -> dict[str, str]:
        return {**self.sent, "Accept-Encoding": ACCEPT_ENCODING, "Connection": "close"}

    def _remaining(self, cap: float | None = None) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise FetchError(Reason.TIMEOUT, "deadline passed", url=self.target.url)
        return min(left, cap) if cap is not None else left

    def _arm_watchdog(self) -> None:
        """A slow drip can keep every single read under a socket timeout; cut it at the deadline."""
        sock = self.conn.sock if self.conn is not None else None
        if sock is None:
            return
        sock.settimeout(self._remaining())

        def expire() -> None:
            self.expired.set()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        self.watchdog = threading.Timer(self._remaining(), expire)
        self.watchdog.daemon = True
        self.watchdog.start()

    def _translated_errors(self):
        return _ErrorTranslation(self)


class _ErrorTranslation:
    """Context manager mapping socket/ssl/http.client failures onto `FetchError` reasons."""

    def __init__(self, hop: _Hop) -> None:
        self.hop = hop

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or (isinstance(exc, FetchError) and not self.hop.expired.is_set()):
            return False
        url = self.hop.target.url
        self.hop.close()
        if self.hop.expired.is_set() or isinstance(exc, TimeoutError | socket.timeout):
            raise FetchError(Reason.TIMEOUT, "the server did not answer in time", url=url) from exc
        if isinstance(exc, ssl.SSLError | ssl.CertificateError):
            raise FetchError(Reason.TLS_ERROR, f"TLS failed: {exc}", url=url) from exc
        if isinstance(exc, http.client.IncompleteRead):
            raise FetchError(
                Reason.CONNECTION_ERROR, "the body ended before Content-Length", url=url
            ) from exc
        if isinstance(exc, OSError | http.client.HTTPException):
            raise FetchError(
                Reason.CONNECTION_ERROR, f"connection failed: {exc!r}", url=url
            ) from exc
        return False


class _WireReader:
    """The raw (still encoded) body, capped so a huge compressed body fails early too."""

    def __init__(self, response: http.client.HTTPResponse, max_bytes: int) -> None:
        self.response, self.max_bytes, self.count = response, max_bytes, 0

    def read(self, size: int) -> bytes:
        data = self.response.read1(size)
        self.count += len(data)
        if self.count > self.max_bytes:
            raise FetchError(Reason.TOO_LARGE, f"body is over {self.max_bytes} bytes on the wire")
        return data


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the addresses that passed the gate; Host header still names the host."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _connect_any(self.addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with certificate and SNI checked against the host name, not the address."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float, context) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.addresses, self.tls_context = addresses, context

    def connect(self) -> None:
        sock = _connect_any(self.addresses, self.port, self.timeout)
        try:
            self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _connect_any(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    error: OSError | None = None
    for address in addresses:
        try:
            sock = socket.create_connection((address, port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


def _pinned_connection(
    target: Target, addresses: list[str], timeout: float, context
) -> http.client.HTTPConnection:
    if target.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPSConnection(
            target.host, target.port, addresses, timeout, context
        )
    else:
        conn = _PinnedHTTPConnection(target.host, target.port, addresses, timeout)
    conn.connect()
    return conn


def _header_map(message) -> Mapping[str, str]:
    merged: dict[str, str] = {}
    for name, value in message.items():
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return MappingProxyType(merged)


def _known_codec(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        codecs.lookup(charset)
    except LookupError:
        return None
    return charset


# Content-Encoding: pull-based decoders, each `read(size)` returns at most about `size` bytes,
# so a bomb never expands past the caller's cap plus one chunk.

_ZSTD_MAX_WINDOW = 8 * 2**20  # RFC 9659: HTTP zstd windows are at most 8 MB


def decoded_reader(wire, content_encoding: str | None):
    """Stack decoders for `Content-Encoding` (applied left to right, so undone right to left)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > 2:
        raise FetchError(Reason.DECODE_ERROR, f"too many content codings: {content_encoding}")
    reader = wire
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            reader = _ZlibReader(reader, 16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            reader = _ZlibReader(reader, None)
        elif coding == "br":
            reader = _BrotliReader(reader)
        elif coding == "zstd":
            reader = _ZstdReader(reader)
        else:
            raise FetchError(Reason.DECODE_ERROR, f"unsupported Content-Encoding {coding!r}")
    return reader


class _ZlibReader:
    """gzip (several members allowed) or deflate (zlib-wrapped or raw, as servers disagree)."""

    def __init__(self, upstream, wbits: int | None) -> None:
        self.upstream, self.wbits = upstream, wbits
        self.inflater = zlib.decompressobj(wbits) if wbits is not None else None
        self.pending, self.done = b"", False

    def read(self, size: int) -> bytes:
        while not self.done:
            if not self.pending:
                self.pending = self.upstream.read(_CHUNK)
                if not self.pending:
                    self._finish()
                    return b""
            if self.inflater is None:
                self.inflater = zlib.decompressobj(_deflate_wbits(self.pending))
            try:
                out = self.inflater.decompress(self.pending, size)
            except zlib.error as exc:
                raise FetchError(Reason.DECODE_ERROR, f"corrupt compressed body: {exc}") from exc
            self.pending = self.inflater.unconsumed_tail
            if self.inflater.eof:
                self._next_member()
            if out:
                return out
        return b""

    def _next_member(self) -> None:
        assert self.inflater is not None
        rest = self.inflater.unused_data + self.pending
        if self.wbits is not None and rest.lstrip(b"\0"):
            self.inflater, self.pending = zlib.decompressobj(self.wbits), rest
        else:
            self.done = True

    def _finish(self) -> None:
        if self.inflater is None or not self.inflater.eof:
            raise FetchError(Reason.DECODE_ERROR, "compressed body ended early")
        self.done = True


def _deflate_wbits(first: bytes) -> int:
    is_zlib = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS


class _BrotliReader:
    def __init__(self, upstream) -> None:
        self.upstream, self.inflater = upstream, brotli.Decompressor()

    def read(self, size: int) -> bytes:
        while True:
            try:
                if not self.inflater.can_accept_more_data():
                    out = self.inflater.process(b"", output_buffer_limit=size)
                else:
                    data = self.upstream.read(_CHUNK)
                    out = self.inflater.process(data, output_buffer_limit=size)
                    if not data and not out:
                        if not self.inflater.is_finished():
                            raise FetchError(Reason.DECODE_ERROR, "brotli body ended early")
                        return b""
            except brotli.error as exc:
                raise FetchError(Reason.DECODE_ERROR, f"corrupt brotli body: {exc}") from exc
            if out:
                return out


class _ZstdReader:
    def __init__(self, upstream) -> None:
        decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        self.stream = decompressor.stream_reader(
            upstream, read_size=_CHUNK, read_across_frames=True
        )

    def read(self, size: int) -> bytes:
        try:
            return self.stream.read(size)
        except zstandard.ZstdError as exc:
            raise FetchError(Reason.DECODE_ERROR, f"corrupt zstd body: {exc}") from exc
