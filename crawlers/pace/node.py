"""This node's side of the per-site pace: when the downloader may start a site's next request.

The downloader (crawlers/internals/downloader.py) asks `Paces.admit` before it starts each
request. Most answers come from what this node holds already: its slots (requests it may
have in flight) and its tokens (times it may send at, when a rate is set). The table
(crawlers/pace/table.py: in Redis for a cluster node, in memory otherwise) is asked only
every CLUSTER_SITE_SYNC_INTERVAL per site with work (which also renews the node's lease
and reports what it saw), sooner when the node can start nothing or a 429 came back: a few
round trips a second per site, whatever the number of requests.

A Retry-After or a 429 seen here goes to the table at once; every other node learns of it
at its next ask, at most an interval later. A 429 on a request that a login session's own
in-flight limit counts (the vehicles portal's, crawlers/middlewares/vehicles_inflight.py)
is that session's business, not the site's, and is left out.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque

from scrapy import signals
from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.asyncio import AsyncioLoopingCall, create_looping_call
from twisted.internet.task import LoopingCall

from crawlers.cluster import connection
from crawlers.cluster.connection import UNAVAILABLE, describe
from crawlers.env import redact_url
from crawlers.errors import ConfigError
from crawlers.jobs import job_id, node_id
from crawlers.middlewares.retry import parse_retry_after
from crawlers.pace.shared import RedisTable
from crawlers.pace.table import Ask, Grant, Limits, LocalTable
from crawlers.telemetry.settings import number_setting

logger = logging.getLogger(__name__)

# The meta key of crawlers/middlewares/vehicles_session.py (IN_FLIGHT) on requests that a
# session's own limit counts (not imported: that module brings the browser login with it).
SESSION_LIMITED = "vehicles_in_flight"
# An idle site's state is kept this long after its last request (the table's key too).
IDLE_TTL_SECONDS = 3600


def limits_from_settings(settings) -> Limits:
    ceiling = number_setting(settings, "CLUSTER_SITE_CONCURRENCY", 0)
    if ceiling != int(ceiling):
        raise ConfigError("CLUSTER_SITE_CONCURRENCY must be a whole number")
    interval = number_setting(settings, "CLUSTER_SITE_SYNC_INTERVAL", 0.5, allow_zero=False)
    lease = number_setting(settings, "CLUSTER_SITE_LEASE_SECONDS", 10, allow_zero=False)
    return Limits(
        ceiling=int(ceiling),
        rate=number_setting(settings, "CLUSTER_SITE_RATE", 0),
        lease_ms=max(1, int(lease * 1000)),
        horizon_ms=max(1, int(2 * interval * 1000)),
        ttl_seconds=IDLE_TTL_SECONDS,
    )


class SitePace:
    """What this node holds of one site's pace, and what it saw since it last asked."""

    def __init__(self, site: str):
        self.site = site
        self.slots = 0
        self.limit = 0
        self.rate = 0.0
        self.nodes = 0
        self.hold_until = 0.0  # monotonic
        self.until_ms = 0.0  # the same, on the table's clock
        self.tokens: deque[float] = deque()  # monotonic times this node may send at
        self.token_interval = 0.0
        self.asked = -math.inf
        self.urgent = True
        self.good = 0
        self.bad = 0
        self.retry_after = 0.0
        self.latency_sum = 0.0
        self.latencies = 0
        self.last_used = time.monotonic()

    def observe(self, status: int, latency: float | None, retry_after: float | None) -> None:
        if status == 429:
            self.bad += 1
            self.urgent = True
        elif status < 500:
            self.good += 1
        if retry_after:
            self.retry_after = max(self.retry_after, retry_after)
            self.urgent = True
        if latency is not None and status != 429:
            self.latency_sum += latency
            self.latencies += 1

    def ask(self, node: str, in_flight: int, want: int, tokens: int) -> Ask:
        ask = Ask(
            node=node,
            in_flight=in_flight,
            want=want,
            good=self.good,
            bad=self.bad,
            retry_after_ms=int(self.retry_after * 1000),
            latency_sum=self.latency_sum,
            latencies=self.latencies,
            tokens=tokens,
        )
        self.good = self.bad = self.latencies = 0
        self.retry_after = self.latency_sum = 0.0
        self.urgent = False
        return ask

    def take(self, grant: Grant, now: float) -> None:
        """The table's answer, its clock turned into this node's."""
        offset = now - grant.now_ms / 1000
        self.slots, self.limit, self.rate, self.nodes = (
            grant.slots,
            grant.limit,
            grant.rate,
            grant.nodes,
        )
        self.until_ms = grant.until_ms
        self.hold_until = grant.until_ms / 1000 + offset if grant.until_ms > grant.now_ms else 0.0
        self.token_interval = grant.interval_ms / 1000
        first = grant.first_ms / 1000 + offset
        self.tokens.extend(first + i * self.token_interval for i in range(grant.tokens))


class Paces:
    """Every site's pace on this node, for the downloader."""

    def __init__(self, crawler, table, limits: Limits, interval: float, node: str, url: str):
        self.crawler = crawler
        self.stats = crawler.stats
        self.table = table
        self.limits = limits
        self.interval = interval
        self.node = node
        self.url = url
        self.sites: dict[str, SitePace] = {}
        self.slots: dict[str, Slot] = {}  # site -> its downloader slot
        self.down_since: float | None = None
        self.ticker: AsyncioLoopingCall | LoopingCall | None = None
        self.downloader: Downloader | None = None
        crawler.signals.connect(self.response_downloaded, signals.response_downloaded, weak=False)
        crawler.signals.connect(self.spider_opened, signals.spider_opened, weak=False)
        crawler.signals.connect(self.spider_closed, signals.spider_closed, weak=False)

    @classmethod
    def from_crawler(cls, crawler) -> Paces | None:
        """None unless CLUSTER_SITE_CONCURRENCY or CLUSTER_SITE_RATE is set."""
        settings = crawler.settings
        limits = limits_from_settings(settings)
        if not (limits.ceiling or limits.rate):
            return None
        interval = number_setting(settings, "CLUSTER_SITE_SYNC_INTERVAL", 0.5, allow_zero=False)
        node = node_id(settings)
        table: RedisTable | LocalTable
        if connection.configured(settings):
            url = connection.url_of(settings)
            table = RedisTable(connection.client(settings, url), job_id(crawler), limits)
        else:
            url, table = "", LocalTable(limits)
        return cls(crawler, table, limits, interval, node, url)

    # -- the downloader's questions -------------------------------------------------------
    def admit(self, site: str, slot) -> float | None:
        """0: start the slot's next request now (its token, if any, is used); a number: look
        again in that many seconds; None: look again when a request ends or at the tick."""
        pace = self.sites.get(site)
        if pace is None:
            pace = self.sites[site] = SitePace(site)
        self.slots[site] = slot
        now = time.monotonic()
        pace.last_used = now
        in_flight = len(slot.transferring)
        want = in_flight + len(slot.queue)
        rated = self.limits.rate > 0
        while pace.tokens and pace.tokens[0] < now - max(pace.token_interval, 0.05):
            pace.tokens.popleft()  # its moment passed: using it late would make a burst
        # Nothing can start, and no request of ours will end to change that: ask sooner.
        blocked = want > 0 and (pace.slots == 0 or (rated and want > in_flight and not pace.tokens))
        since = now - pace.asked
        if pace.urgent or since >= self.interval or (blocked and since >= self.interval / 4):
            self._ask(pace, in_flight, want, now)
        if now < pace.hold_until:
            return pace.hold_until - now
        if in_flight >= pace.slots:
            return None if pace.slots else self._next_ask(pace, now)
        if rated:
            if not pace.tokens:
                return self._next_ask(pace, now)
            if pace.tokens[0] > now:
                return pace.tokens[0] - now
            pace.tokens.popleft()
        return 0

    def _next_ask(self, pace: SitePace, now: float) -> float:
        return max(0.01, pace.asked + self.interval / 4 - now)

    def _ask(self, pace: SitePace, in_flight: int, want: int, now: float) -> None:
        tokens = 0
        if self.limits.rate > 0 and want > in_flight:
            share = (pace.rate or self.limits.rate) / max(1, pace.nodes)
            tokens = max(1, math.ceil(share * self.limits.horizon_ms / 1000)) - len(pace.tokens)
            tokens = max(0, tokens)
        ask = pace.ask(self.node, in_flight, want, tokens)
        pace.asked = now
        before = (pace.limit, pace.rate, pace.until_ms)
        try:
            grant = self.table.ask(pace.site, ask)
        except UNAVAILABLE as exc:
            self._unavailable(pace, exc, now)
            return
        if self.down_since is not None:
            logger.info("Pace: Redis at %s answers again", redact_url(self.url))
            self.down_since = None
        pace.take(grant, time.monotonic())
        self._count(pace, before)

    def _unavailable(self, pace: SitePace, exc: Exception, now: float) -> None:
        """Redis away: this node keeps its slots and sends at its share of the rate."""
        self.stats.inc_value("pace/redis_errors")
        if self.down_since is None:
            self.down_since = now
            logger.warning(
                "Pace: Redis at %s unreachable (%s); each site paced here at this node's share",
                redact_url(self.url),
                describe(exc, self.url),
            )
        if self.limits.rate > 0 and not pace.tokens:
            step = max(1, pace.nodes) / (pace.rate or self.limits.rate)
            count = max(1, math.ceil(self.interval / step))
            pace.token_interval = step
            pace.tokens.extend(now + i * step for i in range(count))

    def _count(self, pace: SitePace, before: tuple) -> None:
        prefix = f"pace/{pace.site}/"
        stats = self.stats
        stats.inc_value("pace/asks")
        if self.limits.ceiling:
            stats.set_value(prefix + "limit", pace.limit)
        if self.limits.rate:
            stats.set_value(prefix + "rate", round(pace.rate, 3))
        stats.set_value(prefix + "nodes", pace.nodes)
        limit, rate, hold = before
        held_off = pace.until_ms > hold and pace.hold_until > 0
        slower = pace.limit < limit or pace.rate < rate - 1e-9 or held_off
        if slower and (limit or rate):
            stats.inc_value(prefix + "slowdowns")
        if held_off:
            stats.inc_value(prefix + "held_off")

    # -- signals ----------------------------------------------------------------------------
    def response_downloaded(self, response, request, spider=None) -> None:
        site = request.meta.get("download_slot")
        pace = self.sites.get(site)
        if pace is None:
            return
        status = response.status
        if status == 429:
            self.stats.inc_value(f"pace/{site}/responses_429")
            if request.meta.get(SESSION_LIMITED):
                return
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(response.headers.get(b"Retry-After"))
        pace.observe(status, request.meta.get("download_latency"), retry_after)

    def spider_opened(self, spider) -> None:
        self.stats.set_value("pace/ceiling", self.limits.ceiling)
        if self.limits.rate:
            self.stats.set_value("pace/rate_ceiling", self.limits.rate)
        self.ticker = create_looping_call(self.tick)
        self.ticker.start(self.interval, now=False)

    def spider_closed(self, spider, reason) -> None:
        if self.ticker is not None and self.ticker.running:
            self.ticker.stop()
        for pace in self.sites.values():
            if pace.slots or pace.asked > -math.inf:
                try:
                    self.table.ask(pace.site, pace.ask(self.node, 0, 0, 0))
                except UNAVAILABLE:
                    break  # the lease runs out by itself

    def tick(self) -> None:
        """Every interval: each site with work asks (its lease renewed, what it saw told),
        an idle one gives its slots back, and each slot is looked at again."""
        if self.downloader is None:
            return
        now = time.monotonic()
        live = {id(slot) for slot in self.downloader.slots.values()}
        for site, pace in list(self.sites.items()):
            slot = self.slots.get(site)
            if slot is None or id(slot) not in live:
                self.sites.pop(site, None)
                self.slots.pop(site, None)
                if pace.slots:
                    self._ask(pace, 0, 0, now)
                continue
            in_flight, want = len(slot.transferring), len(slot.transferring) + len(slot.queue)
            if want or pace.slots or pace.urgent:
                if now - pace.asked >= self.interval * 0.9 or pace.urgent:
                    self._ask(pace, in_flight, want, now)
                self.downloader._process_queue(slot)
            elif now - pace.last_used > IDLE_TTL_SECONDS:
                self.sites.pop(site, None)
                self.slots.pop(site, None)
