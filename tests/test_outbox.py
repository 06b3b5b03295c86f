"""The alert outbox on both backends: leasing due alerts grouped into messages, settling them,
retrying them; a message keeps its key on every retry; two workers never lease one row."""

from __future__ import annotations

from datetime import timedelta

import pytest

from redline.storage import AlertStatus, Page, PlannedAlert, open_store
from tests.conftest import NOW
from tests.records import revision

URL = "https://news.example/politics/story"


def alert(rule: str = "headlines", channel: str = "hook", **kw) -> PlannedAlert:
    kw.setdefault("due_at", NOW)
    return PlannedAlert(rule, channel, ("headline_changed",), **kw)


def revisions(store, alerts_per_revision, count: int = 1, url: str = URL) -> int:
    """An article with `count` revisions, each carrying the given planned alerts."""
    article, _ = store.add_article(url, NOW)
    for n in range(count):
        page = Page(headline=f"Version {n + 1}", body=("Text.",))
        store.record(revision(article.id, f"{url}-{n}", page, base=n, alerts=alerts_per_revision))
    return article.id


def test_due_alerts_are_leased_once_and_settled(store):
    article = revisions(store, [alert(), alert(channel="mail")], count=2)
    later = revisions(store, [alert(due_at=NOW + timedelta(hours=1))], url=URL + "-later")
    batches = store.claim_alerts(NOW, "w1", limit=10, lease_seconds=60)
    assert sorted((b.channel, b.key) for b in batches) == [
        ("hook", f"{article}:r1:headlines:hook"),
        ("hook", f"{article}:r2:headlines:hook"),
        ("mail", f"{article}:r1:headlines:mail"),
        ("mail", f"{article}:r2:headlines:mail"),
    ]
    assert all(len(b.alerts) == 1 for b in batches)
    assert store.claim_alerts(NOW, "w2", limit=10, lease_seconds=60) == []  # leased by w1
    only_mail = store.claim_alerts(
        NOW + timedelta(seconds=61), "w2", limit=10, lease_seconds=60, channels=["mail"]
    )
    assert {b.channel for b in only_mail} == {"mail"}
    ids = [a.id for b in batches for a in b.alerts]
    assert store.settle_alerts(ids, NOW, status=AlertStatus.SENT) == 4
    assert store.settle_alerts(ids, NOW, status=AlertStatus.FAILED, error="late") == 0
    assert store.alert_counts() == {"sent": 4, "pending": 1}
    assert [a.article_id for a in store.alerts(AlertStatus.PENDING)] == [later]
    assert all(a.sent_at == NOW and a.attempts == 1 for a in store.alerts(AlertStatus.SENT))


def test_a_retry_sends_the_same_message_and_later_rows_go_in_a_new_one(store):
    """A group (here: edits of one article merged) is one message; once tried, its members
    are fixed: a retry carries exactly them under the same key, a later edit goes alone."""
    quiet = alert(group_key="q|headlines|hook|1", due_at=NOW + timedelta(minutes=2))
    article = revisions(store, [quiet], count=3)
    assert store.claim_alerts(NOW, "w", limit=10, lease_seconds=60) == []  # not due yet
    due = NOW + timedelta(minutes=2)
    (batch,) = store.claim_alerts(due, "w", limit=10, lease_seconds=60)
    assert batch.key == f"{article}:r1:headlines:hook+2"
    assert [a.revision for a in batch.alerts] == [1, 2, 3]
    ids = [a.id for a in batch.alerts]
    store.settle_alerts(ids, due, status=AlertStatus.PENDING, error="HTTP 500", retry_at=due)
    page = Page(headline="Version 4", body=("Text.",))
    store.record(revision(article, "late", page, base=3, alerts=[quiet]))
    later = due + timedelta(minutes=5)
    again = store.claim_alerts(later, "w", limit=10, lease_seconds=60)
    keys = {b.key: [a.revision for a in b.alerts] for b in again}
    assert keys == {batch.key: [1, 2, 3], f"{article}:r4:headlines:hook": [4]}
    retried = next(b for b in again if b.key == batch.key)
    assert [(a.attempts, a.last_error) for a in retried.alerts] == [(1, "HTTP 500")] * 3


def test_a_digest_collects_every_article_of_its_period(store):
    digest = alert(rule="daily", group_key="d|daily|hook", due_at=NOW + timedelta(hours=1))
    for i in range(3):
        revisions(store, [digest], url=f"{URL}-{i}")
    (batch,) = store.claim_alerts(NOW + timedelta(hours=1), "w", limit=1, lease_seconds=60)
    assert (batch.rule, len(batch.alerts)) == ("daily", 3)
    assert len({a.article_id for a in batch.alerts}) == 3


def test_failed_alerts_can_be_retried(store):
    revisions(store, [alert(), alert(channel="mail")])
    (hook, mail) = sorted(store.claim_alerts(NOW, "w", limit=10, lease_seconds=60), key=str)
    store.settle_alerts([a.id for a in hook.alerts], NOW, status=AlertStatus.FAILED, error="x")
    store.settle_alerts([a.id for a in mail.alerts], NOW, status=AlertStatus.DROPPED, error="y")
    assert store.retry_alerts(None, NOW) == 1  # every failed one; a dropped one stays
    dropped = store.alerts(AlertStatus.DROPPED)[0]
    assert store.retry_alerts([dropped.id], NOW) == 1
    pending = store.alerts(AlertStatus.PENDING)
    assert [a.attempts for a in pending] == [0, 0]
    again = store.claim_alerts(NOW, "w", limit=10, lease_seconds=60)
    assert sorted(b.key for b in again) == sorted([hook.key, mail.key])
    assert store.alert(dropped.id).idempotency_key == mail.key


def test_two_workers_never_lease_the_same_alert(db_url):
    """Two stores (two connections, as two `redline run` processes have) claim in turns
    and at once: every row is leased exactly once."""
    import threading

    with open_store(db_url) as store:
        for i in range(30):
            revisions(store, [alert()], url=f"{URL}-{i}")
    stores = [open_store(db_url), open_store(db_url)]
    got: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def work(k: int) -> None:
        start.wait()
        for _ in range(10):
            batches = stores[k].claim_alerts(NOW, f"w{k}", limit=4, lease_seconds=60)
            got[k].extend(a.id for b in batches for a in b.alerts)

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    every = got[0] + got[1]
    assert len(every) == 30 and len(set(every)) == 30


@pytest.mark.parametrize("status", [AlertStatus.PENDING, AlertStatus.SENT])
def test_listing_alerts_by_status_newest_last(store, status):
    revisions(store, [alert()], count=3)
    if status is AlertStatus.SENT:
        ids = [a.id for a in store.alerts()]
        store.settle_alerts(ids, NOW, status=AlertStatus.SENT)
    listed = store.alerts(status, limit=2)
    assert [a.revision for a in listed] == [2, 3]


def test_alerts_of_a_channel_no_longer_configured_are_failed_saying_so(store):
    revisions(store, [alert(channel="hook"), alert(channel="retired")])
    assert store.orphan_alerts(["hook"], NOW) == 1
    (failed,) = store.alerts(AlertStatus.FAILED)
    assert (failed.channel, failed.last_error) == ("retired", "channel retired is not configured")
    assert [a.channel for a in store.alerts(AlertStatus.PENDING)] == ["hook"]
