"""Alerts where a process is needed: `redline check` run from cron sends what it created,
a daemon killed between the commit and the send delivers after a restart, and two daemons on
one PostgreSQL deliver each alert once. Real subprocesses, a real loopback site and webhook."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from click.testing import CliRunner, Result

from redline.cli import cli
from redline.newsite import NewsSite
from redline.storage import AlertStatus, open_store
from tests.conftest import REPO
from tests.receivers import WebhookReceiver
from tests.waiting import wait_until

SECRET = "desk-signing-key"


def config(path: Path, hook: WebhookReceiver, when: str = "headline_changed") -> Path:
    path.write_text(
        "allow_private_networks = true\n"
        '[alerts]\nretry_base = "1s"\n'
        f'[alerts.channels.desk]\nurl = "{hook.url()}"\nsecret_env = "DESK_SECRET"\n'
        f'[[alerts.rules]]\nname = "desk"\nwhen = ["{when}"]\nchannels = ["desk"]\n'
    )
    return path


def env(db_url: str, config_file: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REDLINE_DATABASE_URL": db_url,
        "REDLINE_CONFIG": str(config_file),
        "DESK_SECRET": SECRET,
    }


def redline(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "redline", *args],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def in_process(environment: dict[str, str], *args: str) -> Result:
    """A command that starts no crawl, run in this process (no interpreter to start)."""
    keys = ("REDLINE_DATABASE_URL", "REDLINE_CONFIG", "DESK_SECRET", "TEAM_URL")
    result = CliRunner().invoke(cli, list(args), env={k: environment.get(k) for k in keys})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def start(environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "redline", "run", "--workers", "0", "-v"],
            env=environment,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )


def test_redline_check_from_cron_sends_the_alerts_it_created(tmp_path):
    with NewsSite(articles=2) as site, WebhookReceiver() as hook:
        environment = env(f"sqlite:///{tmp_path / 'r.sqlite'}", config(tmp_path / "r.toml", hook))
        urls = [site.article_url(a.slug) for a in site.articles]
        assert redline(environment, "add", *urls).returncode == 0
        redline(environment, "check", "--all", "--workers", "0")
        site.edit(site.articles[0].slug, headline="Cron users get alerts too")
        done = redline(environment, "check", "--all", "--workers", "0", "--json")
        assert json.loads(done.stdout.splitlines()[-1]) == {
            "changed": 1, "unchanged": 1, "alerts_sent": 1,
        }  # fmt: skip
        (message,) = hook.requests
        assert message.signed_by(SECRET)
        assert message.json["new_headline"] == "Cron users get alerts too"

        site.edit(site.articles[1].slug, headline="Sent later, by someone else")
        quiet = redline(environment, "check", "--all", "--workers", "0", "--no-alerts", "--json")
        assert "alerts_sent" not in json.loads(quiet.stdout.splitlines()[-1])
        assert len(hook.requests) == 1
        listed = in_process(environment, "alerts", "list", "--status", "pending", "--json")
        (pending,) = [json.loads(line) for line in listed.stdout.splitlines()]
        assert (pending["rule"], pending["url"]) == ("desk", urls[1])
        sent = in_process(environment, "alerts", "deliver")
        assert sent.exit_code == 0 and sent.stdout.startswith("1 sent")
        assert hook.requests[-1].json["new_headline"] == "Sent later, by someone else"


def test_a_daemon_killed_mid_send_delivers_after_a_restart(tmp_path):
    """The alert's row is committed with its revision; the daemon dies while the receiver is
    still answering; the restarted daemon sends it again under the same idempotency key, so a
    receiver that keeps keys sees the message once."""
    with NewsSite(articles=1) as site, WebhookReceiver(hold=threading.Event()) as hook:
        db = f"sqlite:///{tmp_path / 'r.sqlite'}"
        environment = env(db, config(tmp_path / "r.toml", hook, when="new_article"))
        redline(environment, "add", site.article_url(site.articles[0].slug))
        daemon = start(environment, tmp_path / "first.log")
        try:
            wait_until(lambda: hook.arrived == 1, 60, "the send to reach the receiver")
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(30)
        finally:
            daemon.kill()
        assert hook.hold is not None
        hook.hold.set()  # the receiver answers a process that is gone
        with open_store(db) as store:
            (alert,) = store.alerts()
            assert alert.status is AlertStatus.PENDING  # not known to be sent
        again = start(environment, tmp_path / "second.log")
        try:
            with open_store(db) as store:
                wait_until(lambda: store.alerts()[0].status is AlertStatus.SENT, 60, "the resend")
            again.send_signal(signal.SIGTERM)
            assert again.wait(30) == 0
        finally:
            again.kill()
    keys = [r.key for r in hook.requests]
    assert len(keys) == 2 and len(set(keys)) == 1  # at least once, one key: once for the desk


def test_two_daemons_on_one_postgres_deliver_each_alert_once(pg_schema, tmp_path):
    with NewsSite(articles=24) as site, WebhookReceiver() as hook:
        environment = env(pg_schema, config(tmp_path / "r.toml", hook, when="new_article"))
        urls = [site.article_url(a.slug) for a in site.articles]
        redline(environment, "add", *urls)
        workers = [start(environment, tmp_path / f"w{k}.log") for k in (1, 2)]
        try:
            with open_store(pg_schema) as store:
                wait_until(
                    lambda: store.alert_counts().get("sent", 0) == len(urls), 90, "every alert"
                )
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            assert [w.wait(30) for w in workers] == [0, 0]
        finally:
            for worker in workers:
                worker.kill()
        logs = [(tmp_path / f"w{k}.log").read_text() for k in (1, 2)]
    keys = Counter(r.key for r in hook.requests)
    assert len(keys) == len(urls) and set(keys.values()) == {1}
    senders = [log.count(" sent to desk ") for log in logs]
    assert sum(senders) == len(urls)


def test_a_bad_rule_stops_redline_before_anything_is_fetched(tmp_path):
    """One case end to end; every other bad setting: tests/test_alert_config.py."""
    table = '[[alerts.rules]]\nname = "x"\nwhen = ["headline_changed"]\nchannels = ["nope"]\n'
    key = "channels: unknown channel 'nope'"
    with NewsSite(articles=1) as site:
        path = tmp_path / "r.toml"
        path.write_text(
            "allow_private_networks = true\n"
            '[alerts.channels.desk]\nurl = "json://127.0.0.1:9/hook"\n' + table
        )
        environment = env(f"sqlite:///{tmp_path / 'r.sqlite'}", path)
        redline(environment, "add", site.article_url(site.articles[0].slug))
        site.clear_log()
        done = redline(environment, "check", "--all")
        assert done.returncode == 1 and key in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert site.requests == []


def test_secrets_appear_in_no_output_and_no_table(tmp_path, caplog):
    """A token in an Apprise URL and a webhook's HMAC key, both failing to send: neither is in
    what `redline check` and `redline alerts` print, nor anywhere in the database."""
    token = "TOKEN-8b1f2c0d9e"
    with NewsSite(articles=1) as site, WebhookReceiver(status=500) as hook:
        path = tmp_path / "r.toml"
        path.write_text(
            "allow_private_networks = true\n"
            f'[alerts.channels.desk]\nurl = "{hook.url()}"\nsecret_env = "DESK_SECRET"\n'
            '[alerts.channels.team]\nurl_env = "TEAM_URL"\n'
            '[[alerts.rules]]\nname = "new"\nwhen = ["new_article"]\nchannels = ["desk", "team"]\n'
        )
        db = tmp_path / "r.sqlite"
        environment = {
            **env(f"sqlite:///{db}", path),
            "TEAM_URL": hook.url(f"/apprise/{token}", scheme="json"),
        }
        redline(environment, "add", site.article_url(site.articles[0].slug))
        checked = redline(environment, "check", "--all", "--workers", "0")
        with caplog.at_level(logging.DEBUG):
            runs = [
                in_process(environment, "alerts", "list"),
                in_process(environment, "alerts", "show", "2"),
                in_process(environment, "alerts", "deliver"),
                in_process(environment, "--help"),
            ]
        assert len(hook.requests) == 2  # both channels tried, and failed (retried later)
    printed = checked.stdout + checked.stderr + caplog.text
    printed += "".join(r.stdout + r.stderr for r in runs)
    assert "HTTP 500" in printed
    assert token not in printed and SECRET not in printed
    stored = db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("r.sqlite-*"))
    assert token.encode() not in stored and SECRET.encode() not in stored
