"""The CLI tells the truth: exit codes and one-line errors as the README states them, the URLs a
check failed on and why, `add` warning about a URL it will never fetch, and diffs that show the
change rather than the whole article."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from redline.cli import cli
from redline.storage import Page, open_store
from tests.seeded import record_pages, story

STORY = "https://news.example.org/2026/12/05/minister"
LONG = "https://news.example.org/2026/12/06/long"
BODY = tuple(f"Paragraph {n} says something about the budget." for n in range(30))
EDITED = (*BODY[:15], "Paragraph 15 says something about the deficit.", *BODY[16:])


def run(db_url: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", db_url, *args], env=env, prog_name="redline")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def redline(db_url: str, *args: str, private: bool = False) -> tuple[int, str, str]:
    """A check in its own process: the crawler's reactor runs once per process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env |= {"REDLINE_DATABASE_URL": db_url, "NO_COLOR": "1"}
    if private:
        env["REDLINE_ALLOW_PRIVATE_NETWORKS"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "redline", *args], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def page_server() -> Iterator[str]:
    """A loopback site where every page (robots.txt too) is 404."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def histories(db_url: str) -> str:
    store = open_store(db_url)
    story(store, STORY)
    record_pages(
        store, LONG, [Page(headline="Budget", body=BODY), Page(headline="Budget", body=EDITED)]
    )
    store.close()
    return db_url


# --- exit codes and one-line errors ------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("add", "file:///etc/passwd"),
            "redline: error: Invalid value for 'URL...': not a trackable URL: only http and https "
            "URLs can be tracked, not 'file:///etc/passwd' (see 'redline add --help')",
        ),
        (
            ("add", "http://[::1"),
            "redline: error: Invalid value for 'URL...': not a trackable URL: Invalid IPv6 URL in "
            "'http://[::1' (see 'redline add --help')",
        ),
        (
            ("check", "file:///etc/passwd"),
            "redline: error: Invalid value for '[URL...]': not a trackable URL: only http and "
            "https URLs can be tracked, not 'file:///etc/passwd' (see 'redline check --help')",
        ),
        (
            ("history", "notaurl"),
            "redline: error: Invalid value for 'URL': not a trackable URL: only http and https "
            "URLs can be tracked, not 'notaurl' (see 'redline history --help')",
        ),
        (
            ("check", "--due", "--all"),
            "redline: error: --due and --all cannot be used together: pick one "
            "(see 'redline check --help')",
        ),
        (
            ("check", "https://news.example/a", "--all"),
            "redline: error: URLs and --all cannot be used together: pick one "
            "(see 'redline check --help')",
        ),
        (
            ("check",),
            "redline: error: name URLs to check, or use --due or --all "
            "(see 'redline check --help')",
        ),
        (
            ("diff", STORY, "--full", "--context", "2"),
            "redline: error: --full and --context cannot be used together: pick one "
            "(see 'redline diff --help')",
        ),
        (
            ("list", "--no-such-option"),
            "redline: error: No such option '--no-such-option' (see 'redline list --help')",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(db_url, args, message):
    code, out, err = run(db_url, *args)
    assert (code, out, err.splitlines()) == (2, "", [message])


def test_a_clear_error_exits_1_with_the_same_prefix(db_url):
    run(db_url, "add", "https://news.example/tracked")
    code, out, err = run(db_url, "history", "https://news.example/untracked")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "redline: error: not tracked: https://news.example/untracked "
        "(add it with `redline add https://news.example/untracked`)"
    ]


# --- add warns about what it will never fetch ---------------------------------------------------
def test_add_warns_about_a_url_the_network_guard_refuses(db_url):
    code, out, err = run(db_url, "add", "http://127.0.0.1:9/story", "https://news.example/ok")
    assert code == 0
    assert out.splitlines() == ["added: http://127.0.0.1:9/story", "added: https://news.example/ok"]
    assert err.splitlines() == [
        "redline: warning: will not be fetched: 127.0.0.1 is a private or reserved address "
        "(http://127.0.0.1:9/story)"
    ]
    allowed = {"REDLINE_ALLOW_PRIVATE_NETWORKS": "1"}
    code, _, err = run(db_url, "add", "http://127.0.0.1:9/other", env=allowed)
    assert (code, err) == (0, "")


# --- check names the URLs it failed on ---------------------------------------------------------
def test_check_names_each_failed_url_and_why(db_url, page_server):
    blocked = f"{page_server}/blocked"
    run(db_url, "add", blocked)
    code, out, err = redline(db_url, "check", blocked, "--workers", "0")
    assert code == 1  # nothing could be fetched
    assert out.splitlines() == [
        "0 new, 0 changed, 0 unchanged, 0 not modified, 0 gone, 0 unavailable, 1 error",
        f"error {blocked}: blocked_ssrf: 127.0.0.1 is a private or reserved address ({blocked})",
    ]
    assert "Traceback" not in err
    code, out, _ = redline(db_url, "check", blocked, "--workers", "0", "--json")
    assert code == 1
    assert json.loads(out.splitlines()[-1]) == {
        "error": 1,
        "failed": [
            {
                "url": blocked,
                "outcome": "error",
                "reason": f"blocked_ssrf: 127.0.0.1 is a private or reserved address ({blocked})",
            }
        ],
    }


def test_check_gives_what_the_site_answered(db_url, page_server):
    missing = f"{page_server}/missing"
    run(db_url, "add", missing, env={"REDLINE_ALLOW_PRIVATE_NETWORKS": "1"})
    code, out, err = redline(db_url, "check", "--all", "--workers", "0", private=True)
    assert "Traceback" not in err
    assert code == 1  # a page never fetched that answers 404 is an error, not gone
    assert out.splitlines()[1:] == [f"error {missing}: http_error: HTTP 404"]


# --- diff: the change, with context --------------------------------------------------------------
def test_diff_shows_changed_paragraphs_with_one_paragraph_of_context(histories):
    code, out, _ = run(histories, "diff", LONG)
    assert code == 0
    assert out.splitlines() == [
        f"{LONG}  revision 1 -> 2",
        "",
        "== body: changed (minor)",
        "[… 14 unchanged paragraphs …]",
        "",
        "Paragraph 14 says something about the budget.",
        "",
        "Paragraph 15 says something about the[- budget-]{+ deficit+}.",
        "",
        "Paragraph 16 says something about the budget.",
        "",
        "[… 13 unchanged paragraphs …]",
    ]


def test_diff_context_and_full(histories):
    _, out, _ = run(histories, "diff", LONG, "--context", "0")
    assert "[… 15 unchanged paragraphs …]" in out and "Paragraph 14 " not in out
    _, out, _ = run(histories, "diff", LONG, "--full")
    assert "unchanged paragraph" not in out
    assert all(f"Paragraph {n} " in out for n in range(30))


def test_diff_json_gives_whole_texts_and_word_operations(histories):
    code, out, _ = run(histories, "diff", STORY, "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["from"], data["to"]) == (2, 3)
    body = next(c for c in data["changes"] if c["field"] == "body")
    assert body["old"] == (
        "The finance minister resigned on Friday after a row over the budget.\n\n"
        "She said the decision was her own and thanked her staff.\n\n"
        "Opposition leaders called for an early election."
    )
    assert body["new"].endswith("misstated the day of the vote.")
    assert body["ops"][:4] == [
        ["=", "The finance minister resigned on Friday after a"],
        ["+", " bitter"],
        ["=", " row over the budget.\n\n"],
        ["-", "She said the decision was her own and thanked her staff.\n\n"],
    ]
    for change in data["changes"]:  # the operations rebuild both texts
        ops = change["ops"]
        assert "".join(t for op, t, *_ in ops if op in "=-<") == change["old"]
        assert "".join(t for op, t, *_ in ops if op in "=+>") == change["new"]


def test_extract_a_malformed_url_is_a_usage_error(db_url):
    code, out, err = run(db_url, "extract", "http://[::1")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "redline: error: http://[::1: bad_url: malformed URL: Invalid IPv6 URL (http://[::1)"
    ]
