"""`redline init` writes a commented configuration where every command looks for it, never over
another; `redline run` with nothing to watch says where its data lives and how to add sources."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redline.cli.init import example_config
from redline.newsite import NewsSite

REPO = Path(__file__).resolve().parent.parent


def environment(tmp: Path, **extra: str) -> dict[str, str]:
    """A user with no configuration and no data yet (the platform's directories under tmp)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env.update(XDG_CONFIG_HOME=str(tmp / "config"), XDG_DATA_HOME=str(tmp / "data"), **extra)
    return env


def redline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redline", *args], capture_output=True, text=True, env=env
    )


def test_init_writes_the_commented_file_where_commands_look_and_never_overwrites(tmp_path):
    env = environment(tmp_path)
    done = redline("init", env=env)
    written = tmp_path / "config" / "redline" / "redline.toml"
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {written}\n")
    assert written.read_text(encoding="utf-8") == example_config()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600  # it will hold the operator's choices
    for table in ("[crawl]", "[policy]", "[[sources]]", "[profiles.", "[web]", "[alerts"):
        assert f"# {table}" in example_config(), table

    written.write_text(example_config() + "\n# mine\n", encoding="utf-8")
    again = redline("init", env=env)
    assert again.returncode == 1
    assert (
        again.stderr
        == f"redline: error: {written} exists: not overwritten (edit it, or move it away)\n"
    )
    assert written.read_text(encoding="utf-8").endswith("# mine\n")


@pytest.mark.parametrize("how", ["argument", "--config", "REDLINE_CONFIG"])
def test_init_writes_where_it_is_told(tmp_path, how):
    target = tmp_path / "etc" / "redline.toml"
    env = environment(tmp_path)
    args = {"argument": ["init", str(target)], "--config": ["--config", str(target), "init"]}
    if how == "REDLINE_CONFIG":
        env["REDLINE_CONFIG"] = str(target)
    done = redline(*args.get(how, ["init"]), env=env)
    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8") == example_config()
    assert not (tmp_path / "config").exists()


def test_the_repository_example_is_the_file_init_writes():
    example = REPO / "deploy" / "redline.example.toml"
    assert example.read_text(encoding="utf-8") == example_config()


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def test_init_then_run_watches_the_test_site_with_the_file_unchanged(tmp_path):
    env = environment(tmp_path, REDLINE_ALLOW_PRIVATE_NETWORKS="1")  # the site is on loopback
    assert redline("init", env=env).returncode == 0
    written = tmp_path / "config" / "redline" / "redline.toml"
    with NewsSite(articles=2) as site:
        url = site.article_url(site.articles[0].slug)
        assert redline("add", url, env=env).returncode == 0
        with (tmp_path / "run.log").open("w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "redline", "run", "--no-web", "--workers", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:

            def recorded() -> bool:
                listed = redline("list", "--json", env=env)
                rows = [json.loads(line) for line in listed.stdout.splitlines()]
                return any(r["url"] == url and r["revisions"] >= 1 for r in rows)

            wait_for(recorded, 60, "the first revision")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, (tmp_path / "run.log").read_text()
        finally:
            proc.kill()
    text = (tmp_path / "run.log").read_text()
    assert "Traceback" not in text and "nothing to watch" not in text, text
    assert (tmp_path / "data" / "redline" / "redline.sqlite").exists()  # the default database
    assert written.read_text(encoding="utf-8") == example_config()
    assert any(r.headers.get("user-agent", "").startswith("Redline/") for r in site.requests)


def test_run_with_nothing_to_watch_says_where_its_data_lives_and_how_to_add_sources(tmp_path):
    env = environment(tmp_path)
    with (tmp_path / "run.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "redline", "run", "--no-web", "--workers", "0", "-v"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        started = lambda: "redline running as" in (tmp_path / "run.log").read_text()  # noqa: E731
        wait_for(started, 30, "the daemon to start")  # its SIGTERM handler is in place
        assert proc.poll() is None  # still running: what is added now is picked up
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    text = (tmp_path / "run.log").read_text()
    screen = text[text.index("redline: nothing to watch yet") :]
    assert len(screen.splitlines()) <= 24  # one screen
    database = tmp_path / "data" / "redline" / "redline.sqlite"
    assert f"sqlite:///{database}" in screen
    assert (
        str(tmp_path / "config" / "redline" / "redline.toml") in screen and "redline init" in screen
    )
    assert "redline sources add" in screen and "redline add" in screen


def test_version():
    done = subprocess.run(
        [sys.executable, "-m", "redline", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.startswith("redline 0.1.0 (differ: ")
