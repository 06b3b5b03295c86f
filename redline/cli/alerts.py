"""`redline alerts`: the outbox (list, show, retry), a test message, and sending what is due."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Any

import click

from redline.alerting import AlertSetup, alert_setup, build_channels
from redline.cli.app import App, emit_json, terminal_safe, when
from redline.config import default_config_path
from redline.storage import Alert, AlertStatus, NotFound

STATUSES = click.Choice([s.value for s in AlertStatus])


@click.group("alerts", invoke_without_command=True)
@click.pass_context
def alerts_group(ctx: click.Context) -> None:
    """Alerts: what was sent, what is waiting, what failed; test a rule; send what is due.

    Without a subcommand, lists the latest alerts (`redline alerts list`).

    \b
    Examples:
      redline alerts --status failed
      redline alerts test headlines
      redline alerts retry --failed
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_command)


@alerts_group.command("list")
@click.option("--status", type=STATUSES, help="Only alerts with this status.")
@click.option("--limit", default=50, show_default=True, help="How many, newest last.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
@click.pass_obj
def list_command(
    app: App, status: str | None = None, limit: int = 50, as_json: bool = False
) -> None:
    """List alerts: status, attempts, rule and channel, what it is about, the article.

    \b
    Example:
      redline alerts list --status pending
    """
    store = app.store()
    alerts = store.alerts(AlertStatus(status) if status else None, limit=limit)
    urls = _urls(app, alerts)
    if as_json:
        for alert in alerts:
            emit_json(_alert_json(alert, urls[alert.article_id]))
        return
    if not alerts:
        click.echo("no alerts" + (f" with status {status}" if status else ""))
        return
    for a in alerts:
        about = f"r{a.revision}" if a.revision is not None else "event"
        line = (
            f"#{a.id:<5} {a.status:<8} {when(a.created_at)}  {a.rule} -> {a.channel}  "
            f"{','.join(a.kinds)} ({about})  {urls[a.article_id]}"
        )
        if a.status is not AlertStatus.SENT and a.last_error:
            line += f"  [{a.attempts} tries: {a.last_error}]"
        click.echo(terminal_safe(line))


@alerts_group.command("show")
@click.argument("alert_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="The alert and its message as JSON.")
@click.pass_obj
def show_command(app: App, alert_id: int, as_json: bool) -> None:
    """One alert: its delivery, and the message it carries (as the channel receives it).

    \b
    Example:
      redline alerts show 12
    """
    from redline.scheduler.alerts.delivery import Reader, alert_facts
    from redline.scheduler.alerts.messages import build_message

    store = app.store()
    try:
        alert = store.alert(alert_id)
    except NotFound:
        raise click.ClickException(f"no alert with id {alert_id}") from None
    setup = _setup(app, required=False)
    facts = alert_facts(Reader(store), alert, setup.delivery.base_url)
    templates = (setup.messages or {}).get(alert.rule)
    message = build_message(
        [facts],
        rule=alert.rule,
        templates=templates.templates if templates else None,
        idempotency_key=alert.batch or alert.idempotency_key,
    )
    url = _urls(app, [alert])[alert.article_id]
    if as_json:
        emit_json({**_alert_json(alert, url), "message": message.payload, "title": message.title})
        return
    click.echo(terminal_safe(f"alert #{alert.id}: {alert.status}, {alert.attempts} attempts"))
    click.echo(
        terminal_safe(f"rule {alert.rule} -> channel {alert.channel}; key {alert.idempotency_key}")
    )
    click.echo(
        f"created {when(alert.created_at)}; next attempt {when(alert.next_attempt_at)}; "
        f"sent {when(alert.sent_at)}"
    )
    if alert.last_error:
        click.echo(terminal_safe(f"last error: {alert.last_error}"))
    click.echo(f"\n{terminal_safe(message.title)}\n\n{terminal_safe(message.text)}")


@alerts_group.command("retry")
@click.argument("alert_ids", type=int, nargs=-1, metavar="[ID...]")
@click.option("--failed", "all_failed", is_flag=True, help="Every failed alert.")
@click.pass_obj
def retry_command(app: App, alert_ids: tuple[int, ...], all_failed: bool) -> None:
    """Send failed (or dropped) alerts again, under the same idempotency key.

    They are sent by the running daemon, or now with `redline alerts deliver`.

    \b
    Examples:
      redline alerts retry 12 13
      redline alerts retry --failed
    """
    if bool(alert_ids) == all_failed:
        raise click.UsageError("name alert IDs, or use --failed")
    count = app.store().retry_alerts(None if all_failed else list(alert_ids), datetime.now(UTC))
    click.echo(f"{count} alert(s) pending again")
    if alert_ids and count < len(alert_ids):
        click.echo("(only failed or dropped alerts can be retried)", err=True)


@alerts_group.command("deliver")
@click.option("--json", "as_json", is_flag=True, help="The counts as JSON.")
@click.pass_obj
def deliver_command(app: App, as_json: bool) -> None:
    """Send every alert that is due now, and wait for the answers.

    \b
    Example:
      redline alerts deliver
    """
    import asyncio

    setup = _setup(app, required=True)
    report = asyncio.run(_deliver(app, setup))
    counts = {
        "sent": report.sent,
        "retried": report.retried,
        "failed": report.failed,
        "dropped": report.dropped,
    }
    if as_json:
        emit_json(counts)
    else:
        click.echo(", ".join(f"{n} {k}" for k, n in counts.items()))
        for error in report.errors:
            click.echo(terminal_safe(f"  {error}"), err=True)
    sys.exit(1 if report.failed or report.retried else 0)


async def _deliver(app: App, setup: AlertSetup) -> Any:
    from redline.scheduler.daemon import worker_name
    from redline.service import dispatcher

    sender = dispatcher(app.config, app.store(), setup, worker_name())
    try:
        return await sender.flush()
    finally:
        await sender.close()


@alerts_group.command("test")
@click.argument("rule")
@click.pass_obj
def test_command(app: App, rule: str) -> None:
    """Send a test message through a rule's channels, built from the latest real change.

    The message is marked as a test; nothing is written to the outbox.

    \b
    Example:
      redline alerts test headlines
    """
    setup = _setup(app, required=True)
    found = next((r for r in setup.rules if r.name == rule), None)
    if found is None:
        known = ", ".join(r.name for r in setup.rules) or "none"
        raise click.ClickException(f"no alert rule named {rule!r} (rules: {known})")
    import asyncio

    results = asyncio.run(_send_test(app, setup, found))
    failed = 0
    for channel, error in results:
        click.echo(terminal_safe(f"{channel}: {'sent' if error is None else f'failed: {error}'}"))
        failed += error is not None
    sys.exit(1 if failed else 0)


async def _send_test(app: App, setup: AlertSetup, rule: Any) -> list[tuple[str, str | None]]:
    from redline.scheduler.alerts.channels import DeliveryError
    from redline.scheduler.alerts.messages import build_message

    facts, source = _test_facts(app, setup, rule)
    click.echo(f"sample: {terminal_safe(source)}")
    templates = (setup.messages or {}).get(rule.name)
    message = build_message(
        [facts],
        rule=rule.name,
        templates=templates.templates if templates else None,
        idempotency_key=f"test:{rule.name}:{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}",
        test=True,
    )
    channels = build_channels(setup)
    results: list[tuple[str, str | None]] = []
    try:
        for name in rule.channels:
            try:
                await channels[name].send(message)
                results.append((name, None))
            except DeliveryError as exc:
                results.append((name, str(exc)))
    finally:
        for channel in channels.values():
            await channel.close()
    return results


def _test_facts(app: App, setup: AlertSetup, rule: Any) -> tuple[Any, str]:
    """The latest real change the rule would fire on (else the latest change at all, else a
    made-up sample), as the facts of an alert."""
    from dataclasses import replace

    from redline.scheduler.alerts.delivery import Reader
    from redline.scheduler.alerts.facts import facts_for, sample_facts
    from redline.scheduler.alerts.rules import revision_kinds
    from redline.scheduler.decision import triggers

    store = app.store()
    reader = Reader(store)
    candidates = store.latest_changes(50)
    for info in candidates:
        revision = reader.revision(info.article_id, info.number)
        assert revision is not None
        kinds = revision_kinds(rule, triggers(revision.changes, first=False), revision.changes, {})
        if kinds or info is candidates[-1]:
            article = reader.article(info.article_id)
            alert = Alert(
                0,
                "",
                article.id,
                "test",
                kinds or ("body_changed",),
                info.fetched_at,
                revision=info.number,
                rule=rule.name,
            )
            facts = facts_for(
                alert,
                article,
                revision=revision,
                previous=reader.revision(info.article_id, info.number - 1),
                event=None,
                base_url=setup.delivery.base_url,
            )
            return facts, f"{article.url} revision {info.number}"
    return replace(sample_facts(), rule=rule.name), "a made-up change (no article has changed yet)"


# --- helpers -----------------------------------------------------------------------------------
def _setup(app: App, *, required: bool) -> AlertSetup:
    setup = alert_setup(app.config, os.environ)
    if required and not setup.channels:
        where = app.config.path or default_config_path()
        raise click.ClickException(
            f"no alert channels are configured: add [alerts.channels.NAME] to {where}"
        )
    return setup


def _urls(app: App, alerts: list[Alert]) -> dict[int, str]:
    store = app.store()
    return {i: store.get_article_by_id(i).url for i in {a.article_id for a in alerts}}


def _alert_json(alert: Alert, url: str) -> dict[str, Any]:
    return {
        "id": alert.id,
        "status": str(alert.status),
        "rule": alert.rule,
        "channel": alert.channel,
        "kinds": list(alert.kinds),
        "url": url,
        "revision": alert.revision,
        "event_id": alert.event_id,
        "idempotency_key": alert.idempotency_key,
        "message_key": alert.batch,
        "created_at": alert.created_at,
        "attempts": alert.attempts,
        "next_attempt_at": alert.next_attempt_at,
        "sent_at": alert.sent_at,
        "last_error": alert.last_error,
    }
