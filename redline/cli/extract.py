"""`redline extract`: what extraction sees in saved pages or live URLs, to write site profiles."""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from redline.cli.app import emit_json, terminal_safe, when
from redline.crawler.extract import (
    Extraction,
    ProfileError,
    SiteProfile,
    builtin_profiles,
    extract,
    load_profiles,
    profile_for,
)
from redline.storage.codec import content_hash, page_to_dict

MAX_BYTES = 10 * 2**20
TIMEOUT = 30.0
_PAGE_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")
_SHOWN_PARAGRAPHS = 12


class InputError(Exception):
    """One input could not be read or fetched; the others still run. `usage`: the input was a
    malformed URL (a usage error, exit code 2, as the README's exit codes say)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def _config(ctx: click.Context) -> Any:
    config = getattr(ctx.obj, "config", None)
    if config is not None:
        return config
    from redline.config import ConfigError, load_config

    try:
        return load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _profiles(config: Any) -> dict[str, SiteProfile]:
    """Built-in profiles, overridden host by host by the user's config file."""
    user: Mapping[str, Mapping[str, Any]] = getattr(config, "profiles", None) or {}
    try:
        return {**builtin_profiles(), **load_profiles(user)}
    except ProfileError as exc:
        raise click.ClickException(f"site profile: {exc}") from exc


def _expand(inputs: tuple[str, ...]) -> Iterator[str]:
    """Folders stand for the saved pages in them, in name order."""
    for item in inputs:
        path = Path(item)
        if not item.startswith(("http://", "https://")) and path.is_dir():
            yield from sorted(str(p) for p in path.iterdir() if p.name.endswith(_PAGE_SUFFIXES))
        else:
            yield item


def _read(item: str, base_url: str | None, config: Any) -> tuple[bytes, str, str | None]:
    """(body, page URL, HTTP charset) of a file or an http(s) URL."""
    if item.startswith(("http://", "https://")):
        from redline.crawler.errors import FetchError
        from redline.crawler.fetch_once import fetch_once

        try:
            fetched = fetch_once(
                item,
                allow_private=bool(getattr(config, "allow_private_networks", False)),
                timeout=TIMEOUT,
                max_bytes=MAX_BYTES,
            )
        except FetchError as exc:
            raise InputError(f"{exc.reason}: {exc}", usage=exc.reason == "bad_url") from exc
        if not 200 <= fetched.status < 300:
            raise InputError(f"HTTP {fetched.status}")
        return fetched.body, fetched.url, fetched.encoding
    path = Path(item)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(exc.strerror or str(exc)) from exc
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"not a gzip file: {exc}") from exc
    return raw, base_url or path.resolve().as_uri(), None


@click.command("extract")
@click.argument("inputs", nargs=-1, required=True, metavar="FILE_OR_URL...")
@click.option(
    "--base-url",
    metavar="URL",
    help="The URL saved files came from: picks the site profile and resolves links.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input per line.")
@click.pass_context
def extract_command(
    ctx: click.Context, inputs: tuple[str, ...], base_url: str | None, as_json: bool
) -> None:
    """Show what extraction returns for saved pages (files, .html.gz, folders) or URLs.

    Use it to check a site profile before tracking a site. Nothing is stored.

    \b
    Examples:
      redline extract saved/story.html --base-url https://kyivindependent.com/story/
      redline extract https://kyivindependent.com/news-feed/
      redline extract pages/ --json > extracted.jsonl
    """
    config = _config(ctx)
    profiles = _profiles(config)
    failed = malformed = 0
    for item in _expand(inputs):
        try:
            raw, url, charset = _read(item, base_url, config)
        except InputError as exc:
            failed += 1
            malformed += exc.usage
            click.echo(f"redline: error: {terminal_safe(item)}: {exc}", err=True)
            if as_json:
                emit_json({"input": item, "error": str(exc)})
            continue
        result = extract(raw, url, encoding=charset, profile=profile_for(url, profiles))
        if as_json:
            emit_json({"input": item, "url": url, **_as_dict(result)})
        else:
            _show(item, result)
    if failed:
        ctx.exit(2 if malformed else 1)


def _as_dict(result: Extraction) -> dict[str, Any]:
    return {"content_hash": content_hash(result.page), **page_to_dict(result.page)}


def _show(item: str, result: Extraction) -> None:
    page = result.page
    line = click.echo
    line(click.style(f"== {terminal_safe(item)}", bold=True))
    if page.reason:
        line(f"kind:       {page.kind} ({page.reason})")
        return
    line(f"kind:       {page.kind}")
    line(f"headline:   {terminal_safe(page.headline) or '-'}")
    line(f"byline:     {terminal_safe(', '.join(page.byline)) or '-'}")
    line(f"published:  {when(page.published)}    updated: {when(page.updated)}")
    line(f"language:   {page.language or '-'}    canonical: {page.canonical_url or '-'}")
    words = sum(len(p.split()) for p in page.body)
    line(f"body:       {len(page.body)} paragraphs, {words} words")
    for paragraph in page.body[:_SHOWN_PARAGRAPHS]:
        short = paragraph if len(paragraph) <= 160 else paragraph[:157] + "..."
        line(f"  | {terminal_safe(short)}")
    if len(page.body) > _SHOWN_PARAGRAPHS:
        line(f"  | ... {len(page.body) - _SHOWN_PARAGRAPHS} more")
    if page.items:
        line(f"items:      {len(page.items)}")
        for item in page.items:
            marker = f"  {item.updated}" if item.updated else ""
            line(f"  - {when(item.time)}  {terminal_safe(item.headline)}{terminal_safe(marker)}")
            line(f"    key {terminal_safe(item.key)}")
    line(f"hash:       {content_hash(page)}")
