"""Log formatting that keeps INFO logs small and fast at high item rates."""

from __future__ import annotations

import logging

from scrapy.logformatter import LogFormatter


class QuietLogFormatter(LogFormatter):
    """Scraped and dropped items at DEBUG: per-item records are costly and unreadable."""

    def scraped(self, item, response, spider):
        record = super().scraped(item, response, spider)
        record["level"] = logging.DEBUG
        return record

    def dropped(self, item, exception, response, spider):
        record = super().dropped(item, exception, response, spider)
        record["level"] = logging.DEBUG
        return record
