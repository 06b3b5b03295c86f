"""Why a download failed, as a `crawler.errors.Reason` and a message for people."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError

from redline.crawler.errors import Reason
from redline.crawler.resolver import refused_address

ERROR_KEY = "redline_error"  # request.meta: (reason, message) set by our middlewares


def classify(exc: BaseException, meta: dict[str, Any], host: str = "") -> tuple[str, str]:
    """A failed download (of a page or of robots.txt) as (reason, message)."""
    if ERROR_KEY in meta:
        return meta[ERROR_KEY]
    name = type(exc).__name__
    text = str(exc) or name
    lowered = text.lower()
    if "maxsize" in lowered or "exceeded" in lowered or "too large" in lowered:
        return str(Reason.TOO_LARGE), text
    if isinstance(exc, IgnoreRequest):
        if "redirect" in lowered:
            return str(Reason.TOO_MANY_REDIRECTS), text
        return str(Reason.HTTP_ERROR), text
    address = refused_address(host) if host else None
    if address:  # the resolver refused the answer, leaving nothing to connect to
        message = f"{host} resolves to a private or reserved address ({address})"
        return str(Reason.BLOCKED_SSRF), message
    if isinstance(exc, DNSLookupError | CannotResolveHostError):
        return str(Reason.DNS_ERROR), text
    if isinstance(exc, TimeoutError | TCPTimedOutError) or "Timeout" in name:
        return str(Reason.TIMEOUT), text
    if "Cancelled" in name:
        return str(Reason.TOO_LARGE), text
    if "SSL" in name or "TLS" in name or "certificate" in lowered:
        return str(Reason.TLS_ERROR), text
    if "Decompression" in name or "decod" in lowered:
        return str(Reason.DECODE_ERROR), text
    return str(Reason.CONNECTION_ERROR), f"{name}: {text}"
