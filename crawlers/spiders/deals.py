"""Best flight deals per origin: explore pages per origin and region, then each deal expanded.

    scrapy crawl deals -a phase=1
    scrapy crawl deals -a origins=PHX,BOS -a regions=europe,asia -a top=5 -a within=60m

Units of work (crawlers/outcomes.py): every explore page (origin x region) is planned at the
start; the expansions of an origin are added once all its regions are in (a region given up
on counts as in, and is reported). Which regions are in and what they showed lives in
crawlers/deals_state.py: in memory (resumable with JOBDIR), or in Redis when REDIS_URL makes
this process one node of a cluster, so an origin is ranked once, on all its regions, by
whichever node records its last region. At the end the spider prints and saves a capacity
plan (crawlers/capacity.py) from the times it measured (on a cluster: each node its own).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import airportsdata
import scrapy
from scrapy import signals
from scrapy_playwright.page import PageMethod

from crawlers import capacity, outcomes
from crawlers.cluster.connection import UNAVAILABLE, describe
from crawlers.console import tell
from crawlers.deals_state import ArgsMismatch, open_state
from crawlers.env import redact_url
from crawlers.errors import ConfigError, stop_crawl
from crawlers.extraction.blocks import NOT_RENDERED
from crawlers.extraction.deals import (
    CARD,
    NO_RESULTS,
    OPTION,
    explore_problem,
    flights_problem,
    parse_explore,
    parse_flights,
)
from crawlers.inputs import input_label, read_input
from crawlers.items import DealItem
from crawlers.tfs import encode, explore_query

# The old tool's phases. Phase 3 adds five more of the busiest US hubs with long-haul
# networks: Atlanta, Denver, San Francisco, Seattle, Miami.
PHASES = {
    1: ("PHX", "DFW"),
    2: ("PHX", "DFW", "LAX", "ORD", "JFK"),
    3: ("PHX", "DFW", "LAX", "ORD", "JFK", "ATL", "DEN", "SFO", "SEA", "MIA"),
}
KG_ID = re.compile(r"/[mg]/[0-9a-z_]+")
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


def load_regions(path: str | Path | None) -> dict[str, str]:
    """Region names to ids from `path`, or from the shipped regions.json when it is None."""
    try:
        data = json.loads(read_input(path, "regions.json"))
    except (OSError, ValueError) as exc:
        label = input_label(path, "regions.json")
        raise ConfigError(f"cannot read the regions file {label}: {exc}") from None
    return {k: v for k, v in data.items() if not k.startswith("_")}


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
        # Seconds the number of cards/options must stay the same before a page counts as
        # rendered; it must exceed the longest pause between two cards of the site.
        "DEALS_SETTLE_SECONDS": 1.5,
        "DEALS_RENDER_TIMEOUT": 30.0,
        "DEALS_CAPACITY_ORIGINS": 100,
        # A 429 that outlives RETRY_TIMES is queued again, up to this many times: the site
        # asks for patience (Retry-After), it is not broken, and giving up would lose deals.
        "DEALS_429_ROUNDS": 5,
        # A file of the node's own; None: the regions.json shipped in the package.
        "DEALS_REGIONS_FILE": None,
        # How long a cluster's ranking state stays in Redis after its last write.
        "DEALS_STATE_TTL": 7 * 24 * 3600,
    }

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        pipelines = settings.getdict("ITEM_PIPELINES")
        pipelines.setdefault("crawlers.pipelines.deals.DealsPostgresPipeline", 500)
        settings.set("ITEM_PIPELINES", pipelines, "spider")
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
        self.origins = self._origins(origins, phase)
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

    @staticmethod
    def _origins(origins: str, phase: str | int) -> list[str]:
        if origins and str(phase).strip():
            raise ConfigError("give origins or phase, not both")
        if not origins:
            try:
                return list(PHASES[int(phase or 1)])
            except (KeyError, ValueError):
                raise ConfigError(f"phase must be 1, 2 or 3, got {phase!r}") from None
        codes = [c.strip().upper() for c in origins.split(",") if c.strip()]
        known = airportsdata.load("IATA")
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise ConfigError(f"unknown IATA airport code(s): {', '.join(unknown)}")
        if not codes:
            raise ConfigError("origins is empty")
        return list(dict.fromkeys(codes))

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
        self.capacity_origins = settings.getint("DEALS_CAPACITY_ORIGINS")
        self.rounds_429 = settings.getint("DEALS_429_ROUNDS")
        self.report_dir = Path(settings.get("DATA_DIR")) / "reports"
        self.regions = self._regions(self.region_arg, settings.get("DEALS_REGIONS_FILE") or None)
        self.region_names = {rid: name for name, rid in self.regions}
        self.explore_planned = len(self.origins) * len(self.regions)
        # Opened in start(), once a cluster node has joined its job's run. (`self.state` is
        # Scrapy's: the dict JOBDIR keeps between runs, where the memory variant lives.)
        self.ranking = None
        self.failed_regions: dict[str, dict[str, str]] = defaultdict(dict)
        self.explore_times: list[float] = []  # browser seconds per explore page, done or not
        self.explore_done = 0
        self.expansions: list[dict[str, Any]] = []
        self.expansions_planned = 0
        self.started = time.monotonic()

    @staticmethod
    def _regions(arg: str, path: str | Path | None) -> list[tuple[str, str]]:
        table = load_regions(path)
        wanted = [r.strip() for r in (arg or "all").split(",") if r.strip()]
        chosen: list[tuple[str, str]] = []
        for value in wanted:
            key = value.lower().replace("_", "-").replace(" ", "-")
            if key == "all":
                chosen.extend(table.items())
            elif key in table:
                chosen.append((key, table[key]))
            elif KG_ID.fullmatch(value):
                name = next((n for n, rid in table.items() if rid == value), value)
                chosen.append((name, value))
            else:
                raise ConfigError(
                    f"unknown region {value!r} (known: {', '.join(table)}, all, or a /m/ id)"
                )
        unique = dict((rid, name) for name, rid in reversed(chosen))
        order = list(dict.fromkeys(rid for _, rid in chosen))
        if not order:
            raise ConfigError("regions is empty")
        return [(unique[rid], rid) for rid in order]

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
        if kind == "explore":
            parsed = parse_explore(response.text)
            problem = explore_problem(response.text, parsed)
        elif kind == "expansion":
            parsed = parse_flights(response.text)
            problem = flights_problem(response.text, parsed)
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
        self.explore_times.append(response.meta.get("deals_busy", 0.0))
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
        self.explore_times.append(failure.request.meta.get("deals_busy", 0.0))
        yield from self._region_in(failure.request, failed=outcomes.failure_reason(failure))

    def _region_in(self, request, deals=(), failed: str = ""):
        origin, region_id = request.meta["origin"], request.meta["region"]
        try:
            recorded = self.ranking.record(
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
        if failed:
            outcomes.failed(self.crawler.stats, f"explore_{failed}")
            self.failed_regions[origin][self.region_names[region_id]] = failed
            self.logger.warning("deals: %s %s given up: %s", origin, region_id, failed)
        else:
            self.explore_done += 1
            outcomes.done(self.crawler.stats)

    # -- expansions -----------------------------------------------------------------
    def _expand(
        self, origin: str, regions: dict[str, list[dict[str, Any]]], first: bool
    ) -> list[scrapy.Request]:
        # In the order of the arguments, not of arrival: ties come out the same anywhere.
        found = [deal for _, rid in self.regions for deal in regions.get(rid, [])]
        chosen = best_deals(found, self.top)
        planned = self.ranking.plan(origin, len(chosen))
        outcomes.set_total(self.crawler.stats, self.explore_planned + planned)
        if first:
            self.expansions_planned += len(chosen)
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
        now = time.monotonic()
        busy = meta.get("deals_busy", 0.0)
        first = meta.get("deals_t0", now)
        if failed:
            outcomes.failed(self.crawler.stats, f"expansion_{failed}")
        else:
            outcomes.done(self.crawler.stats)
        self.expansions.append(
            {
                "origin": deal["origin"],
                "destination_id": deal["destination_id"],
                "rank": deal["rank"],
                "seconds": round(busy, 3),
                "wall_seconds": round(now - first, 3),
                "outcome": f"failed:{failed}" if failed else "ok",
                "started_at": round(first - self.started, 3),
                "finished_at": round(now - self.started, 3),
            }
        )
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
        report = self.report(reason)
        self.report_dir.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.report_dir / f"deals-capacity-{stamp}.json"
        path.write_text(json.dumps(report, indent=1, ensure_ascii=True))
        stats = self.crawler.stats
        stats.set_value("deals/capacity_report", str(path))
        if report["expansions"]["success_rate"] is not None:
            stats.set_value("deals/expansion_success_rate", report["expansions"]["success_rate"])
        # Logged too: under scrapyd stdout is not the job's log.
        tell(capacity.format_report(report), self.settings)
        tell(f"deals: capacity report saved to {path}", self.settings)

    def report(self, reason: str) -> dict[str, Any]:
        stats = self.crawler.stats
        done = [e for e in self.expansions if e["outcome"] == "ok"]
        failures = Counter(e["outcome"].split(":", 1)[1] for e in self.expansions if e not in done)
        explore_failures = Counter(
            reason for regions in self.failed_regions.values() for reason in regions.values()
        )
        # Browser time per unit over every unit, failed ones included: they cost it too.
        plan = capacity.plan(
            explore_seconds=capacity.summarize(self.explore_times).mean or 0.0,
            expansion_seconds=capacity.summarize(e["seconds"] for e in self.expansions).mean or 0.0,
            explore_pages_per_origin=len(self.regions),
            expansions_per_origin=self.top,
            origins=self.capacity_origins,
            within_seconds=self.within,
        )
        finished = len(self.expansions)
        return {
            "finish_reason": reason,
            "origins": self.origins,
            "regions": [name for name, _ in self.regions],
            "top": self.top,
            # The old tool watched for these: how hard the site pushed back.
            "responses_429": stats.get_value("downloader/response_status_count/429", 0),
            "retry_after_honoured": stats.get_value("retry/retry_after_honoured", 0),
            "explore": {
                "planned": len(self.origins) * len(self.regions),
                "done": self.explore_done,
                "failed": dict(explore_failures),
                "failed_regions": {o: dict(r) for o, r in self.failed_regions.items()},
                "seconds": asdict(capacity.summarize(self.explore_times)),
                "attempts": stats.get_value("deals/attempts/explore", 0),
            },
            "expansions": {
                "planned": self.expansions_planned,
                "done": len(done),
                "failed": dict(failures),
                "success_rate": round(len(done) / finished, 4) if finished else None,
                "seconds": asdict(capacity.summarize(e["seconds"] for e in done)),
                "wall_seconds": asdict(capacity.summarize(e["wall_seconds"] for e in done)),
                "attempts": stats.get_value("deals/attempts/expansion", 0),
                "each": self.expansions,
            },
            # Nothing finished, nothing measured: no plan rather than one of zeros.
            "plan": plan.as_dict() if self.explore_times or self.expansions else None,
        }


def _currency_of(options: list[dict[str, Any]] | None) -> str:
    """The currency of a search's priced options, when its card did not say one."""
    return next((o["currency"] for o in options or () if o.get("currency")), "")


def rank_key(deal: dict[str, Any]) -> tuple:
    """Lowest price first; ties by destination name (case-folded, then as shown), then
    dates, then the destination id, so equal inputs always give the same order."""
    name = deal["destination"]
    return (
        deal["price"],
        name.casefold(),
        name,
        deal["outbound_date"],
        deal["return_date"],
        deal["destination_id"],
    )


def best_deals(deals: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """The `top` best deals, a destination seen in several regions counted once: its best
    deal is kept and the regions it was seen in are united."""
    best: dict[str, dict[str, Any]] = {}
    for deal in deals:
        key = deal["destination_id"]
        kept = best.get(key)
        if kept is None:
            best[key] = dict(deal, regions=list(deal["regions"]))
            continue
        regions = sorted({*kept["regions"], *deal["regions"]})
        if rank_key(deal) < rank_key(kept):
            best[key] = dict(deal)
        best[key]["regions"] = regions
    return sorted(best.values(), key=rank_key)[:top]
