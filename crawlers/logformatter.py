"""Log formatting that keeps INFO logs small and fast at high item rates."""

from __future__ import annotations

import logging
import os

from scrapy.logformatter import LogFormatter, LogFormatterResult

from crawlers.items import ItemBatch


class _Records:
    """A batch as its log records show it: its records one a line, as Scrapy shows items."""

    def __init__(self, batch: ItemBatch, full: bool):
        self.batch, self.full = batch, full

    def __str__(self) -> str:
        records = self.batch.records
        if not self.full:
            return f"a page's batch of {len(records)} records"
        return os.linesep.join(str(r) for r in records)


def _show(record: LogFormatterResult, records: _Records) -> None:
    args = record["args"]
    if isinstance(args, dict):  # always: Scrapy's item messages name their arguments
        args["item"] = records


class QuietLogFormatter(LogFormatter):
    """No record per scraped or dropped item unless LOG_LEVEL is DEBUG; a page's batch
    (crawlers/batches.py) shows its records one a line.

    Scrapy's root logger lets every level through to its handler, so a DEBUG record would
    still be built (about 8% of the CPU of a crawl yielding many items) and only then
    thrown away: returning None builds nothing.
    """

    def __init__(self, debug: bool = False):
        self.debug = debug

    @classmethod
    def from_crawler(cls, crawler):
        level = crawler.settings.get("LOG_LEVEL", "DEBUG")
        return cls(str(level).upper() in {"DEBUG", "10"} or level == logging.DEBUG)

    def scraped(self, item, response, spider):
        if not self.debug:
            return None
        record = super().scraped(item, response, spider)
        record["level"] = logging.DEBUG
        if isinstance(item, ItemBatch):
            _show(record, _Records(item, full=True))
        return record

    def dropped(self, item, exception, response, spider):
        if not self.debug:
            return None
        record = super().dropped(item, exception, response, spider)
        record["level"] = logging.DEBUG
        if isinstance(item, ItemBatch):
            _show(record, _Records(item, full=True))
        return record

    def item_error(self, item, exception, response, spider):
        record = super().item_error(item, exception, response, spider)
        if isinstance(item, ItemBatch):
            # Not every record of the page in one ERROR line.
            _show(record, _Records(item, full=False))
        return record
