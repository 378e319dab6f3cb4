"""Parsing rendered explore and flights pages, saved from both data-delivery variants."""

import json

import pytest

from crawlers.extraction import deals as ex
from tests.conftest import PAGES

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


@pytest.mark.parametrize("delivery", ["inline", "xhr"])
def test_flights_page_options(saved_page, delivery):
    options, broken = ex.parse_flights(saved_page(f"deals/flights_{delivery}.html"))
    assert broken == 0
    want = EXPECTED[f"flights_{delivery}"]["options"]
    assert sorted(tuple(o[k] for k in OPTION_KEYS) for o in options) == sorted(
        tuple(float(o[k]) if k == "price" else o[k] for k in OPTION_KEYS) for o in want
    )
    # Shown text keeps Google's form, with its narrow no-break space made a plain space.
    assert all("\u202f" not in o["departure_text"] for o in options)
    assert any(o["departure_text"].endswith((" AM", " PM")) for o in options)
    assert min(o["price"] for o in options) == EXPECTED[f"flights_{delivery}"]["price"]


GOOGLE_LIKE_CARD = """
<div class="SwQ5Be"><div class="cCO9qc tdMWuf mxXqs">Z\u00fcrich</div>
<div><span data-gs="CjRIUlh2ZjoyMDI3LTAyLTE0XzIwMjctMDItMjE" aria-label="1,289 US dollars"
 role="text">$1,289</span></div>
<div class="ogfYpf"><span role="text" aria-label="11 hr 5 min">11 hr 5 min</span></div>
<a href="/travel/flights?tfs={tfs}&amp;hl=en&amp;curr=USD">Flights</a></div>
"""


def test_card_with_thousands_unpadded_base64_and_non_ascii_name():
    from crawlers.tfs import encode, flights_query

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
