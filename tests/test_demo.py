"""`redline demo`: a newcomer sees revisions, diffs and alerts within a minute, offline, and
Ctrl-C leaves nothing behind. Real processes: the demo's site, daemon and web app on loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from redline.demo import edits, new_lines
from redline.newsite import NewsSite
from redline.storage import Page, open_store
from tests.records import NOW, revision

WEB_LINE = re.compile(r"^  web app    (http://127\.0\.0\.1:\d+)/$", re.M)


def demo(*args: str, tmp: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp), "NO_COLOR": "1"}
    for name in ("REDLINE_DATABASE_URL", "REDLINE_CONFIG", "REDLINE_ALLOW_PRIVATE_NETWORKS"):
        env.pop(name, None)  # the demo must not depend on, nor touch, the user's settings
    return subprocess.Popen(
        [sys.executable, "-m", "redline", "demo", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def redline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redline", *args], capture_output=True, text=True, timeout=60
    )


def read_until(proc: subprocess.Popen[str], pattern: re.Pattern[str], seconds: float) -> str:
    """stdout up to and including the first line matching `pattern`."""
    seen, deadline = "", time.monotonic() + seconds
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if pattern.search(line):
            return seen
    raise AssertionError(f"no line matching {pattern.pattern!r} in:\n{seen}")


def fetch_when_up(url: str, seconds: float) -> bytes:
    """The page at `url` once its server listens (the demo prints the address first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as page:
                return bytes(page.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_thirty_seconds_of_demo_give_revisions_a_headline_diff_and_alerts(tmp_path):
    keep = tmp_path / "kept"
    proc = demo("--seconds", "30", "--every", "2", "--keep", str(keep), tmp=tmp_path)
    try:
        banner = read_until(proc, WEB_LINE, 30)
        web = WEB_LINE.search(banner).group(1)  # type: ignore[union-attr]
        assert b"Recent changes" in fetch_when_up(web + "/", 30)  # the web app answers
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    out = banner + out
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "ERROR" not in err, err
    # each change as it is recorded, the headline one with old -> new and its diff link
    headline = re.search(r'redline  headline.* #(\d+) r(\d+)  "(.+?)" -> "(.+?)"', out)
    assert headline, out
    assert f"{web}/articles/{headline.group(1)}/diff/" in out
    # the console channel's alert for it
    assert f"Headline changed: “{headline.group(3)}” → “{headline.group(4)}”" in out
    # the page noise (ads, tokens, "N minutes ago") never shows as a change
    assert "Sponsored" not in out and "minutes ago" not in out
    # what was recorded is there after the demo, for `redline diff` to show
    db = f"sqlite:///{keep / 'redline.sqlite'}"
    listed = redline("--db", db, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    story = re.search(r'"url": "(http://127\.0\.0\.1:\d+/news/story-00000)"', listed.stdout)
    assert story, listed.stdout
    shown = redline("--db", db, "diff", story.group(1), "--from", "1", "--to", "2")
    assert shown.returncode == 0, shown.stderr
    assert "== headline: changed" in shown.stdout
    assert "{+Council approves revised budget after late-night session+}" in shown.stdout
    assert (keep / "redline.toml").exists()  # the configuration it ran with, to read


def test_ctrl_c_stops_the_demo_cleanly_and_removes_its_directory(tmp_path):
    proc = demo("--every", "1", tmp=tmp_path)
    try:
        read_until(proc, re.compile(r"^  redline  new "), 40)
        assert list(tmp_path.glob("redline-demo-*/redline.sqlite"))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert list(tmp_path.glob("redline-demo-*")) == []


def test_keep_refuses_a_directory_that_already_holds_a_database(tmp_path):
    (tmp_path / "redline.sqlite").write_bytes(b"")
    done = redline("demo", "--keep", str(tmp_path), "--seconds", "1")
    assert done.returncode == 1
    assert done.stderr.startswith("redline: error: ") and "exists" in done.stderr


# --- the parts, in process -------------------------------------------------------------------
def test_the_editor_script_changes_what_a_reader_sees_at_every_step():
    with NewsSite(articles=4, live_items=3) as site:
        for step in range(14):  # two rounds of every kind of edit
            before = [site.render(a.path)[1] for a in site.articles] + [site.render("/live")[1]]
            edits(step).apply(site)
            after = [site.render(a.path)[1] for a in site.articles] + [site.render("/live")[1]]
            assert before != after, edits(step).what


@pytest.mark.parametrize("headline", ["\x1b[2J\x1b[Hfake", "\u202eevil"])
def test_the_reporter_escapes_scraped_text(tmp_path, headline):
    store = open_store(f"sqlite:///{tmp_path / 'r.sqlite'}", create=True)
    article, _ = store.add_article("https://example.com/a", NOW)
    store.record(revision(article.id, "f1", Page(headline=headline, body="Some text.")))
    lines = list(new_lines(store, "http://127.0.0.1:1", set()))
    store.close()
    assert len(lines) == 1 and "\x1b" not in lines[0] and "\u202e" not in lines[0]
    assert "\\x1b" in lines[0] or "\\u202e" in lines[0]
