"""fetch_once against the local news site: redirects, SSRF per hop, rebinding, caps, timeouts."""

from __future__ import annotations

import ipaddress
import socket
import ssl

import pytest

from redline.crawler.errors import BlockedURL, FetchError, HTTPStatusError, Reason
from redline.crawler.fetch_once import fetch_once
from redline.newsite import Fault, NewsSite
from tests.tls import self_signed

# Loopback is private, so "public" test sites live on 127.0.0.2 and are allowed explicitly;
# the canary on 127.0.0.1 stands for an internal service and must never be reached.
PUBLIC = (ipaddress.ip_network("127.0.0.2/32"),)
MB = 2**20


@pytest.fixture
def site():
    with NewsSite(articles=3) as running:
        yield running


@pytest.fixture
def canary():
    with NewsSite(articles=1) as running:
        yield running


@pytest.fixture
def public_site(canary):
    """A site on 127.0.0.2 on the canary's port, so a second DNS answer would hit the canary."""
    port = int(canary.base_url.rsplit(":", 1)[1])
    try:
        running = NewsSite(articles=3, host="127.0.0.2", port=port)
    except OSError:
        pytest.skip("127.0.0.2 not usable here")
    with running:
        yield running


def test_fetches_an_article_with_its_validators_and_charset(site):
    article = site.articles[0]
    page = fetch_once(
        site.url(article.path),
        allow_private=True,
        user_agent="Redline/0.1 (+https://example.org/contact)",
    )
    assert page.status == 200 and page.ok
    assert article.headline.encode() in page.body
    assert page.encoding == "utf-8"
    assert page.headers["etag"].startswith('"')
    assert page.url == site.url(article.path) and page.redirects == ()
    (request,) = site.requests_to(article.path)
    assert request.headers["user-agent"] == "Redline/0.1 (+https://example.org/contact)"
    assert request.headers["host"] == site.base_url.removeprefix("http://")
    assert (
        "br" in request.headers["accept-encoding"] and "zstd" in request.headers["accept-encoding"]
    )


def test_conditional_request_gets_304_with_empty_body(site):
    url = site.url(site.articles[0].path)
    first = fetch_once(url, allow_private=True)
    again = fetch_once(url, allow_private=True, headers={"If-None-Match": first.headers["etag"]})
    assert (again.status, again.body) == (304, b"")


def test_loopback_is_refused_without_allow_private_and_nothing_is_sent(site):
    with pytest.raises(BlockedURL) as info:
        fetch_once(site.url("/"), allow_private=False)
    assert info.value.reason is Reason.BLOCKED_SSRF
    with pytest.raises(BlockedURL):
        fetch_once(site.url("/").replace("127.0.0.1", "localhost"), allow_private=False)
    assert site.requests == []


def test_redirects_are_followed_and_recorded(site):
    old = site.articles[0]
    new = site.move(old.slug, "renamed-story")
    page = fetch_once(site.url(old.path), allow_private=True)
    assert page.url == site.url(new.path)
    assert page.redirects == (site.url(old.path),)
    assert new.headline.encode() in page.body


def test_redirect_loops_stop_after_five_hops(site):
    site.misbehave("/loop", Fault.redirect_loop())
    with pytest.raises(FetchError) as info:
        fetch_once(site.url("/loop"), allow_private=True)
    assert info.value.reason is Reason.TOO_MANY_REDIRECTS
    assert len(site.requests_to("/loop")) == 6


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", Reason.BLOCKED_SSRF),
        ("http://[::ffff:127.0.0.1]/", Reason.BLOCKED_SSRF),
        ("http://0x7f000001/", Reason.BLOCKED_SSRF),
        ("file:///etc/passwd", Reason.UNSUPPORTED_SCHEME),
        ("ftp://example.com/x", Reason.UNSUPPORTED_SCHEME),
        ("http://example.com\\@127.0.0.1/", Reason.BAD_URL),
        ("http://[oops/", Reason.BAD_URL),
    ],
)
def test_every_redirect_hop_is_checked(public_site, location, reason):
    public_site.misbehave("/go", Fault.redirect(location))
    with pytest.raises(BlockedURL) as info:
        fetch_once(public_site.url("/go"), allow_private=False, allowed_networks=PUBLIC)
    assert info.value.reason is reason
    assert "redirect from" in str(info.value)


def test_redirect_from_allowed_host_to_internal_one_never_reaches_it(public_site, canary):
    public_site.misbehave("/go", Fault.redirect(canary.url("/admin"), status=307))
    with pytest.raises(BlockedURL) as info:
        fetch_once(public_site.url("/go"), allow_private=False, allowed_networks=PUBLIC)
    assert info.value.reason is Reason.BLOCKED_SSRF
    assert canary.requests == []
    # the same chain is followed when the operator allows private networks
    assert fetch_once(public_site.url("/go"), allow_private=True).status == 404
    assert len(canary.requests_to("/admin")) == 1


def test_dns_rebinding_fails_because_the_checked_address_is_the_one_connected_to(
    public_site, canary
):
    answers = iter([["127.0.0.2"]])

    def rebinding(host, port):  # first answer public, every later one internal
        return next(answers, ["127.0.0.1"])

    port = public_site.base_url.rsplit(":", 1)[1]
    page = fetch_once(
        f"http://rebind.test:{port}/",
        allow_private=False,
        allowed_networks=PUBLIC,
        resolver=rebinding,
    )
    assert page.status == 200
    assert canary.requests == []
    (request,) = public_site.requests_to("/")
    assert request.headers["host"] == f"rebind.test:{port}"


def test_a_mixed_dns_answer_is_refused(public_site):
    port = public_site.base_url.rsplit(":", 1)[1]
    with pytest.raises(BlockedURL):
        fetch_once(
            f"http://mixed.test:{port}/",
            allow_private=False,
            allowed_networks=PUBLIC,
            resolver=lambda host, port: ["127.0.0.2", "127.0.0.1"],
        )
    assert public_site.requests == []


def test_origin_bound_headers_do_not_follow_a_cross_origin_redirect(site, canary):
    site.misbehave("/same", Fault.redirect("/feed.xml"))
    site.misbehave("/away", Fault.redirect(canary.url("/feed.xml")))
    secret = {"Authorization": "Bearer s3cret", "Cookie": "session=1"}
    fetch_once(site.url("/same"), allow_private=True, headers=secret)
    fetch_once(site.url("/away"), allow_private=True, headers=secret)
    assert site.requests_to("/feed.xml")[0].headers["authorization"] == "Bearer s3cret"
    (leaked,) = canary.requests_to("/feed.xml")
    assert "authorization" not in leaked.headers and "cookie" not in leaked.headers


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw", "br", "zstd", "gzip, gzip"])
def test_compressed_bodies_are_decoded(site, encoding):
    site.misbehave("/z", Fault.bomb(encoding, 300_000))
    page = fetch_once(site.url("/z"), allow_private=True, max_bytes=MB)
    assert page.body == bytes(300_000)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw", "br", "zstd", "gzip, gzip"])
def test_decompression_bombs_stop_at_the_cap(site, encoding):
    site.misbehave("/bomb", Fault.bomb(encoding, 11 * MB))
    with pytest.raises(FetchError) as info:
        fetch_once(site.url("/bomb"), allow_private=True, max_bytes=MB)
    assert info.value.reason is Reason.TOO_LARGE
    assert fetch_once(site.url("/"), allow_private=True).status == 200  # the site is still fine


@pytest.mark.parametrize("content_length", [True, False])
def test_giant_bodies_are_too_large(site, content_length):
    site.misbehave("/big", Fault.giant(5 * MB, content_length=content_length))
    with pytest.raises(FetchError) as info:
        fetch_once(site.url("/big"), allow_private=True, max_bytes=MB)
    assert info.value.reason is Reason.TOO_LARGE


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault.hang(), Reason.TIMEOUT),
        (Fault.drip(0.05), Reason.TIMEOUT),
        (Fault.reset(), Reason.CONNECTION_ERROR),
        (Fault.reset(after_headers=True), Reason.CONNECTION_ERROR),
        (Fault.truncated(), Reason.CONNECTION_ERROR),
        (Fault.error(200, **{"Content-Encoding": "gzip"}), Reason.DECODE_ERROR),
        (Fault.error(200, **{"Content-Encoding": "compress"}), Reason.DECODE_ERROR),
    ],
)
def test_broken_servers_give_typed_errors(site, fault, reason):
    site.misbehave("/bad", fault)
    with pytest.raises(FetchError) as info:
        fetch_once(site.url("/bad"), allow_private=True, timeout=0.5)
    assert info.value.reason is reason


def test_refused_connection_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError) as info:
        fetch_once(f"http://127.0.0.1:{port}/", allow_private=True)
    assert info.value.reason is Reason.CONNECTION_ERROR


def test_error_statuses_are_returned_and_can_be_raised(site):
    site.misbehave("/busy", Fault.retry_after("120"))
    site.remove(site.articles[0].slug, status=410)
    busy = fetch_once(site.url("/busy"), allow_private=True)
    assert (busy.status, busy.headers["retry-after"]) == (429, "120")
    with pytest.raises(HTTPStatusError) as info:
        busy.raise_for_status()
    assert (info.value.reason, info.value.status) == (Reason.RATE_LIMITED, 429)
    gone = fetch_once(site.url("/news/story-00000"), allow_private=True)
    assert gone.status == 410
    with pytest.raises(HTTPStatusError) as info:
        gone.raise_for_status()
    assert info.value.reason is Reason.HTTP_ERROR


def test_tls_is_verified_against_the_host_name(tmp_path):
    cert_file, key_file = self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    with NewsSite(articles=1, tls_context=server_context) as tls_site:
        port = tls_site.base_url.rsplit(":", 1)[1]
        with pytest.raises(FetchError) as info:  # self-signed: not trusted by default
            fetch_once(f"https://localhost:{port}/", allow_private=True)
        assert info.value.reason is Reason.TLS_ERROR
        trusting = ssl.create_default_context(cafile=str(cert_file))
        with pytest.raises(FetchError) as info:  # trusted, but issued for "localhost" only
            fetch_once(f"https://127.0.0.1:{port}/", allow_private=True, ssl_context=trusting)
        assert info.value.reason is Reason.TLS_ERROR
        page = fetch_once(f"https://localhost:{port}/", allow_private=True, ssl_context=trusting)
        assert page.status == 200 and b"The Local Ledger" in page.body
