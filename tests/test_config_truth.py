"""The CLI tells the truth: every configuration key is used or refused, by every command, and
the commands that only read never create (nor migrate) a database."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from redline.cli import cli
from tests.databases import PG_URL

URL = "https://news.example/world/kursk-losses"

# (the file's text, the table and key the error must name)
TYPOS = [
    ("surprise = true\n", "surprise"),
    ("[crawl]\nper_hots = 2\n", "[crawl] per_hots"),
    ('[policy]\nmin_intervall = "5m"\n', "[policy] min_intervall"),
    ('[policy.sites."live.example.com"]\nmax_ag = "2d"\n',
     '[policy.sites."live.example.com"] max_ag'),
    ('[profiles."example.com"]\nheadlien = "h1"\n', '[profiles."example.com"] headlien'),
    ('[alerts]\nslack = "https://hooks.slack.com/x"\n', "[alerts] slack"),
    (
        '[alerts.channels.desk]\nurl = "https://hooks.example.org/r"\ncolour = "red"\n',
        "[alerts.channels.desk] colour",
    ),
    (
        '[alerts.channels.desk]\nurl = "https://hooks.example.org/r"\n'
        '[[alerts.rules]]\nname = "h"\nwhen = ["headline_changed"]\nchanels = ["desk"]\n',
        "[[alerts.rules]] #1 chanels",
    ),
    ('[web]\nprot = 8470\n', "[web] prot"),
    ("[storage]\nkeyframe_evry = 8\n", "[storage] keyframe_evry"),
    ('[[sources]]\nurl = "https://news.example/feed"\nevry = "10m"\n', "[[sources]] #1 evry"),
]  # fmt: skip

# A value of the wrong type, in the tables whose checks are new: refused at load too.
WRONG_TYPES = [
    ('[alerts]\nmax_attempts = "many"\n', "[alerts] max_attempts", "max_attempts"),
    ('[alerts.channels.desk]\nurl_env = 3\n', "[alerts.channels.desk] url_env", "url_env"),
    ('[alerts.channels.desk]\nformat = "text"\n', "[alerts.channels.desk]: url", "url"),
    ('[[sources]]\nurl = "https://news.example/feed"\nkind = "rss"\n', "[[sources]] #1", "kind"),
    ('[[sources]]\nurl = "https://news.example/feed"\nkind = "feed"\nevery = "soon"\n',
     "[[sources]] #1", "soon"),
    ('[[sources]]\nurl = "https://x.example/"\nkind = "page"\npattern = "(unclosed"\n',
     "[[sources]] #1", "regular expression"),
    ('[[sources]]\nkind = "feed"\n', "[[sources]] #1", "url"),
    ("[storage]\nkeyframe_every = 0\n", "[storage] keyframe_every", "1 to 1024"),
    ('[storage]\nfetch_log_days = "30d"\n', "[storage] fetch_log_days", "whole number"),
]  # fmt: skip

VALID = """\
database_url = "sqlite:////nonexistent/overridden/by/--db.sqlite"
user_agent = "Redline/0.1 (+https://github.com/redline-news/redline)"
contact_url = "https://example.org/contact"
allow_private_networks = false

[crawl]
per_host = 2
timeout = 20

[policy]
min_interval = "5m"
max_interval = "1d"

[policy.sites."live.example.com"]
min_interval = "1m"

[profiles."example.com"]
headline = "h1.article-title"
body = "div.article-body p"

[web]
port = 8470
token_env = "REDLINE_WEB_TOKEN"

[storage]
keyframe_every = 16
fetch_log_days = 30

[alerts]
max_attempts = 8
retry_base = "30s"

[alerts.channels.newsdesk]
url = "https://hooks.example.org/redline"
secret_env = "REDLINE_TEST_UNSET_SECRET"

[alerts.channels.team]
url_env = "REDLINE_TEST_UNSET_URL"

[[alerts.rules]]
name = "headlines"
when = ["headline_changed"]
channels = ["newsdesk", "team"]

[[sources]]
url = "https://news.example/feed"
kind = "feed"
every = "10m"
"""

# Every command that only reads, with the arguments it needs.
READERS = [
    ("list",),
    ("history", URL),
    ("show", URL),
    ("diff", URL),
    ("export",),
    ("status",),
    ("sources", "list"),
    ("alerts", "list"),
    ("alerts", "show", "1"),
    ("alerts", "retry", "--failed"),
    ("serve", "--port", "0"),
    ("db", "stats"),
    ("db", "verify"),
]


def redline(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def one_line_error(code: int, out: str, err: str) -> str:
    assert code == 1, (code, out, err)
    assert out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("redline: error: ")
    return err.strip()


# --- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "names"), TYPOS, ids=[n for _, n in TYPOS])
def test_an_unknown_key_stops_even_a_read_command(tmp_path, text, names):
    config = tmp_path / "redline.toml"
    config.write_text(text)
    db = tmp_path / "redline.sqlite"
    err = one_line_error(*redline("--config", str(config), "--db", f"sqlite:///{db}", "list"))
    assert err.startswith(f"redline: error: {config}: ")
    assert f"{names}: unknown setting (known: " in err
    assert not db.exists()


@pytest.mark.parametrize(("text", "where", "says"), WRONG_TYPES, ids=[w for _, w, _ in WRONG_TYPES])
def test_a_wrong_value_stops_even_a_read_command(tmp_path, text, where, says):
    config = tmp_path / "redline.toml"
    config.write_text(text)
    db = tmp_path / "redline.sqlite"
    err = one_line_error(*redline("--config", str(config), "--db", f"sqlite:///{db}", "list"))
    assert f"{config}: {where}" in err and says in err


def test_alert_secrets_are_not_needed_by_commands_that_send_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("REDLINE_TEST_UNSET_SECRET", raising=False)
    monkeypatch.delenv("REDLINE_TEST_UNSET_URL", raising=False)
    config = tmp_path / "redline.toml"
    config.write_text(VALID)
    db = f"sqlite:///{tmp_path / 'redline.sqlite'}"
    assert redline("--config", str(config), "--db", db, "add", URL)[0] == 0
    code, out, err = redline("--config", str(config), "--db", db, "list")
    assert code == 0 and URL in out, err


def test_the_example_config_is_accepted(tmp_path):
    example = Path(__file__).resolve().parent.parent / "deploy" / "redline.example.toml"
    db = f"sqlite:///{tmp_path / 'redline.sqlite'}"
    assert redline("--config", str(example), "--db", db, "add", URL)[0] == 0
    assert redline("--config", str(example), "--db", db, "list")[0] == 0


# --- read commands create nothing ---------------------------------------------------------------
@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_read_command_on_a_missing_sqlite_file_creates_nothing(tmp_path, args):
    directory = tmp_path / "nowhere"
    db = f"sqlite:///{directory / 'redline.sqlite'}"
    err = one_line_error(*redline("--db", db, *args))
    assert db in err and "redline db upgrade" in err and "redline add" in err
    assert not directory.exists()


def test_a_typo_in_the_file_name_is_an_error_not_an_empty_history(tmp_path):
    real = f"sqlite:///{tmp_path / 'redline.sqlite'}"
    assert redline("--db", real, "add", URL)[0] == 0
    typo = tmp_path / "redlin.sqlite"
    err = one_line_error(*redline("--db", f"sqlite:///{typo}", "list"))
    assert str(typo) in err and not typo.exists()


def test_an_empty_sqlite_file_is_not_initialised_by_a_read(tmp_path):
    db = tmp_path / "redline.sqlite"
    db.touch()
    err = one_line_error(*redline("--db", f"sqlite:///{db}", "list"))
    assert "no Redline tables" in err and "redline db upgrade" in err
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def _tables(url: str) -> list[str]:
    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_read_command_on_an_empty_postgres_schema_creates_nothing(pg_schema, args):
    err = one_line_error(*redline("--db", pg_schema, *args))
    assert "no Redline tables" in err and "redline db upgrade" in err
    assert _tables(pg_schema) == []


def test_a_typo_in_the_postgres_database_name_is_an_error(pg_schema):
    typo = PG_URL.rsplit("/", 1)[0].replace("postgres@", "postgres:s3cret@") + "/no_such_db_x"
    err = one_line_error(*redline("--db", typo, "list"))
    assert "cannot connect to PostgreSQL" in err and "s3cret" not in err


def test_the_postgres_password_is_masked_in_the_missing_tables_error(pg_schema):
    url = pg_schema.replace("postgres@", "postgres:s3cret@")
    code, out, err = redline("--db", url, "list")
    if "password authentication failed" in err:  # a server that checks it: still masked
        assert "s3cret" not in err
        return
    err = one_line_error(code, out, err)
    assert "s3cret" not in err and "****" in err


def test_add_creates_the_database(db_url, tmp_path):
    if db_url.startswith("sqlite"):
        db_url = f"sqlite:///{tmp_path / 'new' / 'redline.sqlite'}"
    code, out, err = redline("--db", db_url, "add", URL)
    assert code == 0, err
    code, out, _ = redline("--db", db_url, "list")
    assert code == 0 and URL in out


def test_sources_add_and_db_upgrade_create_the_database(tmp_path):
    first = f"sqlite:///{tmp_path / 'a' / 'redline.sqlite'}"
    assert redline("--db", first, "sources", "add", URL, "--kind", "feed")[0] == 0
    assert redline("--db", first, "sources", "list")[0] == 0
    second = f"sqlite:///{tmp_path / 'b' / 'redline.sqlite'}"
    assert redline("--db", second, "db", "upgrade")[0] == 0
    assert redline("--db", second, "list")[0] == 0
