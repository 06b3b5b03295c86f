"""The fetch log kept bounded, on both backends: checks that wrote nothing, once older than the
rollup's age, become per-article daily counts by outcome; every check that wrote a revision or
an event stays itemised for ever, and the article's checks listing keeps working."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from click.testing import CliRunner

from redline.cli import cli
from redline.cli.app import App
from redline.newsite import NewsSite
from redline.storage import (
    CheckDay,
    Error,
    EventKind,
    EventNote,
    FlipFlop,
    NotModified,
    Outcome,
    Page,
    Unchanged,
    open_store,
)
from redline.storage.sqlstore.fetchlog import daily_counts
from tests.conftest import REPO
from tests.records import check, revision
from tests.waiting import wait_until

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
URL = "https://news.example/politics/budget"
DAY = timedelta(days=1)


def quiet(store, article_id: int, at: datetime, n: int, outcome=None):
    return store.record(check(article_id, f"q{at:%Y%m%d%H%M}-{n}", outcome or NotModified(), at=at))


def busy_history(store) -> int:
    """An article checked three times a day for 60 days: mostly quiet, with a revision, an
    error and a flip-flop event among them."""
    article, _ = store.add_article(URL, NOW - 70 * DAY)
    store.record(revision(article.id, "first", Page(headline="v1"), at=NOW - 65 * DAY))
    for day in range(60, 0, -1):
        for hour, outcome in ((6, NotModified()), (12, Unchanged()), (18, NotModified())):
            quiet(store, article.id, NOW - day * DAY + timedelta(hours=hour - 12), 0, outcome)
    store.record(revision(article.id, "second", Page(headline="v2"), base=1, at=NOW - 45 * DAY))
    store.record(check(article.id, "failed", Error("timeout"), at=NOW - 50 * DAY))
    flip = FlipFlop(older=1, content_hash="x")
    store.record(
        check(article.id, "flip", flip, at=NOW - 40 * DAY, events=[EventNote(EventKind.FLIP_FLOP)])
    )
    return article.id


def test_old_quiet_checks_become_daily_counts_and_the_rest_stays(store):
    article_id = busy_history(store)
    before = {c.fetch_id for c in every_check(store, article_id)}
    done = store.roll_up_fetches(NOW, batch=7)  # many small transactions
    cutoff = NOW - 30 * DAY
    assert done.checks == 30 * 3 + 1  # days 60 to 31, and 06:00 on day 30
    kept = {c.fetch_id for c in every_check(store, article_id)}
    assert {"first", "second", "failed", "flip"} <= kept  # revisions, events, errors: for ever
    assert len(before - kept) == done.checks
    itemised_quiet = [
        c.at
        for c in every_check(store, article_id)
        if c.outcome in (Outcome.NOT_MODIFIED, Outcome.UNCHANGED) and c.fetch_id != "flip"
    ]
    assert min(itemised_quiet) == cutoff
    days = store.check_days(article_id)
    assert days[0].day == (cutoff - timedelta(hours=6)).date()
    per_outcome: Counter[Outcome] = Counter()
    for day in days:
        per_outcome[day.outcome] += day.checks
    assert per_outcome == {Outcome.NOT_MODIFIED: 61, Outcome.UNCHANGED: 30}
    assert CheckDay((NOW - 50 * DAY).date(), Outcome.NOT_MODIFIED, 2) in days
    assert store.roll_up_fetches(NOW).checks == 0  # nothing left to take


def test_a_later_rollup_adds_to_the_same_day(store):
    article, _ = store.add_article(URL, NOW - 60 * DAY)
    day = NOW - 40 * DAY
    quiet(store, article.id, day, 1)
    store.roll_up_fetches(NOW)
    quiet(store, article.id, day + timedelta(hours=1), 2)  # a late retry of an old check
    quiet(store, article.id, day + timedelta(hours=2), 3)
    store.roll_up_fetches(NOW)
    assert store.check_days(article.id) == [CheckDay(day.date(), Outcome.NOT_MODIFIED, 3)]


def test_the_checks_listing_shows_what_is_itemised(store):
    article_id = busy_history(store)
    store.roll_up_fetches(NOW, older_than=10 * DAY)
    listing = store.checks(article_id, limit=1000).rows
    assert listing[0].at >= NOW - 10 * DAY and "first" in {c.fetch_id for c in listing}
    assert [c.at for c in listing] == sorted((c.at for c in listing), reverse=True)


def test_purge_deletes_the_daily_counts_and_counts_them(store):
    article_id = busy_history(store)
    store.roll_up_fetches(NOW)
    counts = store.purge_counts(article_id)
    assert counts.fetches == 60 * 3 + 4  # itemised and rolled up alike
    store.purge_article(article_id)
    with store._tx() as tx:
        assert tx.one("SELECT count(*) AS n FROM fetch_days")["n"] == 0


def test_daily_counts_are_per_article_utc_day_and_outcome():
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    rows = [(1, late, "not_modified"), (1, late + timedelta(hours=1), "not_modified"),
            (1, late, "unchanged"), (2, late, "not_modified")]  # fmt: skip
    assert daily_counts(rows) == {
        (1, date(2026, 3, 1), "not_modified"): 1,
        (1, date(2026, 3, 2), "not_modified"): 1,
        (1, date(2026, 3, 1), "unchanged"): 1,
        (2, date(2026, 3, 1), "not_modified"): 1,
    }


def test_db_compact_rolls_up_the_fetch_log(db_url):
    with open_store(db_url) as store:
        article, _ = store.add_article(URL, NOW)
        old = datetime.now(UTC) - 40 * DAY
        for n in range(5):
            quiet(store, article.id, old + timedelta(minutes=n), n)
        quiet(store, article.id, datetime.now(UTC) - DAY, 9)
    result = CliRunner().invoke(cli, ["--db", db_url, "db", "compact"])
    assert result.exit_code == 0, result.output
    assert "fetch log: 5 checks older than 30 days rolled up into daily counts" in result.stdout
    result = CliRunner().invoke(cli, ["--db", db_url, "db", "compact", "--fetch-days", "0"])
    assert result.exit_code == 2  # at least a day stays itemised


def every_check(store, article_id: int):
    return store.checks(article_id, limit=1000).rows


# --- who runs it: the daemon, and [storage] in the configuration ------------------------------
def daemon_on_old_checks(tmp_path, storage: str) -> tuple[str, str, int]:
    """`redline run` (JSON logs) on a SQLite file holding an article of the test site with 5
    quiet checks from 40 days ago; stopped after its first summary. Its stderr, the database
    URL and the article's id."""
    db_url = f"sqlite:///{tmp_path / 'redline.sqlite'}"
    config = tmp_path / "redline.toml"
    config.write_text(f"{storage}\n[crawl]\nsummary_every = 1\n[web]\nenabled = false\n")
    env = {
        **os.environ,
        "REDLINE_DATABASE_URL": db_url,
        "REDLINE_CONFIG": str(config),
        "REDLINE_ALLOW_PRIVATE_NETWORKS": "1",
        "REDLINE_LOG_FORMAT": "json",
    }
    log = tmp_path / "run.log"
    with NewsSite(articles=1) as site:
        with open_store(db_url) as store:
            now = datetime.now(UTC)
            article, _ = store.add_article(site.article_url(site.articles[0].slug), now - 41 * DAY)
            store.record(revision(article.id, "first", Page(headline="v1"), at=now - 41 * DAY))
            for n in range(5):
                quiet(store, article.id, now - 40 * DAY + timedelta(minutes=n), n)
        with log.open("w") as sink:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "redline", "run", "--workers", "0"],
                env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=sink,
            )  # fmt: skip
        try:
            wait_until(lambda: '"event": "summary"' in log.read_text(), 60, "a summary")
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(60) == 0, log.read_text()[-3000:]
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    return log.read_text(), db_url, article.id


def test_the_running_daemon_rolls_the_fetch_log_up_and_says_so_in_one_line(tmp_path):
    stderr, db_url, article_id = daemon_on_old_checks(tmp_path, "")
    lines = [json.loads(line) for line in stderr.splitlines()]
    rollups = [line for line in lines if line["event"] == "rollup"]
    assert len(rollups) == 1 and rollups[0]["level"] == "info", stderr[-3000:]
    assert rollups[0]["checks"] == 5 and "older than 30 days" in rollups[0]["message"]
    with open_store(db_url) as store:
        days = store.check_days(article_id)
        assert [(d.outcome, d.checks) for d in days] == [(Outcome.NOT_MODIFIED, 5)]
        assert "first" in {c.fetch_id for c in every_check(store, article_id)}


def test_fetch_log_days_0_keeps_every_check_itemised(tmp_path):
    stderr, db_url, article_id = daemon_on_old_checks(tmp_path, "[storage]\nfetch_log_days = 0")
    assert '"event": "rollup"' not in stderr
    with open_store(db_url) as store:
        assert store.check_days(article_id) == []
        kept = {c.fetch_id for c in every_check(store, article_id)}
        assert len([f for f in kept if f.startswith("q") and f.endswith(tuple("01234"))]) == 5


def test_storage_settings_reach_the_store_and_db_compact(tmp_path, db_url):
    config = tmp_path / "redline.toml"
    config.write_text("[storage]\nkeyframe_every = 4\nfetch_log_days = 7\n")
    with open_store(db_url) as store:
        article, _ = store.add_article(URL, NOW)
        old = datetime.now(UTC) - 10 * DAY
        for n in range(3):
            quiet(store, article.id, old + timedelta(minutes=n), n)
    app = App.load(str(config), db_url)
    assert app.store().keyframe_every == 4
    app.store().close()
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", db_url, "db", "compact"])
    assert result.exit_code == 0, result.output
    assert "fetch log: 3 checks older than 7 days rolled up into daily counts" in result.stdout
