"""`redline alerts` through click's CliRunner, on both backends, against a real webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from redline.cli import cli
from redline.storage import (
    AlertStatus,
    Change,
    ChangeClass,
    ChangeKind,
    Page,
    PlannedAlert,
    open_store,
)
from tests.receivers import WebhookReceiver
from tests.records import revision

SECRET = "desk-key"
URL = "https://news.example/2026/12/budget"
OLD = Page(headline="Council approves budget", body=("The council approved it.",))
NEW = Page(headline="Council rejects budget", body=("The council approved it.",))
EDIT = Change("headline", ChangeKind.CHANGED, ChangeClass.SUBSTANTIVE, OLD.headline, NEW.headline)


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def desk(db_url, tmp_path, hook) -> tuple[str, str]:
    """A store with one headline edit and its pending alert; a config sending to `hook`."""
    now = datetime.now(UTC)
    with open_store(db_url) as store:
        article, _ = store.add_article(URL, now)
        store.record(revision(article.id, "f1", OLD, at=now))
        alert = PlannedAlert("headlines", "desk", ("headline_changed",), now)
        store.record(
            revision(article.id, "f2", NEW, base=1, changes=[EDIT], at=now, alerts=[alert])
        )
    config = tmp_path / "redline.toml"
    config.write_text(
        f'[alerts.channels.desk]\nurl = "{hook.url()}"\nsecret_env = "DESK_SECRET"\n'
        '[[alerts.rules]]\nname = "headlines"\nwhen = ["headline_changed"]\nchannels = ["desk"]\n'
    )
    return db_url, str(config)


def redline(desk: tuple[str, str], *args: str) -> tuple[int, str, str]:
    db_url, config = desk
    result = CliRunner().invoke(
        cli, ["--db", db_url, "--config", config, *args], env={"DESK_SECRET": SECRET}
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_list_show_deliver_and_list_again(desk, hook):
    code, out, _ = redline(desk, "alerts")
    assert code == 0 and "pending" in out and "headlines -> desk" in out and URL in out
    code, out, _ = redline(desk, "alerts", "list", "--json")
    (listed,) = [json.loads(line) for line in out.splitlines()]
    assert (listed["status"], listed["revision"], listed["url"]) == ("pending", 2, URL)
    code, out, _ = redline(desk, "alerts", "show", str(listed["id"]))
    assert code == 0 and "Council approves budget" in out and "Council rejects budget" in out
    code, out, _ = redline(desk, "alerts", "deliver", "--json")
    assert code == 0 and json.loads(out) == {"sent": 1, "retried": 0, "failed": 0, "dropped": 0}
    (message,) = hook.requests
    assert message.signed_by(SECRET) and message.json["new_headline"] == "Council rejects budget"
    code, out, _ = redline(desk, "alerts", "list", "--status", "sent")
    assert "sent" in out and URL in out
    assert redline(desk, "alerts", "deliver")[1].startswith("0 sent")


def test_a_failing_receiver_is_reported_then_retried_by_hand(desk, hook):
    hook.status = 500
    code, out, err = redline(desk, "alerts", "deliver")
    assert code == 1 and out.startswith("0 sent, 1 retried") and "HTTP 500" in err
    db_url, _ = desk
    with open_store(db_url) as store:
        (alert,) = store.alerts()
        store.settle_alerts([alert.id], datetime.now(UTC), status=AlertStatus.FAILED, error="x")
    code, out, _ = redline(desk, "alerts", "list", "--status", "failed")
    assert code == 0 and "failed" in out
    hook.status = 200
    code, out, _ = redline(desk, "alerts", "retry", "--failed")
    assert code == 0 and out.strip() == "1 alert(s) pending again"
    assert redline(desk, "alerts", "deliver")[1].startswith("1 sent")
    assert len({r.key for r in hook.requests}) == 1  # the same message, the same key
    code, _, err = redline(desk, "alerts", "retry")
    assert code == 2 and "--failed" in err


def test_a_test_message_uses_the_latest_real_change_and_is_marked(desk, hook):
    code, out, _ = redline(desk, "alerts", "test", "headlines")
    assert code == 0 and f"sample: {URL} revision 2" in out and "desk: sent" in out
    (message,) = hook.requests
    payload = message.json
    assert payload["test"] is True and payload["new_headline"] == "Council rejects budget"
    db_url, _ = desk
    with open_store(db_url) as store:
        assert [a.status for a in store.alerts()] == [AlertStatus.PENDING]  # nothing recorded
    code, _, err = redline(desk, "alerts", "test", "nosuchrule")
    assert code == 1 and "no alert rule named 'nosuchrule' (rules: headlines)" in err


def test_without_channels_sending_says_how_to_configure_them(db_url, tmp_path):
    config = tmp_path / "empty.toml"
    config.write_text("")
    assert CliRunner().invoke(cli, ["--db", db_url, "db", "upgrade"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--db", db_url, "--config", str(config), "alerts", "deliver"])
    assert result.exit_code == 1 and "no alert channels are configured" in result.stderr
    listed = CliRunner().invoke(cli, ["--db", db_url, "--config", str(config), "alerts"])
    assert listed.exit_code == 0 and listed.stdout.strip() == "no alerts"
    shown = CliRunner().invoke(
        cli, ["--db", db_url, "--config", str(config), "alerts", "show", "9"]
    )
    assert shown.exit_code == 1 and "no alert with id 9" in shown.stderr
