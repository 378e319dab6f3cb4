"""Every request, plain or browser, through a proxy from our list, with bans told apart.

Two downloader middlewares (see the PROXY block of crawlers/settings.py):

`ProxyBanDetectionMiddleware` (620) is scrapy-rotating-proxies' BanDetectionMiddleware
with our `crawlers.proxies.policy.BanPolicy` (ROTATING_PROXY_BAN_POLICY): it marks
`meta["_ban"]` True/False/None and counts `bans/status/<code>`, `bans/error/<class>`.

`ProxyRotationMiddleware` (610) picks the proxy and settles the outcome. It keeps
rotating-proxies' contract (`_rotating_proxy`, `_ban`, `proxy_retry_times`,
`max_proxies_to_try`, ROTATING_PROXY_PAGE_RETRY_TIMES) but not its proxy pool, which keys
proxies by host:port (merging the many accounts of one Webshare gateway), benches a proxy
on its first ban, lives in one process, gives each proxy its own download slot (so a site
is hit N times harder with N proxies) and, when every proxy is dead, goes on as if none
were. Here:

- proxies are taken in turn among those not resting (crawlers.proxies.health);
- plain requests get `meta["proxy"]`; browser requests (`meta["playwright"]`) get a
  Playwright context per proxy, `proxy-<id>`, created with that proxy, because
  scrapy-playwright ignores `meta["proxy"]`. A context the spider named itself (a login
  session) is bound to one proxy for its lifetime;
- the download slot stays the target site's, so pacing is per site;
- a ban retries the page through another proxy; a proxy that could not be reached at all
  does not use up the page's ROTATING_PROXY_PAGE_RETRY_TIMES (it is never the page's
  fault), other bans do;
- when every proxy rests, requests wait for the first one back: the crawl slows down and
  says so (log, `proxies/waits`, `proxies/wait_seconds`), it never goes direct. Unless no
  page of the run has got through any proxy yet (on any node): then the list or the site
  is the trouble, not bad luck, and the crawl stops with one error line instead of idling
  for a rest's length.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from rotating_proxies.middlewares import BanDetectionMiddleware
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet import task

from crawlers.cluster import connection, keys
from crawlers.cluster.scheduler import run_token
from crawlers.errors import ConfigError, stop_crawl
from crawlers.jobs import job_id
from crawlers.progress_math import format_duration
from crawlers.proxies.contexts import ProxyContexts, context_name, running_engine
from crawlers.proxies.health import ALIVE, BANNED, RESTING, LocalHealth, RedisHealth
from crawlers.proxies.policy import proxy_unreachable
from crawlers.proxies.proxylist import Proxy, load_proxies, parse_line

logger = logging.getLogger(__name__)

# Not rotating-proxies' default, which calls every non-200 a ban.
DEFAULT_POLICY = "crawlers.proxies.policy.BanPolicy"
# Requests waiting for a proxy check this often whether one is back or the crawl stops.
WAIT_STEP = 0.5


def proxy_list_path(settings) -> Path | None:
    """PROXY_LIST, else DATA_DIR/proxies.txt when it exists, else None (direct)."""
    configured = (settings.get("PROXY_LIST") or "").strip()
    if configured:
        return Path(configured)
    default = Path(settings.get("DATA_DIR") or "data") / "proxies.txt"
    return default if default.exists() else None


def forget_credentials(request) -> None:
    """Once answered, a request may go back to the scheduler (a retry) and so to a disk
    queue (JOBDIR) or the shared Redis queue: not with the proxy's credentials. The next
    pass through the middleware gives it a proxy again."""
    meta = request.meta
    meta.pop("proxy", None)
    meta.pop("_auth_proxy", None)
    request.headers.pop(b"Proxy-Authorization", None)
    kwargs = meta.get("playwright_context_kwargs")
    if kwargs and "proxy" in kwargs:
        rest = {k: v for k, v in kwargs.items() if k != "proxy"}
        if rest:
            meta["playwright_context_kwargs"] = rest
        else:
            del meta["playwright_context_kwargs"]


class ProxyBanDetectionMiddleware(BanDetectionMiddleware):
    """rotating-proxies' ban detection without the `spider` argument Scrapy 2.19 deprecates."""

    def __init__(self, stats, policy, crawler):
        super().__init__(stats, policy)
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        if proxy_list_path(crawler.settings) is None or not crawler.settings.getbool(
            "PROXY_ENABLED", True
        ):
            raise NotConfigured
        return cls(crawler.stats, cls._load_policy(crawler), crawler)

    @classmethod
    def _load_policy(cls, crawler):
        path = crawler.settings.get("ROTATING_PROXY_BAN_POLICY") or DEFAULT_POLICY
        return build_from_crawler(load_object(path), crawler)

    def process_response(self, request, response):
        return super().process_response(request, response, self.crawler.spider)

    def process_exception(self, request, exception):
        return super().process_exception(request, exception, self.crawler.spider)


def ban_kind(response, exception) -> str:
    """What a proxy's ban looked like, for the error that ends a crawl no proxy served."""
    if exception is not None:
        return "unreachable" if proxy_unreachable(exception) else "failing or too slow"
    if response is None:
        return "banned"
    if response.status == 407:
        return "refusing the credentials (407)"
    if response.status in (403, 429):
        return f"answering {response.status}"
    return "serving block or empty pages"


class ProxyRotationMiddleware:
    def __init__(
        self, crawler, proxies: list[Proxy], health: LocalHealth, source: Path | None = None
    ):
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.proxies = {p.id: p for p in proxies}
        self.health = health
        self.max_proxies_to_try = settings.getint("ROTATING_PROXY_PAGE_RETRY_TIMES", 5)
        self.logstats_interval = settings.getfloat("ROTATING_PROXY_LOGSTATS_INTERVAL", 60)
        self.refresh_interval = settings.getfloat("PROXY_HEALTH_REFRESH_SECONDS", 2.0)
        self.contexts = ProxyContexts(crawler, settings.getint("PLAYWRIGHT_MAX_CONTEXTS") or None)
        self._turn = itertools.count()
        self._waiting_since: float | None = None
        self._last_status = {pid: health.status(pid) for pid in self.proxies}
        self._tasks: list[task.LoopingCall] = []
        self.source = source
        # Requests holding a proxy whose answer has not come yet: one of them may still
        # prove the list works, so "nothing got through" waits for them.
        self._in_flight = 0
        self._last_ban: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        if not settings.getbool("PROXY_ENABLED", True):
            logger.info("Proxies off (PROXY_ENABLED): direct")
            raise NotConfigured
        path = proxy_list_path(settings)
        if path is None:
            logger.info("No proxy list (PROXY_LIST unset, no proxies.txt in DATA_DIR): direct")
            raise NotConfigured
        proxies = load_proxies(path)
        mw = cls(crawler, proxies, cls._health(crawler, [p.id for p in proxies]), path)
        crawler.signals.connect(mw.engine_started, signal=signals.engine_started)
        # Before the stats are dumped and written (spider_closed), not at engine_stopped.
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        logger.info("Proxies: %d from %s, health %s", len(proxies), path, mw.health.where)
        return mw

    @staticmethod
    def _health(crawler, ids: list[str]) -> LocalHealth:
        settings = crawler.settings
        kwargs = dict(
            threshold=settings.getint("PROXY_BAN_THRESHOLD", 10),
            rest_base=settings.getfloat("PROXY_REST_SECONDS", 3600),
            rest_max=settings.getfloat("PROXY_REST_MAX_SECONDS", 4 * 3600),
        )
        url = settings.get("REDIS_URL")
        if not url:
            return LocalHealth(ids, **kwargs)
        import redis

        client = connection.client(settings, timeout=10)
        key = keys.proxy_health(job_id(crawler))
        health = RedisHealth(ids, client, key, **kwargs)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise ConfigError(f"proxy health: Redis unreachable ({type(exc).__name__})") from None
        health.refresh()
        return health

    # -- lifecycle ----------------------------------------------------------------------
    def engine_started(self) -> None:
        # The spider (and the cluster scheduler, which knows the run) is open by now.
        self.health.join_run(run_token(self.crawler))
        self._publish()
        # The refresh also notices rests ending, so it always runs; the log line may be off.
        for func, interval in (
            (self._refresh, max(0.1, self.refresh_interval)),
            (self._log_health, self.logstats_interval),
        ):
            if interval <= 0:
                continue
            loop = task.LoopingCall(func)
            loop.start(interval, now=False)
            self._tasks.append(loop)

    def spider_closed(self) -> None:
        for loop in self._tasks:
            if loop.running:
                loop.stop()
        self._publish()
        self._log_health()

    def _refresh(self) -> None:
        self.health.refresh()
        self._publish()

    def _log_health(self) -> None:
        counts = self.health.counts()
        logger.info(
            "Proxies: %d alive, %d banned, %d resting (of %d)",
            counts[ALIVE],
            counts[BANNED],
            counts[RESTING],
            len(self.proxies),
        )

    def _publish(self) -> None:
        """Stats and log lines for proxies whose status changed (a rest ending is noticed
        here, since it happens by the clock rather than by an answer)."""
        counts = {ALIVE: 0, BANNED: 0, RESTING: 0}
        for pid, proxy in self.proxies.items():
            status = self.health.status(pid)
            counts[status] += 1
            before = self._last_status.get(pid)
            if before == RESTING and status != RESTING:
                logger.info("Proxy %s is back from its rest", proxy.label)
                self.stats.inc_value("proxies/returned")
            self._last_status[pid] = status
        for name, value in counts.items():
            self.stats.set_value(f"proxies/{name}", value)
        self.stats.set_value("proxies/total", len(self.proxies))

    # -- requests -----------------------------------------------------------------------
    async def process_request(self, request, spider=None):
        meta = request.meta
        browser = bool(meta.get("playwright"))
        if browser and (meta.get("_spider_proxy") or meta.get("proxy")):
            if not meta.get("_rotating_proxy"):
                # The spider chose the proxy and scrapy-playwright would drop it: carry it
                # in a context of its own instead.
                meta["_spider_proxy"] = meta.pop("proxy", None) or meta["_spider_proxy"]
                proxy = parse_line(meta["_spider_proxy"])
                if proxy is not None:
                    self.contexts.bind(request, proxy, own_context=True)
                return None
        elif "proxy" in meta and not meta.get("_rotating_proxy"):
            return None  # the spider chose the proxy
        if browser and meta.get("playwright_context") and not meta.get("_proxy_context"):
            proxy = await self._sticky_proxy(request)
        else:
            proxy = await self._next_proxy(request, browser)
        if proxy is None:  # the crawl is stopping: back to the scheduler, not lost
            return request.replace(dont_filter=True)
        meta["_rotating_proxy"] = True
        meta["_proxy_id"] = proxy.id
        if not meta.get("_proxy_in_flight"):
            meta["_proxy_in_flight"] = True
            self._in_flight += 1
        self.stats.inc_value("proxies/requests")
        if browser:
            meta.pop("proxy", None)
        else:
            meta["proxy"] = proxy.url
        # Pacing stays per site: no per-proxy download slot (rotating-proxies' default).
        return None

    async def _next_proxy(self, request, browser: bool) -> Proxy | None:
        """The next proxy in turn among those not resting; waits while all rest. Browser
        requests are bound here to the proxy's context. None: the crawl is stopping."""
        while True:
            usable = self.health.usable()
            if usable:
                self._end_wait()
                pid = usable[next(self._turn) % len(usable)]
                if not browser:
                    return self.proxies[pid]
                async with self.contexts.lock:
                    chosen = await self._browser_choice(request, pid, usable)
                    if chosen is not None:
                        self.contexts.bind(request, self.proxies[chosen], own_context=True)
                        return self.proxies[chosen]
            elif self._engine_running():
                if not self.health.served and self._in_flight:
                    pass  # an answer on its way may yet show that the list works
                elif self._nothing_got_through():
                    self._give_up()
                    return None
                else:
                    self._start_wait()
            if not self._engine_running():
                return None
            await asyncio.sleep(min(WAIT_STEP, max(self.health.next_return(), 0.05)))
            self._publish()

    async def _browser_choice(self, request, pid: str, usable: list[str]) -> str | None:
        """`pid` if its context is open or there is room for it, else the usable proxy
        with an open context and the fewest pages in flight; None: wait for room."""
        scheme = urlsplit(request.url).scheme
        if await self.contexts.room_for(scheme, context_name(self.proxies[pid])):
            return pid
        taken = self.contexts.taken(scheme)
        names = {p: context_name(self.proxies[p]) for p in usable}
        open_usable = [p for p in usable if names[p] in taken]
        if not open_usable:
            return None
        return min(open_usable, key=lambda p: self.contexts.in_flight(scheme, names[p]))

    async def _sticky_proxy(self, request) -> Proxy | None:
        """A context the spider named (a login session) keeps the proxy it first got, for
        as long as it is open, whatever that proxy's health: the session lives there."""
        pid = self.contexts.sticky_proxy(request)
        if pid is None:
            proxy = await self._next_proxy(request, browser=False)
            if proxy is None:
                return None
            pid = proxy.id
            self.contexts.stick(request, pid)
        scheme, name = self.contexts.key(request)
        while True:
            async with self.contexts.lock:
                if await self.contexts.room_for(scheme, name):
                    self.contexts.bind(request, self.proxies[pid], own_context=False)
                    return self.proxies[pid]
            if not self._engine_running():
                return None
            await asyncio.sleep(WAIT_STEP)

    def _engine_running(self) -> bool:
        """False as soon as the spider closes (stop_crawl, CloseSpider), not only once the
        engine stops: closing waits for the requests held here."""
        engine = running_engine(self.crawler)
        if engine is None or not engine.running:
            return False
        slot = getattr(engine, "_slot", None)
        return slot is not None and slot.closing is None

    def _nothing_got_through(self) -> bool:
        """Every proxy rests and no page of the run has got through one, here or (shared
        through Redis) on another node."""
        if self.health.served:
            return False
        self.health.refresh()  # another node's first page may be seconds old
        return not self.health.served and not self.health.usable()

    def _give_up(self) -> None:
        kinds = Counter(self._last_ban.get(pid, "banned") for pid in self.proxies)
        how = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
        source = f" of {self.source}" if self.source else ""
        message = (
            f"proxies: all {len(self.proxies)} proxies{source} are resting and no page has "
            f"got through any of them ({how}): check the list (addresses, credentials) and "
            "whether the site refuses them; once pages get through, a crawl with every "
            "proxy resting waits instead"
        )
        logger.error(message)
        stop_crawl(self.crawler, message, reason="proxies_unusable")

    def _start_wait(self) -> None:
        if self._waiting_since is not None:
            return
        self._waiting_since = time.monotonic()
        self.stats.inc_value("proxies/waits")
        logger.warning(
            "All %d proxies are resting: the crawl waits for the first one back (in %s)",
            len(self.proxies),
            format_duration(self.health.next_return(), tenths=True),
        )

    def _end_wait(self) -> None:
        if self._waiting_since is None:
            return
        waited = time.monotonic() - self._waiting_since
        self._waiting_since = None
        self.stats.inc_value("proxies/wait_seconds", round(waited, 3))
        logger.info("A proxy is back after %.1fs with all resting: the crawl goes on", waited)

    # -- outcomes -----------------------------------------------------------------------
    def process_response(self, request, response, spider=None):
        return self._settle(request, response=response) or response

    def process_exception(self, request, exception, spider=None):
        return self._settle(request, exception=exception)

    def _settle(self, request, response=None, exception=None):
        meta = request.meta
        self.contexts.release(request)
        if meta.pop("_proxy_in_flight", None):
            self._in_flight -= 1
        pid = meta.get("_proxy_id")
        proxy = self.proxies.get(pid) if meta.get("_rotating_proxy") else None
        if proxy is None:
            return None
        forget_credentials(request)
        ban = meta.pop("_ban", None)
        if ban is False:
            # Even through a proxy resting by now: the list works, waiting is worth it.
            self.health.page_served()
            self.health.good(pid)
            if self._last_status.get(pid) != ALIVE:
                self._publish()
            return None
        if ban is not True:
            return None
        self.stats.inc_value("proxies/bans")
        self._last_ban[pid] = ban_kind(response, exception)
        rest = self.health.ban(pid)
        if rest:
            self.stats.inc_value("proxies/rests")
            logger.warning(
                "Proxy %s rests for %s (%s)",
                proxy.label,
                format_duration(rest, tenths=True),
                "banned again after a rest"
                if self.health.states[pid].rests > 1
                else f"{self.health.threshold} bans in a row",
            )
        self._publish()
        unreachable = exception is not None and proxy_unreachable(exception)
        return self._retry(request, unreachable)

    def _retry(self, request, unreachable: bool):
        meta = request.meta
        if meta.get("playwright_context") and not meta.get("_proxy_context"):
            return None  # bound to its proxy: the retry middleware tries it again
        tries = meta.get("proxy_retry_times", 0) + (0 if unreachable else 1)
        if tries > meta.get("max_proxies_to_try", self.max_proxies_to_try):
            self.stats.inc_value("proxies/retries_exhausted")
            return None
        retry = request.copy()
        retry.meta["proxy_retry_times"] = tries
        retry.dont_filter = True
        self.stats.inc_value("proxies/retries")
        return retry
