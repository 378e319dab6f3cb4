"""`emails`: crawl sites and keep every distinct email address, hidden ones included.

    scrapy crawl emails -a urls=example.com,https://example.org/team [-a target=1000000]
    scrapy crawl emails -a urls_file=sites.txt        (one URL or domain a line, # comments)
    REDIS_URL=... scrapy crawl emails                 (also seeds from the Redis list
                                                       `<job>:start_urls`, on every node)

Each start URL is a site: links are followed on its host (and the hosts of its registered
domain) only, contact-like pages first, up to EMAILS_MAX_DEPTH links deep and
EMAILS_MAX_PAGES_PER_SITE pages; link traps are never followed (crawlers/extraction/
email_links.py). One item per distinct address (crawlers/emails/addresses.py decides
which are new, once per page); `-a target=N` ends the crawl cleanly after exactly N.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import scrapy
from redis.exceptions import RedisError
from scrapy import signals
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import TextResponse
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.asyncio import AsyncioLoopingCall, create_looping_call
from twisted.internet.task import LoopingCall

from crawlers import outcomes
from crawlers.batches import batching, item_workers
from crawlers.cluster import connection, keys
from crawlers.components import register
from crawlers.emails.addresses import RedisAddresses, address_book
from crawlers.env import redact_url
from crawlers.errors import ConfigError
from crawlers.extraction.email_links import CONTACT, TRAP, classify, page_links
from crawlers.extraction.emails import extract_emails, registered_domain
from crawlers.items import EmailItem, ItemBatch
from crawlers.jobs import job_id

logger = logging.getLogger(__name__)

HTTP_HANDLER = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"


@dataclass
class SiteState:
    host: str
    domain: str  # registered domain, or the host when it has no public suffix
    scheduled: int = 0
    seen: set[str] = field(default_factory=set)
    query_variants: Counter[str] = field(default_factory=Counter)

    def owns(self, host: str) -> bool:
        return host == self.host or host == self.domain or host.endswith("." + self.domain)


def seed_url(text: str, scheme: str) -> str:
    """A start URL from a URL or a bare domain; ConfigError when it is neither."""
    raw = text.strip()
    candidate = raw if "://" in raw else f"{scheme}://{raw}"
    try:
        parts = urlsplit(candidate)
        host = parts.hostname or ""
    except ValueError:
        host = ""
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not host
        or any(c.isspace() for c in raw)
        or not all(label and (label.replace("-", "").isalnum()) for label in host.split("."))
    ):
        raise ConfigError(f"not a URL or domain: {raw[:100]!r}")
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))


class EmailsSpider(scrapy.Spider):
    name = "emails"
    arguments = {
        "urls": "start URLs or bare domains, comma-separated",
        "urls_file": "a file of start URLs or domains, one a line",
        "target": "stop after N addresses (default: every address found)",
    }
    custom_settings = {
        # Plain HTTP pages: no browser download handler in the way.
        "DOWNLOAD_HANDLERS": {"http": HTTP_HANDLER, "https": HTTP_HANDLER},
        # Many sites at once, few requests per site.
        "CONCURRENT_REQUESTS": 64,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 4.0,
        # Items pass the pipelines without waiting for anything: 16 workers per page cost
        # 53 us per item here, Scrapy's default 100 cost 84 us (BENCHMARKS.md).
        "CONCURRENT_ITEMS": 16,
        "DOWNLOAD_MAXSIZE": 8 * 1024 * 1024,
    }

    def __init__(self, urls: str = "", urls_file: str = "", target: str = "", **kwargs):
        super().__init__(**kwargs)
        self.urls_arg = urls
        self.urls_file = urls_file
        try:
            self.target = int(target) if str(target).strip() else 0
        except ValueError:
            raise ConfigError(f"target must be a whole number, got {target!r}") from None
        if self.target < 0:
            raise ConfigError(f"target must be positive, got {target!r}")

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        register(
            settings,
            ITEM_PIPELINES={"crawlers.pipelines.emails.EmailStorePipeline": 300},
            # Depth is the spider's own (EMAILS_MAX_DEPTH), counted per site.
            SPIDER_MIDDLEWARES={"scrapy.spidermiddlewares.depth.DepthMiddleware": None},
        )
        # A page yields its batch and its links (crawlers/batches.py).
        item_workers(settings, 4)
        # "A feed otherwise": without PostgreSQL and without -o/FEEDS, a JSON-lines file.
        feeds_given = settings.getpriority("FEEDS") > SETTINGS_PRIORITIES["default"]
        if not settings.get("DATABASE_URL") and not feeds_given:
            folder = Path(settings.get("DATA_DIR") or "data") / "out"
            settings.set(
                "FEEDS",
                {str(folder / "emails-%(time)s.jsonl"): {"format": "jsonlines"}},
                priority="spider",
            )

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.configure(crawler)
        return spider

    def configure(self, crawler) -> None:
        settings = crawler.settings
        self.scheme = settings.get("EMAILS_DEFAULT_SCHEME", "https")
        self.max_depth = settings.getint("EMAILS_MAX_DEPTH", 3)
        self.max_pages = settings.getint("EMAILS_MAX_PAGES_PER_SITE", 100)
        self.max_query_params = settings.getint("EMAILS_MAX_QUERY_PARAMS", 2)
        self.max_query_variants = settings.getint("EMAILS_MAX_QUERY_VARIANTS", 5)
        self.redis = connection.client(settings) if settings.get("REDIS_URL") else None
        self.seed_key = keys.start_urls(job_id(crawler))
        self.seeds = self.read_seeds()
        if not self.seeds and self.redis is None:
            raise ConfigError(
                "no start URLs: give -a urls=URL_OR_DOMAIN[,...] or -a urls_file=FILE "
                "(or, with REDIS_URL, push them to the Redis list "
                f"'{self.seed_key}')"
            )
        self.book = address_book(crawler, self.target)
        self.batching = batching(settings)
        # On a cluster node each request gets a token of its own, kept in its meta through
        # the shared queue, retries and redirects: the address book lets a page crawled
        # again under the same token (its node died before its rows were committed) claim
        # its addresses again, and nothing else (a second visit of the page, say through a
        # redirect, is a duplicate). A random prefix keeps processes apart.
        self.page_tokens = (
            map(f"{secrets.token_hex(6)}-{{:x}}".format, itertools.count())
            if self.redis is not None
            else None
        )
        self.sites: dict[str, SiteState] = {}
        self.closing = False
        # A cluster node with a target: the claims of pages not yet committed are sorted
        # every few seconds (those of a node that died are given back), and at the target
        # the node waits, paused, for other nodes' pending pages (crawlers/emails/addresses.py).
        self.shared_target = bool(self.target and self.redis is not None)
        self.settle_timer: AsyncioLoopingCall | LoopingCall | None = None
        self.waiting = False
        crawler.signals.connect(self.on_idle, signal=signals.spider_idle)
        if self.shared_target:
            crawler.signals.connect(self.on_opened, signal=signals.spider_opened)
            crawler.signals.connect(self.on_closed, signal=signals.spider_closed)

    def read_seeds(self) -> list[str]:
        entries = [u for u in self.urls_arg.split(",") if u.strip()]
        if self.urls_file:
            path = Path(self.urls_file)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise ConfigError(f"cannot read urls_file {self.urls_file!r}: {reason}") from None
            entries += [line.split("#", 1)[0] for line in lines]
            entries = [e for e in entries if e.strip()]
        return list(dict.fromkeys(seed_url(e, self.scheme) for e in entries))

    # -- start --------------------------------------------------------------------------
    async def start(self):
        if self.target:
            outcomes.set_total(self.crawler.stats, self.target)
        for url in self.seeds:
            request = self.site_request(url)
            if request is not None:
                yield request
        for request in self.redis_seeds():
            yield request

    def redis_seeds(self) -> list[scrapy.Request]:
        """Start URLs waiting in the Redis list (each taken by one node only)."""
        if self.redis is None:
            return []
        requests = []
        while batch := self.redis.lpop(self.seed_key, 500):
            for raw in batch:
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                try:
                    request = self.site_request(seed_url(text, self.scheme))
                except ConfigError as exc:
                    logger.warning("skipped a start URL from Redis: %s", exc)
                    self.crawler.stats.inc_value("emails/bad_seeds")
                    continue
                if request is not None:
                    requests.append(request)
        return requests

    def on_idle(self) -> None:
        if self.closing:
            return
        requests = self.redis_seeds()
        for request in requests:
            self.crawler.engine.crawl(request)
        if requests:
            raise DontCloseSpider

    # -- a target shared by the nodes of a cluster -------------------------------------
    def on_opened(self) -> None:
        self.settle_timer = create_looping_call(self.settle)
        interval = max(0.1, self.crawler.settings.getfloat("EMAILS_SETTLE_SECONDS"))
        self.settle_timer.start(interval)

    def on_closed(self) -> None:
        if self.settle_timer is not None and self.settle_timer.running:
            self.settle_timer.stop()

    def target_met(self) -> bool:
        """The address book is full: True when this node may stop. Else a cluster node
        either goes on (claims of a node that died were given back) or waits, paused,
        for other nodes' pending pages."""
        if not self.shared_target:
            return True
        if not self.waiting:  # while it waits, the settle timer alone looks again
            self.settle(in_callback=True)
        return self.closing

    def settle(self, in_callback: bool = False) -> None:
        # Only a cluster node (shared_target) settles, and its book is the shared one.
        if self.closing or not isinstance(self.book, RedisAddresses):
            return
        try:
            standing = self.book.settle()
        except RedisError:
            return  # the shared queue waits for Redis itself; the next look settles
        stats, engine = self.crawler.stats, self.crawler.engine
        if standing.released:
            stats.inc_value("emails/claims_released", standing.released)
            logger.info(
                "Released %d addresses claimed by pages whose node stopped before storing "
                "them; they are claimed again when those pages are crawled again",
                standing.released,
            )
        if standing.settled >= self.target:
            self.closing = True
            engine.unpause()
            if not in_callback:
                # CloseSpider can only be raised in a callback: close as it would.
                self.stop_task = asyncio.ensure_future(
                    engine.close_spider_async(reason="target_reached")
                )
        elif standing.claimed < self.target:
            if self.waiting:
                self.waiting = False
                engine.unpause()
        elif not self.waiting:
            self.waiting = True
            engine.pause()
            stats.inc_value("emails/target_waits")
            logger.info(
                "Target of %d addresses claimed; waiting for %d of them, claimed by pages "
                "still in flight, to be stored (those of a node that died come back when "
                "its leases expire)",
                self.target,
                standing.pending,
            )

    def site_request(self, url: str) -> scrapy.Request | None:
        host = urlsplit(url).hostname or ""
        if host in self.sites:
            return None
        site = SiteState(host=host, domain=registered_domain(host))
        site.seen.add(url)
        site.scheduled = 1
        self.sites[host] = site
        self.crawler.stats.inc_value("emails/sites")
        return scrapy.Request(
            url, meta=self.page_meta(host, 0), priority=100, errback=self.page_failed
        )

    def page_meta(self, host: str, depth: int) -> dict:
        if self.page_tokens is None:
            return {"site": host, "depth": depth}
        return {"site": host, "depth": depth, "page": next(self.page_tokens)}

    # -- pages --------------------------------------------------------------------------
    def parse(self, response):
        if not isinstance(response, TextResponse):
            return
        site = self.sites.get(response.meta["site"])
        if site is None:  # a request queued by another node of the cluster
            site = self.adopt(response.meta["site"])
        text = response.text
        found = extract_emails(text)
        request = response.request
        assert request is not None  # Scrapy sets it on every response a callback gets
        if found and not self.closing:
            try:
                new = self.book.claim(found, request)
            except RedisError:
                # The shared address set is out of reach: the page goes back to the queue
                # (which waits for Redis itself) rather than losing its addresses.
                self.crawler.stats.inc_value("emails/claim_retries")
                yield request.replace(dont_filter=True)
                return
            if new:
                self.crawler.stats.inc_value("emails/found", len(new))
                when = datetime.now(UTC).isoformat(timespec="seconds")
                url, host = response.url, site.host
                items = [EmailItem(address, host, url, when) for address in new]
                if self.batching:
                    yield ItemBatch(items)
                else:
                    yield from items
            if self.book.full and self.target_met():
                self.closing = True
                raise CloseSpider("target_reached")
        depth = response.meta.get("depth", 0) + 1
        if depth <= self.max_depth and not self.closing:
            yield from self.follow(site, response.url, text, depth)

    def adopt(self, host: str) -> SiteState:
        site = SiteState(host=host, domain=registered_domain(host))
        self.sites[host] = site
        return site

    def follow(self, site: SiteState, base_url: str, text: str, depth: int):
        seen = site.seen
        fresh = [url for url in page_links(text, base_url) if url not in seen]
        if not fresh:
            return
        seen.update(fresh)
        ranked = []
        traps = offsite = 0
        for url in fresh:
            parts = urlsplit(url)
            if not site.owns((parts.hostname or "").lower()):
                offsite += 1
                continue
            kind = classify(url, self.max_query_params)
            if kind != TRAP and parts.query:
                site.query_variants[parts.path] += 1
                if site.query_variants[parts.path] > self.max_query_variants:
                    kind = TRAP
            if kind == TRAP:
                traps += 1
                continue
            ranked.append((kind, url))
        ranked.sort(key=lambda pair: -pair[0])  # stable: page order within a kind
        budget = self.max_pages - site.scheduled
        stats = self.crawler.stats
        if traps:
            stats.inc_value("emails/links_trap", traps)
        if offsite:
            stats.inc_value("emails/links_offsite", offsite)
        if len(ranked) > budget:
            stats.inc_value("emails/links_over_budget", len(ranked) - max(0, budget))
            ranked = ranked[: max(0, budget)]
        site.scheduled += len(ranked)
        meta_site = site.host
        for kind, url in ranked:
            yield scrapy.Request(
                url,
                meta=self.page_meta(meta_site, depth),
                priority=(50 if kind == CONTACT else 0) - depth,
                errback=self.page_failed,
            )

    def page_failed(self, failure) -> None:
        """A page given up on: a block or challenge page after its retries (PageRejected,
        `blocked`: never read as a page without addresses), an HTTP error, a timeout...
        A site whose start page fails gives nothing at all: it is a failed unit, so the
        report and the dashboard show it rather than a site that was silently empty."""
        stats = self.crawler.stats
        request = failure.request
        reason = outcomes.clean_reason(outcomes.failure_reason(failure))
        if failure.check(HttpError) and failure.value.response.status == 404:
            stats.inc_value("emails/pages_not_found")
        else:
            stats.inc_value("emails/pages_failed")
            stats.inc_value(f"emails/pages_failed/{reason}")
            logger.warning("gave up on %s: %s", request.url, reason)
        if request.meta.get("depth", 0) == 0:
            stats.inc_value("emails/sites_failed")
            stats.inc_value(f"emails/sites_failed/{reason}")
            if self.target:  # units are addresses: the site must not count toward them
                outcomes.add_total(stats)
            outcomes.failed(
                stats, f"site_{reason}", unit=request.meta.get("site") or redact_url(request.url)
            )
            logger.warning(
                "site %s gave nothing: its start page %s failed (%s)",
                request.meta.get("site"),
                request.url,
                reason,
            )
