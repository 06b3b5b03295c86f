"""(being written)"""

from __future__ import annotations

from starlette.routing import BaseRoute

from redline.web.state import WebState


def routes(state: WebState) -> list[BaseRoute]:
    return []
