"""The connect-time SSRF gate: the reactor's resolver refuses answers with blocked addresses.

DNS is the one thing faked here (a resolver answering from a table), since the point is what
happens to each answer; the end-to-end refusal is in test_daemon.py."""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from zope.interface import implementer

from redline.crawler.netguard import is_refused_address
from redline.crawler.resolver import GuardedResolver

ANSWERS = {
    "public.example": ["93.184.216.34"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],  # one good, one loopback: refused whole
    "metadata.example": ["169.254.169.254"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "cgnat.example": ["100.64.0.1"],
}


@implementer(IHostnameResolver)
class TableResolver:
    def resolveHostName(
        self, receiver, hostName, portNumber=0, addressTypes=None, transportSemantics="TCP"
    ):
        receiver.resolutionBegan(None)
        for ip in ANSWERS.get(hostName, []):
            cls = IPv6Address if ":" in ip else IPv4Address
            receiver.addressResolved(cls("TCP", ip, portNumber))
        receiver.resolutionComplete()
        return receiver


@implementer(IResolutionReceiver)
class Collector:
    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.complete = False

    def resolutionBegan(self, resolution) -> None:
        pass

    def addressResolved(self, address) -> None:
        self.addresses.append(address.host)

    def resolutionComplete(self) -> None:
        self.complete = True


def resolve(host: str) -> tuple[list[str], GuardedResolver]:
    guarded = GuardedResolver(TableResolver(), is_refused_address)
    collector = Collector()
    guarded.resolveHostName(collector, host, 443)
    assert collector.complete
    return collector.addresses, guarded


def test_public_answers_pass_through():
    assert resolve("public.example")[0] == ["93.184.216.34"]


def test_blocked_answers_leave_nothing_to_connect_to():
    for host in ("rebind.example", "metadata.example", "mapped.example", "cgnat.example"):
        addresses, guarded = resolve(host)
        assert addresses == [], host
        assert host in guarded.blocked
