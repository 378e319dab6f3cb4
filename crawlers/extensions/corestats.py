"""Scrapy's CoreStats, without a traceback when a crawl closes before it opened.

When a pipeline's `open_spider` refuses to start (an unreachable database, a folder that
cannot be created), Scrapy closes the spider it never opened and CoreStats asserts on its
missing start time. The user should see only the one-line error that explains why.
Item counts count the records of a batch (crawlers/batches.py).
"""

from __future__ import annotations

from scrapy.extensions.corestats import CoreStats as ScrapyCoreStats

from crawlers.batches import record_count
from crawlers.internals.engine import stats_started


class CoreStats(ScrapyCoreStats):
    def item_scraped(self, item, spider) -> None:
        self.stats.inc_value("item_scraped_count", record_count(item))

    def item_dropped(self, item, spider, exception) -> None:
        count = record_count(item)
        self.stats.inc_value("item_dropped_count", count)
        self.stats.inc_value(f"item_dropped_reasons_count/{type(exception).__name__}", count)

    def spider_closed(self, spider, reason: str) -> None:
        if not stats_started(self):
            return
        super().spider_closed(spider, reason)
