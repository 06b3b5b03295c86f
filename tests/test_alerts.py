"""Alert delivery in-process, on both backends, against real receivers on loopback: changes
on the local news site are checked and recorded (tests/fetching.py), then `AlertDispatcher`
sends the outbox to a signed webhook, Apprise's json:// and a local SMTP server. The clock of
the store and the dispatcher is the test's, so retries and digests need no waiting."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from redline.newsite import NewsSite
from redline.scheduler.alerts.channels import build_channel
from redline.scheduler.alerts.confirm import confirmer
from redline.scheduler.alerts.delivery import AlertDispatcher, DeliverySettings, RuleMessages
from redline.scheduler.alerts.messages import compile_templates
from redline.scheduler.alerts.rules import AlertRule
from redline.scheduler.checks import ArticleChecker
from redline.scheduler.decision import CheckSettings
from redline.storage import AlertStatus
from tests.fetching import check_now
from tests.receivers import SmtpReceiver, WebhookReceiver
from tests.test_extract_headline import H1, SEO, page_html

SECRET = "newsdesk-signing-key"
HEADLINES = AlertRule("headlines", frozenset({"headline_changed"}), ("desk", "team"))
DESK = AlertRule("headlines", frozenset({"headline_changed"}), ("desk",))
BODIES = AlertRule("bodies", frozenset({"body_changed"}), ("desk",), min_class="substantive")


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(articles=3, live_items=3) as running:
        yield running


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Desk:
    """A store, the local site, a checker with rules, and a dispatcher with channels, run on
    one event loop per call of `run`."""

    store: object
    site: NewsSite
    rules: tuple[AlertRule, ...]
    channels: dict[str, str]  # name -> URL
    settings: DeliverySettings = field(default_factory=DeliverySettings)
    messages: dict[str, RuleMessages] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)
    confirm: object = None

    def track(self) -> list[str]:
        urls = [self.site.article_url(a.slug) for a in self.site.articles]
        for url in urls:
            self.store.add_article(url, self.clock())
        return urls

    def check(self, urls: list[str]) -> None:
        async def main() -> None:
            checker = ArticleChecker(
                self.store, CheckSettings(), {}, rules=self.rules, clock=self.clock
            )
            await check_now(checker, self.store, urls)
            await checker.close()

        asyncio.run(main())

    def dispatcher(self) -> AlertDispatcher:
        channels = {
            name: build_channel(name, url, secret=SECRET if url.startswith("http") else None)
            for name, url in self.channels.items()
        }
        return AlertDispatcher(
            self.store,
            channels,
            self.messages,
            self.settings,
            "test-worker",
            confirm=self.confirm,
            clock=self.clock,
        )

    def deliver(self):
        async def main():
            sender = self.dispatcher()
            try:
                return await sender.flush()
            finally:
                await sender.close()

        return asyncio.run(main())


def desk(store, site, hook, *rules, **kw) -> Desk:
    channels = kw.pop("channels", None) or {
        "desk": hook.url("/desk"),
        "team": hook.url("/team", scheme="json"),
    }
    return Desk(store, site, rules or (HEADLINES, BODIES), channels, **kw)


def test_a_headline_edit_is_one_signed_message_per_rule_and_channel(store, site, hook):
    d = desk(store, site, hook)
    urls = d.track()
    d.check(urls)
    site.set_noise(True)
    d.check(urls)
    assert d.deliver().sent == 0 and hook.requests == []  # new articles and noise: nothing
    old = site.articles[0].headline
    site.edit(site.articles[0].slug, headline="Council approves a revised budget after all")
    d.check(urls)
    report = d.deliver()
    assert (report.sent, report.failed, report.retried) == (2, 0, 0)
    by_path = {r.path: r for r in hook.requests}
    assert sorted(by_path) == ["/desk", "/team"]
    webhook = by_path["/desk"]
    assert webhook.signed_by(SECRET) and not webhook.signed_by("another key")
    payload = webhook.json
    assert (payload["rule"], payload["kind"]) == ("headlines", "headline_changed")
    assert (payload["old_headline"], payload["new_headline"]) == (
        old,
        "Council approves a revised budget after all",
    )
    assert (payload["revision"], payload["previous_revision"], payload["url"]) == (2, 1, urls[0])
    assert webhook.key == payload["idempotency_key"] == f"{payload['article_id']}:r2:headlines:desk"
    assert webhook.headers["x-redline-timestamp"].isdigit()
    apprise = by_path["/team"].json  # Apprise's own json:// format
    assert "Council approves a revised budget after all" in apprise["title"]
    assert old in apprise["message"]
    assert {a.status for a in store.alerts()} == {AlertStatus.SENT}
    assert d.deliver().sent == 0  # nothing twice


def test_a_receiver_failing_three_times_gets_the_message_once_under_one_key(store, site, hook):
    hook.script = [500, 500, 500]
    d = desk(store, site, hook, DESK, channels={"desk": hook.url()})
    urls = d.track()
    d.check(urls)
    site.edit(site.articles[1].slug, headline="A headline that takes four tries")
    d.check(urls)
    waits = []
    for _ in range(4):
        report = d.deliver()
        (alert,) = store.alerts()
        if alert.status is AlertStatus.SENT:
            break
        assert report.retried == 1 and alert.last_error == "HTTP 500"
        waits.append((alert.next_attempt_at - d.clock()).total_seconds())
        d.clock.now = alert.next_attempt_at  # the retry comes due
    assert [r.status for r in hook.requests] == [500, 500, 500, 200]
    assert len({r.key for r in hook.requests}) == 1 and len(hook.delivered()) == 1
    assert (alert.status, alert.attempts) == (AlertStatus.SENT, 4)
    assert 24 <= waits[0] <= 36 and 48 <= waits[1] <= 72 and 96 <= waits[2] <= 144  # backoff


def test_an_alert_is_marked_failed_after_the_last_attempt(store, site, hook):
    hook.status = 503
    d = desk(store, site, hook, DESK, channels={"desk": hook.url()})
    d.settings = DeliverySettings(max_attempts=2)
    urls = d.track()
    d.check(urls)
    site.edit(site.articles[0].slug, headline="Nobody will hear of this")
    d.check(urls)
    d.deliver()
    d.clock.advance(hours=1)
    report = d.deliver()
    (alert,) = store.alerts()
    assert report.failed == 1 and alert.status is AlertStatus.FAILED
    assert (alert.attempts, alert.last_error) == (2, "HTTP 503")
    d.clock.advance(hours=1)
    assert d.deliver().sent == 0 and len(hook.requests) == 2  # failed stays failed
    assert store.retry_alerts(None, d.clock()) == 1
    hook.status = 200
    assert d.deliver().sent == 1 and hook.requests[-1].key == hook.requests[0].key


def test_a_channel_that_hangs_never_delays_the_others(store, site, hook):
    with WebhookReceiver(hold=threading.Event()) as stuck:
        channels = {"desk": hook.url(), "team": stuck.url()}
        d = desk(store, site, hook, HEADLINES, channels=channels)
        d.settings = DeliverySettings(per_channel=2)
        urls = d.track()
        d.check(urls)
        for n, article in enumerate(site.articles):
            site.edit(article.slug, headline=f"Edited headline number {n}")
        d.check(urls)

        async def main():
            sender = d.dispatcher()
            flushing = asyncio.ensure_future(sender.flush())
            while len(hook.delivered()) < 3:  # all three reach the healthy channel...
                await asyncio.sleep(0.01)
            assert stuck.delivered() == [] and not flushing.done()  # ...while team is stuck
            stuck.hold.set()
            await flushing
            await sender.close()

        asyncio.run(main())
        assert len(stuck.delivered()) == 3


def test_a_digest_is_one_message_for_every_change_of_its_period(store, site, hook):
    daily = AlertRule(
        "digest", frozenset({"headline_changed"}), ("desk",), mode="digest",
        every=timedelta(hours=1),
    )  # fmt: skip
    d = desk(store, site, hook, daily, channels={"desk": hook.url()})
    urls = d.track()
    d.check(urls)
    for n, article in enumerate(site.articles):
        site.edit(article.slug, headline=f"Digest headline {n}")
    d.check(urls)
    assert d.deliver().sent == 0  # the hour is not over
    d.clock.now = d.clock.now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert d.deliver().sent == 1
    (message,) = hook.requests
    payload = message.json
    assert payload["digest"] and payload["count"] == 3
    assert sorted(e["new_headline"] for e in payload["entries"]) == [
        "Digest headline 0",
        "Digest headline 1",
        "Digest headline 2",
    ]
    assert {a.batch for a in store.alerts()} == {message.key}


def test_quiet_merges_a_burst_of_edits_into_one_message(store, site, hook):
    quiet = AlertRule(
        "burst", frozenset({"headline_changed"}), ("desk",), quiet=timedelta(minutes=2)
    )
    d = desk(store, site, hook, quiet, channels={"desk": hook.url()})
    urls = d.track()[:1]
    d.check(urls)
    first = site.articles[0].headline
    for n in range(3):  # a typo fixed, then fixed again, within two minutes
        site.edit(site.articles[0].slug, headline=f"Budget approved, take {n + 1}")
        d.check(urls)
        d.clock.advance(seconds=30)
    assert d.deliver().sent == 0  # still within the quiet window
    d.clock.advance(minutes=1)
    assert d.deliver().sent == 1
    payload = hook.requests[0].json
    assert (payload["old_headline"], payload["new_headline"]) == (first, "Budget approved, take 3")
    assert [e["revision"] for e in payload["entries"]] == [2, 3, 4]


def test_a_live_item_marked_updated_reaches_the_desk(store, site, hook):
    items = AlertRule("items", frozenset({"item_updated"}), ("desk",))
    d = desk(store, site, hook, items, channels={"desk": hook.url()})
    live = site.url("/live")
    store.add_article(live, d.clock(), is_live=True)
    d.check([live])
    key = site.add_live_item("Talks resume in Geneva.")
    d.check([live])
    site.edit_live_item(key, "Talks resume in Geneva (Updated: 9:15 AM).")
    d.check([live])
    assert d.deliver().sent == 1
    payload = hook.requests[0].json
    assert payload["kind"] == "item_updated"
    assert any("Updated: 9:15 AM" in c["added"] for c in payload["changes"])


def test_an_email_reaches_an_smtp_server(store, site, hook):
    with SmtpReceiver() as smtp:
        d = desk(store, site, hook, HEADLINES, channels={"desk": smtp.mailto(), "team": hook.url()})
        urls = d.track()
        d.check(urls)
        site.edit(site.articles[2].slug, headline="Mayor resigns <b>effective</b> immediately")
        d.check(urls)
        assert d.deliver().sent == 2
    (mail,) = smtp.mailbox.messages
    assert "Mayor resigns <b>effective</b> immediately" in mail["Subject"]
    html = mail.get_body(("html",)).get_content()
    assert "Mayor resigns &lt;b&gt;effective&lt;/b&gt; immediately" in html


def test_a_change_gone_on_a_second_look_is_dropped(store, site, hook):
    careful = AlertRule("careful", frozenset({"headline_changed"}), ("desk",), confirm=True)
    d = desk(store, site, hook, careful, channels={"desk": hook.url()})
    d.messages = {"careful": RuleMessages(confirm=True)}
    d.confirm = confirmer(allow_private=True, user_agent="Redline-test", profiles={})
    urls = d.track()[:1]
    d.check(urls)
    slug, old = site.articles[0].slug, site.articles[0].headline
    site.edit(slug, headline="A stale node's headline", touch_updated=False)
    d.check(urls)
    site.edit(slug, headline=old, touch_updated=False)  # the CDN serves the real page again
    assert d.deliver().dropped == 1 and hook.requests == []
    (alert,) = store.alerts()
    assert alert.status is AlertStatus.DROPPED
    site.edit(slug, headline="A headline that stays")
    d.check(urls)
    assert d.deliver().sent == 1  # a change that is still there goes out


def test_a_rules_own_templates_shape_the_message(store, site, hook):
    d = desk(store, site, hook, HEADLINES, channels={"desk": hook.url(), "team": hook.url()})
    d.messages = {
        "headlines": RuleMessages(
            compile_templates("{{ site }}: {{ new_headline }}", "was: {{ old_headline }}")
        )
    }
    d.channels = {"team": hook.url("/team", scheme="json"), "desk": hook.url("/desk")}
    urls = d.track()
    d.check(urls)
    old = site.articles[0].headline
    site.edit(site.articles[0].slug, headline="Templated \u202eheadline{{ 7 * 7 }}")
    d.check(urls)
    d.deliver()
    team = next(r for r in hook.requests if r.path == "/team").json
    assert team["title"] == "127.0.0.1: Templated headline{{ 7 * 7 }}"  # bidi stripped, not run
    assert team["message"] == f"was: {old}"
    desk_payload = next(r for r in hook.requests if r.path == "/desk").json
    assert desk_payload["new_headline"] == "Templated \u202eheadline{{ 7 * 7 }}"  # data, intact


def test_text_removed_with_a_pattern_tells_when_a_word_disappears(store, site, hook):
    ceasefire = AlertRule(
        "ceasefire", frozenset({"text_removed"}), ("desk",), pattern=re.compile("ceasefire", re.I)
    )
    d = desk(store, site, hook, ceasefire, channels={"desk": hook.url()})
    urls = d.track()[:1]
    body = site.articles[0].body
    site.edit(site.articles[0].slug, body=[*body, "Both sides say the ceasefire holds."])
    d.check(urls)
    site.edit(site.articles[0].slug, body=[*body, "Both sides say talks continue."])
    d.check(urls)
    assert d.deliver().sent == 1
    removed = [c["removed"] for c in hook.requests[0].json["changes"] if c["field"] == "body"]
    assert removed and "ceasefire" in removed[0]


def test_an_edit_of_only_og_title_reaches_a_title_rule(store, site, hook):
    titles = AlertRule("titles", frozenset({"title_changed"}), ("desk",))
    d = desk(store, site, hook, titles, HEADLINES, channels={"desk": hook.url()})
    slug = site.articles[0].slug
    site.edit(slug, raw_html=page_html(og_title=H1, title=H1).encode())
    urls = d.track()[:1]
    d.check(urls)
    site.edit(slug, raw_html=page_html(og_title=SEO, title=H1).encode())
    d.check(urls)
    assert d.deliver().sent == 1
    (request,) = hook.requests
    payload = request.json
    assert (payload["rule"], payload["kinds"]) == ("titles", ["title_changed"])
    assert (payload["old_title"], payload["new_title"], payload["headline"]) == (H1, SEO, H1)
    article = store.get_article(urls[0])
    assert [r.title for r in store.history(article.id)] == ["", SEO]
