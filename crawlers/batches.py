"""A page's records through Scrapy as one item, and one record each wherever users look.

Scrapy's path for an item - the scraper's worker, the pipelines' chain, the
`item_scraped` signal with a task for each of its receivers - costs more than the
businesses and emails spiders spend on the records themselves (BENCHMARKS.md: 20% of the
emails crawl's CPU was that signal alone). With `ITEM_BATCHES` (the default) these spiders
yield one `ItemBatch` per page, carrying its records; the project's pipelines keep or drop
records inside it, and what users see stays per record:
  - the feeds: one line per record, the same lines, for every format and `-o`/`FEEDS`
    (`BatchFeedExporter`, here);
  - `item_scraped_count`, `item_dropped_count` and its reasons count records
    (crawlers/extensions/corestats.py), so do the report and the telemetry that read them;
  - `CLOSESPIDER_ITEMCOUNT` counts records (`BatchCloseSpider`).
A pipeline or an `item_scraped`/`item_dropped` handler of your own that expects one
business or address per item needs `-s ITEM_BATCHES=false`: one item per record, as
Scrapy does, at its cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scrapy.exceptions import DropItem
from scrapy.extensions.closespider import CloseSpider
from scrapy.extensions.feedexport import FeedExporter, ItemFilter
from scrapy.settings import SETTINGS_PRIORITIES

from crawlers.items import ItemBatch


def batching(settings) -> bool:
    """Whether spiders yield a page's records as one ItemBatch (ITEM_BATCHES)."""
    return settings.getbool("ITEM_BATCHES", True)


def item_workers(settings, workers: int) -> None:
    """With batches, `workers` for a page's output (its batch and its requests) instead of
    the spider's CONCURRENT_ITEMS: Scrapy starts that many tasks for every response, and
    they cost more than a page's few outputs need. A CONCURRENT_ITEMS given by the user
    (`-s`, or above the spider's priority) stays."""
    if (
        batching(settings)
        and settings.getpriority("CONCURRENT_ITEMS") <= SETTINGS_PRIORITIES["spider"]
    ):
        settings.set("CONCURRENT_ITEMS", workers, priority="spider")


def record_count(item: Any) -> int:
    return len(item.records) if isinstance(item, ItemBatch) else 1


def keep_records(batch: ItemBatch, stats, check: Callable[[Any], Any]) -> ItemBatch:
    """The batch with the records `check` let through; `check` raises DropItem for the
    others, which are kept in `batch.dropped` and counted as Scrapy counts a dropped item."""
    kept = []
    for record in batch.records:
        try:
            check(record)
        except DropItem as exc:
            batch.dropped.append((record, exc))
            stats.inc_value("item_dropped_count")
            stats.inc_value(f"item_dropped_reasons_count/{type(exc).__name__}")
        else:
            kept.append(record)
    batch.records = kept
    return batch


class BatchFeedExporter(FeedExporter):
    """Scrapy's feed exporter, writing a batch's records as items of their own.

    Where no feed filters items or splits its file by count, an exporter with
    `export_items` (crawlers/exporters.py) writes a batch's lines in one write.
    """

    def item_scraped(self, item: Any, spider) -> None:
        if not isinstance(item, ItemBatch):
            super().item_scraped(item, spider)
            return
        records = item.records
        if not records:
            return
        if not all(self._plain(slot) for slot in self.slots):
            for record in records:
                super().item_scraped(record, spider)
            return
        for slot in self.slots:
            slot.start_exporting()
            exporter = slot.exporter
            assert exporter is not None  # start_exporting made it (Scrapy asserts it too)
            export_items = getattr(exporter, "export_items", None)
            if export_items is not None:
                export_items(records)
            else:
                for record in records:
                    exporter.export_item(record)
            slot.itemcount += len(records)

    def _plain(self, slot) -> bool:
        return (
            type(slot.filter) is ItemFilter
            and not slot.filter.item_classes
            and not self.feeds[slot.uri_template]["batch_item_count"]
        )


class BatchCloseSpider(CloseSpider):
    """Scrapy's CloseSpider, with CLOSESPIDER_ITEMCOUNT and CLOSESPIDER_TIMEOUT_NO_ITEM
    counting a batch's records."""

    def item_scraped(self, item: Any, spider) -> None:
        count = record_count(item)
        if not count:
            return
        before = self.counter["itemcount"]
        self.counter["itemcount"] += count
        self.counter["pagecount_since_last_item"] = 0
        limit = self.close_on.get("itemcount")
        if limit and before < limit <= self.counter["itemcount"]:
            self._close_spider("closespider_itemcount")

    def item_scraped_no_item(self, item: Any, spider) -> None:
        self.items_in_period += record_count(item)
