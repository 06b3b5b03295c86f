"""The web app as processes serve it: `redline serve` alone, `redline run` with the web app
beside the daemon (its /readyz green while it checks a loopback news site), and the refusals:
a port in use, an address beyond loopback without a token, bad [web] settings."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from redline.config import ConfigError, load_config
from redline.newsite import NewsSite
from redline.storage import open_store
from redline.webserver import web_settings
from tests.conftest import REPO
from tests.seeded import story
from tests.waiting import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(db_url: str, config: Path | str = os.devnull, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "REDLINE_DATABASE_URL": db_url,
        "REDLINE_CONFIG": str(config),
        "REDLINE_ALLOW_PRIVATE_NETWORKS": "1",
        **extra,
    }
    env.pop("REDLINE_WEB_TOKEN", None)
    return env


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def answers(url: str) -> bool:
    try:
        get(url)
    except OSError:
        return False
    return True


class Process:
    """A `redline` subprocess, its stderr in a file; stopped with SIGTERM."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "redline", *args],
                env=env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )

    def text(self) -> str:
        return self.log.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'redline.sqlite'}"
    store = open_store(url)
    story(store)
    store.close()
    return url


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill()


def test_serve_answers_health_pages_and_feeds_and_stops_on_sigterm(db_url, tmp_path, processes):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = Process(["serve", "--port", str(port)], environment(db_url), tmp_path / "serve.log")
    processes.append(serve)
    wait_until(lambda: answers(f"{base}/healthz") or not serve.alive(), 30, "serve to listen")
    assert get(f"{base}/healthz") == (200, '{"status":"ok"}')
    status, body = get(f"{base}/readyz")
    assert status == 200 and json.loads(body)["conditions"] == {
        "database": {"ok": True, "detail": "answers"}
    }
    status, page = get(f"{base}/articles/1")
    assert status == 200 and "Minister quits as budget row deepens" in page
    status, feed = get(f"{base}/feeds/changes.atom")
    assert status == 200 and "tag:redline,2026:articles/1/revisions/3" in feed
    assert serve.stop() == 0
    assert f"web app on {base}" in serve.text()
    assert "Traceback" not in serve.text()


def test_serve_on_a_port_in_use_is_one_line(db_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "redline", "serve", "--port", str(port)],
            env=environment(db_url),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"redline: error: cannot listen on 127.0.0.1:{port}: address already in use"
    ]


@pytest.mark.parametrize("command", [["serve"], ["run", "--workers", "0"]])
def test_beyond_loopback_without_a_token_is_refused_in_one_line(db_url, command):
    done = subprocess.run(
        [sys.executable, "-m", "redline", *command[:1], "--help"],
        env=environment(db_url),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "Example" in done.stdout
    args = [*command, "--bind", "0.0.0.0"] if command == ["serve"] else command
    env = environment(db_url)
    if command != ["serve"]:
        config = Path(db_url.removeprefix("sqlite:///")).with_name("redline.toml")
        config.write_text('[web]\nbind = "0.0.0.0"\n')
        env = environment(db_url, config)
    done = subprocess.run(
        [sys.executable, "-m", "redline", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "without a token" in lines[0] and "REDLINE_WEB_TOKEN" in lines[0]


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(articles=2) as running:
        yield running


def test_run_serves_the_web_app_beside_the_daemon(tmp_path, site, processes):
    db_url = f"sqlite:///{tmp_path / 'daemon.sqlite'}"
    store = open_store(db_url)
    urls = [site.article_url(a.slug) for a in site.articles]
    for url in urls:
        store.add_article(url, _now())
    config = tmp_path / "redline.toml"
    config.write_text('[web]\nport = 0\nready_max_age = "10m"\n')  # 0: any free port
    run = Process(
        ["run", "--workers", "0", "-v"], environment(db_url, config), tmp_path / "run.log"
    )
    processes.append(run)
    wait_until(
        lambda: re.search(r"web app on (http://\S+)", run.text()) or not run.alive(),
        60,
        "the web app to start",
    )
    match = re.search(r"web app on (http://127\.0\.0\.1:\d+)", run.text())
    assert match, run.text()
    base = match.group(1)
    wait_until(
        lambda: all(store.get_article(u).revision_count == 1 for u in urls) or not run.alive(),
        60,
        "the daemon to record every article",
    )
    status, body = get(f"{base}/readyz")
    assert status == 200, body
    conditions = json.loads(body)["conditions"]
    assert set(conditions) == {"database", "scheduler", "checks"}
    assert conditions["checks"]["detail"].startswith("last successful check")
    status, text = get(f"{base}/metrics")
    assert status == 200
    assert re.search(r'redline_checks_total\{host="[^"]+",outcome="new"\} 2\.0', text), text
    assert "redline_revisions_total" in text
    fetches = re.search(r"^redline_fetch_seconds_count (\S+)$", text, re.MULTILINE)
    assert fetches and float(fetches.group(1)) >= 2, text  # robots.txt and the two articles
    assert get(f"{base}/articles/1")[0] == 200
    assert run.stop() == 0, run.text()
    assert "Traceback" not in run.text()
    assert not answers(f"{base}/healthz")  # stopped with the daemon
    store.close()


def test_run_on_a_port_in_use_warns_once_and_checks_anyway(tmp_path, site, processes):
    db_url = f"sqlite:///{tmp_path / 'daemon.sqlite'}"
    store = open_store(db_url)
    url = site.article_url(site.articles[0].slug)
    store.add_article(url, _now())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "redline.toml"
        config.write_text(f"[web]\nport = {port}\n")
        run = Process(["run", "--workers", "0"], environment(db_url, config), tmp_path / "run.log")
        processes.append(run)
        wait_until(
            lambda: store.get_article(url).revision_count == 1 or not run.alive(),
            60,
            "the daemon to record the article",
        )
        assert run.stop() == 0, run.text()
    lines = [line for line in run.text().splitlines() if " INFO " not in line]  # not news
    assert len(lines) == 1, lines
    assert "running without the web app" in lines[0] and "address already in use" in lines[0]
    store.close()


def test_run_no_web_serves_nothing(tmp_path, processes):
    db_url = f"sqlite:///{tmp_path / 'daemon.sqlite'}"
    port = free_port()
    config = tmp_path / "redline.toml"
    config.write_text(f"[web]\nport = {port}\n")
    run = Process(
        ["run", "--workers", "0", "--no-web", "-v"],
        environment(db_url, config),
        tmp_path / "run.log",
    )
    processes.append(run)
    wait_until(lambda: "redline running as" in run.text() or not run.alive(), 60, "the start")
    assert not answers(f"http://127.0.0.1:{port}/healthz")
    assert run.stop() == 0
    assert "web app on" not in run.text()


# --- [web] settings ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("port = 70000", "port"),
        ('port = "8470"', "port"),
        ('bind = "http://0.0.0.0"', "bind"),
        ('token_env = "MY TOKEN"', "token_env"),
        ('ready_max_age = "soon"', "ready_max_age"),
        ('enabled = "yes"', "enabled"),
        ("listen = 1", "listen"),
    ],
)
def test_bad_web_settings_name_their_key(tmp_path, line, key):
    config = tmp_path / "redline.toml"
    config.write_text(f"[web]\n{line}\n")
    with pytest.raises(ConfigError, match=key):
        load_config(config, environ={})


def test_web_settings_from_the_file_and_the_environment(tmp_path):
    config = tmp_path / "redline.toml"
    config.write_text(
        '[web]\nbind = "0.0.0.0"\nport = 9000\ntoken_env = "DESK_TOKEN"\n'
        'ready_max_age = "2h"\nbase_url = "https://redline.example.com/"\n'
    )
    loaded = load_config(config, environ={})
    with pytest.raises(ConfigError, match="DESK_TOKEN"):
        web_settings(loaded, {})
    settings = web_settings(loaded, {"DESK_TOKEN": "s3cret"})
    assert (settings.bind, settings.port, settings.token) == ("0.0.0.0", 9000, "s3cret")
    assert settings.ready_max_age.total_seconds() == 7200
    assert settings.base_url == "https://redline.example.com"
    local = web_settings(loaded, {}, bind="::1", port=0)  # options win; loopback needs none
    assert (local.bind, local.port, local.token) == ("::1", 0, None)
    # the operator's allow_private_networks reaches the web's URL guard
    assert not settings.allow_private_networks
    private = load_config(config, environ={"REDLINE_ALLOW_PRIVATE_NETWORKS": "1"})
    assert web_settings(private, {"DESK_TOKEN": "s3cret"}).allow_private_networks


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
