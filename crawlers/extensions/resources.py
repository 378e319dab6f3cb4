"""RESOURCES_INTERVAL: memory and CPU of the crawl's whole process tree, as stats.

The progress line, the final report and the telemetry all read these stats:
  resources/memory_bytes        latest PSS (or RSS) of the tree, Chromium included
  resources/memory_peak_bytes   the largest sample
  resources/memory_kind         "pss" or "rss"
  resources/cpu_seconds         CPU time of every process of the tree, exited ones included
  resources/cpu_percent         since the previous sample (100 = one core)
  resources/processes           processes in the tree now; resources/processes_max the most
See crawlers/telemetry/resources.py for how Chromium's re-parented processes are found.
"""

from __future__ import annotations

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from crawlers.telemetry.resources import ProcessTree


class ResourceMonitor:
    def __init__(self, crawler, interval: float):
        self.crawler = crawler
        self.interval = interval
        self.tree = ProcessTree()
        # Before the download handler starts Playwright, so the browser inherits the mark.
        self.tree.mark_environment()
        self.task = None

    @classmethod
    def from_crawler(cls, crawler):
        interval = crawler.settings.getfloat("RESOURCES_INTERVAL", 10.0)
        if interval <= 0:
            raise NotConfigured
        ext = cls(crawler, interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        self.task = create_looping_call(self.sample)
        self.task.start(self.interval, now=True)

    def sample(self) -> None:
        s = self.tree.sample()
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
        self.sample()
