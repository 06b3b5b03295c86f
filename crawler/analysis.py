"""The CPU-heavy part of one check, run in a worker process: extract, hash, compare.

Pure: bytes and values in, values out. It runs in a process pool so that extraction and diffing
never stall fetching: CPU-bound Python in a thread would hold the event loop's GIL instead.

Most re-checks find the article unchanged under new noise. For those, `analyse` with
`previous_pending=True` runs only the fast re-check (parse, fingerprint of the remembered
article region) and needs neither the previous Page nor a rebuilt one: the caller loads the
previous Page only when the re-check does not match (`Analysis.needs_previous`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import signal
import threading
import time
from dataclasses import dataclass

from redline.crawler.diff import compare
from redline.crawler.extract import ArticleMemory, SiteProfile, extract, region_unchanged
from redline.crawler.extract.site import SiteMemory
from redline.storage.codec import content_hash, encode_fetch
from redline.storage.model import Change, EncodedPage, Page, PageKind


@dataclass(frozen=True, slots=True)
class Analysis:
    page: Page | None  # None: the article's text is unchanged (fast re-check), or see below
    content_hash: str | None
    changes: tuple[Change, ...] = ()  # against `previous`; empty when unchanged
    memory: str | None = None  # what extraction learnt, as JSON for the store; None: keep
    reused: bool = False  # the fast re-check confirmed the article's region did not change
    site: SiteMemory | None = None  # what was learnt across the site's articles, when it changed
    encoded: EncodedPage | None = None  # page and HTML as the store keeps them, when changed
    needs_previous: bool = False  # the re-check did not match: call again with `previous`
    news: tuple[Change, ...] | None = None  # when not all `changes` are news (see reread)
    baseline: Page | None = None  # the previous revision read again by today's extractor


def body_hash(body: bytes) -> str:
    """Identity of the raw bytes: identical bytes skip extraction altogether. SHA-256 (128 bits
    kept): with the CPU's SHA instructions it hashes a 115 KB page in half blake2b's time."""
    return hashlib.sha256(body).hexdigest()[:32]


def _memory(text: str | None) -> ArticleMemory | None:
    if not text:
        return None
    try:
        return ArticleMemory.from_json(text)
    except (ValueError, TypeError, KeyError):
        return None  # memory from an older extractor: learn again


def analyse(
    body: bytes,
    url: str,
    *,
    encoding: str | None,
    profile: SiteProfile | None,
    memory: str | None,
    previous: Page | None,
    latest_hash: str | None,
    site: SiteMemory | str | None = None,
    previous_pending: bool = False,
    previous_html: bytes | None = None,
) -> Analysis:
    """`site` is the site's memory (or its JSON); `Analysis.site` is its new value when this
    page taught extraction something about the site (else None: nothing to save).

    `previous_pending`: the article has a previous Page that the caller has not loaded. If the
    fast re-check matches, the article is unchanged and nothing else is done; if not, the
    Analysis says `needs_previous` and the caller calls again with the Page.

    `previous_html`: the previous revision's HTML, given when that revision was read by another
    version of the extractor (see `reread`)."""
    remembered = _memory(memory)
    if previous_pending:
        if region_unchanged(body, encoding, remembered):
            return Analysis(page=None, content_hash=latest_hash, reused=True)
        return Analysis(page=None, content_hash=None, needs_previous=True)
    known = SiteMemory.from_json(site) if isinstance(site, str) else site or SiteMemory()
    result = extract(
        body,
        url,
        encoding=encoding,
        profile=profile,
        memory=remembered,
        previous=previous,
        site=known,
    )
    page = result.page
    if result.reused and previous is not None:
        return Analysis(page=None, content_hash=latest_hash, reused=True)
    if page.kind is PageKind.NOT_ARTICLE:
        digest, encoded = content_hash(page), None
    else:  # hashed and compressed here, in the pool, so the store's writer does neither
        digest, encoded = encode_fetch(page, body, latest_hash)
    unchanged = encoded is None
    changes = () if unchanged else tuple(compare(previous, page))
    learnt = None
    if result.memory is not None and result.memory is not remembered:
        learnt = result.memory.to_json()
    changed_site = result.site if result.site is not known and result.site != known else None
    news, baseline = None, None
    if changes and previous is not None and reread(previous, page):
        baseline = _baseline(previous_html, url, encoding, profile)
        news = () if baseline is None else tuple(compare(baseline, page))
    return Analysis(
        page, digest, changes, learnt, result.reused, changed_site, encoded, news=news,
        baseline=baseline,
    )  # fmt: skip


def reread(previous: Page, page: Page) -> bool:
    """Was the previous revision read by another version of the extractor?

    Then the changes against it mix what the page changed with what the extractor now reads
    differently (a headline chosen otherwise, a paragraph no longer cut). The revision is
    recorded all the same (history is what each version of Redline read), but only what differs
    from the previous revision's own HTML, read again today, is news for alerts.
    """
    return bool(previous.extractor_version) and previous.extractor_version != page.extractor_version


def _baseline(
    html: bytes | None, url: str, encoding: str | None, profile: SiteProfile | None
) -> Page | None:
    """The previous revision's HTML read by today's extractor; None when it cannot be (no HTML
    kept, or it reads as no article): then nothing in the upgrade's revision is news."""
    if not html:
        return None
    page = extract(html, url, encoding=encoding, profile=profile).page
    return None if page.kind is PageKind.NOT_ARTICLE else page


# --- in a pool worker -------------------------------------------------------------------------
POOL_NICENESS = 10


def pool_worker_started(cpus: frozenset[int] | None = None, daemon: int | None = None) -> None:
    """Lower a pool worker's CPU priority, and keep it on `cpus` when given (the CPUs the
    checking process does not run on): every check passes through the checking process
    (fetching, re-checks, writes), the pool's work is the slow part of a few checks only.

    A worker ignores SIGINT and SIGTERM: Ctrl-C reaches the whole process group, and systemd's
    stop the whole cgroup, but the daemon drains its workers (the checks in flight are
    recorded) and then stops them. With `daemon` (its pid) the worker ends when that process
    ends, however it ends (SIGKILL, a second signal): it is never left orphaned; and a SIGTERM
    from the daemon itself still ends it (the pool sends one to every worker when another died:
    ignoring that one could leave the pool's shutdown waiting for ever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if daemon is None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        die_with(daemon)
    with contextlib.suppress(OSError):  # not allowed here: run at the same priority
        os.nice(POOL_NICENESS)
    if cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cpus)


def die_with(pid: int) -> None:
    """End this process as soon as process `pid` has ended (a watching thread), or when `pid`
    sends it a SIGTERM; a SIGTERM from anybody else is ignored.

    Not PR_SET_PDEATHSIG: a forkserver's workers are the forkserver's children, not the
    daemon's, and the forkserver dies of a SIGTERM sent to the group while the daemon drains.
    The forkserver and the resource tracker need nothing: they exit when the daemon and every
    worker have closed their ends of the pipes they read (measured: tests/test_process_tree.py).
    """
    try:
        handle: int | None = os.pidfd_open(pid)  # Linux 5.3+: readable once `pid` has exited
    except (AttributeError, OSError):  # elsewhere, or already gone: look every second
        handle = None
    # SIGTERM is blocked in every thread (those started later too) and taken by one that asks
    # who sent it: the daemon's ends the worker, anybody else's (the group's) is dropped.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    for target, args in ((_end_with, (pid, handle)), (_terminated_by, (pid,))):
        threading.Thread(target=target, args=args, name="redline-worker", daemon=True).start()


def _end_with(pid: int, handle: int | None) -> None:
    if handle is not None:
        select.select([handle], [], [])
    else:
        while _alive(pid):
            time.sleep(1.0)
    os._exit(1)  # the daemon is gone: nobody waits for this worker's results


def _terminated_by(pid: int) -> None:
    while signal.sigwaitinfo({signal.SIGTERM}).si_pid != pid:
        pass
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process now: ours is gone
        return False
    return True


_SITES: dict[str, tuple[int, SiteMemory]] = {}  # site -> (version, parsed memory), per worker


def pooled_analyse(
    body: bytes, url: str, site: tuple[str, int, str] | None, work: dict
) -> Analysis:
    """`analyse` in a pool worker. The site memory comes as (site, version, JSON): each worker
    parses a version once, not once per check."""
    memory = None
    if site is not None:
        name, version, text = site
        cached = _SITES.get(name)
        if cached is None or cached[0] != version:
            cached = _SITES[name] = (version, SiteMemory.from_json(text))
        memory = cached[1]
    return analyse(body, url, site=memory, **work)
