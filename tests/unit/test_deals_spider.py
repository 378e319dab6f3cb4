"""The spider's bookkeeping on saved pages: when an origin is ranked, what every unit ends as."""

from __future__ import annotations

import asyncio

import pytest
import redis
from scrapy.http import HtmlResponse, Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawlers.deals.state import RedisState
from crawlers.items import DealItem
from crawlers.outcomes import PageRejected
from crawlers.spiders.deals import DealsSpider
from sandbox.services import free_port

BASE = "http://flights.test"


@pytest.fixture
def spider(tmp_path):
    crawler = get_crawler(
        DealsSpider, {"DEALS_BASE_URL": BASE, "DATA_DIR": str(tmp_path), "RETRY_TIMES": 1}
    )
    spider = DealsSpider.from_crawler(
        crawler, origins="PHX", regions="europe,asia,caribbean", top=3
    )
    crawler.spider = spider
    return spider


def start_requests(spider) -> dict[str, Request]:
    async def collect():
        return [r async for r in spider.start()]

    return {r.meta["region"]: r for r in asyncio.run(collect())}


def respond(request: Request, html: str) -> HtmlResponse:
    return HtmlResponse(request.url, body=html.encode(), encoding="utf-8", request=request)


def http_failure(request: Request, status: int) -> Failure:
    failure = Failure(HttpError(Response(request.url, status=status, request=request)))
    failure.request = request
    return failure


def test_origin_is_ranked_once_every_region_is_in(spider, saved_page):
    stats = spider.crawler.stats
    europe, asia, caribbean = (rid for _, rid in spider.regions)
    starts = start_requests(spider)
    assert set(starts) == {europe, asia, caribbean}
    assert all("/travel/explore?tfs=" in r.url and r.meta["playwright"] for r in starts.values())
    first = list(
        spider.parse_explore(respond(starts[europe], saved_page("deals/explore_inline.html")))
    )
    assert first == []
    empty = list(
        spider.parse_explore(respond(starts[asia], saved_page("deals/explore_empty.html")))
    )
    assert empty == []
    # The last region fails for good: it counts as in, and the origin is ranked without it.
    expansions = list(spider.explore_failed(http_failure(starts[caribbean], 503)))
    assert [r.meta["deal"]["rank"] for r in expansions] == [1, 2, 3]
    prices = [r.meta["deal"]["price"] for r in expansions]
    assert prices == sorted(prices)
    assert all(r.url.startswith(BASE + "/travel/flights?tfs=") for r in expansions)
    assert stats.get_value("progress/total") == 3 + 3
    assert stats.get_value("progress/done") == 2
    assert stats.get_value("progress/failed/explore_http_503") == 1
    assert spider.tally.failed_regions == {"PHX": {"caribbean": "http_503"}}

    item = next(
        iter(spider.parse_flights(respond(expansions[0], saved_page("deals/flights_inline.html"))))
    )
    assert isinstance(item, DealItem)
    assert item.expansion_status == "ok" and item.options and item.rank == 1
    (failed,) = spider.expansion_failed(http_failure(expansions[1], 502))
    assert failed.expansion_status == "failed:http_502" and failed.options == []
    assert stats.get_value("progress/failed/expansion_http_502") == 1

    report = spider.tally.report("finished", spider.crawler.stats)
    assert report["expansions"]["planned"] == 3
    assert report["expansions"]["done"] == 1
    assert report["expansions"]["failed"] == {"http_502": 1}
    assert report["explore"]["failed"] == {"http_503": 1}


def test_unrendered_page_is_rejected_then_reported(spider):
    request = start_requests(spider)[spider.regions[0][1]]
    loading = "<html><head><title>Explore - Google Flights</title></head><body></body></html>"
    # The page check asks the spider before any callback; the retries then end in the
    # errback with the reason (crawlers/middlewares/page_check.py).
    assert spider.page_problem(respond(request, loading)) == "not_rendered"
    failure = Failure(PageRejected("not_rendered", request.url))
    failure.request = request
    assert list(spider.explore_failed(failure)) == []
    assert spider.crawler.stats.get_value("progress/failed/explore_not_rendered") == 1
    assert spider.tally.failed_regions["PHX"] == {"europe": "not_rendered"}


def test_429_after_every_retry_is_queued_again_a_few_rounds(spider):
    spider.rounds_429 = 2
    request = start_requests(spider)[spider.regions[0][1]]
    request.meta["retry_times"] = 1
    rounds = []
    while True:
        out = list(spider.explore_failed(http_failure(request, 429)))
        if not out or not isinstance(out[0], Request):
            break
        (request,) = out
        rounds.append((request.meta["deals_429_rounds"], request.meta["retry_times"]))
    assert rounds == [(1, 0), (2, 0)]
    assert spider.crawler.stats.get_value("deals/requeued_after_429") == 2
    assert spider.tally.failed_regions["PHX"] == {"europe": "http_429"}
    # Other failures are not queued again.
    other = start_requests(spider)[spider.regions[1][1]]
    assert list(spider.explore_failed(http_failure(other, 503))) == []


def test_a_redelivered_explore_page_counts_once_and_plans_the_same_expansions(spider, saved_page):
    stats = spider.crawler.stats
    starts = start_requests(spider)
    # Filtered requests: a cluster queues each once, a JOBDIR resume skips those queued.
    assert not any(r.dont_filter for r in starts.values())
    europe, asia, caribbean = (rid for _, rid in spider.regions)
    page = saved_page("deals/explore_inline.html")
    assert list(spider.parse_explore(respond(starts[europe], page))) == []
    assert list(spider.parse_explore(respond(starts[europe], page))) == []
    assert stats.get_value("progress/done") == 1
    list(spider.explore_failed(http_failure(starts[asia], 503)))
    first = list(spider.parse_explore(respond(starts[caribbean], page)))
    assert first and not any(r.dont_filter for r in first)
    done, total = stats.get_value("progress/done"), stats.get_value("progress/total")
    # The last page again (its node died before its ack): the same requests, which the
    # scheduler's fingerprints drop if they were queued; nothing counted twice.
    again = list(spider.parse_explore(respond(starts[caribbean], page)))
    assert [(r.url, r.meta["deal"]["rank"]) for r in again] == [
        (r.url, r.meta["deal"]["rank"]) for r in first
    ]
    assert stats.get_value("progress/done") == done
    assert stats.get_value("progress/total") == total
    assert stats.get_value("progress/failed") == 1
    assert stats.get_value("deals/explore_recorded_before") == 2
    assert spider.tally.report("finished", spider.crawler.stats)["expansions"]["planned"] == len(
        first
    )


def test_a_page_is_queued_again_while_redis_is_away(spider, saved_page):
    starts = start_requests(spider)
    europe = spider.regions[0][1]
    # Nothing listens there: every call fails as a restarting Redis would.
    away = redis.Redis(port=free_port(), socket_connect_timeout=2)
    spider.ranking = RedisState(away, "deals", "run", len(spider.regions), ttl=60)
    page = saved_page("deals/explore_inline.html")
    (again,) = spider.parse_explore(respond(starts[europe], page))
    assert isinstance(again, Request) and again.url == starts[europe].url and again.dont_filter
    assert again.meta["region"] == europe
    stats = spider.crawler.stats
    assert stats.get_value("deals/state_unavailable") == 1
    assert stats.get_value("progress/done") is None and stats.get_value("progress/failed") is None
