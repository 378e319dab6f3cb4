"""What a ban looks like, told apart from a site's own errors.

scrapy-rotating-proxies' default policy calls every non-200 a ban, so a site's 404 benches
a good proxy. Here a ban is what a site does to a client it refuses, or a proxy failing:

- 403, 429 and 407 (the proxy refused our credentials): a ban;
- a captcha or block page (markers from BLOCK_PAGE_MARKERS or PROXY_BAN_MARKERS), a page
  the spider does not recognise (crawlers/middlewares/page_check.py), an empty 200: a ban;
- the proxy cannot be reached (refused, unknown host, tunnel failure; in the browser
  net::ERR_PROXY_* / ERR_TUNNEL_*) or drops/stalls the exchange: a ban;
- 502/503/504 and the like: unknown (could be the proxy's gateway or the site), counted
  neither way; the retry middleware retries them with backoff;
- anything else (200, 3xx, 401, 404, 500, ...): the proxy delivered the site's answer.

Methods return True (ban), False (the proxy works) or None (cannot tell), the contract of
rotating-proxies' `ROTATING_PROXY_BAN_POLICY`.
"""

from __future__ import annotations

import re

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy.core.downloader.handlers.http11 import TunnelError
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from twisted.internet import error as tx
from twisted.web.client import ResponseFailed, ResponseNeverReceived

from crawlers.extraction.blocks import BLOCKED, DEFAULT_BLOCK_MARKERS, UNRECOGNISED, BlockDetector
from crawlers.middlewares.page_check import page_problem

BAN_STATUSES = frozenset({403, 407, 429})
UNKNOWN_STATUSES = frozenset({502, 503, 504, 520, 521, 522, 523, 524})

# One list of block-page phrases for the ban policy and the spiders.
DEFAULT_BAN_MARKERS = DEFAULT_BLOCK_MARKERS

# The proxy could not be reached at all: never the page's fault.
UNREACHABLE_EXCEPTIONS = (
    DownloadConnectionRefusedError,
    CannotResolveHostError,
    TunnelError,
    tx.ConnectionRefusedError,
    tx.DNSLookupError,
    tx.NoRouteError,
)
# The proxy took the request and then failed or stalled: a ban, though the page may share
# the blame (a site that hangs), so these count against the page's proxy retries.
FAILED_EXCEPTIONS = (
    DownloadTimeoutError,
    DownloadFailedError,
    ResponseDataLossError,
    tx.ConnectError,
    tx.ConnectionLost,
    tx.ConnectionDone,
    ResponseFailed,
    ResponseNeverReceived,
)
_BROWSER_UNREACHABLE = re.compile(r"net::ERR_(PROXY_|TUNNEL_|SOCKS_|NO_SUPPORTED_PROXIES)")
_BROWSER_FAILED = re.compile(
    r"net::ERR_(TIMED_OUT|CONNECTION_(CLOSED|RESET|ABORTED|FAILED)|EMPTY_RESPONSE|"
    r"INVALID_AUTH_CREDENTIALS)"
)
# What a browser serializes for a page that answered nothing.
_EMPTY_DOCUMENTS = frozenset({b"", b"<html><head></head><body></body></html>"})


def proxy_unreachable(exception: BaseException) -> bool:
    """True when the proxy itself could not be reached: trying another proxy costs the page
    nothing, so it does not count against ROTATING_PROXY_PAGE_RETRY_TIMES."""
    if isinstance(exception, UNREACHABLE_EXCEPTIONS):
        return True
    return isinstance(exception, PlaywrightError) and bool(
        _BROWSER_UNREACHABLE.search(str(exception))
    )


class BanPolicy:
    def __init__(self, markers: list[str] | tuple[str, ...] = DEFAULT_BAN_MARKERS):
        self.blocks = BlockDetector(markers)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        markers = (
            settings.getlist("PROXY_BAN_MARKERS")
            or settings.getlist("BLOCK_PAGE_MARKERS")
            or list(DEFAULT_BAN_MARKERS)
        )
        return cls(markers)

    def response_is_ban(self, request, response) -> bool | None:
        problem = page_problem(request)
        if problem in (BLOCKED, UNRECOGNISED):
            return True
        if problem is not None:
            return None  # not rendered yet: the site's script, not the proxy
        status = response.status
        if status in BAN_STATUSES:
            return True
        if status == 200 and self._empty(response):
            return True
        if self._block_page(response):
            return True
        if status in UNKNOWN_STATUSES:
            return None
        return False

    def exception_is_ban(self, request, exception) -> bool | None:
        if proxy_unreachable(exception) or isinstance(exception, FAILED_EXCEPTIONS):
            return True
        if isinstance(exception, PlaywrightTimeoutError):
            return True
        if isinstance(exception, PlaywrightError) and _BROWSER_FAILED.search(str(exception)):
            return True
        return None

    @staticmethod
    def _empty(response) -> bool:
        body = response.body
        return len(body) <= 64 and b"".join(body.split()).lower() in _EMPTY_DOCUMENTS

    def _block_page(self, response) -> bool:
        if "/sorry/index" in response.url:
            return True
        if not self.blocks.markers or not hasattr(response, "text"):
            return False
        return self.blocks.reason(response.body) is not None
