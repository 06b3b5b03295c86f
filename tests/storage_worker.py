"""A child process for the storage concurrency and crash tests (not collected: no `test_` prefix).

Run as `python -m tests.storage_worker <command> <db_url> ...` from the repository root. Each run
opens its own store from the URL, the way a separate `redline run` worker would, and prints one
line per committed step so the parent can check what was acknowledged against what was stored.

Commands:
  record DB ARTICLE TAG N VARIANTS   record N pages for one article, racing other writers
  claim DB OWNER NOW LIMIT LEASE ROUNDS   claim due articles ROUNDS times, print the ids

Both print READY once connected and start when a GO line arrives on stdin (a barrier: every
child is connected before any of them races).
  crash DB ARTICLES FIRST_SEQ                  record revisions forever, acknowledging each one
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from redline.storage import PlannedAlert, open_store
from redline.storage.codec import content_hash
from redline.storage.model import Change, ChangeClass, ChangeKind, Page
from tests.records import check, revision

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def body_change(old: Page | None, new: Page) -> list[Change]:
    """The simplest differ: one Change holding the old and new body text."""
    if old is None:
        return [Change("body", ChangeKind.ADDED, ChangeClass.SUBSTANTIVE, None, new.text)]
    if old.body == new.body:
        return []
    return [Change("body", ChangeKind.CHANGED, ChangeClass.SUBSTANTIVE, old.text, new.text)]


def variant_page(variant: int) -> Page:
    """A small page whose body says which variant it is: equal variants hash equal."""
    return Page(headline="Race", body=(f"variant {variant}", "a fixed second paragraph"))


def _ready_then_wait_for_go() -> None:
    """A barrier: say READY once connected, then start racing when the parent says GO."""
    _say("READY")
    if sys.stdin.readline().strip() != "GO":
        raise SystemExit("no GO from the parent")


def _say(*fields: object) -> None:
    print(*fields, flush=True)


def record_race(db: str, article_id: int, tag: str, n: int, variants: int) -> None:
    """Record N pages, each diffed against the latest revision as the worker read it; when
    another writer got there first the store says stale, and the page is compared again
    against the new latest revision (as the checker does). Equal to the latest: unchanged."""
    store = open_store(db, create=False)
    _ready_then_wait_for_go()
    for i in range(n):
        page = variant_page((i + zlib.crc32(tag.encode())) % variants)
        fetch_id = f"{tag}-{i}"
        while True:
            history = store.history(article_id)
            base = len(history)
            if history and history[-1].content_hash == content_hash(page):
                result = store.record(check(article_id, fetch_id, at=NOW + timedelta(seconds=i)))
            else:
                old = store.revision(article_id, base).page if base else None
                result = store.record(
                    revision(
                        article_id,
                        fetch_id,
                        page,
                        base=base,
                        changes=body_change(old, page),
                        at=NOW + timedelta(seconds=i),
                        next_at=NOW,
                    )
                )
            if not result.stale:
                break
        _say("REC", fetch_id, result.outcome, result.revision or 0, int(result.duplicate))
    store.close()


def claim_race(
    db: str,
    owner: str,
    now: datetime,
    limit: int,
    lease: float,
    rounds: int,
) -> None:
    store = open_store(db, create=False)
    _ready_then_wait_for_go()
    for _ in range(rounds):
        for claim in store.claim_due(now, owner, limit=limit, lease_seconds=lease):
            _say("CLAIM", owner, claim.article_id)
    store.close()


def crash_loop(db: str, articles: Sequence[int], first_seq: int) -> None:
    """Record forever; sequence numbers continue where the last acknowledged one stopped.

    The first fetch after a restart repeats the one that may have been in flight when the previous
    process was killed: if it had committed, `record` must call it a duplicate.
    """
    store = open_store(db, create=False)
    _say("READY")
    seq = first_seq
    while True:
        article_id = articles[seq % len(articles)]
        page = Page(
            headline=f"Crash test {seq}",
            body=(f"paragraph for sequence {seq}", "unchanging text " * 40),
        )
        fetch_id = f"crash-{seq}"
        base = store.get_article_by_id(article_id).revision_count
        alert = PlannedAlert("crash", "log", ("body_changed",), NOW)
        result = store.record(
            revision(
                article_id,
                fetch_id,
                page,
                base=base,
                raw_html=(f"<p>{seq}</p>" * 2000).encode(),
                at=NOW + timedelta(seconds=seq),
                next_at=NOW,
                alerts=[alert],
            )
        )
        _say("ACK", article_id, result.revision or 0, fetch_id, int(result.duplicate))
        seq += 1


def main(argv: Sequence[str]) -> None:
    command, db, *rest = argv
    if command == "record":
        article, tag, n, variants = rest
        record_race(db, int(article), tag, int(n), int(variants))
    elif command == "claim":
        owner, now, limit, lease, rounds = rest
        claim_race(db, owner, datetime.fromisoformat(now), int(limit), float(lease), int(rounds))
    elif command == "crash":
        articles, first_seq = rest
        crash_loop(db, [int(a) for a in articles.split(",")], int(first_seq))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
