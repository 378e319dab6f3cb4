"""Scrapy's CoreStats, without a traceback when a crawl closes before it opened.

When a pipeline's `open_spider` refuses to start (an unreachable database, a folder that
cannot be created), Scrapy closes the spider it never opened and CoreStats asserts on its
missing start time. The user should see only the one-line error that explains why.
"""

from __future__ import annotations

from scrapy.extensions.corestats import CoreStats as ScrapyCoreStats

from crawlers.internals.engine import stats_started


class CoreStats(ScrapyCoreStats):
    def spider_closed(self, spider, reason: str) -> None:
        if not stats_started(self):
            return
        super().spider_closed(spider, reason)
