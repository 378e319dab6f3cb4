"""Pages that are not what was asked for: flagged, retried with backoff, then the errback."""

import asyncio

import pytest
import scrapy
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.test import get_crawler

from crawlers.middlewares.page_check import PageCheckMiddleware, PageRejected, page_problem
from crawlers.middlewares.retry import BackoffRetryMiddleware
from crawlers.proxies.policy import BanPolicy

BLOCK = (
    b"<html><title>Attention Required! | Cloudflare</title><h1>Sorry, you have been blocked</h1>"
)
RESULTS = b"<html><div class='search-results'>...</div></html>"


class ResultsSpider(scrapy.Spider):
    name = "results"

    def page_problem(self, response):
        return None if b"search-results" in response.body else "unrecognised_page"


def chain(settings=None):
    crawler = get_crawler(
        ResultsSpider, {"RETRY_TIMES": 2, "RETRY_BACKOFF_BASE": 0, **(settings or {})}
    )
    crawler.spider = ResultsSpider.from_crawler(crawler)
    crawler.stats.open_spider()
    return (
        crawler,
        PageCheckMiddleware.from_crawler(crawler),
        BackoffRetryMiddleware.from_crawler(crawler),
    )


def answer(request, body, status=200):
    return HtmlResponse(request.url, status=status, body=body, request=request)


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("status", [200, 403])
def test_block_page_is_retried_then_rejected_whatever_its_status(status):
    crawler, check, retry = chain()
    request = Request("http://site/search?page=1")
    for attempt in range(3):
        response = check.process_response(request, answer(request, BLOCK, status))
        assert page_problem(request) == "blocked"
        if attempt < 2:
            request = run(retry.process_response(request, response))
            assert isinstance(request, Request)
            assert request.meta["retry_times"] == attempt + 1
        else:
            with pytest.raises(PageRejected) as rejected:
                run(retry.process_response(request, response))
            assert rejected.value.reason == "blocked"
    stats = crawler.stats.get_stats()
    assert stats["pages/rejected/blocked"] == 3
    assert stats["pages/gave_up/blocked"] == 1


def test_the_spiders_own_check_rejects_a_page_it_does_not_recognise():
    _, check, retry = chain({"RETRY_TIMES": 0})
    request = Request("http://site/search?page=1")
    response = check.process_response(request, answer(request, b"<html>hello</html>"))
    assert page_problem(request) == "unrecognised_page"
    with pytest.raises(PageRejected) as rejected:
        run(retry.process_response(request, response))
    assert rejected.value.reason == "unrecognised_page"


def test_a_good_page_passes_and_clears_an_earlier_flag():
    crawler, check, retry = chain()
    request = Request("http://site/search?page=1", meta={"page_problem": "blocked"})
    response = check.process_response(request, answer(request, RESULTS))
    assert page_problem(request) is None
    assert run(retry.process_response(request, response)) is response
    assert not any(k.startswith("pages/") for k in crawler.stats.get_stats())


def test_binary_bodies_and_opted_out_requests_are_not_checked():
    _, check, _ = chain()
    pdf = Request("http://site/r.pdf")
    check.process_response(
        pdf, Response(pdf.url, body=b"%PDF sorry, you have been blocked", request=pdf)
    )
    assert page_problem(pdf) is None
    raw = Request("http://site/x", meta={"page_check": False})
    check.process_response(raw, answer(raw, BLOCK))
    assert page_problem(raw) is None


def test_the_ban_policy_counts_blocked_and_unrecognised_pages_as_bans():
    policy = BanPolicy()
    for problem, ban in (("blocked", True), ("unrecognised_page", True), ("not_rendered", None)):
        request = Request("http://site/", meta={"page_problem": problem})
        assert policy.response_is_ban(request, answer(request, RESULTS)) is ban


def test_error_pages_and_redirects_are_left_to_their_own_middlewares():
    _, check, _ = chain()
    for status in (302, 404, 500):
        request = Request("http://site/search?page=1")
        check.process_response(request, answer(request, b"<html>Not here</html>", status))
        assert page_problem(request) is None
