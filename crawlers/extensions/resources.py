"""RESOURCES_INTERVAL: memory and CPU of the crawl's whole process tree, as stats.

The progress line, the final report and the telemetry all read these stats:
  resources/memory_bytes        latest PSS (or RSS) of the tree, Chromium included
  resources/memory_peak_bytes   the largest sample
  resources/memory_kind         "pss" or "rss"
  resources/cpu_seconds         CPU time of every process of the tree, exited ones included
  resources/cpu_percent         since the previous sample (100 = one core)
  resources/processes           processes in the tree now; resources/processes_max the most
See crawlers/telemetry/resources.py for how Chromium's re-parented processes are found.

A sample reads /proc for every process of the tree; with a browser that takes tens of
milliseconds of kernel time, so it runs in a worker thread rather than stall the crawl.
Besides the regular samples, `sample_now()` takes one on demand: the progress line asks
for it, so the line gives the tree as it is (a browser started since the last regular
sample included), not a figure up to RESOURCES_INTERVAL old.
"""

from __future__ import annotations

import logging

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import AsyncioLoopingCall, create_looping_call
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from crawlers.telemetry.resources import ProcessTree, Sample
from crawlers.telemetry.settings import number_setting

logger = logging.getLogger(__name__)


class ResourceMonitor:
    def __init__(self, crawler, interval: float):
        self.crawler = crawler
        self.interval = interval
        self.tree = ProcessTree()
        # Before the download handler starts Playwright, so the browser inherits the mark.
        self.tree.mark_environment()
        self.task: AsyncioLoopingCall | LoopingCall | None = None
        self.busy = False
        self.closed = False

    @classmethod
    def from_crawler(cls, crawler):
        interval = number_setting(crawler.settings, "RESOURCES_INTERVAL", 10.0)
        if interval == 0:
            raise NotConfigured
        ext = cls(crawler, interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        self.task = create_looping_call(self.tick)
        self.task.start(self.interval, now=True)

    def tick(self) -> None:
        if self.busy:  # the previous sample is still running: skip this one
            return
        self.busy = True
        sampled = threads.deferToThread(self.tree.sample)
        sampled.addCallback(self.record)
        sampled.addErrback(
            lambda failure: logger.warning("resources: sampling failed: %s", failure.value)
        )
        sampled.addBoth(self._idle)

    def _idle(self, _) -> None:
        self.busy = False

    def sample_now(self) -> Deferred[None]:
        """A Deferred that fires once a sample taken now is in the stats."""
        sampled = threads.deferToThread(self.tree.sample)
        return sampled.addCallback(self.record)

    def record(self, s: Sample, final: bool = False) -> None:
        if self.closed and not final:
            return
        stats = self.crawler.stats
        stats.set_value("resources/memory_bytes", s.memory_bytes)
        stats.max_value("resources/memory_peak_bytes", s.memory_bytes)
        stats.set_value("resources/memory_kind", s.memory_kind)
        stats.set_value("resources/cpu_seconds", s.cpu_seconds)
        if s.cpu_percent is not None:
            stats.set_value("resources/cpu_percent", round(s.cpu_percent, 1))
        stats.set_value("resources/processes", s.processes)
        stats.max_value("resources/processes_max", s.processes)

    def spider_closed(self, spider, reason) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.closed = True
        # In this thread: the report and the last snapshot, next in line, read it.
        self.record(self.tree.sample(), final=True)
