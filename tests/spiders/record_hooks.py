"""A user's own per-record pipeline and item_scraped handler, as a project might add them
(tests/integration/test_item_batches.py)."""

from __future__ import annotations

from scrapy import signals

from crawlers.items import BusinessItem, EmailItem

RECORDS = (BusinessItem, EmailItem)


class RecordPipeline:
    """Counts the businesses or addresses it is handed; anything else is a failure."""

    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_item(self, item):
        if not isinstance(item, RECORDS):
            raise TypeError(f"expected one record, got {type(item).__name__}")
        self.stats.inc_value("test/pipeline_records")
        return item


class RecordHandler:
    """An extension with an item_scraped handler counting records."""

    def __init__(self, crawler):
        self.stats = crawler.stats
        crawler.signals.connect(self.item_scraped, signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def item_scraped(self, item, spider):
        kind = "records" if isinstance(item, RECORDS) else "others"
        self.stats.inc_value(f"test/handler_{kind}")
