"""The SSRF gate at connect time: a Twisted name resolver that refuses blocked addresses.

Scrapy's HTTP/1.1 handler connects to exactly the addresses the reactor's resolver returns, so
checking them here checks the address actually connected to: a DNS answer that changes between a
check and the connection (rebinding) cannot slip through, and robots.txt, feeds, sitemaps and
every redirect hop go through the same resolver. An answer holding any blocked address is refused
whole (a mixed answer is a rebinding attempt).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from zope.interface import implementer


@implementer(IResolutionReceiver)
class _GuardedReceiver:
    def __init__(self, inner: IResolutionReceiver, host: str, resolver: GuardedResolver) -> None:
        self._inner = inner
        self._host = host
        self._resolver = resolver
        self._addresses: list = []

    def resolutionBegan(self, resolution) -> None:
        self._inner.resolutionBegan(resolution)

    def addressResolved(self, address) -> None:
        self._addresses.append(address)

    def resolutionComplete(self) -> None:
        refused = [a.host for a in self._addresses if self._resolver.refuse(a.host)]
        if refused:
            self._resolver.blocked[self._host.lower()] = refused[0]
        else:
            self._resolver.blocked.pop(self._host.lower(), None)  # its answer changed since
            for address in self._addresses:
                self._inner.addressResolved(address)
        self._inner.resolutionComplete()


@implementer(IHostnameResolver)
class GuardedResolver:
    """Wraps the reactor's resolver; `refuse(ip)` decides which addresses are off limits."""

    def __init__(self, inner: IHostnameResolver, refuse: Callable[[str], bool]) -> None:
        self._inner = inner
        self.refuse = refuse
        self.blocked: dict[str, str] = {}  # host -> the refused address, for error messages

    def resolveHostName(
        self,
        resolutionReceiver,
        hostName,
        portNumber=0,
        addressTypes=None,
        transportSemantics="TCP",
    ):
        receiver = _GuardedReceiver(resolutionReceiver, hostName, self)
        return self._inner.resolveHostName(
            receiver, hostName, portNumber, addressTypes, transportSemantics
        )


def install_guarded_resolver(reactor, refuse: Callable[[str], bool]) -> GuardedResolver:
    resolver = GuardedResolver(reactor.nameResolver, refuse)
    reactor.installNameResolver(resolver)
    return resolver


def refused_address(host: str) -> str | None:
    """The blocked address `host` resolved to, if the installed resolver refused it: tells a
    refused connection (blocked_ssrf) from a name that does not resolve (dns_error)."""
    from twisted.internet import reactor

    resolver = getattr(reactor, "nameResolver", None)
    if isinstance(resolver, GuardedResolver):
        return resolver.blocked.get(host.lower().split(":")[0].strip("[]"))
    return None
