"""Which answers of the portal mean that the session is gone (SITES.md section 1)."""

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from crawlers.middlewares.vehicles_session import VehicleSessionMiddleware

BASE = "https://portal.example.com/dealer"


@pytest.fixture
def middleware():
    crawler = get_crawler(
        settings_dict={
            "VEHICLES_BASE_URL": BASE + "/",
            "VEHICLES_USERNAME": "u",
            "VEHICLES_PASSWORD": "p",
        }
    )
    return VehicleSessionMiddleware.from_crawler(crawler)


def answer(url: str, status: int, location: str = "", final_url: str = "") -> tuple:
    request = Request(url)
    headers = {"Location": location} if location else {}
    response = Response(final_url or url, status=status, headers=headers, request=request)
    return request, response


@pytest.mark.parametrize(
    ("url", "status", "location"),
    [
        (f"{BASE}/vehicle/AB-12", 302, "/dealer/login?next=%2Fdealer%2Fvehicle%2FAB-12"),
        (f"{BASE}/vehicle/AB-12", 302, f"{BASE}/license"),
        (f"{BASE}/api/inventory?page=2", 401, ""),
        (f"{BASE}/reports/AB-12.pdf?sig=x", 401, ""),
        (f"{BASE}/api/inventory?page=2", 403, ""),
    ],
)
def test_session_gone(middleware, url, status, location):
    assert middleware._session_gone(*answer(url, status, location))


@pytest.mark.parametrize(
    ("url", "status", "location"),
    [
        (f"{BASE}/vehicle/AB-12", 200, ""),
        (f"{BASE}/vehicle/AB-12", 404, ""),
        # A stale link: the spider asks the vehicle page for a new one.
        (f"{BASE}/reports/AB-12.pdf?sig=x", 403, ""),
        (f"{BASE}/vehicle/AB-12", 302, "/dealer/vehicle/AB-12/"),
        (f"{BASE}/vehicle/AB-12", 302, "/login"),  # another application on the host
        (f"{BASE}/api/inventory", 429, ""),
    ],
)
def test_session_alive(middleware, url, status, location):
    assert not middleware._session_gone(*answer(url, status, location))


def test_a_browser_page_that_landed_on_the_login_form(middleware):
    request = Request(f"{BASE}/vehicle/AB-12")
    response = HtmlResponse(f"{BASE}/login?next=x", status=200, body=b"<form id=login>")
    assert middleware._session_gone(request, response)


def test_only_the_portals_requests_are_handled(middleware):
    assert middleware._ours(Request(f"{BASE}/vehicle/AB-12"))
    assert not middleware._ours(Request("https://elsewhere.example.com/vehicle/AB-12"))
    assert not middleware._ours(Request(f"{BASE}/login", meta={"vehicles_login": True}))
