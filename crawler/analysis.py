"""The CPU-heavy part of one check, run in a worker process: extract, hash, compare.

Pure: bytes and values in, values out. It runs in a process pool so that extraction and diffing
never stall fetching (measured: a 2-process pool doubled items/s over inline work on 2 cores,
a thread pool was slower than inline; shared/reference/long-lived-crawl.md section 5).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from crawler.diff import compare
from crawler.extract import ArticleMemory, SiteProfile, extract
from crawler.extract.site import SiteMemory
from storage.codec import content_hash, encode_fetch
from storage.model import Change, EncodedPage, Page, PageKind


@dataclass(frozen=True, slots=True)
class Analysis:
    page: Page
    content_hash: str
    changes: tuple[Change, ...]  # against `previous`; empty when unchanged or not an article
    memory: str | None  # what extraction learnt, as JSON for the store
    reused: bool  # the fast re-check confirmed the article's region did not change
    site: str | None = None  # what was learnt across the site's articles, when it changed
    encoded: EncodedPage | None = None  # page and HTML as the store keeps them, when changed


def body_hash(body: bytes) -> str:
    """Identity of the raw bytes: identical bytes skip extraction altogether."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def _memory(text: str | None) -> ArticleMemory | None:
    if not text:
        return None
    try:
        return ArticleMemory.from_json(text)
    except (ValueError, TypeError, KeyError):
        return None  # memory from an older extractor: learn again


def analyse(
    body: bytes,
    url: str,
    *,
    encoding: str | None,
    profile: SiteProfile | None,
    memory: str | None,
    previous: Page | None,
    latest_hash: str | None,
    site: str | None = None,
) -> Analysis:
    """`site` is the site's memory as the store keeps it; `Analysis.site` is its new value when
    this page taught extraction something about the site (else None: nothing to save)."""
    known = SiteMemory.from_json(site) if site else SiteMemory()
    result = extract(
        body,
        url,
        encoding=encoding,
        profile=profile,
        memory=_memory(memory),
        previous=previous,
        site=known,
    )
    page = result.page
    if page.kind is PageKind.NOT_ARTICLE:
        digest, encoded = content_hash(page), None
    else:  # hashed and compressed here, in the pool, so the store's writer does neither
        digest, encoded = encode_fetch(page, body, latest_hash)
    unchanged = encoded is None
    changes = () if unchanged else tuple(compare(previous, page))
    learnt = result.memory.to_json() if result.memory is not None else None
    site_learnt = result.site.to_json() if result.site is not None else None
    changed_site = site_learnt if site_learnt != known.to_json() else None
    return Analysis(page, digest, changes, learnt, result.reused, changed_site, encoded)
