"""Run the local news site as a process: `python -m redline.newsite --articles 2000`.

Prints `http://127.0.0.1:PORT` as the first line of stdout, then serves until SIGTERM or
SIGINT. POST /_control/edit?fraction=0.1&seed=N edits that share of articles (returns their
URLs), /_control/noise?on=1 switches per-request noise, /_control/urls lists article URLs,
/_control/stats counts requests.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from redline.newsite.server import NewsSite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m redline.newsite", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--corpus", type=Path, help="serve these real pages (*.html, *.html.gz)")
    parser.add_argument("--noise", action="store_true", help="per-request churn on every page")
    args = parser.parse_args(argv)
    site = NewsSite(
        articles=args.articles, corpus=args.corpus, host=args.host, port=args.port, control=True
    )
    site.set_noise(args.noise)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with site:
        print(site.base_url, flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
