"""The SSRF egress gate: schemes, URL shapes, blocked addresses and resolution (SEC-01..05)."""

from __future__ import annotations

import pytest
import urllib3.exceptions
import urllib3.util
from hypothesis import given
from hypothesis import strategies as st

from redline.crawler.errors import BlockedURL, FetchError, Reason
from redline.crawler.netguard import check_url, is_blocked_address, parse_target, resolve_checked

BLOCKED_ADDRESSES = [
    "127.0.0.1", "127.255.255.254", "0.0.0.0", "10.0.0.1", "172.16.0.1", "172.31.255.255",
    "192.168.1.1", "100.64.0.1", "100.127.255.254", "169.254.169.254", "169.254.0.1",
    "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.1", "192.0.2.1",
    "198.18.0.1", "198.51.100.7", "203.0.113.9", "192.88.99.1",
    "::1", "::", "fc00::1", "fd00::1", "fd00:ec2::254", "fe80::1", "fec0::1", "ff02::1",
    "ff0e::1", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1",
    "::ffff:169.254.169.254", "::127.0.0.1", "2002:7f00:1::", "2002:a00:1::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::1", "not an address", "",
    "::ffff:8.8.8.8",  # IPv4-mapped never comes from DNS: refused whatever it wraps
]  # fmt: skip
PUBLIC_ADDRESSES = [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.32.0.1",
    "2001:4860:4860::8888", "2606:4700::1111", "2002:808:808::1",
    "64:ff9b::808:808",
]  # fmt: skip


@pytest.mark.parametrize("ip", BLOCKED_ADDRESSES)
def test_private_reserved_and_embedded_addresses_are_blocked(ip):
    assert is_blocked_address(ip)


@pytest.mark.parametrize("ip", PUBLIC_ADDRESSES)
def test_public_addresses_pass(ip):
    assert not is_blocked_address(ip)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd", "file:/etc/passwd", "FILE:///etc/passwd", "source:file:///etc/passwd",
        "data:text/html,<b>x</b>", "ftp://example.com/x", "s3://bucket/key", "gopher://example.com/",
        "javascript:alert(1)", "view-source:http://example.com/", "jar:http://example.com/x!/",
        "ws://example.com/", "mailto:a@example.com",
    ],
)  # fmt: skip
def test_only_http_and_https_are_fetched(url):
    with pytest.raises(BlockedURL) as info:
        check_url(url)
    assert info.value.reason is Reason.UNSUPPORTED_SCHEME


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/", "http://127.1/", "http://0/", "http://0.0.0.0/", "http://2130706433/",
        "http://0x7f000001/", "http://017700000001/", "http://0x7f.1/", "http://localhost/",
        "http://LOCALHOST./", "http://api.localhost/", "http://10.0.0.1/", "http://172.16.0.1/",
        "http://192.168.1.1/", "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "http://[::1]/",
        "http://[::]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[fc00::1]/",
        "http://[fd00::1]/", "http://[fd00:ec2::254]/", "http://[2002:7f00:1::]/",
        "http://224.0.0.1/", "http://192.88.99.1/", "http://[ff02::1]/", "http://１２７.０.０.１/",
        "https://10.0.0.1.:8443/admin",
    ],
)  # fmt: skip
def test_private_ip_literals_are_blocked_in_every_spelling(url):
    with pytest.raises(BlockedURL) as info:
        check_url(url)
    assert info.value.reason is Reason.BLOCKED_SSRF


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8888\\@example.com/",  # GHSA-rph4-96w6-q594
        "http:/\\127.0.0.1/", "http://example.com\\@127.0.0.1/", "http://user:pw@example.com/",
        "http://example.com:80@127.0.0.1/", "http://example.com%2523@127.0.0.1/",
        "http://exa\tmple.com/", "http://example.com\n.127.0.0.1/", " http://example.com/",
        "http://example.com /", "http://[127.0.0.2]/", "http://[fe80::1%25eth0]/",
        "http://exa%2ample.com/", "http://1.2.3.4.5/", "http://256.0.0.1/", "http://0x100000000/",
        "http://example.com:0/", "http://example.com:99999/", "http://example.com:8o/",
        "http:example.com", "http:///example.com", "//example.com/", "", "http://",
        "http://ex ample.com/", "http://-bad-.com/", "http://xn--/",
    ],
)  # fmt: skip
def test_urls_two_parsers_could_read_differently_are_refused(url):
    with pytest.raises(BlockedURL) as info:
        check_url(url)
    assert info.value.reason in {Reason.BAD_URL, Reason.UNSUPPORTED_SCHEME}


def test_fragment_with_at_sign_is_judged_by_the_real_host():
    with pytest.raises(BlockedURL) as info:
        check_url("http://127.0.0.2#@example.com/")
    assert info.value.reason is Reason.BLOCKED_SSRF
    assert parse_target("http://example.com#@127.0.0.1/").host == "example.com"


def test_allow_private_lets_loopback_through_but_not_bad_shapes():
    target = parse_target("http://127.0.0.1:8080/a?b=1", allow_private=True)
    assert (target.host, target.port, target.ip, target.request_target) == (
        "127.0.0.1",
        8080,
        "127.0.0.1",
        "/a?b=1",
    )
    with pytest.raises(BlockedURL):
        check_url("file:///etc/passwd", allow_private=True)
    with pytest.raises(BlockedURL):
        check_url("http://127.0.0.1:1\\@example.com/", allow_private=True)


def test_target_is_normalised_for_the_wire():
    target = parse_target("HTTPS://Example.COM./ünï?q=é")
    assert (target.scheme, target.host, target.port) == ("https", "example.com", 443)
    assert target.request_target == "/%C3%BCn%C3%AF?q=%C3%A9"
    assert parse_target("http://münchen.de/").host == "xn--mnchen-3ya.de"
    assert parse_target("http://[2606:4700::1111]:8080/").host == "2606:4700::1111"


def test_resolution_refuses_any_blocked_answer():
    assert resolve_checked("localhost", 80, allow_private=True)
    with pytest.raises(BlockedURL) as info:
        resolve_checked("localhost", 80, allow_private=False)
    assert info.value.reason is Reason.BLOCKED_SSRF

    def mixed(host, port):  # a rebinding answer: one public, one private address
        return ["93.184.216.34", "127.0.0.1"]

    with pytest.raises(BlockedURL):
        resolve_checked("news.example", 80, allow_private=False, resolver=mixed)
    assert resolve_checked("news.example", 80, allow_private=True, resolver=mixed) == [
        "93.184.216.34",
        "127.0.0.1",
    ]


def test_resolution_failures_are_dns_errors():
    with pytest.raises(FetchError) as info:
        resolve_checked("no-such-host.invalid", 80, allow_private=False)
    assert info.value.reason is Reason.DNS_ERROR

    def hangs(host, port):
        import time

        time.sleep(5)
        return ["93.184.216.34"]

    with pytest.raises(FetchError) as info:
        resolve_checked("slow.example", 80, allow_private=False, timeout=0.05, resolver=hangs)
    assert info.value.reason is Reason.DNS_ERROR


URL_ALPHABET = st.sampled_from(
    [*"abc019.:/@\\#?%[]-_xX \t", "127", "0x7f", "::", "ａ", "localhost"]
)


@given(
    st.lists(URL_ALPHABET, max_size=25).map("".join), st.sampled_from(["http://", "https://", ""])
)
def test_accepted_urls_name_the_same_host_for_every_parser(tail, prefix):
    """FUZZ-01: only BlockedURL escapes, and urllib3 connects to the host we checked."""
    url = prefix + tail
    try:
        target = parse_target(url, allow_private=True)
    except BlockedURL:
        return
    try:
        parsed = urllib3.util.parse_url(url)
    except urllib3.exceptions.LocationParseError:
        return  # urllib3 would not connect anywhere; we connect to target.host only
    host = (parsed.host or "").strip("[]").lower().removesuffix(".")
    if target.ip is None:
        assert host == target.host
    else:  # numeric spellings (127.1, 0x7f000001) name the address we checked
        assert (
            host == target.host
            or parse_target(f"http://{host}/", allow_private=True).ip == target.ip
        )
    assert (parsed.port or {"http": 80, "https": 443}[target.scheme]) == target.port
