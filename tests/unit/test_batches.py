"""A page's batch of records: what the pipelines drop from it is counted as Scrapy counts a
dropped item, its feed lines are those of its records, its log records show them."""

from __future__ import annotations

import io
import logging

from scrapy.exporters import JsonLinesItemExporter
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from crawlers.batches import keep_records, record_count
from crawlers.exporters import DataclassJsonLinesItemExporter
from crawlers.items import BusinessItem, EmailItem, ItemBatch
from crawlers.logformatter import QuietLogFormatter
from crawlers.pipelines.businesses import (
    BusinessDedupePipeline,
    BusinessFilterPipeline,
    DuplicateListing,
    ListingFilter,
    RejectedListing,
)


class Crawler:
    def __init__(self):
        self.settings = Settings()
        self.stats = MemoryStatsCollector(self)


def businesses(*names: str) -> list[BusinessItem]:
    return [BusinessItem(ypid=str(i), name=n, categories=["Plumbers"]) for i, n in enumerate(names)]


def test_the_pipelines_keep_and_drop_records_inside_a_batch():
    crawler = Crawler()
    rules = BusinessFilterPipeline(
        crawler, ListingFilter.from_rules({"reject": {"name_words": ["summit"]}})
    )
    dedupe = BusinessDedupePipeline(crawler)
    first = ItemBatch(businesses("Ace Plumbing", "Summit Pipes", "Bob's"), key=7)
    later = ItemBatch([BusinessItem(ypid="2", name="Bob's"), BusinessItem(ypid="9", name="Cy")])
    out1 = dedupe.process_item(rules.process_item(first))
    out2 = dedupe.process_item(rules.process_item(later))
    assert [r.name for r in out1.records] == ["Ace Plumbing", "Bob's"]
    assert [(r.name, type(e)) for r, e in out1.dropped] == [("Summit Pipes", RejectedListing)]
    assert [r.ypid for r in out2.records] == ["9"]
    assert [(r.ypid, type(e)) for r, e in out2.dropped] == [("2", DuplicateListing)]
    stats = crawler.stats.get_stats()
    assert stats["item_dropped_count"] == 2
    assert stats["item_dropped_reasons_count/RejectedListing"] == 1
    assert stats["item_dropped_reasons_count/DuplicateListing"] == 1
    assert stats["businesses/accepted"] == 4 and stats["businesses/rejected"] == 1


def test_keep_records_counts_what_it_drops():
    crawler = Crawler()
    batch = ItemBatch([1, 2, 3, 4])

    def odd_only(n):
        if n % 2 == 0:
            raise DuplicateListing(str(n))

    keep_records(batch, crawler.stats, odd_only)
    assert batch.records == [1, 3] and [r for r, _ in batch.dropped] == [2, 4]
    assert crawler.stats.get_value("item_dropped_count") == 2
    assert record_count(batch) == 2 and record_count(EmailItem("a@b.c", "b.c", "u", "t")) == 1


def test_a_batch_is_written_as_the_lines_of_its_records():
    items = [
        BusinessItem(ypid="1", name='Caf\u00e9 "Zo\u00eb"', categories=["A", "B"], rating=4.5),
        BusinessItem(ypid="2", name="Two", review_count=3),
    ]
    one_by_one, batched = io.BytesIO(), io.BytesIO()
    scrapy_own = io.BytesIO()
    single = DataclassJsonLinesItemExporter(one_by_one, encoding="utf-8")
    for item in items:
        single.export_item(item)
    DataclassJsonLinesItemExporter(batched, encoding="utf-8").export_items(items)
    reference = JsonLinesItemExporter(scrapy_own, encoding="utf-8")
    for item in items:
        reference.export_item(item)
    assert batched.getvalue() == one_by_one.getvalue() == scrapy_own.getvalue()
    assert len(batched.getvalue().splitlines()) == 2


def test_a_batch_logs_its_records_at_debug_and_a_summary_on_error():
    batch = ItemBatch([EmailItem("a@b.c", "b.c", "https://b.c/", "t")] * 2)
    debug = QuietLogFormatter(debug=True)
    record = debug.scraped(batch, None, type("S", (), {})())
    text = record["msg"] % record["args"]
    assert text.count("EmailItem(email='a@b.c'") == 2 and record["level"] == logging.DEBUG
    assert QuietLogFormatter(debug=False).scraped(batch, None, None) is None
    error = debug.item_error(batch, ValueError("x"), None, None)
    assert (error["msg"] % error["args"]).endswith("a page's batch of 2 records")
