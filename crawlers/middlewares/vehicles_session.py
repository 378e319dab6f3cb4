"""The dealer portal's session, attached to each request when it is downloaded.

Queued requests carry no cookie, token or signature of their own session: they may wait in
a shared queue, be run by another node, or outlive the session they were made in. Each
process logs in by itself, on its first request (a browser login, vehicles_login.py), and
again when the portal says the session is gone (a 302 to the login or licence page, a 401,
a 403 from the API). One login at a time, whatever the number of requests that noticed;
the failed request is then sent again under the new session. The session's requests in
flight are kept under the limit its 429s reveal (vehicles_inflight.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import NoReturn
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

from crawlers.errors import EXIT_FAILED, stop_crawl
from crawlers.middlewares.vehicles_inflight import InFlightLimit
from crawlers.middlewares.vehicles_login import (
    LOGIN_META,
    BrowserLogin,
    LoginRefused,
    LoginSettings,
    LoginTrouble,
    PortalSession,
)

logger = logging.getLogger(__name__)

GENERATION = "vehicles_session"
RENEWALS = "vehicles_session_renewals"
IN_FLIGHT = "vehicles_in_flight"
REDIRECTS = {301, 302, 303, 307, 308}


class VehicleSessionMiddleware:
    def __init__(self, crawler, login: BrowserLogin, renewals: int, in_flight: int):
        self.crawler = crawler
        self.login = login
        self.renewals = renewals
        base = urlsplit(login.settings.base_url)
        self.netloc = base.netloc
        self.root = base.path.rstrip("/")
        self.session: PortalSession | None = None
        self.lock = asyncio.Lock()
        self.fatal: str | None = None
        self.in_flight = InFlightLimit(in_flight)

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        login = BrowserLogin(
            crawler,
            LoginSettings(
                base_url=s.get("VEHICLES_BASE_URL", "").rstrip("/"),
                username=s.get("VEHICLES_USERNAME", ""),
                password=s.get("VEHICLES_PASSWORD", ""),
                context=s.get("VEHICLES_BROWSER_CONTEXT", "vehicles"),
                # Its own: a browser's first page on a busy machine takes longer than a
                # plain request, and a login that times out stops the crawl.
                timeout=s.getfloat("VEHICLES_LOGIN_TIMEOUT", 30.0),
                attempts=s.getint("VEHICLES_LOGIN_ATTEMPTS", 5),
                backoff_base=s.getfloat("RETRY_BACKOFF_BASE", 0.5),
                backoff_max=s.getfloat("RETRY_BACKOFF_MAX", 60.0),
            ),
        )
        return cls(
            crawler,
            login,
            s.getint("VEHICLES_SESSION_RENEWALS", 3),
            s.getint("CONCURRENT_REQUESTS", 16),
        )

    def _ours(self, request) -> bool:
        return not request.meta.get(LOGIN_META) and urlsplit(request.url).netloc == self.netloc

    async def process_request(self, request):
        if not self._ours(request):
            return None
        await self.in_flight.enter()
        request.meta[IN_FLIGHT] = True
        session = self.session
        if session is None:
            try:
                session = await self._renew(None)
            except IgnoreRequest:
                await self._leave(request, too_many=False)
                raise
        request.meta["dont_merge_cookies"] = True
        request.meta[GENERATION] = session.generation
        request.headers["Cookie"] = session.cookie_header()
        request.headers["X-CSRF-Token"] = session.csrf_token
        # Sessions may be bound to the browser that opened them.
        request.headers["User-Agent"] = session.user_agent
        return None

    async def process_response(self, request, response):
        if not self._ours(request):
            return response
        await self._leave(request, too_many=response.status == 429)
        if not self._session_gone(request, response):
            return response
        self.crawler.stats.inc_value("vehicles/session_gone")
        renewals = request.meta.get(RENEWALS, 0)
        if renewals >= self.renewals:
            raise IgnoreRequest(f"session lost {renewals} times in a row")
        await self._renew(request.meta.get(GENERATION))
        again = request.replace(dont_filter=True)
        again.meta[RENEWALS] = renewals + 1
        return again

    async def process_exception(self, request, exception):
        if self._ours(request):
            await self._leave(request, too_many=False)

    async def _leave(self, request, too_many: bool) -> None:
        if request.meta.pop(IN_FLIGHT, False):
            await self.in_flight.leave(too_many)
            self.crawler.stats.set_value("vehicles/in_flight_limit", self.in_flight.limit)

    def _session_gone(self, request, response) -> bool:
        if response.status == 401:
            return True
        # A browser page follows the redirect itself and shows where it ended.
        gates = (f"{self.root}/login", f"{self.root}/license")
        if urlsplit(response.url).path in gates and urlsplit(request.url).path not in gates:
            return True
        if response.status in REDIRECTS:
            location = response.headers.get(b"Location", b"").decode("latin-1")
            path = urlsplit(response.urljoin(location)).path
            return path in gates
        return response.status == 403 and urlsplit(request.url).path.startswith(f"{self.root}/api/")

    async def _renew(self, generation: int | None) -> PortalSession:
        """Log in, unless another request already did since `generation` was in force; the
        session in force after."""
        async with self.lock:
            if self.fatal:
                raise IgnoreRequest(self.fatal)
            if self.session is not None and self.session.generation != generation:
                return self.session
            number = (self.session.generation if self.session else 0) + 1
            try:
                self.session = await self.login.login(number)
            except LoginRefused as exc:
                self._give_up(
                    f"login refused by {self.netloc}: {exc} "
                    "(check VEHICLES_USERNAME and VEHICLES_PASSWORD)",
                    exit_code=2,
                )
            except LoginTrouble as exc:
                self._give_up(f"cannot log in to {self.netloc}: {exc}", exit_code=EXIT_FAILED)
            logger.info("vehicles: logged in (session %d)", number)
            return self.session

    def _give_up(self, message: str, exit_code: int) -> NoReturn:
        self.fatal = message
        logger.error("vehicles: %s", message)
        stop_crawl(self.crawler, message, reason="login_failed", exit_code=exit_code)
        raise IgnoreRequest(message)
