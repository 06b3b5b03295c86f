"""The crawler's exceptions: every failed fetch carries one reason from a closed vocabulary.

The CLI, the store (fetch outcomes) and `redline status` (errors by host) all key on
`FetchError.reason`, so a new failure mode gets a new `Reason` member here, never a free-form
string. Foreign exceptions (socket, ssl, zlib...) are converted with `raise ... from exc`.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a fetch failed. Values are stable: they are stored and shown to users."""

    BAD_URL = "bad_url"  # not a URL we can fetch safely (credentials, backslash, odd host)
    UNSUPPORTED_SCHEME = "unsupported_scheme"  # anything but http and https
    BLOCKED_SSRF = "blocked_ssrf"  # loopback, private, link-local, CGNAT, metadata...
    DNS_ERROR = "dns_error"
    CONNECTION_ERROR = "connection_error"  # refused, reset, closed early, body cut short
    TLS_ERROR = "tls_error"
    TIMEOUT = "timeout"
    TOO_LARGE = "too_large"  # over the byte cap, before or after decompression
    DECODE_ERROR = "decode_error"  # corrupt gzip/deflate/br/zstd, unknown Content-Encoding
    TOO_MANY_REDIRECTS = "too_many_redirects"
    ROBOTS_DISALLOWED = "robots_disallowed"
    ROBOTS_UNREACHABLE = "robots_unreachable"  # robots.txt 5xx or unreachable: RFC 9309
    RATE_LIMITED = "rate_limited"  # 429, or 503 with Retry-After
    HTTP_ERROR = "http_error"  # any other non-2xx answer the caller chose not to accept
    UNSUPPORTED_CONTENT = "unsupported_content"  # not HTML/XML (a PDF, an image...)
    PARSE_ERROR = "parse_error"  # a feed or sitemap that is not one


class FetchError(Exception):
    """A fetch failed; `reason` says why in a word, the message says it for humans."""

    def __init__(self, reason: Reason | str, message: str, *, url: str | None = None) -> None:
        self.reason = Reason(reason)
        self.url = url
        super().__init__(message)

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} ({self.url})" if self.url else text


class BlockedURL(FetchError):
    """The URL or the address it resolves to is refused by the egress gate (netguard)."""


class DiscoveryError(FetchError, ValueError):
    """A source's body could not be read as the kind of source it claims to be.

    Also a ValueError: to a caller it is bad input, like a malformed number."""


class HTTPStatusError(FetchError):
    """A status the caller chose to treat as an error (`FetchedPage.raise_for_status`)."""

    def __init__(self, reason: Reason | str, message: str, *, url: str, status: int) -> None:
        super().__init__(reason, message, url=url)
        self.status = status
