"""The revisit policy as a table: age, quiet time and change rate -> next check (or stop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redline.scheduler.policy import (
    PolicySettings,
    next_check,
    next_check_after_error,
    settings_for,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
DEFAULT = PolicySettings()
BUSY_SITE = PolicySettings(min_interval=1 * M, max_interval=6 * H, max_age=2 * D)

# (case, age, last change ago (None = never), recent changes, settings, expected interval)
TABLE = [
    ("just discovered", 0 * M, None, 0, DEFAULT, 5 * M),
    ("an hour old, never edited", 1 * H, None, 0, DEFAULT, 15 * M),
    ("six hours old", 6 * H, None, 0, DEFAULT, 90 * M),
    ("two days quiet", 2 * D, None, 0, DEFAULT, 12 * H),
    ("five days quiet: capped, never starved", 5 * D, None, 0, DEFAULT, 1 * D),
    ("29 days old: still checked daily", 29 * D, None, 0, DEFAULT, 1 * D),
    ("30 days old: stop tracking", 30 * D, None, 0, DEFAULT, None),
    ("edited ten minutes ago", 3 * D, 10 * M, 1, DEFAULT, 5 * M),
    ("edited 8 h ago, 3 edits this week", 3 * D, 8 * H, 3, DEFAULT, 30 * M),
    ("edited 8 h ago, first edit", 3 * D, 8 * H, 1, DEFAULT, 60 * M),
    ("edited two days ago, quiet since", 10 * D, 2 * D, 0, DEFAULT, 12 * H),
    ("change time before first seen (bad data)", 1 * H, 5 * H, 0, DEFAULT, 15 * M),
    ("first seen in the future (clock skew)", -1 * H, None, 0, DEFAULT, 5 * M),
    ("negative change count", 1 * H, None, -4, DEFAULT, 15 * M),
    ("busy site: new", 0 * M, None, 0, BUSY_SITE, 1 * M),
    ("busy site: capped at 6 h", 1 * D, None, 0, BUSY_SITE, 6 * H),
    ("busy site: stops after 2 days", 2 * D, None, 0, BUSY_SITE, None),
]


@pytest.mark.parametrize(
    ("age", "changed_ago", "recent", "settings", "expected"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_revisit_table(age, changed_ago, recent, settings, expected):
    first_seen = NOW - age
    last_changed = None if changed_ago is None else NOW - changed_ago
    result = next_check(
        now=NOW,
        first_seen=first_seen,
        last_changed=last_changed,
        recent_changes=recent,
        settings=settings,
    )
    assert result == (None if expected is None else NOW + expected)


def test_jitter_is_deterministic_per_article_and_within_ten_percent():
    first_seen = NOW - 6 * H  # 90 minutes without jitter
    results = {
        url: next_check(
            now=NOW,
            first_seen=first_seen,
            last_changed=None,
            recent_changes=0,
            settings=DEFAULT,
            key=url,
        )
        for url in (f"https://example.com/story-{i}" for i in range(50))
    }
    assert all(NOW + 81 * M <= t <= NOW + 99 * M for t in results.values())
    assert len(set(results.values())) > 40  # articles spread apart
    again = next_check(
        now=NOW, first_seen=first_seen, last_changed=None, recent_changes=0, settings=DEFAULT,
        key="https://example.com/story-7",
    )  # fmt: skip
    assert again == results["https://example.com/story-7"]


@given(
    age=st.timedeltas(min_value=timedelta(0), max_value=40 * D),
    quiet_share=st.floats(min_value=0, max_value=1),
    recent=st.integers(min_value=0, max_value=50),
    key=st.text(max_size=20),
)
def test_every_article_is_checked_within_bounds_or_stopped(age, quiet_share, recent, key):
    first_seen = NOW - age
    last_changed = NOW - age * quiet_share
    kwargs = dict(
        now=NOW, first_seen=first_seen, last_changed=last_changed, settings=DEFAULT, key=key
    )
    result = next_check(recent_changes=recent, **kwargs)
    if age >= DEFAULT.max_age:
        assert result is None
        return
    assert NOW + DEFAULT.min_interval <= result <= NOW + DEFAULT.max_interval
    busier = next_check(recent_changes=recent + 1, **kwargs)
    assert busier <= result  # more edits never mean fewer checks


def test_errors_back_off_from_minutes_to_a_day():
    waits = [
        next_check_after_error(now=NOW, first_seen=NOW - D, failures=n, settings=DEFAULT) - NOW
        for n in (1, 2, 3, 4, 10, 100)
    ]
    assert waits == [5 * M, 10 * M, 20 * M, 40 * M, 1 * D, 1 * D]
    assert (
        next_check_after_error(now=NOW, first_seen=NOW - 31 * D, failures=1, settings=DEFAULT)
        is None
    )


def test_per_site_overrides():
    archive = DEFAULT.with_overrides(max_age=timedelta(days=90))
    live = DEFAULT.with_overrides(min_interval=M, max_age=2 * D)
    overrides = {"example.com": archive, "live.example.com": live}
    assert settings_for("example.com", DEFAULT, overrides) is archive
    assert settings_for("news.example.com", DEFAULT, overrides) is archive  # hosts under it
    assert settings_for("LIVE.Example.com", DEFAULT, overrides) is live  # the most specific
    assert settings_for("a.live.example.com", DEFAULT, overrides) is live
    assert settings_for("other.example", DEFAULT, overrides) is DEFAULT
    assert settings_for("notexample.com", DEFAULT, overrides) is DEFAULT  # whole labels only
    assert settings_for("example.com", DEFAULT, {}) is DEFAULT


@pytest.mark.parametrize(
    "bad",
    [
        {"min_interval": timedelta(0)},
        {"min_interval": 2 * D, "max_interval": D},
        {"quiet_factor": 0},
        {"max_age": timedelta(0)},
        {"jitter": 1.5},
        {"error_base": -M},
    ],
)
def test_nonsense_settings_are_refused(bad):
    with pytest.raises(ValueError):
        PolicySettings(**bad)
