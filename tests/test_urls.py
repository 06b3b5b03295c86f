"""URL canonicalisation: one story reached two ways is one article (CON-12)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redline.crawler.urls import canonicalize, registrable_domain, resolve_canonical, site_of

CASES = [
    ("HTTPS://WWW.Example.COM:443/News/Story", "https://www.example.com/News/Story"),
    ("http://example.com:80", "http://example.com/"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com/a?utm_source=rss&utm_medium=feed&id=7", "https://example.com/a?id=7"),
    ("https://example.com/a?fbclid=x&b=2&a=1", "https://example.com/a?a=1&b=2"),
    (
        "https://example.com/a?gclid=1&mc_cid=2&mc_eid=3&ocid=4&cmpid=5&_ga=6",
        "https://example.com/a",
    ),
    ("https://example.com/a?CMP=share_btn_tw&UTM_Campaign=x", "https://example.com/a"),
    ("https://example.com/a?b=2&a=1&a=0", "https://example.com/a?a=0&a=1&b=2"),
    ("https://example.com/a?q=hello+world", "https://example.com/a?q=hello%20world"),
    ("https://example.com/a?empty=&x=1", "https://example.com/a?empty=&x=1"),
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("https://example.com/%7euser/%e2%82%ac", "https://example.com/%7Euser/%E2%82%AC"),
    ("https://example.com/ünï", "https://example.com/%C3%BCn%C3%AF"),
    ("https://München.DE./x", "https://xn--mnchen-3ya.de/x"),
    ("https://example.com", "https://example.com/"),
    ("  https://example.com/a  ", "https://example.com/a"),
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_canonical_form(url, expected):
    assert canonicalize(url) == expected


def test_one_story_reached_two_ways_is_one_key():
    a = "https://news.example.com/politics/budget-vote?utm_source=twitter&utm_medium=social#top"
    b = "HTTPS://news.example.com:443/politics/budget-vote?fbclid=IwAR0x"
    assert canonicalize(a) == canonicalize(b) == "https://news.example.com/politics/budget-vote"


def test_path_case_and_meaningful_parameters_are_kept():
    assert canonicalize("https://example.com/Story?ID=7") == "https://example.com/Story?ID=7"
    assert canonicalize("https://example.com/a?page=2") != canonicalize(
        "https://example.com/a?page=3"
    )


@given(
    st.text(alphabet="abcXYZ019/?&=#%._~-+ éü", max_size=40),
    st.sampled_from(["http://", "https://", "HTTP://www."]),
    st.sampled_from(["example.com", "Example.COM:443", "example.com:8080", "[2001:db8::1]"]),
)
def test_canonicalize_is_idempotent(tail, scheme, host):
    url = f"{scheme}{host}/{tail}"
    once = canonicalize(url)
    assert canonicalize(once) == once


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://www.example.com/a", "example.com"),
        ("https://WWW.Example.com:8443/a", "example.com"),
        ("https://news.example.co.uk/a", "news.example.co.uk"),
        ("http://127.0.0.1:8000/a", "127.0.0.1"),
    ],
)
def test_site_of(url, site):
    assert site_of(url) == site


def test_registrable_domain_uses_the_public_suffix_list_offline():
    assert registrable_domain("https://news.example.co.uk/x") == "example.co.uk"
    assert registrable_domain("https://a.b.example.com/") == "example.com"
    assert registrable_domain("https://alice.github.io/") == "github.io"  # ICANN part only
    assert registrable_domain("http://127.0.0.1:8080/") == "127.0.0.1"


FINAL = "https://www.example.com/2026/11/budget-vote?utm_source=rss"


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        (None, "https://www.example.com/2026/11/budget-vote"),
        ("", "https://www.example.com/2026/11/budget-vote"),
        (
            "https://www.example.com/politics/budget-vote",
            "https://www.example.com/politics/budget-vote",
        ),
        ("/politics/budget-vote#x", "https://www.example.com/politics/budget-vote"),
        ("https://amp.example.com/budget-vote", "https://amp.example.com/budget-vote"),
        ("https://evil.example.net/budget-vote", "https://www.example.com/2026/11/budget-vote"),
        ("javascript:alert(1)", "https://www.example.com/2026/11/budget-vote"),
        ("ftp://www.example.com/x", "https://www.example.com/2026/11/budget-vote"),
        ("https://www.example.com/", "https://www.example.com/2026/11/budget-vote"),
    ],
)
def test_rel_canonical_only_within_the_same_site(rel, expected):
    assert resolve_canonical(FINAL, rel) == expected


@pytest.mark.parametrize("url", ["http://example.com:99999/", "http://[::1/"])
def test_unsplittable_urls_raise_value_error(url):
    with pytest.raises(ValueError):
        canonicalize(url)
