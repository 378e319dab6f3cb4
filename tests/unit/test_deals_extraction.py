"""Parsing rendered explore and flights pages, saved from both data-delivery variants."""

import json

import pytest

from crawlers.extraction import deals as ex
from crawlers.extraction.blocks import NOT_RENDERED, UNRECOGNISED
from tests.conftest import PAGES
from tests.unit.test_deals_real_pages import as_read, expected, sentences

EXPECTED = json.loads((PAGES / "deals" / "expected.json").read_text(encoding="utf-8"))
OPTION_KEYS = (
    "airline",
    "departure",
    "arrival",
    "arrival_day_offset",
    "duration",
    "duration_minutes",
    "stops",
    "price",
    "currency",
)


def card_tuple(c: dict) -> tuple:
    return (
        c["destination"],
        c["destination_id"],
        float(c["price"]),
        c["currency"],
        c["outbound_date"],
        c["return_date"],
        c["duration"],
    )


@pytest.mark.parametrize("delivery", ["inline", "xhr"])
def test_explore_page_parses_every_card(saved_page, delivery):
    html = saved_page(f"deals/explore_{delivery}.html")
    page = ex.parse_explore(html)
    assert page.rendered and not page.no_results and page.broken == 0
    got = sorted(card_tuple(vars(c)) for c in page.cards)
    assert got == sorted(card_tuple(d) for d in EXPECTED[f"explore_{delivery}"])
    for card in page.cards:
        assert card.flights_url.startswith("/travel/flights?tfs=")


def test_the_two_variants_differ_in_delivery_not_in_result(saved_page):
    inline, xhr = saved_page("deals/explore_inline.html"), saved_page("deals/explore_xhr.html")
    assert "AF_initDataCallback({key" in inline
    assert "AF_initDataCallback({key" not in xhr
    assert ex.parse_explore(inline).cards == ex.parse_explore(xhr).cards


def test_empty_region_renders_no_results(saved_page):
    page = ex.parse_explore(saved_page("deals/explore_empty.html"))
    assert EXPECTED["explore_empty"] == []
    assert page.no_results and page.rendered and page.cards == []


def test_unrendered_page_is_not_taken_for_empty():
    page = ex.parse_explore("<html><body><div class='results'></div></body></html>")
    assert not page.rendered


def option_tuple(o: dict) -> tuple:
    return tuple(float(o[k]) if k == "price" and o[k] is not None else o[k] for k in OPTION_KEYS)


@pytest.mark.parametrize("delivery", ["inline", "xhr"])
def test_flights_page_options(saved_page, delivery):
    html = saved_page(f"deals/flights_{delivery}.html")
    options, broken = ex.parse_flights(html)
    assert broken == 0
    want = EXPECTED[f"flights_{delivery}"]["options"]
    # The page holds its list twice (once hidden) and a "View fewer flights" row: each
    # option comes out once, and the row is no option.
    assert html.count('class="pIav2d"') == 2 * len(want) and "View fewer flights" in html
    assert sorted(map(option_tuple, options), key=repr) == sorted(map(option_tuple, want), key=repr)
    # Shown text keeps Google's form, with its narrow no-break space made a plain space.
    assert all("\u202f" not in o["departure_text"] for o in options)
    assert any(o["departure_text"].endswith((" AM", " PM")) for o in options)
    priced = [o for o in options if o["price"] is not None]
    assert min(o["price"] for o in priced) == EXPECTED[f"flights_{delivery}"]["price"]
    (unpriced,) = [o for o in options if o["price"] is None]
    assert (unpriced["price_text"], unpriced["currency"]) == ("Price unavailable", "")
    # The sandbox writes each option's sentence as Google does; it agrees with the rest.
    assert [as_read(o) for o in options] == [expected(s) for s in sentences(html)]
    assert ex.flights_problem(html) is None


def row(body: str, key: str = "a1") -> str:
    return f'<li class="pIav2d"><div class="gQ6yfe" data-id="{key}">{body}</div></li>'


TIMES = (
    '<span class="mv1WYe"><span><span role="text">9:40\u202fPM</span><div style="display:none">'
    '<span class="eoY5cb">9:40 PM on Fri, Aug 8</span></div></span> \u2013 <span>'
    '<span role="text">6:05\u202fAM{marker}</span></span></span>'
)
REST = (
    '<div class="sSHqwe tPgKwe ogfYpf"><span>Delta</span><span>Operated by SkyWest</span></div>'
    '<div class="Ak5kof"><div>5 hr 25 min</div><span class="PTuQse">JFK\u2013LAX</span></div>'
    '<div class="BbR8Ec"><div><span class="ogfYpf">1 stop</span></div>'
    '<div class="sSHqwe tPgKwe ogfYpf">1 hr 5 min DEN</div></div>'
)
PRICE = '<div class="YMlIz FpEdX"><span role="text" aria-label="{label}">{shown}</span></div>'
FEWER = '<li class="ZVk93d"><span class="bEfgkb">View fewer flights</span></li>'


def flights(*rows: str) -> str:
    return f'<html><ul class="Rk10dc">{"".join(rows)}</ul></html>'


def test_an_option_is_read_from_its_visible_parts_only():
    price = PRICE.format(label="1289 euros", shown="\u20ac1,289") * 3
    body = TIMES.format(marker='<span class="bOzv6">+1</span>') + REST + price
    (option,), broken = ex.parse_flights(flights(row(body), row(body), FEWER))
    assert broken == 0
    assert option == {
        "airline": "Delta",
        "departure": "21:40",
        "arrival": "06:05",
        "arrival_day_offset": 1,
        "departure_text": "9:40 PM",
        "arrival_text": "6:05 AM+1",
        "duration": "5 hr 25 min",
        "duration_minutes": 325,
        "stops": 1,
        "stops_text": "1 stop",
        "price": 1289.0,
        "price_text": "\u20ac1,289",
        "currency": "EUR",
    }


def test_price_unavailable_is_an_option_without_a_price():
    unpriced = '<div class="YMlIz FpEdX"><span class="MHtEfb">Price unavailable</span></div>'
    (option,), broken = ex.parse_flights(flights(row(TIMES.format(marker="") + REST + unpriced)))
    assert broken == 0
    assert (option["price"], option["price_text"], option["currency"]) == (
        None,
        "Price unavailable",
        "",
    )
    assert option["arrival_day_offset"] == 0


def test_currency_from_the_symbol_then_the_sentence():
    bare = PRICE.format(label="", shown="\u20b914,411")
    (option,), _ = ex.parse_flights(flights(row(TIMES.format(marker="") + REST + bare)))
    assert (option["price"], option["currency"]) == (14411.0, "INR")
    sentence = '<div class="JMc5Xc" aria-label="From 120 Swiss francs. Nonstop flight."></div>'
    plain = PRICE.format(label="", shown="120")
    (option,), _ = ex.parse_flights(flights(row(sentence + TIMES.format(marker="") + REST + plain)))
    assert (option["price"], option["currency"]) == (120.0, "CHF")


def test_rows_that_are_not_options_are_not_counted_unreadable():
    options, broken = ex.parse_flights(flights(FEWER, FEWER))
    assert (options, broken) == ([], 0)
    no_price = row(TIMES.format(marker="") + REST)
    assert ex.parse_flights(flights(no_price)) == ([], 1)
    assert ex.flights_problem(flights(no_price)) == UNRECOGNISED


def test_a_flights_page_without_options_is_not_rendered_or_not_the_site():
    loading = (
        "<html><head><title>Phoenix to Paris | Google Flights</title></head><body>"
        '<div role="progressbar" aria-label="Loading results"></div></body></html>'
    )
    assert ex.flights_problem(loading) == NOT_RENDERED
    assert ex.flights_problem(loading.replace("Loading results", "")) == NOT_RENDERED
    assert ex.flights_problem("<html><body>It works!</body></html>") == UNRECOGNISED
    assert ex.flights_problem(flights(FEWER)) == UNRECOGNISED


def test_explore_page_problems(saved_page):
    assert ex.explore_problem(saved_page("deals/explore_inline.html")) is None
    assert ex.explore_problem(saved_page("deals/explore_empty.html")) is None
    page = saved_page("deals/explore_empty.html").replace('class="no-results"', 'class="x"')
    assert ex.explore_problem(page) == NOT_RENDERED
    assert ex.explore_problem("<html><body>It works!</body></html>") == UNRECOGNISED


GOOGLE_LIKE_CARD = """
<div class="SwQ5Be"><div class="cCO9qc tdMWuf mxXqs">Z\u00fcrich</div>
<div><span data-gs="CjRIUlh2ZjoyMDI3LTAyLTE0XzIwMjctMDItMjE" aria-label="1,289 US dollars"
 role="text">$1,289</span></div>
<div class="ogfYpf"><span role="text" aria-label="11 hr 5 min">11 hr 5 min</span></div>
<a href="/travel/flights?tfs={tfs}&amp;hl=en&amp;curr=USD">Flights</a></div>
"""


def test_card_with_thousands_unpadded_base64_and_non_ascii_name():
    from crawlers.deals.tfs import encode, flights_query

    tfs = encode(flights_query("SEA", "ZRH", "2027-02-14", "2027-02-21"))
    page = ex.parse_explore(GOOGLE_LIKE_CARD.format(tfs=tfs))
    (card,) = page.cards
    assert card.destination == "Z\u00fcrich"
    assert card.destination_id == "ZRH"
    assert card.price == 1289.0 and card.currency == "USD"
    assert (card.outbound_date, card.return_date) == ("2027-02-14", "2027-02-21")
    assert card.duration == "11 hr 5 min"


def test_card_whose_link_is_not_our_schema_keeps_its_name():
    page = ex.parse_explore(GOOGLE_LIKE_CARD.format(tfs="CgNmb28"))
    (card,) = page.cards
    assert card.destination_id == "" and card.destination == "Z\u00fcrich"


def test_card_missing_its_dates_is_counted_not_guessed():
    html = GOOGLE_LIKE_CARD.replace("CjRIUlh2ZjoyMDI3LTAyLTE0XzIwMjctMDItMjE", "bm9wZQ")
    page = ex.parse_explore(html.format(tfs="x"))
    assert page.cards == [] and page.broken == 1 and not page.rendered


@pytest.mark.parametrize(
    ("shown", "clock"),
    [
        ("7:05\u202fAM", ("07:05", 0)),
        ("12:00\u202fAM", ("00:00", 0)),
        ("12:30\u202fPM", ("12:30", 0)),
        ("11:59\u202fPM+1", ("23:59", 1)),
        ("1:15 pm +2", ("13:15", 2)),
        ("11:30\u202fPM-1", ("23:30", -1)),
        ("7:05\u00a0a.m.", ("07:05", 0)),
    ],
)
def test_clock_times(shown, clock):
    assert ex.parse_clock(shown) == clock


def test_durations_stops_and_amounts():
    assert ex.parse_minutes("5 hr 30 min") == 330
    assert ex.parse_minutes("45 min") == 45
    assert ex.parse_minutes("12 hr") == 720
    assert ex.parse_minutes("soon") is None
    assert ex.parse_stops("Nonstop") == 0
    assert ex.parse_stops("1 stop") == 1
    assert ex.parse_stops("2 stops") == 2
    assert ex.parse_stops("") is None
    assert ex.parse_amount("$1,289") == 1289.0
    assert ex.parse_amount("249 US dollars") == 249.0
    assert ex.parse_currency("249 euros", "USD") == "EUR"
    assert ex.parse_currency("249 zorkmids", "USD") == "USD"
    assert ex.parse_currency("14411 Indian rupees") == "INR"
    assert ex.currency_of_price("CA$1,289") == "CAD"
    assert ex.currency_of_price("$79") == "USD"
    assert ex.currency_of_price("CHF 120") == "CHF"
    assert ex.currency_of_price("79") == ""
