"""`redline db upgrade`: apply schema migrations explicitly."""

from __future__ import annotations

import click

from redline.cli.app import App
from redline.storage import open_store
from redline.storage.migrations import latest_version
from redline.storage.open import check_schema


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@click.pass_obj
def upgrade_command(app: App) -> None:
    """Create the schema, or migrate it to this version's. Safe to run twice.

    Each migration runs in its own transaction; a newer schema than this version knows is
    refused and left untouched.

    \b
    Example:
      REDLINE_DATABASE_URL=postgresql://redline@db/redline redline db upgrade
    """
    store = open_store(app.config.database_url, check=False)
    try:
        before = store.schema_version()
        latest = latest_version(store.BACKEND)  # type: ignore[attr-defined]
        if before > latest:
            check_schema(store, create=False)  # raises SchemaTooNew with the full message
        applied = store.upgrade()
    finally:
        store.close()
    if applied:
        click.echo(f"upgraded {store.url} from schema {before} to {applied[-1]}")
    else:
        click.echo(f"{store.url} is at schema {before}, the latest: nothing to do")
