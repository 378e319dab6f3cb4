"""scrapy-playwright's download handler, holding a browser only while one is needed.

Written for scrapy-playwright 0.0.48: it overrides and calls the handler's private methods
(`_maybe_launch_in_thread`, `_download_request`, `_launch`, `_close`,
`_get_total_page_count`, `_browser_disconnected_callback`, `_maybe_future_from_coro`),
fingerprinted in crawlers/internals/__init__.py.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from playwright.async_api import Error as PlaywrightError
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from crawlers.browser import browser_idle

logger = logging.getLogger(__name__)


class BrowserHandler(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright's download handler, holding a browser only while one is needed.

    Playwright (a Node.js driver, about 120 MB a handler, one handler a URL scheme) starts
    at the first browser page rather than with the engine, so a crawl that asks for none
    never starts it, and `browser_idle` lets Chromium go (about 500 MB; the vehicles spider
    needs the browser only to log in, a few seconds an hour) and the driver with it (about
    120 MB), unless BROWSER_RELEASE_DRIVER is false: the next launch then skips the
    driver's start (0.5-0.7 s on a quiet machine). The next browser page starts what is
    missing (its request waits, as the first one does).
    """

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self._life = asyncio.Lock()
        self._started = False
        self._wanted = 0  # browser requests being downloaded
        self.release_driver = crawler.settings.getbool("BROWSER_RELEASE_DRIVER", True)
        crawler.signals.connect(self.release, browser_idle)

    async def _maybe_launch_in_thread(self) -> None:
        """At engine start: nothing yet (the first browser page starts Playwright)."""

    async def _download_request(self, request, spider=None):
        self._wanted += 1
        try:
            async with self._life:
                if not self._started:
                    await self._maybe_future_from_coro(self._launch())
                    self._started = True
            return await super()._download_request(request, spider)
        finally:
            self._wanted -= 1

    async def close(self) -> None:
        # After a release under way, never beside it: both would stop the same driver.
        async with self._life:
            await super().close()
            self._started = False

    async def release(self) -> None:
        """Close the browser (and, with BROWSER_RELEASE_DRIVER, stop Playwright) unless a
        page is open or on its way."""
        async with self._life:
            if not self._started or self._wanted or self._get_total_page_count():
                return
            browser = getattr(self, "browser", None)
            if browser is None and not self.release_driver:
                return
            if browser is not None:
                # The handler's own listener runs later, as a task: it would forget the
                # next browser instead of this one.
                browser.remove_listener("disconnected", self._browser_disconnected_callback)
            if self.release_driver:
                await self._close()
                self.browser_provider = None
                self._started = False
            else:
                with suppress(PlaywrightError):  # a context already gone
                    await asyncio.gather(
                        *(c.context.close() for c in self.context_wrappers.values())
                    )
                self.context_wrappers.clear()
                if browser is not None:
                    await browser.close()
            if browser is not None:
                del self.browser
            self.stats.inc_value("playwright/browser_released")
            logger.info("browser closed until a browser page is needed again")
