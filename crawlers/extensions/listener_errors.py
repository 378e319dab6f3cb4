"""One warning line, not a traceback, when Playwright's event listeners fail on a dead browser.

When Chromium dies under a crawl (killed, out of memory), the listeners scrapy-playwright
keeps on its pages (request routing, response logging) fail with "Target page, context or
browser has been closed". Playwright reports those through the asyncio loop's exception
handler, which logs an ERROR with a full traceback: alarming, and not ours to act on. The
request itself fails through its own path (retried, or failed with a reason) and the
handler launches a new browser, so the traceback tells the user nothing. Any other
listener error keeps its traceback.
"""

from __future__ import annotations

import logging

from playwright.async_api import Error as PlaywrightError
from scrapy import signals

from crawlers.errors import first_line

MESSAGE = "Unhandled error in an event listener"
# Playwright words a dead browser, context, page or pipe in these ways.
CLOSED = ("has been closed", "Connection closed", "Target closed", "Browser closed")


class DeadBrowserListenerFilter(logging.Filter):
    def __init__(self, stats=None) -> None:
        super().__init__()
        self.stats = stats

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != MESSAGE or not record.exc_info:
            return True
        error = record.exc_info[1]
        if not isinstance(error, PlaywrightError) or not any(c in str(error) for c in CLOSED):
            return True
        record.msg = "browser listener stopped with its browser: %s: %s"
        record.args = (type(error).__name__, first_line(error, limit=None))
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        if self.stats is not None:
            self.stats.inc_value("playwright/listener_errors_after_close")
        return True


class DeadBrowserListenerErrors:
    """Extension: installs the filter on the asyncio logger for the crawl's lifetime."""

    def __init__(self, crawler) -> None:
        self.filter = DeadBrowserListenerFilter(crawler.stats)
        self.logger = logging.getLogger("asyncio")
        self.logger.addFilter(self.filter)
        crawler.signals.connect(self.engine_stopped, signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def engine_stopped(self) -> None:
        self.logger.removeFilter(self.filter)
