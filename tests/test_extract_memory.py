"""The fast re-check and what ArticleMemory learns across versions."""

from __future__ import annotations

from pathlib import Path

from redline.crawler.extract import ArticleMemory, SiteMemory, extract, load_profiles

URL = "https://kyivindependent.com/north-korean-troops-suffer-over-1-000-losses/"
HTML = (Path(__file__).parent / "fixtures" / "extract" / "kyivindependent_article.html").read_text(
    "utf-8"
)


def test_furniture_change_reuses_the_previous_page() -> None:
    first = extract(HTML, URL)
    assert first.memory is not None and first.memory.fingerprint
    noisy = HTML.replace("8f14e45fceea167a5a36dedd4bea2543", "0" * 32).replace(
        "Zelensky arrives in South Africa", "Zelensky lands in Pretoria"
    )
    again = extract(noisy, URL, memory=first.memory, previous=first.page)
    assert again.reused is True
    assert again.page is first.page


def test_a_body_edit_is_never_reused() -> None:
    first = extract(HTML, URL)
    edited = HTML.replace("hopeless assaults", "futile assaults")
    again = extract(edited, URL, memory=first.memory, previous=first.page)
    assert again.reused is False
    assert "futile assaults" in again.page.text


def test_a_declared_date_change_is_never_reused() -> None:
    first = extract(HTML, URL)
    edited = HTML.replace("2024-12-28T05:41:12.000Z", "2024-12-29T09:00:00.000Z")
    again = extract(edited, URL, memory=first.memory, previous=first.page)
    assert again.reused is False
    assert again.page.updated.day == 29


def test_memory_round_trips_through_json() -> None:
    memory = extract(HTML, URL).memory
    assert ArticleMemory.from_json(memory.to_json()) == memory


def test_unreadable_memory_is_an_empty_one() -> None:
    for text in ("", "not json", "[]", '{"format": 999}', '{"format": 1, "blocks": 5}'):
        assert ArticleMemory.from_json(text) == ArticleMemory()


PROMO = '<div class="c-box"><p>{}</p></div>'


def _version(n: int) -> str:
    teaser = f"Story number {n} about something else entirely, with its own words {n * 7}."
    return HTML.replace(
        "<p>The White House believes", PROMO.format(teaser) + "<p>The White House believes"
    )


def test_a_block_that_changes_at_every_check_is_learnt_as_furniture() -> None:
    result = extract(_version(1), URL)
    pages = [result.page]
    for n in range(2, 6):
        result = extract(_version(n), URL, memory=result.memory, previous=result.page)
        pages.append(result.page)
    assert "div.c-box" in result.memory.volatile
    assert pages[-1] == pages[-2] == pages[-3]
    assert not any("Story number" in p for p in pages[-1].body)


def test_a_one_off_edit_is_not_learnt_as_furniture() -> None:
    first = extract(HTML, URL)
    edited = HTML.replace("hopeless assaults", "futile assaults")
    second = extract(edited, URL, memory=first.memory, previous=first.page)
    assert second.memory.volatile == ()
    assert "futile assaults" in second.page.text


SITE_ARTICLE = """<html><head><title>{title} | Daily</title></head><body><article>
<h1>{title}</h1><p class="standfirst">{standfirst}</p>
<p>{title} was the main subject of a long council session on Tuesday evening in the town hall.</p>
<div class="story-card">Also <a href="/stories/{n}">{teaser}</a></div>
<p>Members of the council argued for three hours about {title} before a vote was taken.</p>
<p>The result of the vote on {title} will be published by the clerk later this week.</p>
</article></body></html>"""
TOPICS = ("bridge", "budget", "school", "library", "harbour")


def _site_article(n: int) -> str:
    return SITE_ARTICLE.format(
        n=n,
        title=f"The {TOPICS[n]} plan",
        standfirst=f"Why the {TOPICS[n]} matters to {n + 2} districts of the town.",
        teaser=f"Readers also liked the story about the {TOPICS[(n + 1) % 5]} fire number {n}",
    )


def test_recirculation_blocks_are_learnt_across_a_sites_articles() -> None:
    # A profile takes the whole container, cards included: what the site memory is for.
    profile = load_profiles({"daily.example": {"body": "article p, article div"}})["daily.example"]
    site = SiteMemory()
    pages = []
    for n in range(5):
        url = f"https://daily.example/{n}"
        result = extract(_site_article(n), url, profile=profile, site=site)
        site = result.site
        pages.append(result.page)
    assert "Readers also liked" in pages[0].text  # one page alone cannot tell
    assert "div.story-card" in site.furniture
    assert "Readers also liked" not in pages[-1].text
    assert pages[-1].body[0] == "Why the harbour matters to 6 districts of the town."  # kept
    assert SiteMemory.from_json(site.to_json()) == site


def test_site_memory_survives_bad_json() -> None:
    for text in ("", "{}", '{"format": 1, "seen": {"x": {"a": 1}}}', "[1]"):
        assert SiteMemory.from_json(text) == SiteMemory()
