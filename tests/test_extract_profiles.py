"""Site profiles: data, validated at load time, matched by host and subdomain."""

from __future__ import annotations

import tomllib

import pytest

from redline.crawler.extract import (
    ProfileError,
    builtin_profiles,
    extract,
    load_profiles,
    profile_for,
)

PAGE = b"""<html><head><title>Ignored | Site</title></head><body>
<div class="hed">The headline from the profile</div>
<span class="who">By Ada Lovelace</span><span class="who">Charles Babbage</span>
<span class="when" data-t="2025-01-02T03:04:05+01:00">Jan 2</span>
<div class="story"><p>First paragraph of the story, long enough to be an article for sure.</p>
<div class="promo">Buy our mug today</div>
<p>Second paragraph with more words that a reader would read from the page.</p>
<ul><li>A list item</li></ul></div></body></html>"""

TOML = """
[profiles."example.com"]
headline = ".hed"
byline = ".who"
published = "//span[@class='when']/@data-t"
body = ".story"
exclude = [".promo"]
"""


def test_profile_fields_win_and_exclude_is_applied() -> None:
    profiles = load_profiles(tomllib.loads(TOML)["profiles"])
    page = extract(
        PAGE,
        "https://www.example.com/a",
        profile=profile_for("https://www.example.com/a", profiles),
    ).page
    assert page.headline == "The headline from the profile"
    assert page.byline == ("Ada Lovelace", "Charles Babbage")
    assert page.published is not None and page.published.isoformat() == "2025-01-02T02:04:05+00:00"
    assert page.body == (
        "First paragraph of the story, long enough to be an article for sure.",
        "Second paragraph with more words that a reader would read from the page.",
        "A list item",
    )


def test_profile_for_matches_host_and_subdomains_only() -> None:
    profiles = load_profiles({"example.com": {"body": "article"}})
    assert profile_for("https://example.com/x", profiles) is not None
    assert profile_for("https://news.www.example.com/x", profiles) is not None
    assert profile_for("https://notexample.com/x", profiles) is None
    assert profile_for("https://example.com.evil.org/x", profiles) is None
    assert profile_for("not a url", profiles) is None


@pytest.mark.parametrize(
    "xpath",
    [
        "document('file:///etc/passwd')//p",
        "doc('http://evil/')//p",
        "unparsed-text('/etc/passwd')",
        "//p[contains(., unparsed-text-lines('x'))]",
        "collection('x')",
    ],
)
def test_xpath_that_reads_files_or_urls_is_refused_at_load(xpath: str) -> None:
    with pytest.raises(ProfileError, match=r'profiles\."example.com"\.body.*reads files or URLs'):
        load_profiles({"example.com": {"body": xpath}})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"body": "div[["}, "invalid CSS"),
        ({"body": "//p[@"}, "invalid XPath"),
        ({"body": ""}, "non-empty"),
        ({"bodyy": "p"}, "unknown field"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"live_url": "(["}, "invalid regex"),
    ],
)
def test_bad_profiles_fail_with_the_host_and_field(table: dict, message: str) -> None:
    with pytest.raises(ProfileError, match=message) as caught:
        load_profiles({"example.com": table})
    assert "example.com" in str(caught.value)


def test_builtin_profiles_load_and_cover_kyiv_independent() -> None:
    profiles = builtin_profiles()
    found = profile_for("https://kyivindependent.com/some-story/", profiles)
    assert found is not None and found.timezone == "Europe/Kyiv"
    assert found.is_live_url("https://kyivindependent.com/news-feed/")
    assert not found.is_live_url("https://kyivindependent.com/some-story/")


def test_a_profile_selector_that_finds_nothing_falls_back_to_the_generic_layer() -> None:
    profiles = load_profiles({"example.com": {"body": ".gone-after-redesign"}})
    page = extract(PAGE, "https://example.com/a", profile=profiles["example.com"]).page
    assert "First paragraph of the story" in page.text
