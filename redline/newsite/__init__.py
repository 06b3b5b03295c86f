"""A small local news site for tests and benchmarks (see `NewsSite`).

    with NewsSite(articles=3) as site:
        fetch(site.article_url("story-00000"))
        site.edit("story-00000", headline="Council approves revised budget")
        site.misbehave("/news/story-00000", Fault.retry_after("120"))

As a subprocess for benchmarks: `python -m redline.newsite --articles 2000 --corpus DIR` prints
its base URL on the first line of stdout and serves until SIGTERM.
"""

from redline.newsite.content import Article, LiveItem
from redline.newsite.faults import Fault, bomb_bytes
from redline.newsite.server import LoggedRequest, NewsSite

__all__ = ["Article", "Fault", "LiveItem", "LoggedRequest", "NewsSite", "bomb_bytes"]
