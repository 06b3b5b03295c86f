"""Open a store from a database URL and check that its schema is one this version can use."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from redline.storage.delta import KEYFRAME_EVERY
from redline.storage.errors import (
    DatabaseUnavailable,
    SchemaError,
    SchemaOutdated,
    SchemaTooNew,
    StorageError,
)
from redline.storage.migrations import latest_version
from redline.storage.sqlstore import SqlStore

MASK = "****"
# What a command that may not create a database says when there is none.
NEEDS_CREATING = (
    "check the URL, or create the database with `redline db upgrade` or `redline add URL`"
)
_POSTGRES = ("postgresql://", "postgres://")
# libpq's `key=value ...` connection strings: the first word is a keyword followed by `=`.
_CONNINFO = re.compile(r"^\s*[A-Za-z_]+\s*=")
# `password=...` (and `sslpassword=...`) in a key=value string: quoted '...' or up to a space.
_CONNINFO_PASSWORD = re.compile(
    r"(\b[a-z]*password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s']\S*)", re.IGNORECASE
)
_CONNINFO_SCHEMA = re.compile(r"(?:^|\s)schema\s*=\s*([^\s']\S*)(?=\s|$)")


def is_conninfo(url: str) -> bool:
    """A libpq `host=... dbname=... user=...` string (not a URL, not a file path)."""
    return "://" not in url and bool(_CONNINFO.match(url))


def normalize_database_url(url: str) -> str:
    """A libpq `key=value` connection string becomes the equivalent `postgresql://?key=value`
    URL (a `schema=NAME` in it becomes our `?schema=`); anything else is returned as given.

    Raises DatabaseUnavailable, password masked, for a key=value string libpq cannot parse:
    such a string is never taken for a SQLite file name.
    """
    if not is_conninfo(url):
        return url
    from psycopg import Error as PsycopgError
    from psycopg.conninfo import conninfo_to_dict

    schema = None
    found = _CONNINFO_SCHEMA.search(url)
    rest = url
    if found:
        schema = found.group(1)
        rest = url[: found.start()] + " " + url[found.end() :]
    try:
        params = conninfo_to_dict(rest)
    except PsycopgError as exc:
        problem = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "", url)
        raise DatabaseUnavailable(
            f"not a valid PostgreSQL connection string ({mask_url(url)}): {problem}; "
            "use key=value pairs (host=... dbname=... user=...) or postgresql://..."
        ) from None
    query = [(k, str(v)) for k, v in params.items() if v is not None]
    if schema is not None:
        query.append(("schema", schema))
    return f"postgresql://?{urlencode(query)}"


def mask_url(url: str) -> str:
    """The database URL or connection string with every password replaced by ****."""
    if is_conninfo(url):  # and the password wherever else it appears (a malformed string)
        return redact(_CONNINFO_PASSWORD.sub(lambda m: m.group(1) + MASK, url), url)
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not parseable: show nothing after the scheme rather than a secret
        return url.split("://")[0] + "://..." if "://" in url else MASK
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    if "password" in query.lower():
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{k}={MASK}" if "password" in k.lower() else urlencode([(k, v)]) for k, v in pairs
        )
    shown = f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else f"{netloc}{parts.path}"
    return shown + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def secrets_of(url: str, environ: Mapping[str, str] | None = None) -> set[str]:
    """Every password in a database URL or connection string, and PGPASSWORD in `environ`
    (which redline/ hands down: storage reads no environment): what must never be printed
    (each as given and percent-decoded)."""
    env = environ or {}
    found: set[str] = set()
    if env.get("PGPASSWORD"):
        found.add(env["PGPASSWORD"])
    for match in _CONNINFO_PASSWORD.finditer(url):
        value = match.group(2)
        found.add(value)
        if value.startswith("'"):
            found.add(value.strip("'").replace("\\'", "'").replace("\\\\", "\\"))
    if "://" in url:
        try:
            parts = urlsplit(url)
            if parts.password:
                found.update({parts.password, unquote(parts.password)})
            for key, value in parse_qsl(parts.query, keep_blank_values=True):
                if "password" in key.lower() and value:
                    found.add(value)
            for raw in parts.query.split("&"):
                key, _, value = raw.partition("=")
                if "password" in key.lower() and value:
                    found.add(value)
        except ValueError:
            pass
    return {s for s in found if s and s != MASK}


def redact(text: str, url: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with every password of `url` (and PGPASSWORD in `environ`) replaced by ****."""
    for secret in sorted(secrets_of(url, environ), key=len, reverse=True):
        # whole words only: a one-letter password must not mangle the rest of the message
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    return text


def open_store(
    url: str,
    *,
    create: bool = True,
    check: bool = True,
    keyframe_every: int = KEYFRAME_EVERY,
) -> SqlStore:
    """`sqlite:///path`, a bare file path, `postgresql://...` (with an optional `schema=`), or
    a libpq `key=value` connection string (`host=db dbname=redline user=redline`).

    A new, empty database is initialised when `create` is true. When it is false nothing is
    created: a missing SQLite file (or its directory) and a database or schema without Redline's
    tables are refused, naming the URL. An existing database is never re-initialised: an older
    schema needs `redline db upgrade`, a newer one is refused.

    `keyframe_every`: a new revision is stored standalone every this many revisions, and
    against the article's latest such keyframe in between (storage/delta.py; 1 to 1024).
    """
    store = _connect(url, create=create, keyframe_every=keyframe_every)
    try:
        if check:
            check_schema(store, create=create)
    except BaseException:
        store.close()
        raise
    return store


def _connect(url: str, *, create: bool = True, keyframe_every: int = KEYFRAME_EVERY) -> SqlStore:
    url = normalize_database_url(url)
    if url.startswith(_POSTGRES):
        from redline.storage.postgres import PostgresStore

        conninfo, schema = _split_schema(url)
        try:
            return PostgresStore(conninfo, schema=schema, keyframe_every=keyframe_every)
        except StorageError as exc:  # a server's own message may quote the connection string
            raise type(exc)(redact(str(exc), url)) from None
    if url.startswith("sqlite:///"):
        return _sqlite(Path(url.removeprefix("sqlite:///")), create, keyframe_every)
    if "://" in url:
        raise DatabaseUnavailable(
            f"unsupported database URL {url.split('://')[0]}://... "
            "(use sqlite:///path or postgresql://...)"
        )
    return _sqlite(Path(url), create, keyframe_every)


def _split_schema(url: str) -> tuple[str, str | None]:
    """Take our own `schema=` query parameter off a postgresql:// URL (libpq does not know it),
    keeping the `//` of a URL with no host (`postgresql://?host=...`, from key=value)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return (f"{base}?{rest}" if rest else base), schema


def _sqlite(path: Path, create: bool, keyframe_every: int) -> SqlStore:
    from redline.storage.sqlite import SqliteStore

    path = path.expanduser()
    if not create and not path.is_file():  # SQLite's connect would create it, and its directory
        raise DatabaseUnavailable(
            f"no Redline database at sqlite:///{path} ({_missing(path)}): {NEEDS_CREATING}"
        )
    return SqliteStore(path, keyframe_every=keyframe_every)


def _missing(path: Path) -> str:
    if path.exists():
        return "not a file"
    return "no such file" if path.parent.is_dir() else f"no such directory {path.parent}"


def check_schema(store: SqlStore, *, create: bool) -> None:
    latest = latest_version(store.BACKEND)  # type: ignore[attr-defined]
    current = store.schema_version()
    if current > latest:
        raise SchemaTooNew(
            f"the database at {store.url} has schema version {current}, newer than this Redline "
            f"knows ({latest}); upgrade Redline instead"
        )
    if current == 0 and create:
        store.upgrade()
    elif current == 0:
        schema = getattr(store, "schema", None)  # PostgreSQL's ?schema=
        where = f"schema {schema} of " if schema else ""
        raise SchemaError(
            f"no Redline tables in {where}the database at {store.url}: {NEEDS_CREATING}"
        )
    elif current < latest:
        raise SchemaOutdated(
            f"the database at {store.url} has schema version {current}; this Redline needs "
            f"{latest}: run `redline db upgrade`"
        )
