"""Block and challenge pages on the emails spider: the real Cloudflare pages a scraper was
served are flagged whatever their status, retried, then failed as `blocked` in the
spider's errback (never parsed as a page without addresses); a site whose start page is
blocked is a failed unit the report shows."""

from __future__ import annotations

import asyncio

import pytest
from scrapy.http import HtmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawlers.middlewares.page_check import PageCheckMiddleware, PageRejected, page_problem
from crawlers.middlewares.retry import BackoffRetryMiddleware
from crawlers.progress_math import counts_from_stats
from crawlers.spiders.emails import EmailsSpider
from tests.real_pages import real_page, real_pages

BLOCK_PAGES = real_pages("businesses", "block_*.html")


def spider_chain(target: str = ""):
    crawler = get_crawler(EmailsSpider, {"RETRY_TIMES": 2, "RETRY_BACKOFF_BASE": 0})
    spider = EmailsSpider.from_crawler(crawler, urls="www.example.com", target=target)
    crawler.spider = spider
    crawler.stats.open_spider()
    return crawler, spider, PageCheckMiddleware.from_crawler(crawler)


def start_request(spider):
    (request,) = asyncio.run(started(spider))
    return request


def rejected_after_retries(crawler, check, request, body: bytes, status: int) -> Failure:
    retry = BackoffRetryMiddleware.from_crawler(crawler)
    for _ in range(2):
        response = check.process_response(request, answer(request, body, status))
        assert page_problem(request) == "blocked"
        request = asyncio.run(retry.process_response(request, response))
    response = check.process_response(request, answer(request, body, status))
    with pytest.raises(PageRejected) as rejected:
        asyncio.run(retry.process_response(request, response))
    failure = Failure(rejected.value)
    failure.request = request  # as Scrapy hands it to the errback
    return failure


def answer(request, body: bytes, status: int = 200) -> HtmlResponse:
    return HtmlResponse(request.url, status=status, body=body, request=request)


@pytest.mark.parametrize("status", [200, 403])
@pytest.mark.parametrize("name", BLOCK_PAGES)
def test_real_block_page_fails_the_page_and_its_site_as_blocked(name, status):
    body = real_page(name)
    crawler, spider, check = spider_chain()
    request = start_request(spider)
    assert request.errback == spider.page_failed
    spider.page_failed(rejected_after_retries(crawler, check, request, body, status))
    stats = crawler.stats.get_stats()
    assert stats["pages/rejected/blocked"] == 3
    assert stats["emails/pages_failed"] == 1
    assert stats["emails/pages_failed/blocked"] == 1
    assert stats["emails/sites_failed/blocked"] == 1
    assert "emails/found" not in stats
    # The report's failures line and the dashboard read these.
    counts = counts_from_stats(stats)
    assert counts.failed == 1 and counts.failures == {"site_blocked": 1}


def test_blocked_page_deeper_in_a_site_fails_the_page_not_the_site():
    crawler, spider, check = spider_chain()
    home = start_request(spider)
    body = b"<a href='/contact'>contact</a> <a href='/team'>team</a>"
    links = [r for r in spider.parse(answer(home, body)) if hasattr(r, "url")]
    assert [r.url for r in links] == [
        "https://www.example.com/contact",
        "https://www.example.com/team",
    ]
    block = b"<html><head><title>Just a moment...</title></head><body>cf_chl_opt</body></html>"
    spider.page_failed(rejected_after_retries(crawler, check, links[0], block, 403))
    stats = crawler.stats.get_stats()
    assert stats["emails/pages_failed/blocked"] == 1
    assert "emails/sites_failed" not in stats
    assert "progress/failed" not in stats


def test_with_a_target_a_failed_site_leaves_the_addresses_to_go_unchanged():
    crawler, spider, check = spider_chain(target="50")
    (request,) = asyncio.run(started(spider))
    block = b"<title>Attention Required! | Cloudflare</title>Sorry, you have been blocked"
    spider.page_failed(rejected_after_retries(crawler, check, request, block, 200))
    counts = counts_from_stats(crawler.stats.get_stats())
    assert counts.failed == 1
    assert counts.remaining == 50  # the total grew with the failed site


async def started(spider):
    return [request async for request in spider.start()]


def test_a_start_page_not_found_fails_its_site_but_no_page():
    crawler, spider, _ = spider_chain()
    request = start_request(spider)
    failure = Failure(HttpError(answer(request, b"not found", 404)))
    failure.request = request
    spider.page_failed(failure)
    stats = crawler.stats.get_stats()
    assert stats["emails/pages_not_found"] == 1
    assert "emails/pages_failed" not in stats
    assert stats["emails/sites_failed/http_404"] == 1
    assert counts_from_stats(stats).failures == {"site_http_404": 1}
