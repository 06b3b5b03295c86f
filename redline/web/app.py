"""The Starlette application: every route module's routes, the static files, the security
headers and the error pages, assembled over one WebState."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from redline.web import api, feeds, health, pages, security
from redline.web.state import WebState

STATIC = Path(__file__).parent / "static"


def create_app(state: WebState) -> Starlette:
    routes: list[BaseRoute] = [
        *health.routes(state),
        *api.routes(state),
        *feeds.routes(state),
        *pages.routes(state),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=security.middleware(state),
        exception_handlers=security.exception_handlers(state),
    )
    app.state.web = state
    return app
