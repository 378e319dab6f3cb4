"""Which units failed: kept bounded beside the stats, carried in snapshots, read per run."""

import asyncio

import redis
from scrapy.http import HtmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawlers import outcomes
from crawlers.spiders.emails import EmailsSpider
from crawlers.telemetry import FileStore, RedisStore, read_failures, read_job
from crawlers.telemetry.snapshot import build_snapshot


def stats():
    return MemoryStatsCollector(get_crawler())


def test_a_failed_unit_is_kept_with_its_reason_and_counted():
    s = stats()
    outcomes.failed(s, "HTTP 500!", unit="dentists|Dover, DE")
    outcomes.failed(s, "timeout")  # no unit: counted only
    assert s.get_value("progress/failed") == 2
    assert s.get_value("progress/failed/http_500") == 1
    (unit,) = outcomes.failed_units(s)
    assert (unit["unit"], unit["reason"]) == ("dentists|Dover, DE", "http_500")
    # Beside the stats, not in them: the stats dump stays numbers.
    assert all(isinstance(v, int) for v in s.get_stats().values())


def test_only_the_last_units_are_kept_and_never_a_password():
    s = stats()
    outcomes.failed_units(s, keep=3)
    for n in range(5):
        outcomes.failed(s, "x", unit=f"ref-{n}")
    outcomes.failed(s, "x", unit="http://user:hunter2@site.test/a\nsecond line")
    kept = [u["unit"] for u in outcomes.failed_units(s)]
    assert kept == ["ref-3", "ref-4", "http://***:***@site.test/a"]
    assert s.get_value("progress/failed") == 6
    # A larger keep set later keeps what is there.
    outcomes.failed_units(s, keep=10)
    assert len(outcomes.failed_units(s)) == 3


def snapshot(node: str, run: str, units: list[dict], state: str = "finished") -> dict:
    snap = build_snapshot(
        {"progress/total": 3, "progress/failed": len(units)},
        job="biz",
        node=node,
        spider="businesses",
        pid=1,
        started=100.0,
        now=200.0,
        state=state,
        rate=None,
        failed_units=units,
    )
    return {**snap, "run": run}


def test_a_run_record_in_files_keeps_its_failed_units(tmp_path):
    store = FileStore(tmp_path)
    first = [{"unit": "dentists|Dover, DE", "reason": "http_500", "at": 150.0}]
    store.publish(snapshot("n1", "r1", first))
    store.publish(snapshot("n1", "r2", []))  # the next run: r1 becomes history
    assert read_failures(store, "biz", "r1") == [{**first[0], "node": "n1"}]
    assert read_failures(store, "biz", "r2") == []
    assert read_failures(store, "biz", "nosuch") is None
    # The job's view stays small: the units are listed on their own.
    view = read_job(store, "biz", run="r1")
    assert view is not None and "failed_units" not in view["nodes"][0]


def test_units_of_several_nodes_are_merged_newest_first(redis_url):
    store = RedisStore(redis.Redis.from_url(redis_url), prefix="t-failed")
    store.publish(snapshot("a", "r1", [{"unit": "v1", "reason": "login_failed", "at": 10.0}]))
    store.publish(snapshot("b", "r1", [{"unit": "v2", "reason": "timeout", "at": 20.0}]))
    units = read_failures(store, "biz", "r1")
    assert [(u["unit"], u["reason"], u["node"]) for u in units] == [
        ("v2", "timeout", "b"),
        ("v1", "login_failed", "a"),
    ]


def test_the_emails_spider_names_a_failed_site_by_its_host():
    crawler = get_crawler(EmailsSpider)
    spider = EmailsSpider.from_crawler(crawler, urls="https://u:pw-9@www.example.com/")
    crawler.spider = spider
    crawler.stats.open_spider()

    async def first():
        return [r async for r in spider.start()]

    (request,) = asyncio.run(first())
    failure = Failure(HttpError(HtmlResponse(request.url, status=500, request=request)))
    failure.request = request
    spider.page_failed(failure)
    (unit,) = outcomes.failed_units(crawler.stats)
    assert (unit["unit"], unit["reason"]) == ("www.example.com", "site_http_500")
