"""What the local news site publishes: articles, a live feed, and their HTML/RSS/Atom/sitemaps.

Pages look like real news pages (navigation, trending list, sign-up box, JSON-LD, OpenGraph,
rel=canonical, a byline and <time> elements) so extraction and diffing meet realistic furniture.
Rendering is deterministic for a given state; `noise` adds the per-request churn real sites have
(rotating ads, CSRF tokens, "updated 5 minutes ago") that must never become a revision.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

WORDS = (
    "council", "budget", "minister", "vote", "report", "police", "court", "health", "school",
    "water", "energy", "housing", "transport", "climate", "election", "market", "workers",
    "union", "hospital", "river", "storm", "inquiry", "mayor", "officials", "residents",
    "plan", "funding", "schools", "prices", "rates", "bank", "tax", "review", "figures",
    "week", "statement", "agreement", "talks", "spokesperson", "government", "opposition",
    "local", "national",
)  # fmt: skip
SECTIONS = ("news", "politics", "business", "world")


@dataclass
class Article:
    """One story. `status` 404/410 means removed; `moved_to` makes its path a 301."""

    slug: str
    headline: str
    byline: str
    published: datetime
    updated: datetime
    body: list[str]
    section: str = "news"
    status: int = 200
    moved_to: str | None = None
    raw_html: bytes | None = None  # a real page served verbatim (benchmarks over the corpus)

    @property
    def path(self) -> str:
        return f"/{self.section}/{self.slug}"


@dataclass
class LiveItem:
    """One entry of the live "News Feed" page; `edited` renders an "(Updated HH:MM)" marker."""

    key: str
    time: datetime
    headline: str
    text: str
    edited: datetime | None = None


@dataclass
class SiteContent:
    """The editable state of the site. Callers hold the server's lock while touching it."""

    articles: dict[str, Article] = field(default_factory=dict)
    live: list[LiveItem] = field(default_factory=list)
    robots: str = "User-agent: *\nDisallow: /private/\n"
    noise: bool = False


def generated_article(index: int, now: datetime, rng: random.Random) -> Article:
    """A plausible article; index 0 is the newest."""
    published = now - timedelta(hours=index + 1)
    words = [rng.choice(WORDS) for _ in range(7)]
    headline = " ".join(words).capitalize()
    body = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(18, 40))).capitalize() + "."
        for _ in range(rng.randint(4, 9))
    ]
    byline = f"{rng.choice(['Ann', 'Ben', 'Chloe', 'Dev'])} {rng.choice(['Smith', 'Okafor', 'Ng'])}"
    return Article(
        slug=f"story-{index:05d}",
        headline=headline,
        byline=byline,
        published=published,
        updated=published,
        body=body,
        section=SECTIONS[index % len(SECTIONS)],
    )


def corpus_pages(directory: Path) -> list[bytes]:
    """The real article pages of ../shared/corpus/extraction/html (`*.html` or `*.html.gz`)."""
    pages = []
    for path in sorted(directory.iterdir()):
        if path.name.endswith(".html.gz"):
            pages.append(gzip.decompress(path.read_bytes()))
        elif path.suffix == ".html":
            pages.append(path.read_bytes())
    return pages


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _noise(counter: int) -> str:
    minutes = counter % 59 + 1
    token = f"{(counter * 2654435761) % 2**32:08x}"
    return (
        f'<div class="ad" data-slot="{token}">Sponsored: offer {counter % 7}</div>'
        f'<p class="ago">Updated {minutes} minutes ago</p>'
        f'<input type="hidden" name="csrf" value="{token}">'
    )


def article_html(
    article: Article, base: str, others: list[Article], noise_counter: int | None
) -> bytes:
    """The article page; `noise_counter` (not None) adds per-request churn."""
    if article.raw_html is not None:
        if noise_counter is None:
            return article.raw_html
        return article.raw_html.replace(b"</body>", _noise(noise_counter).encode() + b"</body>", 1)
    paragraphs = "\n".join(f"      <p>{escape(p)}</p>" for p in article.body)
    trending = "".join(f'<li><a href="{o.path}">{escape(o.headline)}</a></li>' for o in others[:5])
    url = base + article.path
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{escape(article.headline)} | The Local Ledger</title>
  <link rel="canonical" href="{url}">
  <meta property="og:title" content="{escape(article.headline)}">
  <meta property="article:published_time" content="{article.published.isoformat()}">
  <meta property="article:modified_time" content="{article.updated.isoformat()}">
  <script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
    "headline": "{escape(article.headline)}", "datePublished": "{article.published.isoformat()}",
    "dateModified": "{article.updated.isoformat()}",
    "author": [{{"@type": "Person", "name": "{escape(article.byline)}"}}]}}</script>
</head>
<body>
  <header><nav><a href="/">Home</a> <a href="/politics/">Politics</a> <a href="/live">Live</a>
    <a href="/business/">Business</a> <button>Subscribe</button></nav></header>
  <main>
    <article>
      <h1>{escape(article.headline)}</h1>
      <p class="byline">By <a rel="author" href="/authors/x">{escape(article.byline)}</a></p>
      <p class="dates">Published <time datetime="{article.published.isoformat()}">
        {article.published:%d %B %Y %H:%M}</time>, updated
        <time datetime="{article.updated.isoformat()}">{article.updated:%d %B %Y %H:%M}</time></p>
{paragraphs}
    </article>
    {_noise(noise_counter) if noise_counter is not None else ""}
    <aside class="newsletter"><h2>Sign up for the morning briefing</h2>
      <form><input type="email" placeholder="Your email"><button>Sign up</button></form></aside>
    <aside class="trending"><h2>Most read</h2><ol>{trending}</ol></aside>
  </main>
  <footer><p>&copy; The Local Ledger</p><a href="/privacy">Privacy</a></footer>
</body>
</html>
""".encode()


def front_page_html(articles: list[Article], title: str = "The Local Ledger") -> bytes:
    links = "\n".join(
        f'    <li><a href="{a.path}">{escape(a.headline)}</a>'
        f' <a href="{a.path}#comments">Comments</a></li>'
        for a in articles
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>
<body><nav><a href="/">Home</a> <a href="/live">Live</a> <a href="/about">About us</a>
  <a href="https://twitter.com/localledger">Twitter</a></nav>
  <main><h1>{escape(title)}</h1><ul>
{links}
  </ul></main></body></html>
""".encode()


def live_html(items: list[LiveItem], now: datetime) -> bytes:
    entries = []
    for item in items:
        marker = (
            f' <span class="updated">(Updated {item.edited:%H:%M})</span>' if item.edited else ""
        )
        entries.append(
            f'    <li class="feed-item" id="item-{escape(item.key)}" data-key="{escape(item.key)}">'
            f'<time datetime="{item.time.isoformat()}">{item.time:%H:%M}</time>'
            f"<h3>{escape(item.headline)}</h3><p>{escape(item.text)}{marker}</p></li>"
        )
    joined = "\n".join(entries)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>News Feed | The Local Ledger</title></head>
<body><nav><a href="/">Home</a></nav>
  <main><h1>News Feed</h1><p class="refreshed">Last refreshed {now:%H:%M}</p>
  <ol class="news-feed">
{joined}
  </ol></main></body></html>
""".encode()


def rss_xml(articles: list[Article], base: str) -> bytes:
    items = "\n".join(
        f"  <item><title>{escape(a.headline)}</title><link>{base}{a.path}</link>"
        f'<guid isPermaLink="true">{base}{a.path}</guid><pubDate>{http_date(a.published)}</pubDate>'
        f"<description>{escape(a.body[0] if a.body else '')}</description></item>"
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>The Local Ledger</title><link>{base}/</link>
  <description>Latest news</description>
{items}
</channel></rss>
""".encode()


def atom_xml(articles: list[Article], base: str) -> bytes:
    entries = "\n".join(
        f'  <entry><title>{escape(a.headline)}</title><link rel="alternate" href="{base}{a.path}"/>'
        f"<id>{base}{a.path}</id><published>{a.published.isoformat()}</published>"
        f"<updated>{a.updated.isoformat()}</updated></entry>"
        for a in articles
    )
    newest = max((a.updated for a in articles), default=datetime(2026, 1, 1, tzinfo=UTC))
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>The Local Ledger</title>
  <id>{base}/</id><updated>{newest.isoformat()}</updated>
{entries}
</feed>
""".encode()


def sitemap_index_xml(base: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{base}/sitemap-news.xml</loc></sitemap>
  <sitemap><loc>{base}/sitemap-articles.xml</loc></sitemap>
</sitemapindex>
""".encode()


def sitemap_xml(articles: list[Article], base: str, *, news: bool) -> bytes:
    rows = []
    for a in articles:
        extra = (
            "<news:news><news:publication><news:name>The Local Ledger</news:name>"
            "<news:language>en</news:language></news:publication>"
            f"<news:publication_date>{a.published.isoformat()}</news:publication_date>"
            f"<news:title>{escape(a.headline)}</news:title></news:news>"
            if news
            else ""
        )
        rows.append(
            f"  <url><loc>{base}{a.path}</loc>"
            f"<lastmod>{a.updated.isoformat()}</lastmod>{extra}</url>"
        )
    joined = "\n".join(rows)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{joined}
</urlset>
""".encode()
