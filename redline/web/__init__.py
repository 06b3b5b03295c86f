"""The web app: HTML pages, the JSON API, Atom feeds, health and metrics, over one Store.

`create_app(state)` builds the Starlette application; `redline run` serves it from its own
thread beside the daemon, `redline serve` alone. Handlers are plain (sync) functions: Starlette
runs them in its thread pool, so a slow query never blocks the event loop that serves others.
"""

from redline.web.app import create_app
from redline.web.state import WebSettings, WebState

__all__ = ["WebSettings", "WebState", "create_app"]
