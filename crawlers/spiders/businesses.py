"""Businesses from a yellowpages.com-like directory, one target (search x city) at a time.

Targets come from the ledger (`scrapy targets generate`), so several nodes share one
ledger; or from `-a targets_file=FILE`, which touches no ledger. A slot that frees starts a
target at once, from a few claimed ahead (TargetClaimer). A target is done only when its
last results page is parsed and every item of it has been through the pipelines (stored,
or rejected by the filter); a page that fails after retries fails the target with a reason.
A graceful stop puts unfinished targets back; a killed node's leases expire and another
node claims them.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import psycopg
import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from twisted.internet.task import LoopingCall

from crawlers import outcomes
from crawlers.batches import batching, item_workers
from crawlers.components import register
from crawlers.errors import EXIT_FAILED, ConfigError, first_line, stop_crawl
from crawlers.extraction.blocks import UNRECOGNISED
from crawlers.extraction.businesses import (
    Listing,
    UnparsablePage,
    directory_page,
    parse_results,
    search_url,
)
from crawlers.items import BusinessItem, ItemBatch, RejectedListing
from crawlers.jobs import node_id
from crawlers.ledger import Ledger, Target, open_ledger
from crawlers.ledger.files import FileTargets
from crawlers.ledger.regions import parse_states

logger = logging.getLogger(__name__)

# What an unreachable or restarting ledger raises (crawlers.db.connect gives ConfigError).
STORE_ERRORS = (psycopg.OperationalError, sqlite3.OperationalError, ConfigError)


@dataclass
class Run:
    """One claimed target while this node works on it."""

    target: Target
    pages: int = 0
    pending: int = 0  # items yielded that the pipelines have not finished with
    last_page: bool = False
    failed: str = ""
    accepted: int = 0
    rejected: int = 0
    seen: set[str] = field(default_factory=set)


class TargetClaimer:
    """Hands out targets as slots free, claiming from the ledger ahead of need.

    A claim asks for what the free slots need plus `ahead` more, kept ready: the next
    `ahead` slots that free start at once without a ledger round trip, and the ledger is
    asked about once per `ahead + 1` targets. Targets held ready are claimed (in progress,
    leased, renewed and released like running ones), so a dead node's come back when their
    leases expire. Once a claim returns less than asked the ledger is nearly drained, and
    later claims ask only for what the slots need, leaving the last targets to other nodes.
    """

    def __init__(self, source, node: str, lease: float, states, ahead: int):
        self.source = source
        self.node = node
        self.lease = lease
        self.states = states
        self.ahead = ahead
        self.ready: OrderedDict[int, Target] = OrderedDict()
        self.drained = False

    def take(self, free: int, running) -> tuple[list[Target], int]:
        """Up to `free` targets to start, none of them in `running`, and how many were
        newly claimed from the ledger. Raises the store's error if a claim was needed and
        failed (the targets already ready are lost to no one: they stay ready)."""
        claimed = 0
        if len(self.ready) < free:
            ask = free - len(self.ready) + (0 if self.drained else self.ahead)
            got = self.source.claim(self.node, ask, self.lease, self.states)
            self.drained = len(got) < ask
            for target in got:
                # In `running`: its lease ran out while this node still works on it.
                if target.id not in running and target.id not in self.ready:
                    self.ready[target.id] = target
                    claimed += 1
        out: list[Target] = []
        while self.ready and len(out) < free:
            out.append(self.ready.popitem(last=False)[1])
        return out, claimed


class BusinessesSpider(scrapy.Spider):
    name = "businesses"
    arguments = {
        "states": "two-letter codes (CA,MT) of the ledger's targets to work on (default: all)",
        "targets_file": "a file of searches, 'search terms<TAB>City, ST' a line; no ledger",
    }
    custom_settings = {
        # Plain HTTP: no browser needed, and the browser handler's start-up is skipped.
        "DOWNLOAD_HANDLERS": {},
        # The ledger shares work between nodes; a page belongs to the node holding its
        # target's lease, so requests stay in this process's own scheduler.
        "SCHEDULER": "scrapy.core.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        # Scrapy starts this many tasks for every response, however few items it yields:
        # at the default 100 they cost ~15% of the CPU of a listing crawl (13.3 -> 11.0 ms
        # a page, bench/compare.py's listing, C=64). 32 keeps a page's cards (30 at most)
        # in flight together, so the PostgreSQL pipeline still commits a page in one batch.
        "CONCURRENT_ITEMS": 32,
        # At least as fast as the best fixed concurrency on this crawl (BENCHMARKS.md
        # "autoscale"), and it backs off a site's 429s and an overloaded process.
        "CONCURRENCY_AUTO": True,
        # Politeness towards the real site: ~2 pages/s per domain, jittered (0.5x-1.5x),
        # and AutoThrottle slows down further when the site does.
        "DOWNLOAD_DELAY": 0.5,
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "FEED_STORAGES": {
            "": "crawlers.pipelines.businesses.UnbufferedFileFeedStorage",
            "file": "crawlers.pipelines.businesses.UnbufferedFileFeedStorage",
        },
    }

    def __init__(self, states: str | None = None, targets_file: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.states = parse_states(states)
        self.targets_file = targets_file
        if targets_file and self.states:
            raise ConfigError("use either -a states=... or -a targets_file=..., not both")
        self.runs: dict[int, Run] = {}

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        register(
            settings,
            ITEM_PIPELINES={
                "crawlers.pipelines.businesses.BusinessFilterPipeline": 300,
                "crawlers.pipelines.businesses.BusinessDedupePipeline": 310,
                "crawlers.pipelines.businesses.BusinessPostgresPipeline": 320,
            },
        )
        # The default output: a jsonlines feed in DATA_DIR, unless a feed was asked for or
        # the businesses go to PostgreSQL.
        if not settings.getdict("FEEDS") and not settings.get("DATABASE_URL"):
            path = f"{settings.get('DATA_DIR')}/businesses.jsonl"
            settings.set("FEEDS", {path: {"format": "jsonlines"}}, priority="spider")
        # A page yields its batch and its next page (crawlers/batches.py).
        item_workers(settings, 2)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.configure(crawler.settings)
        crawler.signals.connect(spider.item_scraped, signals.item_scraped)
        crawler.signals.connect(spider.item_dropped, signals.item_dropped)
        crawler.signals.connect(spider.item_error, signals.item_error)
        crawler.signals.connect(spider.spider_idle, signals.spider_idle)
        crawler.signals.connect(spider.spider_closed, signals.spider_closed)
        return spider

    def configure(self, settings) -> None:
        self.base_url = settings.get("BUSINESSES_BASE_URL").rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"BUSINESSES_BASE_URL must be an http(s) URL, got {self.base_url!r}")
        self.node = node_id(settings)
        self.lease = settings.getfloat("BUSINESSES_LEASE_SECONDS", 300)
        self.max_pages = settings.getint("BUSINESSES_MAX_PAGES", 100)
        self.in_flight = settings.getint("BUSINESSES_TARGETS_IN_FLIGHT") or settings.getint(
            "CONCURRENT_REQUESTS"
        )
        ahead = max(0, min(settings.getint("BUSINESSES_CLAIM_BATCH", 8), self.in_flight))
        self.wait_for_leases = settings.getbool("BUSINESSES_WAIT_FOR_LEASES", True)
        self.batching = batching(settings)
        self.source: FileTargets | Ledger
        if self.targets_file:
            self.source = FileTargets(self.targets_file)
        else:
            self.source = open_ledger(settings)
            if self.source.status(self.states).overall.total == 0:
                where = f" for {','.join(self.states)}" if self.states else ""
                self.source.close()
                raise ConfigError(
                    f"the ledger has no targets{where}: run `scrapy targets generate` first"
                )
        self.store_wait = settings.getfloat("BUSINESSES_STORE_WAIT", 300)
        self.store_down_since: float | None = None
        self.unrecorded: dict[int, Run] = {}  # finished, but the ledger was unreachable
        self.planned = 0
        self.claimed = 0
        self.claimer = TargetClaimer(self.source, self.node, self.lease, self.states, ahead)
        self.renewer = LoopingCall(self.renew_leases)

    # -- claiming -------------------------------------------------------------------------
    async def start(self):
        self.planned = self.source.pending(self.states)
        outcomes.set_total(self.crawler.stats, self.planned)
        logger.info("businesses: node %s, %d targets pending", self.node, self.planned)
        self.renewer.start(max(1.0, self.lease / 3), now=False)
        for request in self.claim_more():
            yield request

    def claim_more(self) -> list[scrapy.Request]:
        if not self.crawler.engine.running:
            return []  # stopping: claim nothing new
        free = self.in_flight - len(self.runs)
        if free <= 0:
            return []
        try:
            targets, claimed = self.claimer.take(free, self.runs)
        except STORE_ERRORS as exc:
            self.store_failed("claim targets", exc)
            return []
        self.store_ok()
        self.crawler.stats.inc_value("businesses/targets_claimed", claimed)
        self.claimed += claimed
        if self.claimed > self.planned:  # dead nodes' targets, not counted at start
            outcomes.add_total(self.crawler.stats, self.claimed - self.planned)
            self.planned = self.claimed
        requests = []
        for target in targets:
            self.runs[target.stored_id] = Run(target)
            requests.append(self.page_request(target, 1))
        return requests

    def page_request(self, target: Target, page: int, url: str | None = None) -> scrapy.Request:
        return scrapy.Request(
            url or search_url(self.base_url, target.search_terms, target.location, page),
            callback=self.parse_page,
            errback=self.page_failed,
            cb_kwargs={"target_id": target.id, "page": page},
            # Finish targets already started before opening new ones.
            priority=page,
            dont_filter=True,
        )

    def renew_leases(self) -> None:
        ready = self.claimer.ready
        ids = [*self.runs, *ready, *self.unrecorded]
        if not ids:
            return
        try:
            held = self.source.renew(self.node, ids, self.lease)
        except STORE_ERRORS as exc:  # keep working; try again next round
            self.store_failed("renew leases", exc)
            return
        self.store_ok()
        for target_id in set(ids) - held:
            # Another node took it over (this one stalled past its lease): leave it to them.
            run = self.runs.pop(target_id, None) or self.unrecorded.pop(target_id, None)
            target = run.target if run else ready.pop(target_id)
            logger.warning("businesses: lease lost on %s", target.label)
            self.crawler.stats.inc_value("businesses/leases_lost")
        for run in list(self.unrecorded.values()):
            self.record(run)

    def store_failed(self, what: str, exc: Exception) -> None:
        if self.store_down_since is None:
            self.store_down_since = time.monotonic()
        self.crawler.stats.inc_value("businesses/ledger_errors")
        logger.warning("businesses: could not %s: %s", what, first_line(exc))
        if time.monotonic() - self.store_down_since > self.store_wait:
            stop_crawl(
                self.crawler,
                f"the ledger has been unreachable for {self.store_wait:g}s: {first_line(exc)}",
                reason="ledger_unreachable",
                exit_code=EXIT_FAILED,
            )

    def store_ok(self) -> None:
        if self.store_down_since is not None:
            logger.info("businesses: the ledger answers again")
            self.store_down_since = None

    # -- pages ------------------------------------------------------------------------------
    def page_problem(self, response) -> str | None:
        """For the page check (crawlers/middlewares/page_check.py), after the block markers:
        a page that is neither results nor the directory's own "no results" page is
        unrecognised, so it is retried (through another proxy where there are proxies) and
        then fails its target, instead of ending the search as empty."""
        return None if directory_page(response.body) else UNRECOGNISED

    def parse_page(self, response, target_id: int, page: int):
        run = self.runs.get(target_id)
        if run is None:
            return
        try:
            result = parse_results(response.text, response.url)
        except UnparsablePage as exc:  # page_check=False, or a page that fooled the check
            run.failed, run.last_page = exc.reason, True
            self.maybe_finish(run)
            return
        run.pages += 1
        self.crawler.stats.inc_value("businesses/pages")
        items = []
        for listing in result.listings:
            if listing.ypid in run.seen:
                continue  # the site repeats cards across the pages of one search
            run.seen.add(listing.ypid)
            items.append(self.item(listing, run.target))
        if items and self.batching:
            run.pending += 1
            yield ItemBatch(items, key=run.target.id)
        else:
            run.pending += len(items)
            yield from items
        if result.next_url and result.listings and page < self.max_pages:
            yield self.page_request(run.target, page + 1, result.next_url)
        else:
            if result.next_url and result.listings:
                self.crawler.stats.inc_value("businesses/searches_cut_at_max_pages")
            run.last_page = True
            self.maybe_finish(run)

    def page_failed(self, failure):
        request = failure.request
        run = self.runs.get(request.cb_kwargs["target_id"])
        if run is None:
            return
        run.failed = outcomes.failure_reason(failure)
        run.last_page = True
        logger.warning(
            "businesses: %s failed on page %d: %s",
            run.target.label,
            request.cb_kwargs["page"],
            run.failed,
        )
        self.maybe_finish(run)

    def item(self, listing: Listing, target: Target) -> BusinessItem:
        return BusinessItem(
            ypid=listing.ypid,
            name=listing.name,
            state=listing.state,
            city=listing.city,
            postal_code=listing.postal_code,
            categories=listing.categories,
            phone=listing.phone,
            street=listing.street,
            locality=listing.locality,
            website=listing.website,
            rating=listing.rating,
            review_count=listing.review_count,
            years_in_business=listing.years_in_business,
            detail_url=listing.detail_url,
            rank=listing.rank,
            search_terms=target.search_terms,
            search_location=target.location,
            target_id=target.id,
        )

    # -- items through the pipelines -------------------------------------------------------
    def _settled(self, item, *, accepted: bool = False, rejected: bool = False, error: str = ""):
        if isinstance(item, ItemBatch):
            run = self.runs.get(item.key)
            if run is None:
                return
            # Records the pipelines dropped from the batch: rejected by the filter, or
            # repeats of a business kept already (accepted by the filter).
            turned_down = sum(isinstance(e, RejectedListing) for _, e in item.dropped)
            run.accepted += len(item.records) * accepted + len(item.dropped) - turned_down
            run.rejected += len(item.records) * rejected + turned_down
        elif isinstance(item, BusinessItem):
            run = self.runs.get(item.target_id) if item.target_id is not None else None
            if run is None:
                return
            run.accepted += accepted
            run.rejected += rejected
        else:
            return
        run.pending -= 1
        if error and not run.failed:
            run.failed = error
        if run.last_page and run.pending == 0:
            # After this signal's other receivers (the feed exporter writes the item in
            # its own), so a target is recorded done only once its items are written.
            from twisted.internet import reactor  # installed by now; not at import time

            # Twisted declares the reactor's methods on zope interfaces, without `self`, which
            # mypy reads as shifted by one argument (only the mypy-zope plugin reads them).
            reactor.callLater(0, self.maybe_finish, run)  # type: ignore[arg-type]

    def item_scraped(self, item, response, spider):
        self._settled(item, accepted=True)

    def item_dropped(self, item, response, exception, spider):
        # A duplicate was accepted by the filter; only the copy is dropped.
        rejected = isinstance(exception, RejectedListing)
        self._settled(item, accepted=not rejected, rejected=rejected)

    def item_error(self, item, response, spider, failure):
        self._settled(item, error="store_error")

    def maybe_finish(self, run: Run) -> None:
        if not run.last_page or run.pending > 0:
            return
        if self.runs.pop(run.target.stored_id, None) is None:
            return
        self.record(run)
        for request in self.claim_more():
            self.crawler.engine.crawl(request)

    def record(self, run: Run) -> None:
        """Tell the ledger; if it cannot be reached, keep the lease and try again later."""
        target = run.target
        try:
            if run.failed:
                ok = self.source.fail(
                    self.node, target.stored_id, run.failed, run.accepted, run.rejected, run.pages
                )
            else:
                ok = self.source.finish(
                    self.node, target.stored_id, run.accepted, run.rejected, run.pages
                )
        except STORE_ERRORS as exc:
            self.unrecorded[target.stored_id] = run
            self.store_failed(f"record {target.label}", exc)
            return
        self.store_ok()
        self.unrecorded.pop(target.stored_id, None)
        if not ok:
            logger.warning("businesses: lease lost before %s was recorded", target.label)
            self.crawler.stats.inc_value("businesses/leases_lost")
        elif run.failed:
            outcomes.failed(
                self.crawler.stats,
                run.failed,
                unit=f"{target.search_terms}|{target.location}",
            )
        else:
            outcomes.done(self.crawler.stats)

    # -- lifecycle -------------------------------------------------------------------------
    def spider_idle(self, spider):
        for run in list(self.runs.values()):
            if not run.last_page or run.pending:
                # Nothing is in flight, yet the target is open: a request or an item was
                # lost on the way (a bug, or a middleware that dropped it).
                run.failed = run.failed or "stalled"
                run.last_page, run.pending = True, 0
            self.maybe_finish(run)
        for run in list(self.unrecorded.values()):
            self.record(run)
        requests = self.claim_more()
        for request in requests:
            self.crawler.engine.crawl(request)
        if requests or self.unrecorded or self.store_down_since is not None:
            # Work to do, or the ledger is unreachable: look again at the next heartbeat
            # (store_failed() gives up after BUSINESSES_STORE_WAIT).
            raise DontCloseSpider
        try:
            others = self.wait_for_leases and self.source.leased_by_others(self.node, self.states)
        except STORE_ERRORS as exc:
            self.store_failed("read the ledger", exc)
            raise DontCloseSpider from None
        if others:
            # Other nodes hold targets: stay until they finish them, or their leases expire
            # (a dead node) and this one takes them over. Checked at each engine heartbeat.
            raise DontCloseSpider

    def spider_closed(self, spider, reason):
        if self.renewer.running:
            self.renewer.stop()
        for run in list(self.unrecorded.values()):
            self.record(run)
        unfinished = [*self.runs, *self.claimer.ready]
        try:
            if unfinished:
                released = self.source.release(self.node, unfinished)
                self.crawler.stats.set_value("businesses/targets_released", released)
                logger.info("businesses: %d unfinished targets put back for later", released)
        except STORE_ERRORS as exc:
            logger.warning(
                "businesses: could not put %d targets back (%s): they come back when their"
                " leases expire",
                len(unfinished),
                first_line(exc),
            )
        if self.unrecorded:
            logger.warning(
                "businesses: %d finished targets could not be recorded: they come back when"
                " their leases expire and are crawled again",
                len(self.unrecorded),
            )
        self.runs.clear()
        self.claimer.ready.clear()
        self.source.close()
