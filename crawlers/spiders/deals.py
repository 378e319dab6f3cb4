"""Best flight deals per origin: explore pages per origin and region, then each deal expanded.

    scrapy crawl deals -a phase=1
    scrapy crawl deals -a origins=PHX,BOS -a regions=europe,asia -a top=5 -a within=60m

Units of work (crawlers/outcomes.py): every explore page (origin x region) is planned at the
start; the expansions of an origin are added once all its regions are in (a region given up
on counts as in, and is reported). Which regions are in and what they showed lives in
crawlers/deals/state.py: in memory (resumable with JOBDIR), or in Redis when REDIS_URL makes
this process one node of a cluster, so an origin is ranked once, on all its regions, by
whichever node records its last region (crawlers/deals/ranking.py). At the end the spider
shows and saves a capacity report (crawlers/deals/report.py) from the times it measured
(on a cluster: each node its own).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy import signals
from scrapy_playwright.page import PageMethod

from crawlers import outcomes
from crawlers.cluster.connection import UNAVAILABLE, describe
from crawlers.components import register
from crawlers.console import tell
from crawlers.deals import capacity, places
from crawlers.deals.ranking import best_deals
from crawlers.deals.report import Tally, format_report, save
from crawlers.deals.state import ArgsMismatch, DealsState, open_state
from crawlers.deals.tfs import encode, explore_query
from crawlers.env import redact_url
from crawlers.errors import ConfigError, stop_crawl
from crawlers.extraction.blocks import NOT_RENDERED
from crawlers.extraction.deals import (
    CARD,
    NO_RESULTS,
    OPTION,
    ExplorePage,
    explore_problem,
    flights_problem,
    parse_explore,
    parse_flights,
)
from crawlers.items import DealItem

# Where page_problem() leaves what it read of a good page for the callback.
PARSED = "deals_parsed"

_NAV_STATUS = "() => (performance.getEntriesByType('navigation')[0] || {}).responseStatus || 0"
_COUNT = (
    "([item, empty]) => [document.querySelectorAll(item).length,"
    " !!(empty && document.querySelector(empty))]"
)


async def wait_rendered(page, item: str, empty: str | None, settle: float, timeout: float):
    """Wait until `empty` shows, or `item`s exist and their count has not changed for
    `settle` seconds (cards can arrive one by one), or `timeout` passes. Never raises on
    timeout: the callback sees an unrendered page and retries it. An error page (status
    other than 200) returns at once so the retry middleware sees it without delay."""
    status = await page.evaluate(_NAV_STATUS)
    if status and status != 200:
        return "status"
    loop = asyncio.get_running_loop()
    start = since = loop.time()
    last = -1
    while True:
        count, is_empty = await page.evaluate(_COUNT, [item, empty])
        now = loop.time()
        if is_empty:
            return "empty"
        if count != last:
            last, since = count, now
        elif count and now - since >= settle:
            return "stable"
        if now - start >= timeout:
            return "timeout"
        await asyncio.sleep(min(0.25, settle / 4))


async def attempt_started(page, request) -> None:
    """playwright_page_init_callback: the browser page is ours from here (per attempt)."""
    request.meta["deals_attempt_t0"] = time.monotonic()


class DealsSpider(scrapy.Spider):
    name = "deals"
    arguments = {
        "origins": "IATA codes, comma-separated (PHX,BOS); or phase",
        "phase": "the old tool's origins instead: 1 (PHX, DFW; the default), 2 or 3",
        "regions": "region names (europe,asia), /m/ ids, or all (the default)",
        "top": "deals kept per origin (default 5)",
        "within": "time the capacity plan must fit 100 origins into (default 60m)",
    }
    custom_settings = {
        # At least as fast as the best fixed concurrency on flights pages in the browser
        # (BENCHMARKS.md "autoscale"), and it backs off 429s and an overloaded process.
        "CONCURRENCY_AUTO": True,
    }

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        register(settings, ITEM_PIPELINES={"crawlers.pipelines.deals.DealsPostgresPipeline": 500})
        if not settings.getdict("FEEDS"):
            data_dir = settings.get("DATA_DIR")
            feed = f"{data_dir}/out/deals-%(time)s.jsonl"
            settings.set("FEEDS", {feed: {"format": "jsonlines"}}, "spider")

    def __init__(
        self,
        origins: str = "",
        regions: str = "all",
        top: str | int = 5,
        phase: str | int = "",
        within: str = "60m",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.origins = places.choose_origins(origins, phase)
        self.region_arg = regions
        try:
            self.top = int(top)
        except ValueError:
            raise ConfigError(f"top must be a whole number, got {top!r}") from None
        if self.top < 1:
            raise ConfigError(f"top must be at least 1, got {top!r}")
        try:
            self.within = capacity.parse_duration(within)
        except ValueError as exc:
            raise ConfigError(f"within: {exc}") from None

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.configure(crawler.settings)
        crawler.signals.connect(spider.reached_downloader, signals.request_reached_downloader)
        crawler.signals.connect(spider.left_downloader, signals.request_left_downloader)
        return spider

    def configure(self, settings) -> None:
        base = settings.get("DEALS_BASE_URL") or ""
        if not re.match(r"https?://[^/]+", base):
            raise ConfigError(f"DEALS_BASE_URL must be an http(s) URL, got {base!r}")
        self.base_url = base.rstrip("/")
        self.settle = settings.getfloat("DEALS_SETTLE_SECONDS")
        self.render_timeout = settings.getfloat("DEALS_RENDER_TIMEOUT")
        self.rounds_429 = settings.getint("DEALS_429_ROUNDS")
        self.report_dir = Path(settings.get("DATA_DIR")) / "reports"
        regions_file = settings.get("DEALS_REGIONS_FILE") or None
        self.regions = places.choose_regions(self.region_arg, regions_file)
        self.region_names = {rid: name for name, rid in self.regions}
        self.explore_planned = len(self.origins) * len(self.regions)
        # Opened in start(), once a cluster node has joined its job's run. (`self.state` is
        # Scrapy's: the dict JOBDIR keeps between runs, where the memory variant lives.)
        self.ranking: DealsState | None = None
        self.tally = Tally(
            self.origins,
            [name for name, _ in self.regions],
            self.top,
            capacity_origins=settings.getint("DEALS_CAPACITY_ORIGINS"),
            within=self.within,
        )

    # -- requests -------------------------------------------------------------------
    def _browser_meta(self, kind: str, item: str, empty: str | None, **extra) -> dict:
        return {
            "playwright": True,
            "playwright_page_methods": [
                PageMethod(wait_rendered, item, empty, self.settle, self.render_timeout)
            ],
            "playwright_page_init_callback": attempt_started,
            "deals_kind": kind,
            **extra,
        }

    def _opened_ranking(self) -> DealsState:
        # Requests come only from start(), which opens it first. A method, not a property:
        # Scrapy's feed exporter reads every attribute of the spider for its URI params.
        if self.ranking is None:
            raise RuntimeError("the deals ranking is used before start() opened it")
        return self.ranking

    async def start(self):
        try:
            self.ranking = open_state(
                self.crawler,
                getattr(self, "state", {}),
                len(self.regions),
                {"origins": self.origins, "regions": [r for _, r in self.regions], "top": self.top},
            )
        except ArgsMismatch as exc:
            stop_crawl(self.crawler, f"deals: nodes of one job must crawl the same: {exc}")
            return
        except UNAVAILABLE as exc:
            url = self.crawler.settings.get("REDIS_URL")
            reason = describe(exc, url)
            stop_crawl(self.crawler, f"deals: cannot reach Redis at {redact_url(url)}: {reason}")
            return
        outcomes.set_total(self.crawler.stats, self.explore_planned)
        self.logger.info(
            "deals: %d origins x %d regions, top %d: %s",
            len(self.origins),
            len(self.regions),
            self.top,
            ",".join(self.origins),
        )
        for origin in self.origins:
            for _name, region_id in self.regions:
                tfs = encode(explore_query(origin, region_id))
                yield scrapy.Request(
                    f"{self.base_url}/travel/explore?tfs={tfs}&hl=en&curr=USD",
                    callback=self.parse_explore,
                    errback=self.explore_failed,
                    meta=self._browser_meta(
                        "explore", CARD, NO_RESULTS, origin=origin, region=region_id
                    ),
                    # Filtered: a cluster queues each page once however many nodes start,
                    # and a JOBDIR resume skips the pages it has queued before.
                )

    # Two clocks per unit, both kept across retries (a retry copies meta): `deals_busy`,
    # the browser time of every attempt (what the capacity plan needs), and `deals_t0`,
    # when the unit first reached the downloader (what a user waits, queueing included).
    def reached_downloader(self, request, spider) -> None:
        kind = request.meta.get("deals_kind")
        if kind:
            request.meta.setdefault("deals_t0", time.monotonic())
            self.crawler.stats.inc_value(f"deals/attempts/{kind}")

    def left_downloader(self, request, spider) -> None:
        started = request.meta.pop("deals_attempt_t0", None)
        if started is not None:
            busy = request.meta.get("deals_busy", 0.0) + time.monotonic() - started
            request.meta["deals_busy"] = busy

    # -- pages that are not what was asked for --------------------------------------
    def page_problem(self, response) -> str | None:
        """For the page check (crawlers/middlewares/page_check.py), before any callback:
        `not_rendered` for a page of the site that shows neither results nor its
        no-results form (an explore page's `div.no-results`; a flights page has none, so
        it needs options), `unrecognised_page` for a page that is not of the site. The
        page is then retried, and its unit fails with that reason once retries are spent."""
        kind = response.meta.get("deals_kind")
        # What an earlier attempt left must never stand for this one.
        response.meta.pop(PARSED, None)
        parsed: ExplorePage | tuple[list[dict[str, Any]], int]
        if kind == "explore":
            parsed = explore = parse_explore(response.text)
            problem = explore_problem(response.text, explore)
        elif kind == "expansion":
            parsed = flights = parse_flights(response.text)
            problem = flights_problem(response.text, flights)
        else:
            return None
        if problem is None:
            # Read once: a real flights page is megabytes; the callback takes it from here.
            response.meta[PARSED] = parsed
        return problem

    # -- explore pages --------------------------------------------------------------
    def parse_explore(self, response):
        page = response.meta.pop(PARSED, None) or parse_explore(response.text)
        if page.broken:
            self.crawler.stats.inc_value("deals/cards_unreadable", page.broken)
        if not page.rendered:
            # Only with the page check off for this request: it never lets one through.
            yield from self._region_in(response.request, failed=NOT_RENDERED)
            return
        self.tally.explore_measured(response.meta.get("deals_busy", 0.0))
        name = self.region_names[response.meta["region"]]
        deals = []
        for card in page.cards:
            deal = asdict(card)
            deal["destination_id"] = card.destination_id or card.destination
            deal["regions"] = [name]
            deal["flights_url"] = urljoin(self.base_url + "/", card.flights_url)
            deals.append(deal)
        self.crawler.stats.inc_value("deals/cards", len(page.cards))
        yield from self._region_in(response.request, deals)

    def _again_after_429(self, failure) -> scrapy.Request | None:
        rounds = failure.request.meta.get("deals_429_rounds", 0)
        if outcomes.failure_reason(failure) != "http_429" or rounds >= self.rounds_429:
            return None
        self.crawler.stats.inc_value("deals/requeued_after_429")
        meta = {**failure.request.meta, "retry_times": 0, "deals_429_rounds": rounds + 1}
        return failure.request.replace(meta=meta, dont_filter=True)

    def explore_failed(self, failure):
        again = self._again_after_429(failure)
        if again is not None:
            yield again
            return
        self.tally.explore_measured(failure.request.meta.get("deals_busy", 0.0))
        yield from self._region_in(failure.request, failed=outcomes.failure_reason(failure))

    def _region_in(self, request, deals=(), failed: str = ""):
        origin, region_id = request.meta["origin"], request.meta["region"]
        try:
            recorded = self._opened_ranking().record(
                origin, region_id, list(deals), f"failed:{failed}" if failed else "ok"
            )
            if recorded.first:
                self._count_region(origin, region_id, failed)
            else:
                # Redelivered after a node died before its ack: counted where it was recorded.
                self.crawler.stats.inc_value("deals/explore_recorded_before")
            expansions = []
            if recorded.regions is not None:
                expansions = self._expand(origin, recorded.regions, recorded.first)
        except UNAVAILABLE as exc:
            # The page comes back once the shared queue takes requests again (the cluster
            # scheduler holds them while Redis is away); recorded or not, it is idempotent.
            self.crawler.stats.inc_value("deals/state_unavailable")
            self.logger.warning("deals: %s %s queued again, Redis: %s", origin, region_id, exc)
            yield request.replace(meta={**request.meta, "retry_times": 0}, dont_filter=True)
            return
        yield from expansions

    def _count_region(self, origin: str, region_id: str, failed: str) -> None:
        self.tally.region_in(origin, self.region_names[region_id], failed)
        if failed:
            outcomes.failed(
                self.crawler.stats,
                f"explore_{failed}",
                unit=f"{origin}/{self.region_names[region_id]}",
            )
            self.logger.warning("deals: %s %s given up: %s", origin, region_id, failed)
        else:
            outcomes.done(self.crawler.stats)

    # -- expansions -----------------------------------------------------------------
    def _expand(
        self, origin: str, regions: dict[str, list[dict[str, Any]]], first: bool
    ) -> list[scrapy.Request]:
        # In the order of the arguments, not of arrival: ties come out the same anywhere.
        found = [deal for _, rid in self.regions for deal in regions.get(rid, [])]
        chosen = best_deals(found, self.top)
        planned = self._opened_ranking().plan(origin, len(chosen))
        outcomes.set_total(self.crawler.stats, self.explore_planned + planned)
        if first:
            self.tally.expansions_queued(len(chosen))
            self.logger.info("deals: %s complete, expanding %d deals", origin, len(chosen))
        requests = []
        for rank, deal in enumerate(chosen, 1):
            deal["rank"] = rank
            deal["origin"] = origin
            requests.append(
                scrapy.Request(
                    deal["flights_url"],
                    callback=self.parse_flights,
                    errback=self.expansion_failed,
                    meta=self._browser_meta("expansion", OPTION, None, deal=deal),
                    # Filtered (a redelivered region of a complete origin yields them
                    # again). Finishing an origin's expansions first keeps memory flat and
                    # results early.
                    priority=10,
                )
            )
        return requests

    def parse_flights(self, response):
        options, broken = response.meta.pop(PARSED, None) or parse_flights(response.text)
        stats = self.crawler.stats
        if broken:
            stats.inc_value("deals/options_unreadable", broken)
        if not options:
            # Only with the page check off for this request: it never lets one through.
            yield self._expansion_item(response.meta, NOT_RENDERED)
            return
        unpriced = sum(1 for o in options if o["price"] is None)
        if unpriced:
            stats.inc_value("deals/options_price_unavailable", unpriced)
        stats.inc_value("deals/options", len(options))
        yield self._expansion_item(response.meta, "", options)

    def expansion_failed(self, failure):
        again = self._again_after_429(failure)
        if again is not None:
            yield again
            return
        yield self._expansion_item(failure.request.meta, outcomes.failure_reason(failure))

    def _expansion_item(self, meta, failed: str, options=None):
        deal = meta["deal"]
        if failed:
            outcomes.failed(
                self.crawler.stats,
                f"expansion_{failed}",
                unit=f"{deal['origin']}/{deal['destination_id']}",
            )
        else:
            outcomes.done(self.crawler.stats)
        busy = self.tally.expansion_ended(deal, meta, failed)
        return DealItem(
            origin=deal["origin"],
            destination=deal["destination"],
            destination_id=deal["destination_id"],
            price=deal["price"],
            currency=deal["currency"] or _currency_of(options),
            outbound_date=deal["outbound_date"],
            return_date=deal["return_date"],
            duration=deal["duration"],
            regions=deal["regions"],
            flights_url=deal["flights_url"],
            rank=deal["rank"],
            options=options or [],
            expansion_seconds=round(busy, 3),
            expansion_status=f"failed:{failed}" if failed else "ok",
        )

    # -- the end --------------------------------------------------------------------
    def closed(self, reason: str) -> None:
        stats = self.crawler.stats
        report = self.tally.report(reason, stats)
        path = save(report, self.report_dir)
        stats.set_value("deals/capacity_report", str(path))
        if report["expansions"]["success_rate"] is not None:
            stats.set_value("deals/expansion_success_rate", report["expansions"]["success_rate"])
        # Logged too: under scrapyd stdout is not the job's log.
        tell(format_report(report), self.settings)
        tell(f"deals: capacity report saved to {path}", self.settings)


def _currency_of(options: list[dict[str, Any]] | None) -> str:
    """The currency of a search's priced options, when its card did not say one."""
    return next((o["currency"] for o in options or () if o.get("currency")), "")
