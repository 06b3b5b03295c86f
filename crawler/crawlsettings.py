"""Crawl settings: plain values from the configuration, and the Scrapy settings built from them.

Scrapy's defaults are for scraping, not for untrusted input; every line below that differs from
them says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redline.crawler import politeness
from redline.crawler.netguard import check_proxy_url

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    user_agent: str = "Redline/0.1 (+https://github.com/redline-news/redline)"
    allow_private_networks: bool = False
    per_host: int = politeness.PER_HOST_CONCURRENCY  # requests in flight per host
    concurrency: int = 32  # requests in flight in all
    timeout: float = 30.0  # the whole download, connect included
    max_bytes: int = 10 * MiB  # after decompression too (bombs are cut off here)
    crawl_delay_cap: float = politeness.CRAWL_DELAY_CAP  # honour Crawl-delay up to this (s)
    robots_ttl: float = politeness.ROBOTS_TTL.total_seconds()  # re-read robots.txt this often
    robots_error_ttl: float = politeness.ROBOTS_ERROR_TTL.total_seconds()  # retry a failed one
    max_redirects: int = 5
    autothrottle: bool = True
    log_level: str | None = None  # Scrapy's own lines; None: as --log-level folds them
    summary_every: float = 60.0  # seconds between the daemon's summary log lines; 0: none
    # The only proxy used: http_proxy/https_proxy in the environment are ignored (an inherited
    # proxy would hide every target from the egress gate). Target names are resolved and checked
    # here before the request is handed to it (crawler.middlewares.ProxyTargetGuardMiddleware).
    proxy: str | None = None

    def __post_init__(self) -> None:
        if self.proxy is not None:
            check_proxy_url(self.proxy)


def scrapy_settings(cs: CrawlSettings) -> dict[str, Any]:
    return {
        "BOT_NAME": "redline",
        "USER_AGENT": cs.user_agent,
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": cs.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": cs.per_host,
        "DOWNLOAD_DELAY": 0,  # AutoThrottle sets the pace; Crawl-delay is RobotsPolicyMiddleware's
        "AUTOTHROTTLE_ENABLED": cs.autothrottle,
        "AUTOTHROTTLE_START_DELAY": politeness.THROTTLE_START_DELAY,
        "AUTOTHROTTLE_MAX_DELAY": politeness.THROTTLE_MAX_DELAY,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(cs.per_host),
        "DOWNLOAD_TIMEOUT": cs.timeout,
        "DNS_TIMEOUT": min(cs.timeout, 10.0),
        "DOWNLOAD_MAXSIZE": cs.max_bytes,  # applies before and after decompression
        "DOWNLOAD_WARNSIZE": cs.max_bytes // 2,
        "DOWNLOAD_VERIFY_CERTIFICATES": True,  # Scrapy's default is False
        "DOWNLOAD_TLS_MIN_VERSION": "TLSv1.2",
        # Only http and https: no local files, data:, FTP or S3 (GHSA-23j4-mw76-5v7h).
        "DOWNLOAD_HANDLERS": {"file": None, "data": None, "ftp": None, "s3": None},
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "COOKIES_ENABLED": False,  # nothing to carry from one site to another
        "REFERER_ENABLED": False,  # no Referer is ever sent (redirects drop it: NoRefererRedirect)
        "REFERRER_POLICY": "no-referrer",
        "REDIRECT_MAX_TIMES": cs.max_redirects,
        "METAREFRESH_ENABLED": False,
        "RETRY_ENABLED": False,  # failures are rescheduled with backoff by the daemon
        # Re-fetching a URL is the point: the fingerprint set would also grow forever.
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        # Re-parses callback source on every response, and breaks on in-place deploys.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        # Per-response cost: Scrapy runs each callback's output through CONCURRENT_ITEMS worker
        # tasks (100 by default, created for every response); ours yield nothing.
        "CONCURRENT_ITEMS": 1,
        # What runs for every request and response is kept to what the daemon needs: no stats
        # (nothing reads them), no "Crawled (200)" debug record built, no spider middlewares
        # for links a spider follows (ours follows none: every request comes from the store).
        "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector",
        "DOWNLOADER_STATS": False,
        "LOG_FORMATTER": "redline.crawler.middlewares.QuietLogFormatter",
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.start.StartSpiderMiddleware": None,
            "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
            "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
            "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
        },
        # Scrapy's proxy middleware reads http_proxy/https_proxy from the environment; it runs
        # only for `[crawl] proxy`, and then every request names that proxy (EgressGuard).
        "HTTPPROXY_ENABLED": cs.proxy is not None,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,  # no allowed_domains
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,  # no credentials
            "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
            "redline.crawler.middlewares.NoRefererRedirect": 600,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "redline.crawler.middlewares.EgressGuardMiddleware": 50,
            "redline.crawler.middlewares.ProxyTargetGuardMiddleware": 60,  # only with [crawl] proxy
            "redline.crawler.middlewares.RobotsPolicyMiddleware": 100,
            # After robots.txt: a request held for the Crawl-delay is refused if the host was
            # paused meanwhile.
            "redline.crawler.middlewares.HostBackoffMiddleware": 110,
        },
        "EXTENSIONS": {
            "scrapy.extensions.corestats.CoreStats": None,
            "scrapy.extensions.throttle.AutoThrottle": None,
            "redline.crawler.scrapy_hooks.RevalidationThrottle": 0,
        },
        "REDLINE_CRAWL": cs,
        "LOG_LEVEL": cs.log_level or "WARNING",
        "LOG_ENABLED": True,
        "STATS_DUMP": False,
        "MEMUSAGE_ENABLED": False,
        "LOGSTATS_INTERVAL": 0,
    }
