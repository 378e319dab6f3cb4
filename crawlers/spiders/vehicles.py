"""The dealer portal: every vehicle in the inventory, with one checked PDF each.

    scrapy crawl vehicles -s CONCURRENT_REQUESTS=7 [-a limit=N]

Needs VEHICLES_BASE_URL, VEHICLES_USERNAME and VEHICLES_PASSWORD. The login runs in a
browser (the page's own script computes its challenge); everything after it is plain HTTP
carrying that session (crawlers/middlewares/vehicles_session.py), which is many times
cheaper than a browser page per vehicle (BENCHMARKS.md). Vehicles whose PDF an earlier run
saved, still valid, are reported `skipped` and not fetched again.

The inventory API pages by offset while vehicles are sold and added, so a walk can miss a
vehicle or see one twice: the spider walks it again until a walk finds nothing new while
the listing holds still (VEHICLES_MAX_WALKS), and keeps one outcome per ref.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest

from crawlers import outcomes
from crawlers.cluster.reported import ReportedInRun, reported_in_run
from crawlers.components import register
from crawlers.errors import ConfigError
from crawlers.extraction.vehicles import inventory_page, is_safe_ref, vehicle_page
from crawlers.items import VehicleItem
from crawlers.vehicles.pdfs import PdfDownload, pdf_problem, saved_pdf

# Inventory pages first: the total and the work become known early.
PRIORITY_INVENTORY, PRIORITY_VEHICLE = 30, 10


@dataclass
class Walk:
    """One walk through the inventory's pages."""

    new: int = 0  # refs no earlier walk had seen
    refs: set[str] = field(default_factory=set)
    totals: set[int] = field(default_factory=set)  # the `total` of each page
    incomplete: bool = False  # a page could not be read

    def settled(self) -> bool:
        """Nothing new, and the listing held still: the same total on every page, and as
        many refs seen as it says. A sale or an arrival between two pages shifts the pages
        under the walk (a vehicle missed, or seen twice) and shows in one of those."""
        return (
            not self.incomplete
            and self.new == 0
            and len(self.totals) == 1
            and len(self.refs) == next(iter(self.totals))
        )


class VehiclesSpider(scrapy.Spider):
    name = "vehicles"
    arguments = {"limit": "at most N PDFs downloaded this run (default: every vehicle)"}
    # From the settings, in from_crawler.
    base_url: str
    store: Path
    per_page: int
    max_walks: int
    pdf_retries: int
    link_refreshes: int
    browser_pages: bool
    browser_context: str
    reported: ReportedInRun | None

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        # At "spider" priority: the project's crawl command hands Scrapy a ready Crawler,
        # whose settings Scrapy then updates with the project's at equal priority.
        register(
            settings,
            # After the redirect middleware (600) on the way back: a 302 to /login is an
            # expired session to renew, not a page to follow.
            DOWNLOADER_MIDDLEWARES={
                "crawlers.middlewares.vehicles_session.VehicleSessionMiddleware": 650
            },
            ITEM_PIPELINES={"crawlers.pipelines.pdfs.PdfPipeline": 100},
        )
        # scrapy-playwright's default gives every navigation of a page the headers of the
        # request that opened it, which strips the Content-Type off the login form's POST.
        settings.set("PLAYWRIGHT_PROCESS_REQUEST_HEADERS", None, priority="spider")
        # CONCURRENT_REQUESTS is the old tool's worker count and the portal answers 429 when
        # a session asks too much; AutoThrottle's spacing on top cost a third of the rate at
        # 250 ms per page (BENCHMARKS.md). `-s AUTOTHROTTLE_ENABLED=true` brings it back.
        settings.set("AUTOTHROTTLE_ENABLED", False, priority="spider")

    def __init__(self, limit: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.limit = self._parse_limit(limit)
        self.seen: set[str] = set()
        self.waiting: deque[VehicleItem] = deque()  # held back by the limit
        self.reserved = 0  # downloads started or finished, against the limit
        self.listed = 0
        self.walking = True
        # Per walk; a walk's pages may be parsed by another node (cluster mode).
        self.walks: defaultdict[int, Walk] = defaultdict(Walk)

    @staticmethod
    def _parse_limit(value: str | None) -> int | None:
        if value is None or value == "":
            return None
        try:
            limit = int(value)
        except ValueError:
            limit = -1
        if limit < 0:
            raise ConfigError(f"limit must be a whole number >= 0, got {value!r}")
        return limit

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        for name in ("VEHICLES_BASE_URL", "VEHICLES_USERNAME", "VEHICLES_PASSWORD"):
            if not s.get(name):
                raise ConfigError(f"{name} is not set (environment, .env or -s {name}=...)")
        base = s.get("VEHICLES_BASE_URL").rstrip("/")
        if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            raise ConfigError(f"VEHICLES_BASE_URL must be an http(s) URL, got {base!r}")
        spider.base_url = base
        spider.store = Path(s.get("FILES_STORE"))
        spider.per_page = s.getint("VEHICLES_PER_PAGE", 100)
        spider.max_walks = s.getint("VEHICLES_MAX_WALKS", 5)
        spider.pdf_retries = s.getint("VEHICLES_PDF_RETRIES", 4)
        spider.link_refreshes = s.getint("VEHICLES_LINK_REFRESHES", 3)
        # Vehicle pages in the browser, as the old tool did: for comparison (BENCHMARKS.md).
        spider.browser_pages = s.getbool("VEHICLES_BROWSER_PAGES", False)
        spider.browser_context = s.get("VEHICLES_BROWSER_CONTEXT", "vehicles")
        # Cluster nodes walk the same inventory and take over dead nodes' requests: one
        # outcome per vehicle in the run, whichever node reports it (crawlers/cluster/reported.py).
        spider.reported = reported_in_run(crawler, "vehicles")
        if spider.reported is not None:
            crawler.signals.connect(spider.watch_writes, signals.spider_opened)
        return spider

    def watch_writes(self, spider) -> None:
        # Connected now, after the feed exporter (the spider is built before the
        # extensions): a unit is marked written only once its line is.
        self.crawler.signals.connect(self.item_written, signals.item_scraped)

    # -- the inventory ------------------------------------------------------------------
    async def start(self):
        yield self._inventory_request(page=1, walk=1)

    def _inventory_request(self, page: int, walk: int) -> scrapy.Request:
        return scrapy.Request(
            f"{self.base_url}/api/inventory?page={page}&per_page={self.per_page}",
            headers={"Accept": "application/json"},
            callback=self.parse_inventory,
            errback=self.inventory_failed,
            cb_kwargs={"page": page, "walk": walk},
            priority=PRIORITY_INVENTORY,
            # The first walk's pages go through a shared duplicate filter, so that every
            # node's start() queues the walk once; later walks repeat those URLs.
            dont_filter=walk > 1,
        )

    def parse_inventory(self, response, page: int, walk: int):
        try:
            listing = inventory_page(response.json())
        except (ValueError, AttributeError):
            self.logger.error("inventory page %d is not the API's JSON", page)
            self.walks[walk].incomplete = True
            yield from self._walk_ended(walk)
            return
        self.listed = listing.total
        self.crawler.stats.set_value("vehicles/listed", listing.total)
        self.walks[walk].totals.add(listing.total)
        for vehicle in listing.vehicles:
            self.walks[walk].refs.add(vehicle["ref"])
            yield from self._consider(VehicleItem(**vehicle), walk, page)
        self._update_total()
        if listing.vehicles and page < listing.pages:
            yield self._inventory_request(page + 1, walk)
        else:
            yield from self._walk_ended(walk)

    def inventory_failed(self, failure):
        page, walk = failure.request.cb_kwargs["page"], failure.request.cb_kwargs["walk"]
        self.logger.error("inventory page %d: %s", page, self._reason(failure))
        self.walks[walk].incomplete = True
        if page == 1:
            yield from self._walk_ended(walk)
        else:
            # The pages after it are still worth walking; a later walk retries this one.
            yield self._inventory_request(page + 1, walk)

    def _walk_ended(self, walk: int):
        ended = self.walks.pop(walk, Walk())  # unknown here if another node walked it
        if not ended.settled() and walk < self.max_walks:
            yield self._inventory_request(1, walk + 1)
            return
        self.walking = False
        self.crawler.stats.set_value("vehicles/walks", walk)
        if ended.incomplete:
            self.crawler.stats.set_value("vehicles/inventory_incomplete", 1)
            self.logger.error("the inventory could not be read in full after %d walks", walk)
        self._update_total()

    def _update_total(self) -> None:
        planned = max(self.listed, len(self.seen)) if self.walking else len(self.seen)
        outcomes.set_total(self.crawler.stats, planned - len(self.waiting))

    def _consider(self, item: VehicleItem, walk: int, page: int):
        if item.ref in self.seen:
            return
        self.seen.add(item.ref)
        self.walks[walk].new += 1
        # The same page of the same walk, when it comes back after its node died.
        owner = f"inventory:{walk}:{page}"
        if not is_safe_ref(item.ref):
            yield from self._failed(item, "invalid_ref", reserved=False, owner=owner)
            return
        saved = saved_pdf(self.store, item.ref, item.vin)
        if saved is not None and not self._reports(item.ref, owner):
            return
        if saved is not None:
            item.status = "skipped"
            item.pdf_path, item.pdf_size, item.pdf_sha256 = (
                str(saved.path),
                saved.size,
                saved.sha256,
            )
            outcomes.skipped(self.crawler.stats)
            yield item
            return
        if self.limit is not None and self.reserved >= self.limit:
            self.waiting.append(item)
            return
        self.reserved += 1
        yield self._vehicle_request(item)

    # -- one vehicle: its page, then its PDF --------------------------------------------
    def _vehicle_request(self, item: VehicleItem) -> scrapy.Request:
        meta: dict[str, Any] = {"handle_httpstatus_list": [404]}
        if self.browser_pages:
            # The login's context holds the session cookies.
            meta.update(playwright=True, playwright_context=self.browser_context)
        return scrapy.Request(
            f"{self.base_url}/vehicle/{quote(item.ref)}",
            callback=self.parse_vehicle,
            errback=self.vehicle_failed,
            cb_kwargs={"item": item},
            meta=meta,
            priority=PRIORITY_VEHICLE,
        )

    async def parse_vehicle(self, response, item: VehicleItem):
        try:
            outcome = await self._report(response, item)
        except IgnoreRequest as exc:
            outcome = self._ignored_reason(exc)
        except Exception as exc:  # a network error the retries did not get past
            outcome = outcomes.clean_reason(type(exc).__name__)
        if isinstance(outcome, PdfDownload):
            if self._reports(item.ref, f"vehicle:{item.ref}"):
                yield outcome
        else:
            for output in self._failed(item, outcome):
                yield output

    async def _report(self, response, item: VehicleItem) -> PdfDownload | str:
        """The vehicle's checked PDF, or why there is none.

        The PDF is fetched here rather than queued: its link is signed for this process's
        session, and a queued request may run on another node, or after a new login.
        """
        problem = "pdf_forbidden"
        for refresh in range(self.link_refreshes + 1):
            if refresh:
                # A 403: the link went stale (a new login); the page gives a new one.
                self.crawler.stats.inc_value("vehicles/report_link_refreshed")
                response = await self.crawler.engine.download_async(self._vehicle_request(item))
            if response.status != 200:
                return "not_found" if response.status == 404 else f"http_{response.status}"
            page = vehicle_page(response.text)
            if not page.report_url:
                return "no_report_link"
            for name, value in page.fields().items():
                if getattr(item, name) in (None, "") and value not in (None, ""):
                    setattr(item, name, value)
            pdf_request = scrapy.Request(
                response.urljoin(page.report_url),
                # The Content-Length must be the PDF's own length to tell a short body.
                headers={"Accept": "application/pdf", "Accept-Encoding": "identity"},
                dont_filter=True,
            )
            for _ in range(self.pdf_retries + 1):
                pdf = await self.crawler.engine.download_async(pdf_request)
                if pdf.status == 403:
                    problem = "pdf_forbidden"
                    break
                if pdf.status != 200:
                    return "not_found" if pdf.status == 404 else f"http_{pdf.status}"
                length = pdf.headers.get(b"Content-Length")
                expected = int(length) if length and length.isdigit() else None
                rejected = pdf_problem(pdf.body, item.ref, item.vin, expected)
                if rejected is None:
                    return PdfDownload(item, pdf.body, expected)
                problem = rejected
                self.crawler.stats.inc_value(f"vehicles/pdf_rejected/{problem}")
            else:
                return problem
        return problem

    def vehicle_failed(self, failure):
        yield from self._failed(failure.request.cb_kwargs["item"], self._reason(failure))

    @classmethod
    def _reason(cls, failure) -> str:
        if failure.check(IgnoreRequest) and not failure.check(outcomes.PageRejected):
            return cls._ignored_reason(failure.value)
        return outcomes.clean_reason(outcomes.failure_reason(failure))

    @staticmethod
    def _ignored_reason(exc: IgnoreRequest) -> str:
        return "session_lost" if "session lost" in str(exc) else "login_failed"

    def _reports(self, ref: str, owner: str) -> bool:
        """Whether this outcome is the run's one for `ref` (always, on a single node); if
        not, the unit counts as skipped here: another node reported it."""
        if self.reported is None or self.reported.claim(ref, owner):
            return True
        outcomes.skipped(self.crawler.stats)
        self.crawler.stats.inc_value("vehicles/reported_by_another_node")
        return False

    def _failed(
        self, item: VehicleItem, reason: str, reserved: bool = True, owner: str | None = None
    ):
        if self._reports(item.ref, owner or f"vehicle:{item.ref}"):
            item.status, item.reason = "failed", reason
            outcomes.failed(self.crawler.stats, reason, unit=item.ref)
            yield item
        if reserved and self.limit is not None:
            # A failed download gives its place under the limit to the next vehicle.
            self.reserved -= 1
            if self.waiting and not self.crawler.stats.get_value("fatal_error"):
                self.reserved += 1
                yield self._vehicle_request(self.waiting.popleft())
                self._update_total()

    def item_written(self, item, response, spider) -> None:
        # Connected only on a cluster node, where self.reported is set.
        if isinstance(item, VehicleItem) and self.reported is not None:
            self.reported.written(item.ref)

    def closed(self, reason: str) -> None:
        if self.waiting:
            self.crawler.stats.set_value("vehicles/left_by_limit", len(self.waiting))
            self.logger.info("vehicles: %d left for a later run (limit)", len(self.waiting))
