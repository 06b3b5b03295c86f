"""The SSRF egress gate: which URLs and addresses Redline may fetch from.

Every outbound fetch (articles, redirects, robots.txt, feeds, sitemaps, webhooks) asks this module
twice: `check_url` before anything else (scheme, shape, IP-literal hosts) and `resolve_checked`
for the addresses to connect to. The caller must then connect to one of the returned addresses
and never resolve the name again, or DNS rebinding walks straight past the check.

Why so strict about URL shape: parser differentials (GHSA-rph4-96w6-q594) let one parser see a
public host while the HTTP client connects to an internal one. We refuse anything two parsers
could read differently (backslashes, credentials, whitespace, percent-encoded or bracketed IPv4
hosts) instead of trying to agree with every parser on earth.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import idna

from redline.crawler.errors import BlockedURL, FetchError, Reason

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
"""Turns (host, port) into IP address strings; `system_resolver` unless a test injects a stub."""

ALLOWED_SCHEMES = {"http": 80, "https": 443}

# Ranges `ipaddress` flags do not all cover (CGNAT was the changedetection.io bypass
# GHSA-gwph-fp79-379w); listed explicitly so the rule does not depend on the Python version.
_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/96", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST_LABELS = re.compile(
    r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$"
)
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_HEX_OR_DEC = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")


@dataclass(frozen=True, slots=True)
class Target:
    """A URL that passed `check_url`, split into what a connection needs."""

    url: str
    scheme: str
    host: str  # ASCII, lower case, no brackets, no trailing dot
    port: int
    request_target: str  # path and query, ASCII, never empty
    ip: str | None  # the host as an address when it was an IP literal


def is_blocked_address(ip: str) -> bool:
    """True unless `ip` is a globally routable unicast address. Unparsable input is blocked."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return True
    embedded = _embedded_ipv4(address)
    if address in _NAT64:  # DNS64 answers on IPv6-only networks: judge the IPv4 inside
        return is_blocked_address(str(embedded))
    if embedded is not None and is_blocked_address(str(embedded)):
        return True
    if address.is_multicast or address.is_unspecified or address.is_loopback:
        return True
    if address.is_link_local or address.is_reserved or not address.is_global:
        return True
    return any(
        address in network for network in _BLOCKED_NETWORKS if network.version == address.version
    )


def _embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """The IPv4 address hidden in an IPv4-mapped, 6to4, Teredo, NAT64 or compatible IPv6 one."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or int(address) >> 32 == 0:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def check_url(
    url: str, *, allow_private: bool = False, allowed_networks: Sequence[Network] = ()
) -> None:
    """Raise `BlockedURL` unless `url` is an http(s) URL that is safe to try fetching.

    `allow_private` switches the address rules off (the operator's `allow_private_networks`);
    `allowed_networks` exempts only the listed ranges (tests put their fake public sites there).
    """
    parse_target(url, allow_private=allow_private, allowed_networks=allowed_networks)


def is_refused_address(ip: str, allowed_networks: Sequence[Network] = ()) -> bool:
    """`is_blocked_address`, unless the address lies in one of `allowed_networks`."""
    if not is_blocked_address(ip):
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return True
    return not any(
        address in network for network in allowed_networks if network.version == address.version
    )


def parse_target(
    url: str, *, allow_private: bool = False, allowed_networks: Sequence[Network] = ()
) -> Target:
    """`check_url`, returning the pieces a connection needs so nobody re-parses the URL."""
    if not isinstance(url, str) or not url:
        raise BlockedURL(Reason.BAD_URL, "empty URL", url=str(url))
    if _BAD_CHARS.search(url):
        raise BlockedURL(
            Reason.BAD_URL, "URL contains whitespace, a control character or a backslash", url=url
        )
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if not scheme or "/" in scheme:
        raise BlockedURL(Reason.BAD_URL, "URL has no scheme", url=url)
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURL(
            Reason.UNSUPPORTED_SCHEME,
            f"only http and https URLs are fetched, not {scheme or 'this'!r}",
            url=url,
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit validates the port lazily
    except ValueError as exc:
        raise BlockedURL(Reason.BAD_URL, f"malformed URL: {exc}", url=url) from exc
    if not url[len(scheme) + 1 :].startswith("//") or not parts.netloc:
        raise BlockedURL(Reason.BAD_URL, "URL has no host", url=url)
    if "@" in parts.netloc:
        raise BlockedURL(Reason.BAD_URL, "credentials in URLs are refused", url=url)
    host, port, ip = _split_netloc(parts.netloc, scheme, url)
    if not allow_private:
        _refuse_private_host(host, ip, url, allowed_networks)
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        target += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return Target(url=url, scheme=scheme, host=host, port=port, request_target=target, ip=ip)


def _split_netloc(netloc: str, scheme: str, url: str) -> tuple[str, int, str | None]:
    if netloc.startswith("["):
        inside, closed, rest = netloc[1:].partition("]")
        if "%" in inside:
            raise BlockedURL(Reason.BAD_URL, "IPv6 zone identifiers are refused", url=url)
        try:
            ip = str(ipaddress.IPv6Address(inside))
        except ValueError as exc:
            raise BlockedURL(Reason.BAD_URL, "brackets must hold an IPv6 address", url=url) from exc
        if not closed or (rest and not rest.startswith(":")):
            raise BlockedURL(Reason.BAD_URL, "malformed host or port", url=url)
        return ip, _port(rest[1:], scheme, url), ip
    host, colon, port_text = netloc.partition(":")
    port = _port(port_text, scheme, url) if colon else ALLOWED_SCHEMES[scheme]
    host = _ascii_host(host, url)
    ip = _ipv4_literal(host, url)
    return (ip or host), port, ip


def _port(text: str, scheme: str, url: str) -> int:
    if not text:
        return ALLOWED_SCHEMES[scheme]
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise BlockedURL(Reason.BAD_URL, "malformed port", url=url)
    return int(text)


def _ascii_host(host: str, url: str) -> str:
    """Lower-case ASCII host; IDNA (UTS 46) for Unicode, so fullwidth digits become digits."""
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise BlockedURL(Reason.BAD_URL, "host is not a valid domain name", url=url) from exc
    host = host.lower().removesuffix(".")
    if not host or not _HOST_LABELS.match(host):
        raise BlockedURL(Reason.BAD_URL, "host contains characters a domain name cannot", url=url)
    return host


def _ipv4_literal(host: str, url: str) -> str | None:
    """WHATWG: a host whose last label is a number IS an IPv4 address (127.1, 0x7f000001)."""
    labels = host.split(".")
    if not _HEX_OR_DEC.match(labels[-1]):
        return None
    numbers = [_ipv4_number(label) for label in labels]
    if len(labels) > 4 or None in numbers:
        raise BlockedURL(Reason.BAD_URL, "host looks like an IPv4 address but is not one", url=url)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise BlockedURL(Reason.BAD_URL, "IPv4 address out of range", url=url)
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(head))
    return str(ipaddress.IPv4Address(value))


def _ipv4_number(label: str) -> int | None:
    if not label:
        return None
    try:
        if label[:2].lower() == "0x":
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label[1:], 8)
        return int(label, 10) if label.isdigit() else None
    except ValueError:
        return None


def _refuse_private_host(host: str, ip: str | None, url: str, allowed: Sequence[Network]) -> None:
    if host == "localhost" or host.endswith(".localhost"):
        raise BlockedURL(Reason.BLOCKED_SSRF, "localhost is a private address", url=url)
    if ip is not None and is_refused_address(ip, allowed):
        raise BlockedURL(Reason.BLOCKED_SSRF, f"{ip} is a private or reserved address", url=url)


def check_proxy_url(proxy: object) -> None:
    """Raise `ValueError` unless `proxy` is a usable `[crawl] proxy`: `http://host:port`, maybe
    with credentials. The proxy's own address is the operator's choice and is not checked here;
    what it is asked to fetch is (`resolve_checked` on each target before it is handed over)."""
    if not isinstance(proxy, str):
        raise ValueError(f"proxy must be a URL like http://proxy.example:3128, not {proxy!r}")
    try:
        parts = urlsplit(proxy)
        parts.port  # noqa: B018 - urlsplit validates the port lazily
    except ValueError as exc:
        raise ValueError(f"proxy {proxy!r} is not a valid URL: {exc}") from exc
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(
            f"proxy must be an http:// URL with a host, like http://proxy:3128: {proxy!r}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or _BAD_CHARS.search(proxy):
        raise ValueError(f"proxy must be only scheme, host and port: {proxy!r}")


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the operating system's resolver gives for (host, port), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_checked(
    host: str,
    port: int,
    *,
    allow_private: bool,
    allowed_networks: Sequence[Network] = (),
    timeout: float | None = 10.0,
    resolver: Resolver = system_resolver,
) -> list[str]:
    """Resolve once and refuse if ANY answer is blocked (a mixed answer is a rebinding attempt)."""
    addresses = _resolve_with_timeout(host, port, timeout, resolver)
    if not addresses:
        raise FetchError(Reason.DNS_ERROR, f"no address for {host}")
    if not allow_private:
        blocked = [a for a in addresses if is_refused_address(a, allowed_networks)]
        if blocked:
            raise BlockedURL(
                Reason.BLOCKED_SSRF,
                f"{host} resolves to a private or reserved address ({blocked[0]})",
            )
    return addresses


def _resolve_with_timeout(
    host: str, port: int, timeout: float | None, resolver: Resolver
) -> list[str]:
    """getaddrinfo has no timeout of its own; run it in a daemon thread and stop waiting."""
    result: dict[str, object] = {}

    def work() -> None:
        try:
            result["ok"] = resolver(host, port)
        except (OSError, UnicodeError) as exc:
            result["error"] = exc

    thread = threading.Thread(target=work, name=f"resolve {host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise FetchError(Reason.DNS_ERROR, f"resolving {host} timed out after {timeout} s")
    if "error" in result:
        raise FetchError(Reason.DNS_ERROR, f"cannot resolve {host}: {result['error']}") from result[
            "error"
        ]  # type: ignore[misc]
    return list(result["ok"])  # type: ignore[arg-type]
