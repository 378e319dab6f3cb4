"""A ban is what a ban looks like; a site's own errors are answers the proxy delivered."""

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy.core.downloader.handlers.http11 import TunnelError
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import HtmlResponse, Request, Response
from twisted.internet.error import ConnectionLost, ConnectionRefusedError

from crawlers.proxies.policy import BanPolicy, proxy_unreachable

REQUEST = Request("https://site.example/page")
POLICY = BanPolicy()


def html(status=200, body=b"<html><body>listing</body></html>", url="https://site.example/page"):
    return HtmlResponse(url, status=status, body=body)


@pytest.mark.parametrize("status", [403, 407, 429])
def test_refusals_are_bans(status):
    assert POLICY.response_is_ban(REQUEST, html(status)) is True


@pytest.mark.parametrize("status", [200, 301, 302, 401, 404, 410, 500])
def test_site_answers_are_not_bans(status):
    assert POLICY.response_is_ban(REQUEST, html(status)) is False


@pytest.mark.parametrize("status", [502, 503, 504, 522])
def test_gateway_errors_are_unknown(status):
    assert POLICY.response_is_ban(REQUEST, html(status)) is None


@pytest.mark.parametrize("body", [b"", b"  \n ", b"<html><head></head><body></body></html>"])
def test_empty_200_is_a_ban(body):
    assert POLICY.response_is_ban(REQUEST, html(body=body)) is True


def test_empty_binary_200_is_a_ban_but_an_empty_404_is_not():
    assert POLICY.response_is_ban(REQUEST, Response(REQUEST.url, body=b"")) is True
    assert POLICY.response_is_ban(REQUEST, html(404, body=b"")) is False


@pytest.mark.parametrize(
    "body",
    [
        b"<p>Our systems have detected unusual traffic from your computer network.</p>",
        b"<html><head><title>Just a moment...</title></head><script>window._cf_chl_opt={}",
        b'<div id="px-captcha"></div>',
        b"<script src='https://geo.captcha-delivery.com/captcha/'></script>",
        b"Request unsuccessful. Incapsula incident ID: 123",
    ],
)
def test_block_pages_are_bans(body):
    assert POLICY.response_is_ban(REQUEST, html(body=body)) is True


def test_google_sorry_redirect_is_a_ban():
    sorry = html(url="https://www.google.com/sorry/index?continue=x")
    assert POLICY.response_is_ban(REQUEST, sorry) is True


def test_a_form_with_a_captcha_widget_is_not_a_block_page():
    body = b'<form action="/contact"><div class="g-recaptcha" data-sitekey="x"></div></form>'
    assert POLICY.response_is_ban(REQUEST, html(body=body)) is False


def test_markers_come_from_settings():
    policy = BanPolicy(["Access blocked by ACME"])
    assert policy.response_is_ban(REQUEST, html(body=b"<h1>access BLOCKED by acme</h1>")) is True
    assert policy.response_is_ban(REQUEST, html(body=b"<p>unusual traffic</p>")) is False


@pytest.mark.parametrize(
    "exc",
    [
        DownloadConnectionRefusedError("refused"),
        ConnectionRefusedError(),
        CannotResolveHostError("no such proxy"),
        TunnelError("Could not open CONNECT tunnel with proxy"),
        PlaywrightError("Page.goto: net::ERR_PROXY_CONNECTION_FAILED at http://x/"),
        PlaywrightError("Page.goto: net::ERR_TUNNEL_CONNECTION_FAILED at https://x/"),
    ],
)
def test_unreachable_proxy_is_a_ban_that_costs_the_page_nothing(exc):
    assert POLICY.exception_is_ban(REQUEST, exc) is True
    assert proxy_unreachable(exc) is True


@pytest.mark.parametrize(
    "exc",
    [
        DownloadTimeoutError("took longer than 10 seconds"),
        ConnectionLost(),
        PlaywrightTimeoutError("Timeout 30000ms exceeded."),
        PlaywrightError("Page.goto: net::ERR_TIMED_OUT at http://x/"),
        PlaywrightError("Page.goto: net::ERR_EMPTY_RESPONSE at http://x/"),
    ],
)
def test_failures_after_connecting_are_bans_the_page_may_share(exc):
    assert POLICY.exception_is_ban(REQUEST, exc) is True
    assert proxy_unreachable(exc) is False


@pytest.mark.parametrize(
    "exc",
    [
        IgnoreRequest(),
        ValueError("a bug in a callback"),
        PlaywrightError("Target page, context or browser has been closed"),
        PlaywrightError("Page.goto: net::ERR_NAME_NOT_RESOLVED at http://x/"),
    ],
)
def test_other_errors_are_unknown(exc):
    assert POLICY.exception_is_ban(REQUEST, exc) is None
    assert proxy_unreachable(exc) is False
