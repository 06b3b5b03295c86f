"""URL canonicalisation: one story reached two ways must be one article.

Feeds add `utm_*` parameters, social links add `fbclid`, CMSs reorder queries and add fragments;
diffengine tracked the same story twice because of this (DocNow/diffengine#17). `canonicalize`
is the article key; `resolve_canonical` decides whether a page's rel=canonical may replace the
URL we fetched (only on the same registrable site: a canonical pointing elsewhere is ignored so a
hostile page cannot hijack another site's article).
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import tldextract

DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that only say where a click came from. Compared in lower case.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "igshid", "li_fat_id", "mc_cid", "mc_eid", "ocid", "cmpid", "cmp", "_ga", "_gl", "_hsenc",
        "_hsmi", "mkt_tok", "vero_id", "smid", "smtyp", "ito", "at_medium", "at_campaign",
        "ns_campaign", "ns_mchannel", "ns_source", "ns_linkname", "ns_fee", "sr_share",
        "share", "s_cid", "xtor",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "at_custom")

_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/:@!$'()*,;~"


def is_tracking_parameter(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize(url: str) -> str:
    """The article key for `url`: lower-case scheme and host, no default port, no fragment,
    no tracking parameters, remaining parameters sorted, path case kept. Idempotent.
    Raises ValueError for what urllib cannot split (a bad port, an unclosed bracket)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _host(parts.hostname or "")
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = _normalise_escapes(quote(_remove_dot_segments(parts.path) or "/", safe=_PATH_SAFE))
    pairs = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_parameter(k)
    ]
    query = urlencode(sorted(pairs), quote_via=quote, safe=_QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def site_of(url: str) -> str:
    """The host a user thinks of as the site: lower case, without port and a leading "www."."""
    return _host(urlsplit(url.strip()).hostname or "").removeprefix("www.")


def registrable_domain(url: str) -> str:
    """example.co.uk for https://news.example.co.uk/x (bundled public suffix list, no network)."""
    host = _host(urlsplit(url.strip()).hostname or "")
    extracted = _extractor()(host)
    if not extracted.suffix or not extracted.domain:
        return host  # IP addresses, localhost, unknown suffixes: the host itself
    return f"{extracted.domain}.{extracted.suffix}"


def resolve_canonical(final_url: str, rel_canonical: str | None) -> str:
    """The canonical key for a fetched page: its rel=canonical when that is a trustworthy
    http(s) URL on the same registrable site, else the final URL after redirects."""
    fallback = canonicalize(final_url)
    if not rel_canonical or not rel_canonical.strip():
        return fallback
    candidate = urljoin(final_url, rel_canonical.strip())
    parts = urlsplit(candidate)
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return fallback
    if registrable_domain(candidate) != registrable_domain(final_url):
        return fallback
    if parts.path in ("", "/") and urlsplit(final_url).path not in ("", "/"):
        return fallback  # a CMS pointing every page at the home page
    return canonicalize(candidate)


@cache
def _extractor() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _host(host: str) -> str:
    host = host.lower().rstrip(".")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _normalise_escapes(text: str) -> str:
    return _PERCENT.sub(lambda m: m.group(0).upper(), text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, so /a/./b/../c and /a/c are one URL."""
    if "." not in path:
        return path
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    result = "/".join(output)
    if path.endswith(("/.", "/..")):
        result += "/"
    return result if result.startswith("/") or not path.startswith("/") else "/" + result
