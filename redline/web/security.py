"""(being written)"""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware

from redline.web.state import WebState


def middleware(state: WebState) -> list[Middleware]:
    return []


def exception_handlers(state: WebState) -> dict[Any, Any]:
    return {}
