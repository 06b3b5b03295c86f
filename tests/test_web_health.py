"""/healthz, /readyz and /metrics in-process, over a real store on both backends: readiness
green and red for each condition, and the metrics text parsed back and compared with the store.
The daemon's side (its status and counters after real checks) runs its pass logic in-process
against the loopback news site; `redline run` itself is in tests/test_web_serve.py."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from redline.crawler.crawlsettings import CrawlSettings
from redline.newsite import NewsSite
from redline.scheduler.checks import ArticleChecker
from redline.scheduler.daemon import Daemon, DaemonSettings
from redline.scheduler.decision import CheckSettings
from redline.scheduler.discovery import SourceChecker
from redline.scheduler.metrics import CheckMetrics
from redline.storage import open_store
from redline.web import WebSettings, WebState, create_app
from redline.web import health as health_module
from redline.web.state import DaemonStatus
from redline.webserver import status_of
from tests.conftest import NOW
from tests.fetching import fetch
from tests.seeded import hostile, story

LATER = NOW + timedelta(days=2)  # the seeded revisions are a few hours after NOW
FAMILIES = {
    "redline_database_up",
    "redline_revisions",
    "redline_changes",
    "redline_alerts",
    "redline_due_articles",
    "redline_due_lag_seconds",
}


def client(store, **kw) -> TestClient:
    return TestClient(create_app(WebState(store, clock=lambda: LATER, **kw)))


def metrics(c: TestClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{family: {sorted labels: value}} of every sample /metrics served."""
    response = c.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        samples = found.setdefault(family.name, {})
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            samples[(("__name__", s.name), *sorted(s.labels.items()))] = s.value
    return found


def values(found, family: str, name: str | None = None) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one family (one sample name), keyed by their labels alone."""
    name = name or family
    return {k[1:]: v for k, v in found[family].items() if k[0] == ("__name__", name)}


# --- /healthz and /readyz -----------------------------------------------------------------------
def test_healthz_answers_ok(store):
    response = client(store).get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_under_serve_counts_only_the_database(store):
    response = client(store).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "conditions": {"database": {"ok": True, "detail": "answers"}},
    }


def test_readyz_is_503_naming_the_database_when_it_does_not_answer(db_url):
    gone = open_store(db_url)
    gone.close()  # every query now fails, as with a server that went away
    response = client(gone).get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["conditions"]["database"]["ok"] is False
    assert "does not answer" in body["conditions"]["database"]["detail"]
    scrape = metrics(client(gone))  # the scrape still answers, saying the database is down
    assert values(scrape, "redline_database_up") == {(): 0.0}


def ready(store, status: DaemonStatus, **settings) -> tuple[int, dict]:
    response = client(store, daemon=lambda: status, settings=WebSettings(**settings)).get("/readyz")
    return response.status_code, response.json()["conditions"]


def test_a_daemon_that_just_started_is_ready_before_any_check(store):
    status = DaemonStatus(running=True, started_at=LATER - timedelta(seconds=5))
    code, conditions = ready(store, status)
    assert code == 200, conditions
    assert set(conditions) == {"database", "scheduler", "checks"}
    status = DaemonStatus(running=True, started_at=LATER - timedelta(minutes=5), last_tick=LATER)
    assert ready(store, status)[0] == 200


def test_a_stalled_scheduler_is_503(store):
    status = DaemonStatus(
        running=True,
        started_at=LATER - timedelta(hours=3),
        last_tick=LATER - timedelta(minutes=5),
        last_success=LATER - timedelta(seconds=10),
    )
    code, conditions = ready(store, status)
    assert code == 503
    assert conditions["scheduler"]["ok"] is False
    assert "stalled" in conditions["scheduler"]["detail"]
    assert conditions["checks"]["ok"] is True and conditions["database"]["ok"] is True


def test_a_stopped_scheduler_is_503(store):
    code, conditions = ready(store, DaemonStatus(running=False))
    assert code == 503 and "not running" in conditions["scheduler"]["detail"]
    code, conditions = ready(store, status_of(None))  # not built yet
    assert code == 503 and conditions["scheduler"]["ok"] is False


def test_checks_that_all_fail_for_longer_than_ready_max_age_are_503(store):
    status = DaemonStatus(
        running=True,
        started_at=LATER - timedelta(hours=3),
        last_tick=LATER,
        last_check=LATER - timedelta(seconds=30),
        last_success=LATER - timedelta(hours=2),
    )
    code, conditions = ready(store, status)
    assert code == 503
    assert conditions["checks"]["ok"] is False
    assert "none succeeded" in conditions["checks"]["detail"]
    assert ready(store, status, ready_max_age=timedelta(hours=3))[0] == 200


def test_an_idle_daemon_is_ready_unless_articles_wait(store):
    status = DaemonStatus(running=True, started_at=LATER - timedelta(hours=3), last_tick=LATER)
    code, conditions = ready(store, status)  # nothing tracked: nothing due
    assert code == 200 and "idle" in conditions["checks"]["detail"]
    store.add_article("https://news.example.org/waiting", NOW)  # due since NOW: 2 days
    code, conditions = ready(store, status)
    assert code == 503
    assert conditions["checks"]["ok"] is False and "due since" in conditions["checks"]["detail"]


# --- /metrics -----------------------------------------------------------------------------------
def test_metrics_match_the_store(store):
    ids = [story(store), hostile(store)]
    found = metrics(client(store))
    assert set(found) >= FAMILIES
    assert values(found, "redline_database_up") == {(): 1.0}
    revisions = [r for i in ids for r in store.history(i)]
    assert values(found, "redline_revisions", "redline_revisions_total") == {
        (("kind", "first"),): float(sum(r.number == 1 for r in revisions)),
        (("kind", "change"),): float(sum(r.number > 1 for r in revisions)),
    }
    expected: Counter[tuple[str, str]] = Counter()
    for r in revisions:
        for c in r.changes:
            group = c.field.split(":")[0]
            expected[({"published": "dates", "updated": "dates"}.get(group, group), c.class_)] += 1
    assert {
        (dict(k)["group"], dict(k)["class"]): v
        for k, v in values(found, "redline_changes", "redline_changes_total").items()
    } == {k: float(n) for k, n in expected.items()}
    alerts = store.alert_counts()
    assert values(found, "redline_alerts") == {
        (("status", s),): float(alerts.get(s, 0)) for s in ("pending", "sent", "failed", "dropped")
    }
    due = [store.get_article_by_id(i) for i in ids]
    assert values(found, "redline_due_articles") == {(): float(len(due))}
    oldest = min(a.next_check_at for a in due if a.next_check_at)
    lag = values(found, "redline_due_lag_seconds")[()]
    assert lag == pytest.approx((LATER - oldest).total_seconds())


def test_revision_totals_stay_right_as_revisions_are_added(store, monkeypatch):
    """Totals are kept between scrapes and only new ids are read: with a tiny settle window
    the counted part moves on at every scrape, and the totals still match."""
    monkeypatch.setattr(health_module, "SETTLE", 1)
    c = client(store)
    story(store)
    first = values(metrics(c), "redline_revisions", "redline_revisions_total")
    assert sum(first.values()) == 3
    hostile(store)
    story(store, "https://news.example.org/2026/12/06/another")
    again = metrics(c)
    assert sum(values(again, "redline_revisions", "redline_revisions_total").values()) == 8
    changes = sum(values(again, "redline_changes", "redline_changes_total").values())
    assert changes == sum(
        len(r.changes) for a in store.list_articles() for r in store.history(a.id)
    )


def test_the_daemons_counters_are_served_beside_the_store_gauges(store):
    counters = CheckMetrics()
    counters.checked("new", "news.example.org")
    counters.checked("error", "news.example.org")
    counters.fetched(0.2)
    counters.extracted(0.01, recheck=False)
    found = metrics(client(store, registry=counters.registry))
    assert set(found) >= FAMILIES
    checks = values(found, "redline_checks", "redline_checks_total")
    assert checks == {
        (("host", "news.example.org"), ("outcome", "new")): 1.0,
        (("host", "news.example.org"), ("outcome", "error")): 1.0,
    }
    assert values(found, "redline_fetch_seconds", "redline_fetch_seconds_count") == {(): 1.0}
    assert values(found, "redline_extract_seconds", "redline_extract_seconds_count") == {
        (("mode", "full"),): 1.0
    }


# --- the daemon's side: status and counters after real checks -----------------------------------
@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(articles=2) as running:
        yield running


def test_a_daemon_pass_records_its_status_and_counts_its_checks(store, site):
    """The daemon's feeding and handling in-process (tests/test_daemon_pass.py's way): its
    tick, last check and last success are set, and its registry counts the checks by outcome
    and host and times the extractions."""
    ids = [store.add_article(site.article_url(a.slug), NOW)[0].id for a in site.articles]

    async def main() -> Daemon:
        checker = ArticleChecker(store, CheckSettings(), {})
        daemon = Daemon(
            store,
            CrawlSettings(),
            checker,
            SourceChecker(store),
            DaemonSettings(workers=0, queue_size=4),
            targets=ids,
            clock=lambda: NOW,
        )
        daemon._stopped = asyncio.Event()
        await daemon.feed()
        while not daemon.queue.empty():
            await daemon.handle(await asyncio.to_thread(fetch, daemon.queue.get_nowait()))
        await checker.close()
        return daemon

    daemon = asyncio.run(main())
    assert daemon.last_tick == daemon.last_check == daemon.last_success == NOW
    assert daemon.metrics is daemon.checker.metrics
    status = status_of(daemon)
    assert status.last_success == NOW and status.running is False  # never started its jobs
    found = metrics(client(store, registry=daemon.metrics.registry))
    host = store.get_article_by_id(ids[0]).site
    assert values(found, "redline_checks", "redline_checks_total") == {
        (("host", host), ("outcome", "new")): 2.0
    }
    extracted = values(found, "redline_extract_seconds", "redline_extract_seconds_count")
    assert sum(extracted.values()) == 2.0
