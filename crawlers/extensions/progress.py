"""PROGRESS_INTERVAL: a progress line in the log, from the outcome and resource stats only.

    Progress: 115/500 (23.0%) done 110 skipped 0 failed 5 | rate 4.00/s ETA 1m36s |
    retries 12 | mem 812.3 MiB pss, 14 procs | cpu 85%
(one line; with CONCURRENCY_AUTO `| concurrency 12/16` too: now and the ceiling; with
CLUSTER_SITE_CONCURRENCY or CLUSTER_SITE_RATE the site's shared pace, `| pace 127.0.0.1 6/8`:
crawlers/pace/progress.py). Without
a known total: done, failed and rate, no percent nor ETA. The rate is measured over the
last PROGRESS_RATE_WINDOW seconds (crawlers/progress_math.py). Memory, processes and CPU
come from a sample of the process tree taken for the line (when the resource monitor
runs), so a browser started a moment ago is in it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import AsyncioLoopingCall, create_looping_call
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from crawlers.extensions.resources import ResourceMonitor
from crawlers.pace.progress import pace_part
from crawlers.progress_math import (
    RateWindow,
    counts_from_stats,
    eta_seconds,
    format_bytes,
    format_duration,
    format_rate,
)
from crawlers.telemetry.settings import number_setting

logger = logging.getLogger(__name__)


def progress_line(stats: Mapping[str, Any], rate: float | None) -> str:
    counts = counts_from_stats(stats)
    if counts.total is not None:
        percent = counts.percent
        head = (
            f"Progress: {counts.finished}/{counts.total}"
            f" ({'--' if percent is None else f'{percent:.1f}%'})"
            f" done {counts.done} skipped {counts.skipped} failed {counts.failed}"
            f" | rate {format_rate(rate)}"
            f" ETA {format_duration(eta_seconds(counts.remaining, rate))}"
        )
    else:
        head = f"Progress: done {counts.done} failed {counts.failed} | rate {format_rate(rate)}"
    parts = [head, f"retries {stats.get('retry/count', 0)}"]
    if pace := pace_part(stats):
        parts.append(pace)
    if "resources/memory_bytes" in stats:
        parts.append(
            f"mem {format_bytes(stats['resources/memory_bytes'])}"
            f" {stats.get('resources/memory_kind', 'rss')},"
            f" {stats.get('resources/processes', 1)} procs"
        )
    if "resources/cpu_percent" in stats:
        parts.append(f"cpu {stats['resources/cpu_percent']:.0f}%")
    if "concurrency/desired" in stats:  # CONCURRENCY_AUTO
        parts.append(
            f"concurrency {stats['concurrency/desired']}/{stats.get('concurrency/ceiling', '?')}"
        )
    return " | ".join(parts)


class ProgressLog:
    def __init__(self, crawler, interval: float, window: float):
        self.crawler = crawler
        self.interval = interval
        self.window = RateWindow(window)
        self.task: AsyncioLoopingCall | LoopingCall | None = None
        self.monitor: ResourceMonitor | None = None
        # The Deferred of a sample the next line waits for.
        self.sampling: Deferred[None] | None = None
        self.closed = False

    @classmethod
    def from_crawler(cls, crawler):
        interval = number_setting(crawler.settings, "PROGRESS_INTERVAL", 30.0)
        if interval == 0:
            raise NotConfigured
        window = number_setting(crawler.settings, "PROGRESS_RATE_WINDOW", 300.0, allow_zero=False)
        ext = cls(crawler, interval, window)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        self.monitor = next(
            (e for e in self.crawler.extensions.middlewares if isinstance(e, ResourceMonitor)),
            None,
        )
        self.window.add(time.monotonic(), 0)
        self.task = create_looping_call(self.log)
        self.task.start(self.interval, now=False)

    def log(self) -> None:
        if self.monitor is None:
            self._write()
            return
        if self.sampling is not None:  # the previous line still waits for its sample
            return
        self.sampling = self.monitor.sample_now()
        # A failed sample still gives a line, with the figures of the last good one.
        self.sampling.addErrback(lambda failure: None)
        self.sampling.addCallback(self._sampled)

    def _sampled(self, _) -> None:
        self.sampling = None
        if not self.closed:
            self._write()

    def _write(self) -> None:
        stats = self.crawler.stats.get_stats()
        self.window.add(time.monotonic(), counts_from_stats(stats).worked)
        logger.info(progress_line(stats, self.window.rate()))

    def spider_closed(self, spider, reason) -> None:
        self.closed = True
        if self.task is not None and self.task.running:
            self.task.stop()
