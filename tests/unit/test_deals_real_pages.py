"""The flights parser on real Google Flights pages, every option checked against the page.

Each option of a real page carries its whole description as one sentence in
`div.JMc5Xc[aria-label]` ("From 79 US dollars. Nonstop flight with British Airways. Leaves
... at 8:55 PM on Friday, August 15 and arrives ... Total duration 1 hr 15 min."). The
expected values here are read from that sentence with regular expressions of this test,
not with the parser, and compared with what the parser read from the visible elements.
"""

from __future__ import annotations

import datetime as dt
import html as htmlmod
import re

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawlers.extraction import deals as ex
from crawlers.extraction.blocks import NOT_RENDERED, UNRECOGNISED
from crawlers.spiders.deals import PARSED, DealsSpider
from tests.real_pages import real_page, real_pages

FOLDER = "deals/pages"
# SOURCES.md: the two pages saved while Google still showed "Loading results".
UNRENDERED = {
    "deals/pages/debug_connecting_flights2.html.gz",
    "deals/pages/raw_html_extreme_LAX_BOS_Cross_Country_Red-Eye.html.gz",
}
RENDERED = [p for p in real_pages(FOLDER, "*.html.gz") if p not in UNRENDERED]
CURRENCIES = {"US dollars": "USD", "Indian rupees": "INR"}

# One option: its id, then its sentence (the id tells the two copies of the list apart).
OPTION = re.compile(r'data-id="([^"]+)"[^>]*><div class="JMc5Xc"[^>]*aria-label="([^"]*)"')
PRICE = re.compile(r"^From (\d+) (US dollars|Indian rupees)[ .]")
STOPS = re.compile(r"\. (Nonstop|(\d+) stops?) flight with (.+?)\. (?:Operated by .+?\. )?Leaves ")
TIMES = re.compile(
    r"Leaves .+? at (\d{1,2}:\d{2}\u202f[AP]M) on \w+, (\w+ \d+) and arrives at .+? at"
    r" (\d{1,2}:\d{2}\u202f[AP]M) on \w+, (\w+ \d+)\."
)
DURATION = re.compile(r"Total duration ((?:\d+ hr)?(?: ?\d+ min)?)\.")


def sentences(page: str) -> list[str]:
    """Each option's sentence once, in the order of the page."""
    seen: dict[str, str] = {}
    for key, label in OPTION.findall(page):
        seen.setdefault(key, htmlmod.unescape(label))
    return list(seen.values())


def clock(shown: str) -> str:
    return dt.datetime.strptime(shown.replace("\u202f", " "), "%I:%M %p").strftime("%H:%M")


def day_offset(leaves: str, arrives: str) -> int:
    # No year in the sentence: a trip over New Year arrives in the next one.
    start = dt.datetime.strptime(f"{leaves} 2001", "%B %d %Y").date()
    end = dt.datetime.strptime(f"{arrives} 2001", "%B %d %Y").date()
    if end < start - dt.timedelta(days=180):
        end = end.replace(year=2002)
    return (end - start).days


def minutes(duration: str) -> int:
    hours = re.search(r"(\d+) hr", duration)
    mins = re.search(r"(\d+) min", duration)
    return (int(hours.group(1)) * 60 if hours else 0) + (int(mins.group(1)) if mins else 0)


def expected(sentence: str) -> dict:
    stops, times, duration = (
        STOPS.search(sentence),
        TIMES.search(sentence),
        DURATION.search(sentence),
    )
    assert stops and times and duration, sentence
    price = PRICE.match(sentence)
    if price is None:
        assert sentence.startswith("Total price is unavailable."), sentence
    offset = day_offset(times.group(2), times.group(4))
    return {
        # Codeshares: "A and B" in the sentence, "A, B" on screen.
        "airline": re.split(r", | and ", stops.group(3)),
        "departure": clock(times.group(1)),
        "arrival": clock(times.group(3)),
        "arrival_day_offset": offset,
        "departure_text": times.group(1).replace("\u202f", " "),
        "arrival_text": times.group(3).replace("\u202f", " ") + (f"+{offset}" if offset else ""),
        "duration": duration.group(1).strip(),
        "duration_minutes": minutes(duration.group(1)),
        "stops": 0 if stops.group(1) == "Nonstop" else int(stops.group(2)),
        "price": float(price.group(1)) if price else None,
        "currency": CURRENCIES[price.group(2)] if price else "",
    }


def as_read(option: dict) -> dict:
    got = {k: option[k] for k in option if k not in ("stops_text", "price_text")}
    got["airline"] = option["airline"].split(", ")
    return got


def test_the_real_pages_are_here():
    if not real_pages(FOLDER, "*.html.gz"):
        pytest.skip("no real pages here")
    assert len(RENDERED) == 18


@pytest.mark.parametrize("name", RENDERED)
def test_every_option_reads_as_its_own_sentence_says(name):
    page = real_page(name).decode("utf-8")
    want = [expected(s) for s in sentences(page)]
    options, broken = ex.parse_flights(page)
    assert broken == 0
    assert len(want) >= 5
    assert [as_read(o) for o in options] == want
    for option in options:
        # The stops as shown, without the layover after them; the price once.
        assert option["stops_text"] in (
            "Nonstop",
            f"{option['stops']} stop",
            f"{option['stops']} stops",
        )
        if option["price"] is None:
            assert option["price_text"] == "Price unavailable"
        else:
            assert re.fullmatch(r"[$\u20b9][\d,]+", option["price_text"]), option["price_text"]
    assert ex.flights_problem(page) is None


def test_overnight_arrivals_and_unpriced_options_are_there():
    """What the issue found wrong, on pages known to have it: +1/+2 arrivals, "Price
    unavailable" options and the INR page."""
    overnight = ex.parse_flights(
        real_page("deals/pages/raw_html_extreme_LAX_NRT_Pacific_Overnight.html.gz").decode()
    )[0]
    assert {o["arrival_day_offset"] for o in overnight} == {1, 2}
    unpriced = [o for o in overnight if o["price"] is None]
    assert len(unpriced) == 1 and unpriced[0]["airline"] == "Singapore Airlines"
    rupees = ex.parse_flights(real_page("deals/pages/bilmo_google_flights.html.gz").decode())[0]
    # The page's first option: "From 14411 Indian rupees round trip total ... IndiGo".
    first = rupees[0]
    assert (first["airline"], first["price"], first["currency"]) == ("IndiGo", 14411.0, "INR")
    assert first["price_text"] == "\u20b914,411"
    assert (first["departure_text"], first["arrival_text"]) == ("4:25 PM", "6:35 PM")
    assert first["duration"] == "2 hr 10 min"


@pytest.fixture
def spider(tmp_path):
    crawler = get_crawler(
        DealsSpider, {"DEALS_BASE_URL": "http://f.test", "DATA_DIR": str(tmp_path)}
    )
    return DealsSpider.from_crawler(crawler, origins="PHX", regions="europe")


def response(body: bytes, kind: str) -> HtmlResponse:
    request = Request("http://f.test/travel/flights?tfs=x", meta={"deals_kind": kind})
    return HtmlResponse(request.url, body=body, encoding="utf-8", request=request)


@pytest.mark.parametrize("name", sorted(UNRENDERED))
def test_a_page_still_loading_is_not_rendered_never_a_route_without_flights(spider, name):
    page = real_page(name)
    assert b"Loading results" in page and b'class="Rk10dc"' not in page
    assert ex.flights_problem(page.decode()) == NOT_RENDERED
    assert spider.page_problem(response(page, "expansion")) == NOT_RENDERED
    # Rendered or not, every real page holds the hidden "Loading results" bar.
    good = response(real_page(RENDERED[0]), "expansion")
    assert spider.page_problem(good) is None
    # Read once: the callback takes what the check read; a later attempt's check drops it.
    options, _ = good.meta[PARSED]
    assert options
    later = HtmlResponse(good.url, body=page, encoding="utf-8", request=good.request)
    assert spider.page_problem(later) == NOT_RENDERED and PARSED not in later.meta


def test_a_page_of_another_site_is_unrecognised(spider):
    other = b"<html><head><title>Welcome to nginx!</title></head><body>hi</body></html>"
    assert spider.page_problem(response(other, "expansion")) == UNRECOGNISED
    assert spider.page_problem(response(other, "explore")) == UNRECOGNISED


def test_a_deal_whose_card_names_no_currency_takes_its_options(spider):
    page = real_page("deals/pages/bilmo_google_flights.html.gz")
    deal = {
        "origin": "IXM",
        "destination": "Mumbai",
        "destination_id": "BOM",
        "price": 14411.0,
        "currency": "",
        "outbound_date": "2025-10-15",
        "return_date": "2025-10-20",
        "duration": "2 hr 10 min",
        "regions": ["asia"],
        "flights_url": "http://f.test/travel/flights?tfs=x",
        "rank": 1,
    }
    request = Request(deal["flights_url"], meta={"deals_kind": "expansion", "deal": deal})
    (item,) = spider.parse_flights(HtmlResponse(request.url, body=page, request=request))
    assert item.expansion_status == "ok" and item.currency == "INR"
    assert {o["currency"] for o in item.options} == {"INR", ""}
    assert spider.crawler.stats.get_value("deals/options_price_unavailable") == 1
