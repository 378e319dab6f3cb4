"""The rotation middleware on its own: which proxy, which meta, what a ban does."""

import asyncio

import pytest
from scrapy import Spider
from scrapy.exceptions import DownloadConnectionRefusedError, NotConfigured
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawlers.errors import ConfigError
from crawlers.middlewares.proxies import ProxyBanDetectionMiddleware, ProxyRotationMiddleware

LIST = "a.example:1001:alice:pw-alice\nb.example:1002\nhttp://carol:pw-carol@c.example:1003\n"


class Dummy(Spider):
    name = "dummy"


def make(tmp_path, text=LIST, **settings):
    path = tmp_path / "proxies.txt"
    path.write_text(text)
    crawler = get_crawler(
        Dummy,
        {
            "PROXY_LIST": str(path),
            "PROXY_BAN_THRESHOLD": 2,
            "PROXY_REST_SECONDS": 60,
            "ROTATING_PROXY_PAGE_RETRY_TIMES": 2,
            "REDIS_URL": "",
            **settings,
        },
    )
    crawler.spider = Dummy()
    rotation = ProxyRotationMiddleware.from_crawler(crawler)
    detection = ProxyBanDetectionMiddleware.from_crawler(crawler)
    return crawler, rotation, detection


def route(mw, request):
    assert asyncio.run(mw.process_request(request)) is None
    return request


def answer(crawler, rotation, detection, request, status=200, exception=None):
    """What the two middlewares do with an outcome, in Scrapy's order (620, then 610)."""
    if exception is not None:
        detection.process_exception(request, exception)
        return rotation.process_exception(request, exception)
    response = HtmlResponse(request.url, status=status, body=b"<html>page</html>")
    detection.process_response(request, response)
    return rotation.process_response(request, response)


def test_plain_requests_rotate_with_credentials_and_keep_the_site_slot(tmp_path):
    _, mw, _ = make(tmp_path)
    proxies = [route(mw, Request(f"https://site.example/{i}")).meta["proxy"] for i in range(6)]
    assert proxies[:3] == [
        "http://alice:pw-alice@a.example:1001",
        "http://b.example:1002",
        "http://carol:pw-carol@c.example:1003",
    ]
    assert proxies[3:] == proxies[:3]
    request = route(mw, Request("https://site.example/x"))
    assert "download_slot" not in request.meta


def test_browser_requests_get_a_context_per_proxy_and_no_meta_proxy(tmp_path):
    _, mw, _ = make(tmp_path)
    first = route(mw, Request("https://site.example/1", meta={"playwright": True}))
    second = route(mw, Request("https://site.example/2", meta={"playwright": True}))
    assert "proxy" not in first.meta
    assert first.meta["playwright_context"].startswith("proxy-")
    assert first.meta["playwright_context"] != second.meta["playwright_context"]
    assert first.meta["playwright_context_kwargs"]["proxy"] == {
        "server": "http://a.example:1001",
        "username": "alice",
        "password": "pw-alice",
    }
    assert second.meta["playwright_context_kwargs"]["proxy"] == {"server": "http://b.example:1002"}


def test_a_context_the_spider_named_sticks_to_one_proxy(tmp_path):
    _, mw, _ = make(tmp_path)
    servers = set()
    for i in range(5):
        route(mw, Request(f"https://site.example/{i}"))  # plain traffic moves the turn on
        meta = {
            "playwright": True,
            "playwright_context": "login",
            "playwright_context_kwargs": {"locale": "en-US"},
        }
        request = route(mw, Request(f"https://site.example/s{i}", meta=meta))
        assert request.meta["playwright_context"] == "login"
        assert request.meta["playwright_context_kwargs"]["locale"] == "en-US"
        servers.add(request.meta["playwright_context_kwargs"]["proxy"]["server"])
    assert len(servers) == 1


def test_a_proxy_the_spider_chose_is_kept(tmp_path):
    _, mw, _ = make(tmp_path)
    plain = route(mw, Request("https://site.example/", meta={"proxy": "http://own:9"}))
    assert plain.meta["proxy"] == "http://own:9"
    browser = route(
        mw, Request("https://site.example/", meta={"proxy": "http://own:9", "playwright": True})
    )
    assert "proxy" not in browser.meta
    assert browser.meta["playwright_context_kwargs"]["proxy"] == {"server": "http://own:9"}


def test_a_ban_retries_through_another_proxy_and_rests_the_proxy(tmp_path):
    crawler, mw, detection = make(tmp_path)
    request = route(mw, Request("https://site.example/p"))
    banned_proxy = request.meta["proxy"]
    retry = answer(crawler, mw, detection, request, status=403)
    assert isinstance(retry, Request)
    assert retry.dont_filter and retry.meta["proxy_retry_times"] == 1
    route(mw, retry)
    assert retry.meta["proxy"] != banned_proxy
    assert crawler.stats.get_value("bans/status/403") == 1
    # A second ban in a row (threshold 2) sends the first proxy to rest.
    again = route(mw, Request("https://site.example/q"))
    while again.meta["proxy"] != banned_proxy:
        answer(crawler, mw, detection, again)
        again = route(mw, Request("https://site.example/q"))
    answer(crawler, mw, detection, again, status=429)
    assert crawler.stats.get_value("proxies/resting") == 1
    assert crawler.stats.get_value("proxies/alive") == 2
    used = {route(mw, Request(f"https://site.example/{i}")).meta["proxy"] for i in range(6)}
    assert banned_proxy not in used


def test_site_errors_are_not_bans(tmp_path):
    crawler, mw, detection = make(tmp_path)
    for status in (404, 500):
        request = route(mw, Request(f"https://site.example/{status}"))
        response = answer(crawler, mw, detection, request, status=status)
        assert response.status == status
    assert crawler.stats.get_value("proxies/bans") is None


def test_page_retries_are_limited_but_unreachable_proxies_cost_nothing(tmp_path):
    crawler, mw, detection = make(tmp_path, PROXY_BAN_THRESHOLD=100)
    request = route(mw, Request("https://site.example/p"))
    for _ in range(5):
        request = answer(
            crawler, mw, detection, request, exception=DownloadConnectionRefusedError("refused")
        )
        assert request.meta["proxy_retry_times"] == 0
        route(mw, request)
    for expected in (1, 2):
        request = answer(crawler, mw, detection, request, status=403)
        assert request.meta["proxy_retry_times"] == expected
        route(mw, request)
    response = answer(crawler, mw, detection, request, status=403)
    assert response.status == 403  # the page's own answer now: the retry middleware decides
    assert crawler.stats.get_value("proxies/retries_exhausted") == 1


def test_all_resting_while_the_crawl_stops_returns_the_request_for_later(tmp_path):
    crawler, mw, detection = make(tmp_path, PROXY_BAN_THRESHOLD=1)
    for i in range(3):
        answer(crawler, mw, detection, route(mw, Request(f"https://site.example/{i}")), status=403)
    assert crawler.stats.get_value("proxies/resting") == 3
    pending = Request("https://site.example/later")
    back = asyncio.run(mw.process_request(pending))  # no engine running: nothing to wait for
    assert isinstance(back, Request) and back.url == pending.url and back.dont_filter


def test_no_list_means_direct_and_a_bad_list_is_a_config_error(tmp_path):
    crawler = get_crawler(Dummy, {"PROXY_LIST": "", "DATA_DIR": str(tmp_path)})
    with pytest.raises(NotConfigured):
        ProxyRotationMiddleware.from_crawler(crawler)
    with pytest.raises(NotConfigured):
        ProxyBanDetectionMiddleware.from_crawler(crawler)
    (tmp_path / "proxies.txt").write_text("a:1\n")
    assert ProxyRotationMiddleware.from_crawler(crawler).proxies
    off = get_crawler(Dummy, {"PROXY_LIST": str(tmp_path / "proxies.txt"), "PROXY_ENABLED": False})
    with pytest.raises(NotConfigured):
        ProxyRotationMiddleware.from_crawler(off)
    with pytest.raises(ConfigError, match="line 2: not a proxy"):
        make(tmp_path, text="a:1\nb:2:only-user-pw-x\n")


@pytest.mark.parametrize("browser", [False, True])
def test_answered_requests_forget_the_credentials(tmp_path, browser):
    """A retry goes back to the scheduler, maybe to a disk or Redis queue: no password."""
    crawler, mw, detection = make(tmp_path)
    request = route(mw, Request("https://site.example/p", meta={"playwright": browser}))
    # What Scrapy's HttpProxyMiddleware (750) does with credentials in meta["proxy"].
    request.headers[b"Proxy-Authorization"] = b"Basic YWxpY2U6cHctYWxpY2U="
    retry = answer(crawler, mw, detection, request, status=403)
    for answered in (request, retry):
        assert "pw-alice" not in repr(answered.meta)
        assert b"Proxy-Authorization" not in answered.headers
    route(mw, retry)
    key = "playwright_context_kwargs" if browser else "proxy"
    assert key in retry.meta  # routed again, through the next proxy


def test_all_resting_before_any_page_got_through_means_the_list_does_not_work(tmp_path):
    crawler, mw, detection = make(tmp_path, PROXY_BAN_THRESHOLD=1)
    held = route(mw, Request("https://site.example/slow"))  # its answer is still to come
    for i in range(3):
        answer(crawler, mw, detection, route(mw, Request(f"https://site.example/{i}")), status=403)
    assert not mw.health.usable()
    assert mw._in_flight == 1  # not decided while an answer that may prove it is pending
    answer(crawler, mw, detection, held, status=403)
    assert mw._in_flight == 0 and mw._nothing_got_through()


def test_all_resting_after_a_page_got_through_is_only_a_pause(tmp_path):
    crawler, mw, detection = make(tmp_path, PROXY_BAN_THRESHOLD=1)
    held = route(mw, Request("https://site.example/slow"))
    for i in range(3):
        answer(crawler, mw, detection, route(mw, Request(f"https://site.example/{i}")), status=403)
    # The site's own 404, through a proxy resting by now: still a page that got through.
    answer(crawler, mw, detection, held, status=404)
    assert not mw.health.usable()
    assert not mw._nothing_got_through()
