"""Logging in to the dealer portal in a real browser page, and accepting its licence.

The login form's challenge is computed by the page's own script, differently from one site
(or one day) to the next, so the browser fills the form and submits it as a person would;
the session cookies it ends up with are then lent to plain HTTP requests.
The page comes from scrapy-playwright (`playwright_include_page`) through the engine, so
it runs in the browser context named by VEHICLES_BROWSER_CONTEXT, with whatever that
context is bound to (a proxy, for instance).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from scrapy import Request

from crawlers.browser import browser_idle
from crawlers.errors import first_line
from crawlers.extraction.vehicles import csrf_meta, login_error
from crawlers.middlewares.retry import backoff_delay

logger = logging.getLogger(__name__)

LOGIN_META = "vehicles_login"


class LoginRefused(Exception):
    """The portal said no (`div.error`): wrong credentials, or a failed challenge."""


class LoginTrouble(Exception):
    """The login did not get through for a reason that may pass (a fault, a timeout)."""


@dataclass(frozen=True)
class PortalSession:
    cookies: tuple[tuple[str, str], ...]
    csrf_token: str
    user_agent: str
    generation: int

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies)


@dataclass
class LoginSettings:
    base_url: str
    username: str
    password: str
    context: str = "vehicles"
    timeout: float = 30.0
    attempts: int = 5
    refusals: int = 3  # refusals in a row before the credentials are blamed
    backoff_base: float = 0.5
    backoff_max: float = 30.0


class BrowserLogin:
    def __init__(self, crawler, settings: LoginSettings):
        self.crawler = crawler
        self.settings = settings
        # Vehicle pages in the browser keep it; otherwise it is let go between logins
        # (about 450 MB of Chromium and Playwright, for a few seconds' work an hour).
        self.keep_browser = crawler.settings.getbool("VEHICLES_BROWSER_PAGES", False)
        self._release: asyncio.Future | None = None

    async def login(self, generation: int) -> PortalSession:
        """A fresh, licensed session; LoginRefused when the portal keeps refusing it."""
        logger.info("vehicles: logging in (session %d)", generation)
        refused: list[str] = []
        trouble = ""
        for attempt in range(1, self.settings.attempts + 1):
            try:
                session = await self._attempt(generation)
            except LoginRefused as exc:
                refused.append(str(exc))
                self.crawler.stats.inc_value("vehicles/login_refused")
                if len(refused) >= self.settings.refusals:
                    raise LoginRefused(refused[-1]) from None
            except (LoginTrouble, PlaywrightError, TimeoutError) as exc:
                refused.clear()
                trouble = first_line(exc)
                self.crawler.stats.inc_value("vehicles/login_trouble")
            else:
                self.crawler.stats.inc_value("vehicles/logins")
                if not self.keep_browser:
                    # In the background: the requests waiting for this session go now.
                    self._release = asyncio.ensure_future(
                        self.crawler.signals.send_catch_log_async(browser_idle)
                    )
                return session
            await asyncio.sleep(
                backoff_delay(attempt, self.settings.backoff_base, self.settings.backoff_max)
            )
        raise LoginTrouble(f"no session after {self.settings.attempts} attempts: {trouble}")

    async def _attempt(self, generation: int) -> PortalSession:
        base = self.settings.base_url
        request = Request(
            f"{base}/login",
            dont_filter=True,
            meta={
                LOGIN_META: True,
                "playwright": True,
                "playwright_include_page": True,
                "playwright_context": self.settings.context,
                # Retrying here would leave the page of each failed try open.
                "dont_retry": True,
                # A page load with its script is no measure of the server's latency.
                "autothrottle_dont_adjust_delay": True,
                "download_timeout": self.settings.timeout,
            },
        )
        try:
            response = await self.crawler.engine.download_async(request)
        except BaseException:
            # scrapy-playwright leaves an included page open even when navigation fails.
            if request.meta.get("playwright_page") is not None:
                await request.meta["playwright_page"].close()
            raise
        page = response.meta.get("playwright_page")
        if page is None:
            raise LoginTrouble(f"login page answered {response.status} without a browser page")
        try:
            page.set_default_timeout(self.settings.timeout * 1000)
            if response.status != 200 or not await page.query_selector("form#login"):
                raise LoginTrouble(f"login page answered {response.status}")
            await page.fill("form#login input[name=username]", self.settings.username)
            await page.fill("form#login input[name=password]", self.settings.password)
            async with page.expect_navigation():
                await page.click("form#login [type=submit]")
            if await page.query_selector("form#login"):
                raise LoginRefused(login_error(await page.content()) or "login form shown again")
            if not await page.query_selector("form#license"):
                await self._goto(page, f"{base}/license", "form#license")
            async with page.expect_navigation():
                await page.click("form#license #accept")
            html = await page.content()
            token = csrf_meta(html)
            if not token:
                html = await self._goto(page, f"{base}/inventory", "meta[name=csrf-token]")
                token = csrf_meta(html)
            host = urlsplit(base).hostname
            cookies = tuple(
                (c["name"], c["value"])
                for c in await page.context.cookies(base)
                if c.get("domain", "").lstrip(".") == host
            )
            user_agent = await page.evaluate("navigator.userAgent")
        finally:
            await page.close()
        if not cookies or not token:
            raise LoginTrouble("signed in, but no session cookie or token came back")
        return PortalSession(cookies, token, user_agent, generation)

    async def _goto(self, page, url: str, selector: str) -> str:
        """Open `url` until `selector` is there: the portal may answer 429 or 5xx meanwhile."""
        for attempt in range(1, 4):
            response = await page.goto(url)
            if await page.query_selector(selector):
                return await page.content()
            if await page.query_selector("form#login"):
                raise LoginTrouble(f"{urlsplit(url).path}: sent back to the login form")
            status = response.status if response else 0
            await asyncio.sleep(random.uniform(0.5, 1.0) * attempt)
        raise LoginTrouble(f"{urlsplit(url).path} answered {status}")
