"""CONCURRENCY_AUTO: the crawl's concurrency sized by what the machine and the site allow.

Crawlee's autoscaled pool is the model. Every 0.5 s a snapshot says, for each resource,
whether it is overloaded:
  cpu         this process used more than CONCURRENCY_AUTO_MAX_CPU of a core since the last
              snapshot (one Scrapy process runs its Python on one core), or the process
              tree (Chromium included, from the resource monitor) nearly all cores;
  memory      the process tree holds more than CONCURRENCY_AUTO_MAX_MEMORY_MB (0: a quarter
              of the machine's memory, as Crawlee);
  event_loop  the snapshot ran more than CONCURRENCY_AUTO_MAX_LOOP_DELAY late;
  client      a 429 arrived since the last snapshot.
Every CONCURRENCY_AUTO_INTERVAL seconds the share of overloaded snapshots of each resource
is compared with Crawlee's thresholds (cpu 40%, memory 20%, event loop 60%, client 30%):
any above, and the desired concurrency drops by CONCURRENCY_AUTO_STEP of itself (at least
one); none, and it grows as much, if the crawl used it (requests on the wire reached 90%
of it), since a crawl with less work than slots says nothing about more. It stays between
CONCURRENCY_AUTO_MIN and CONCURRENT_REQUESTS, starting at CONCURRENCY_AUTO_START (0: the
ceiling). The engine takes no request while that many are in the downloader, so browser
pages are held to it too (scrapy-playwright also caps them at PLAYWRIGHT_MAX_CONTEXTS x
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT, which the ceiling should not exceed).

Stats: concurrency/desired (now), concurrency/ceiling, concurrency/lowest,
concurrency/highest, concurrency/in_flight_max, concurrency/browser_pages_max,
concurrency/scaled_up, concurrency/scaled_down, concurrency/overloaded/<resource> (intervals
that resource overloaded). The progress line shows `concurrency <desired>/<ceiling>`.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import AsyncioLoopingCall, create_looping_call
from twisted.internet.task import LoopingCall

from crawlers.errors import ConfigError
from crawlers.internals import concurrency, playwright
from crawlers.telemetry.settings import number_setting

logger = logging.getLogger(__name__)

SNAPSHOT_SECONDS = 0.5
RESOURCES = ("cpu", "memory", "event_loop", "client")
# Crawlee's SystemStatus: the share of a resource's snapshots that makes it overloaded.
THRESHOLDS = {"cpu": 0.4, "memory": 0.2, "event_loop": 0.6, "client": 0.3}
# Crawlee's desired_concurrency_ratio: grow only a pool that is using what it has.
USED_RATIO = 0.9


@dataclass
class Snapshot:
    overloaded: dict[str, bool]
    in_flight: int


@dataclass
class Autoscaler:
    """The decisions alone, fed with snapshots: no clock, no Scrapy."""

    minimum: int
    maximum: int
    desired: int
    step: float = 0.05
    snapshots: list[Snapshot] = field(default_factory=list)

    def add(self, snapshot: Snapshot) -> None:
        self.snapshots.append(snapshot)

    def overloaded(self) -> list[str]:
        """The resources over their threshold in the snapshots since the last decision."""
        if not self.snapshots:
            return []
        n = len(self.snapshots)
        return [
            r
            for r in RESOURCES
            if sum(s.overloaded.get(r, False) for s in self.snapshots) / n > THRESHOLDS[r]
        ]

    def decide(self) -> tuple[int, list[str]]:
        """The new desired concurrency and the resources that were overloaded."""
        busy = self.overloaded()
        used = max((s.in_flight for s in self.snapshots), default=0)
        change = max(1, math.ceil(self.step * self.desired))
        if busy:
            self.desired = max(self.minimum, self.desired - change)
        elif self.snapshots and used >= math.floor(USED_RATIO * self.desired):
            self.desired = min(self.maximum, self.desired + change)
        self.snapshots = []
        return self.desired, busy


def machine_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def browser_pages(engine) -> int:
    """Browser pages open now, over the http and https handlers (one object or two)."""
    contexts = {}
    for scheme in ("http", "https"):
        for wrapper in playwright.open_contexts(engine, scheme).values():
            contexts[id(wrapper.context)] = wrapper.context
    return sum(len(context.pages) for context in contexts.values())


def int_setting(settings, name: str, default: int) -> int:
    raw = settings.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more")
    return value


class AutoConcurrency:
    def __init__(self, crawler, scaler: Autoscaler, interval: float, limits: dict[str, float]):
        self.crawler = crawler
        self.stats = crawler.stats
        self.scaler = scaler
        self.interval = interval
        self.max_cpu = limits["cpu"]
        self.max_memory = limits["memory"]
        self.max_delay = limits["event_loop"]
        self.cores = os.cpu_count() or 1
        self.snapshot_task: AsyncioLoopingCall | LoopingCall | None = None
        self.decide_task: AsyncioLoopingCall | LoopingCall | None = None
        self.last_wall = self.last_cpu = 0.0
        self.last_429 = 0

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        if not settings.getbool("CONCURRENCY_AUTO"):
            raise NotConfigured
        ceiling = int_setting(settings, "CONCURRENT_REQUESTS", 16)
        if ceiling < 1:
            raise ConfigError("CONCURRENCY_AUTO needs CONCURRENT_REQUESTS of 1 or more")
        minimum = max(1, int_setting(settings, "CONCURRENCY_AUTO_MIN", 1))
        if minimum > ceiling:
            raise ConfigError(
                f"CONCURRENCY_AUTO_MIN ({minimum}) is above CONCURRENT_REQUESTS ({ceiling})"
            )
        start = int_setting(settings, "CONCURRENCY_AUTO_START", 0) or ceiling
        step = number_setting(settings, "CONCURRENCY_AUTO_STEP", 0.05, allow_zero=False)
        interval = number_setting(settings, "CONCURRENCY_AUTO_INTERVAL", 10.0, allow_zero=False)
        memory_mb = number_setting(settings, "CONCURRENCY_AUTO_MAX_MEMORY_MB", 0)
        limits = {
            "cpu": number_setting(settings, "CONCURRENCY_AUTO_MAX_CPU", 0.95, allow_zero=False),
            "memory": memory_mb * 1024 * 1024 or machine_memory_bytes() / 4,
            "event_loop": number_setting(
                settings, "CONCURRENCY_AUTO_MAX_LOOP_DELAY", 0.05, allow_zero=False
            ),
        }
        scaler = Autoscaler(minimum, ceiling, min(max(start, minimum), ceiling), step)
        ext = cls(crawler, scaler, interval, limits)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        self.apply(self.scaler.desired)
        self.stats.set_value("concurrency/ceiling", self.scaler.maximum)
        self.last_wall, self.last_cpu = time.monotonic(), time.process_time()
        self.last_429 = self.count_429()
        self.snapshot_task = create_looping_call(self.snapshot)
        self.snapshot_task.start(SNAPSHOT_SECONDS, now=False)
        self.decide_task = create_looping_call(self.decide)
        self.decide_task.start(self.interval, now=False)

    def count_429(self) -> int:
        return self.stats.get_value("downloader/response_status_count/429", 0)

    def snapshot(self) -> None:
        wall, cpu = time.monotonic(), time.process_time()
        elapsed = wall - self.last_wall
        # A loop that ran this tick late was busy with something else all that time.
        late = elapsed - SNAPSHOT_SECONDS
        own_cpu = (cpu - self.last_cpu) / elapsed if elapsed > 0 else 0.0
        self.last_wall, self.last_cpu = wall, cpu
        tree_cpu = self.stats.get_value("resources/cpu_percent", 0) / 100
        memory = self.stats.get_value("resources/memory_bytes", 0)
        seen_429 = self.count_429()
        new_429, self.last_429 = seen_429 - self.last_429, seen_429
        engine = self.crawler.engine
        in_flight = concurrency.transferring(engine)
        pages = browser_pages(engine)
        self.stats.max_value("concurrency/in_flight_max", in_flight)
        if pages:
            self.stats.max_value("concurrency/browser_pages_max", pages)
        self.scaler.add(
            Snapshot(
                {
                    "cpu": own_cpu > self.max_cpu or tree_cpu > self.max_cpu * self.cores,
                    "memory": bool(self.max_memory) and memory > self.max_memory,
                    "event_loop": late > self.max_delay,
                    "client": new_429 > 0,
                },
                in_flight,
            )
        )

    def decide(self) -> None:
        before = self.scaler.desired
        desired, busy = self.scaler.decide()
        for resource in busy:
            self.stats.inc_value(f"concurrency/overloaded/{resource}")
        if desired == before:
            return
        direction = "up" if desired > before else "down"
        self.stats.inc_value(f"concurrency/scaled_{direction}")
        logger.info(
            "concurrency %d -> %d (%s)",
            before,
            desired,
            "overloaded: " + ", ".join(busy) if busy else "room to grow",
        )
        self.apply(desired)

    def apply(self, desired: int) -> None:
        concurrency.set_total_concurrency(self.crawler.engine, desired)
        self.stats.set_value("concurrency/desired", desired)
        self.stats.min_value("concurrency/lowest", desired)
        self.stats.max_value("concurrency/highest", desired)

    def spider_closed(self, spider, reason) -> None:
        for task in (self.snapshot_task, self.decide_task):
            if task is not None and task.running:
                task.stop()
