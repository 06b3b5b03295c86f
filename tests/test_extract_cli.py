"""`redline extract` through click's CliRunner: files, folders, .gz, URLs, errors."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from redline.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
ARTICLE = FIXTURES / "kyivindependent_article.html"
FEED = FIXTURES / "kyivindependent_news_feed.html"


def run(args: list[str], tmp_path: Path, config: str = "") -> object:
    config_file = tmp_path / "redline.toml"
    config_file.write_text(config)
    env = {"REDLINE_CONFIG": str(config_file), "REDLINE_DATABASE_URL": f"sqlite:///{tmp_path}/db"}
    return CliRunner().invoke(cli, ["extract", *args], env=env)


def test_json_lines_one_per_input_with_the_input(tmp_path: Path) -> None:
    result = run([str(ARTICLE), str(FEED), "--json"], tmp_path)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["input"] for line in lines] == [str(ARTICLE), str(FEED)]
    article, feed = lines
    assert article["kind"] == "article"
    assert article["headline"].startswith("North Korean troops suffer over 1,000 losses")
    assert article["byline"] == ["Volodymyr Ivanyshyn"]
    assert len(article["body"]) == 10 and article["content_hash"]
    assert feed["kind"] == "live"  # found by the generic detector: no profile for file:// URLs
    assert len(feed["items"]) == 4


def test_base_url_picks_the_site_profile(tmp_path: Path) -> None:
    result = run(
        [str(FEED), "--base-url", "https://kyivindependent.com/news-feed/", "--json"], tmp_path
    )
    page = json.loads(result.stdout)
    assert page["kind"] == "live" and page["url"] == "https://kyivindependent.com/news-feed/"
    assert page["items"][-1]["updated"] == "(Updated: )"


def test_readable_summary_on_a_terminal(tmp_path: Path) -> None:
    result = run([str(ARTICLE)], tmp_path)
    assert result.exit_code == 0
    assert "headline:   North Korean troops suffer over 1,000 losses" in result.stdout
    assert "byline:     Volodymyr Ivanyshyn" in result.stdout
    assert "body:       10 paragraphs" in result.stdout


def test_folders_and_gzip_files(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.html.gz").write_bytes(gzip.compress(ARTICLE.read_bytes()))
    (pages / "notes.txt").write_text("not a page")
    result = run([str(pages), "--json"], tmp_path)
    assert result.exit_code == 0
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["input"].endswith("a.html.gz")


def test_user_profile_from_the_config_file(tmp_path: Path) -> None:
    config = '[profiles."example.com"]\nheadline = ".post__info .post__reading-time"\n'
    result = run([str(ARTICLE), "--base-url", "https://example.com/x", "--json"], tmp_path, config)
    assert json.loads(result.stdout)["headline"] == "2 min read"


def test_bad_profile_is_one_clean_error(tmp_path: Path) -> None:
    config = '[profiles."example.com"]\nbody = "document(\'/etc/passwd\')"\n'
    result = run([str(ARTICLE)], tmp_path, config)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "reads files or URLs" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_file_is_an_error_line_and_the_rest_still_runs(tmp_path: Path) -> None:
    result = run([str(tmp_path / "missing.html"), str(ARTICLE), "--json"], tmp_path)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"redline: error: {tmp_path / 'missing.html'}: No such file or directory"
    ]
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert "error" in first and second["kind"] == "article"


@pytest.fixture
def site() -> Iterator[str]:
    handler = partial(SimpleHTTPRequestHandler, directory=str(FIXTURES))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_url_inputs_are_fetched(site: str, tmp_path: Path) -> None:
    url = f"{site}/kyivindependent_article.html"
    result = run([url, "--json"], tmp_path, "allow_private_networks = true\n")
    assert result.exit_code == 0, result.stderr
    page = json.loads(result.stdout)
    assert page["input"] == url and page["kind"] == "article"


def test_private_addresses_are_refused_unless_allowed(site: str, tmp_path: Path) -> None:
    result = run([f"{site}/kyivindependent_article.html"], tmp_path)
    assert result.exit_code == 1
    assert "blocked_ssrf" in result.stderr and "Traceback" not in result.output


def test_http_error_status_is_an_error(site: str, tmp_path: Path) -> None:
    result = run([f"{site}/nothing-here.html"], tmp_path, "allow_private_networks = true\n")
    assert result.exit_code == 1
    assert "HTTP 404" in result.stderr
