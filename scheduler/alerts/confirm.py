"""A second look before alerting (a rule's `confirm = true`): a CDN node serving a stale copy
can make an article seem edited, then edited back. Before the first send, the article is
fetched once more; when every field the revision changed is back to what it was before, the
alert is dropped. When the second look fails or is unclear, the alert is sent: a missed alert
costs more than a doubtful one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redline.crawler.diff import field_texts, item_text
from redline.crawler.errors import FetchError
from redline.crawler.extract import extract, profile_for
from redline.crawler.fetch_once import fetch_once
from redline.storage import Article, Page, Revision

log = logging.getLogger("redline.alerts")


def reverted(revision: Revision, previous: Revision, now: Page) -> bool:
    """True when every field the revision changed shows its previous value again, none its
    new one (pure)."""
    before, after, seen = _fields(previous.page), _fields(revision.page), _fields(now)
    fields = [c.field for c in revision.changes] or [
        f for f in after if after.get(f) != before.get(f)
    ]
    return bool(fields) and all(
        seen.get(f) == before.get(f) and seen.get(f) != after.get(f) for f in fields
    )


def _fields(page: Page) -> dict[str, str]:
    texts = dict(field_texts(page))
    texts.update({f"item:{item.key}": item_text(item) for item in page.items})
    return texts


def confirmer(
    *,
    allow_private: bool,
    user_agent: str,
    profiles: Mapping[str, Any],
    timeout: float = 30.0,
) -> Callable[[Article, Revision, Revision | None], Awaitable[bool]]:
    """The second look, fetching with the same safety rules as the crawler (the SSRF guard,
    size and time limits) in threads of its own, never the event loop's."""
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="redline-confirm")

    def look(url: str) -> Page | None:
        try:
            page = fetch_once(
                url, allow_private=allow_private, user_agent=user_agent, timeout=timeout
            )
        except FetchError as exc:
            log.info("second look at %s failed (%s): alerting anyway", url, exc)
            return None
        if not page.ok:
            return None
        profile = profile_for(page.url, profiles)
        return extract(page.body, page.url, encoding=page.encoding, profile=profile).page

    async def confirm(article: Article, revision: Revision, previous: Revision | None) -> bool:
        if previous is None:
            return True
        loop = asyncio.get_running_loop()
        now = await loop.run_in_executor(pool, look, article.url)
        return now is None or not reverted(revision, previous, now)

    return confirm
