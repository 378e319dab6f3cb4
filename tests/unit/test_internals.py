"""The private internals of Scrapy and its plugins the project relies on (crawlers/internals):
each test fails when upstream changes what a use was written for."""

import logging

import pytest
from scrapy import Spider
from scrapy.core.downloader import Downloader
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawlers import internals
from crawlers.extensions.corestats import CoreStats
from crawlers.internals.concurrency import set_total_concurrency, total_concurrency
from crawlers.internals.engine import on_request_done, retry_request, stats_started


@pytest.mark.parametrize("reliance", internals.RELIED_ON, ids=lambda r: r.target)
def test_upstream_source_is_the_one_each_use_was_written_for(reliance):
    assert internals.fingerprint(reliance.target) == reliance.fingerprint, (
        f"{reliance.target} changed upstream; we rely on: {reliance.why}. Read the new "
        "source, adapt crawlers/internals, then record its new fingerprint"
    )


def test_the_installed_versions_are_the_checked_ones():
    assert internals.unchecked() == []


def test_another_version_is_one_warning_line_once(monkeypatch, caplog):
    monkeypatch.setitem(internals.CHECKED, "scrapy", "2.18.0")
    monkeypatch.setattr(internals, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="crawlers.internals"):
        assert internals.warn_unchecked()
        assert not internals.warn_unchecked()
    (line,) = [r.getMessage() for r in caplog.records]
    assert "scrapy 2.19.0 (checked: 2.18.0)" in line
    assert "\n" not in line


def test_every_crawl_runs_the_version_check():
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    assert "crawlers.internals.VersionCheck" in settings.getdict("ADDONS")


class Slot:
    def __init__(self):
        self.removed = []

    def remove_request(self, request):
        self.removed.append(request)


class Engine:
    def __init__(self):
        self._slot = Slot()


def test_the_request_done_hook_runs_before_the_slot_forgets_the_request():
    engine, seen = Engine(), []
    on_request_done(engine, lambda request: seen.append(list(engine._slot.removed)))
    request = Request("https://example.com/")
    engine._slot.remove_request(request)
    assert seen == [[]]
    assert engine._slot.removed == [request]


class Dummy(Spider):
    name = "dummy"


def test_retry_request_is_scrapy_own_decision():
    crawler = get_crawler(Dummy, {"RETRY_TIMES": 1})
    crawler.spider = Dummy.from_crawler(crawler)
    middleware = RetryMiddleware.from_crawler(crawler)
    retry = retry_request(middleware, Request("https://example.com/"), "boom")
    assert retry.meta["retry_times"] == 1
    assert retry_request(middleware, retry, "boom") is None  # RETRY_TIMES spent
    assert crawler.stats.get_value("retry/max_reached") == 1


def test_corestats_knows_whether_the_spider_opened():
    crawler = get_crawler(Dummy)
    stats = CoreStats(crawler.stats)
    assert not stats_started(stats)
    stats.spider_closed(Dummy(), "shutdown")  # no traceback for a crawl that never opened
    stats.spider_opened(Dummy())
    assert stats_started(stats)


class DownloaderEngine:
    def __init__(self, downloader):
        self.downloader = downloader
        self._slot = None


def test_a_changed_total_concurrency_is_the_downloader_limit_from_then_on():
    crawler = get_crawler(Dummy, {"CONCURRENT_REQUESTS": 2})
    engine = DownloaderEngine(Downloader(crawler))
    engine.downloader.active.update({Request("https://example.com/1")})
    assert total_concurrency(engine) == 2
    assert not engine.downloader.needs_backout()
    set_total_concurrency(engine, 1)
    assert engine.downloader.needs_backout()
    set_total_concurrency(engine, 3)
    assert not engine.downloader.needs_backout()
