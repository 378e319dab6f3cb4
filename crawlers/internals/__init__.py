"""Everything that touches private internals of Scrapy or its plugins, in one place.

Each use is a function or class of this package that says what it relies on, the version it
was written for and the upstream issue when there is one:
- engine.py: the moment a request is fully handled (the engine slot's `remove_request`,
  the cluster's ack), how often an idle engine looks for work (`_SLOT_HEARTBEAT_INTERVAL`),
  Scrapy's retry decision (`RetryMiddleware._retry`), whether CoreStats saw the spider open
  (`_start_time_mono`), the crawl command's crawler (`ScrapyCommand._create_crawler`);
- downloader.py: the downloader that keeps CONCURRENT_REQUESTS_PER_DOMAIN under asyncio
  (`Downloader._process_queue`, scrapy/scrapy#6982);
- concurrency.py: the downloader's total concurrency changed during a crawl
  (`Downloader.total_concurrency`, read by `needs_backout`; the engine's `_slot.nextcall`
  woken when it grows) and the requests on the wire (each slot's `transferring`), for
  CONCURRENCY_AUTO (crawlers/extensions/autoscale.py);
- playwright.py: scrapy-playwright's open browser contexts (`context_wrappers`, found
  through the downloader's `_handlers`);
- browser_handler.py: scrapy-playwright's download handler starting Playwright at the first
  browser page and letting it go when no page is needed (its private methods).
Outside this package for now: crawlers/spider_loader.py (Scrapy's SpiderLoader with its
private `_spiders`, `_found`, `_load_spiders`, `_load_all_spiders`), fingerprinted here too.

RELIED_ON fingerprints the upstream source of each: tests/unit/test_internals.py fails
when upstream changes one of them, so that a Scrapy or plugin upgrade starts with reading
what changed. At the start of a crawl on versions other than CHECKED, one warning line
(the VersionCheck add-on).

Replaced by public API, so not here any more: `engine._slot.scheduler` (Scrapy 2.19's
`engine.scheduler`), `playwright._impl._errors.Error` (`playwright.async_api.Error`),
`twisted.web._newclient` (`twisted.web.client`), aiohttp's `site._server` (`runner.addresses`).
No attribute is added to Scrapy's Crawler: crawlers/errors.py keeps a crawl's fatal error
beside it.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from dataclasses import dataclass
from importlib import metadata

logger = logging.getLogger(__name__)

# The distributions whose internals are used, at the versions the uses were written for.
CHECKED = {"scrapy": "2.19.0", "scrapy-playwright": "0.0.48"}


@dataclass(frozen=True)
class Reliance:
    target: str  # "module:qualname" of the upstream object whose source we rely on
    fingerprint: str  # sha256 of its source, first 16 hex digits, at CHECKED
    why: str


RELIED_ON = (
    Reliance(
        "scrapy.core.engine:_Slot",
        "46bba31332822794",
        "remove_request(request) runs once per request, when its response or failure and "
        "all the callback produced are handled (the cluster acks there)",
    ),
    Reliance(
        "scrapy.core.engine:ExecutionEngine._start_request_processing",
        "4fa182f2d7083737",
        "the heartbeat starts with _SLOT_HEARTBEAT_INTERVAL after the scheduler opened",
    ),
    Reliance(
        "scrapy.core.engine:ExecutionEngine.open_spider_async",
        "79230bb759494237",
        "the scheduler opens once the engine's _slot exists",
    ),
    Reliance(
        "scrapy.downloadermiddlewares.retry:RetryMiddleware._retry",
        "9a43b83008e97e47",
        "_retry(request, reason) returns the retry request or None, honouring meta",
    ),
    Reliance(
        "scrapy.extensions.corestats:CoreStats",
        "341a8c1eb9856ccc",
        "_start_time_mono is None until spider_opened",
    ),
    Reliance(
        "scrapy.core.downloader:Downloader._process_queue",
        "872b81a4bbb4cb1a",
        "PacedDownloader replaces it (scrapy/scrapy#6982)",
    ),
    Reliance(
        "scrapy.core.downloader:Downloader._enqueue_request",
        "1a02e3882d827f48",
        "the request's slot key is in its meta (download_slot) before _process_queue runs, "
        "where the shared pace reads it",
    ),
    Reliance(
        "scrapy.core.downloader:Downloader._wait_for_download",
        "35ca6793c8795004",
        "PacedDownloader schedules it as Scrapy's _process_queue does",
    ),
    Reliance(
        "scrapy.core.downloader:Downloader._latercall",
        "a63f8c948b8cc3b8",
        "PacedDownloader schedules it as Scrapy's _process_queue does",
    ),
    Reliance(
        "scrapy.utils.defer:_schedule_coro",
        "559a320e3737e7cb",
        "PacedDownloader starts each download as Scrapy's _process_queue does",
    ),
    Reliance(
        "scrapy.core.downloader:Downloader.needs_backout",
        "71279f539323bf13",
        "total_concurrency is read at every check, so changing it mid-crawl takes effect",
    ),
    Reliance(
        "scrapy.core.engine:ExecutionEngine.needs_backout",
        "1ae5b0d611b9ce12",
        "the engine takes no request from the scheduler while the downloader backs out",
    ),
    Reliance(
        "scrapy.core.downloader:Slot.free_transfer_slots",
        "36e8a487ef9399cf",
        "a slot's transferring set holds its requests on the wire",
    ),
    Reliance(
        "scrapy.utils.reactor:CallLaterOnce.schedule",
        "43495f1b961488c9",
        "engine._slot.nextcall.schedule() makes the engine look for requests soon",
    ),
    Reliance(
        "scrapy.spiderloader:SpiderLoader.__init__",
        "b26b73c7e2165c6f",
        "LazySpiderLoader sets the attributes it fills (_spiders, _found) itself",
    ),
    Reliance(
        "scrapy.spiderloader:SpiderLoader._load_all_spiders",
        "41dfd8b4a701e129",
        "LazySpiderLoader calls it when the named module holds no such spider",
    ),
    Reliance(
        "scrapy.spiderloader:SpiderLoader._load_spiders",
        "a9b7cb9499337ffa",
        "LazySpiderLoader loads one module's spiders with it",
    ),
    Reliance(
        "scrapy.commands:BaseRunSpiderCommand._create_crawler",
        "65aff03062097154",
        "the crawl command builds its crawler with it, as Scrapy's own does",
    ),
    Reliance(
        "scrapy.core.downloader.handlers:DownloadHandlers._get_handler",
        "b04cec7c61f042e4",
        "_handlers maps a scheme to its loaded handler",
    ),
    Reliance(
        "scrapy_playwright.handler:ScrapyPlaywrightDownloadHandler._maybe_launch_in_thread",
        "4a47eac9990295bb",
        "BrowserHandler overrides it: called once at engine start to launch",
    ),
    Reliance(
        "scrapy_playwright.handler:ScrapyPlaywrightDownloadHandler._download_request",
        "c1f8b082549c82e4",
        "BrowserHandler wraps it: every browser request goes through it",
    ),
    Reliance(
        "scrapy_playwright.handler:ScrapyPlaywrightDownloadHandler._maybe_future_from_coro",
        "6a4728c1aa0569e3",
        "BrowserHandler runs _launch through it, as the handler does",
    ),
    Reliance(
        "scrapy_playwright.handler:ScrapyPlaywrightDownloadHandler._launch",
        "8bea77949f035a3a",
        "BrowserHandler calls it: starts Playwright and the browser",
    ),
    Reliance(
        "scrapy_playwright.handler:ScrapyPlaywrightDownloadHandler._close",
        "42175fdfeb8c7ed0",
        "BrowserHandler calls it: stops the browser and Playwright",
    ),
    Reliance(
        "scrapy_playwright.handler:ScrapyPlaywrightDownloadHandler.close",
        "5d34f6e4961a67fc",
        "BrowserHandler wraps it: the handler closing at the end of the crawl",
    ),
    Reliance(
        "scrapy_playwright.handler:ScrapyPlaywrightDownloadHandler._get_total_page_count",
        "c42b7b7db3f35989",
        "BrowserHandler asks it whether a page is open",
    ),
    Reliance(
        "scrapy_playwright.handler:ScrapyPlaywrightDownloadHandler._browser_disconnected_callback",
        "91593df2c07eee5d",
        "BrowserHandler removes it before closing the browser itself",
    ),
    Reliance(
        "scrapy_playwright.handler:ScrapyPlaywrightDownloadHandler._create_browser_context",
        "df448271082a6fb8",
        "context_wrappers maps a context's name to its wrapper (.context) while it is open",
    ),
)


def resolve(target: str):
    module_name, qualname = target.split(":")
    obj = __import__(module_name, fromlist=["_"])
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def fingerprint(target: str) -> str:
    source = inspect.getsource(resolve(target))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def unchecked() -> list[str]:
    """'name installed (checked: version)' for each distribution at another version."""
    found = []
    for name, checked in CHECKED.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # not installed: nothing of it is used
        if installed != checked:
            found.append(f"{name} {installed} (checked: {checked})")
    return found


_warned = False


def warn_unchecked() -> bool:
    """One warning line, once per process, if a version was not checked. True if warned."""
    global _warned
    versions = unchecked()
    if _warned or not versions:
        return False
    _warned = True
    logger.warning(
        "Scrapy internals this project relies on were checked on other versions than %s;"
        " run tests/unit/test_internals.py (see crawlers/internals)",
        ", ".join(versions),
    )
    return True


class VersionCheck:
    """Add-on: the warning line at the start of a crawl."""

    @classmethod
    def from_crawler(cls, crawler):
        return cls()

    def update_settings(self, settings) -> None:
        warn_unchecked()
