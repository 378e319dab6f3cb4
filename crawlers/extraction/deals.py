"""Rendered Google Flights pages (SITES.md section 2) to plain data: explore cards, options.

Only what the contract names is read: class names of the rendered DOM, the `aria-label`
of the price and duration, the dates inside `data-gs`, the flights link. How the page got
its data (inline blob or a fetch) does not matter once it is rendered.

The real flights page puts more in each option than its values (see SITES.md): a hidden
tooltip next to each visible time, the airports after the duration, the layover after the
stops, the price three times over, and a second hidden copy of the whole list. So each
field is read from its own element: the visible time `span[role=text]` (with its day-offset
marker `span.bOzv6`), the first child of the duration and stops blocks, the first price.

Times: Google writes `7:05 AM` with a narrow no-break space (U+202F) before AM/PM, and an
arrival on a later day with a `+1` marker. Options keep the 24-hour form (`07:05`), the
day offset of the arrival, and the text as shown with every Unicode space made a plain
space (`7:05 AM`, `2:10 PM+1`).

Currencies are ISO codes read from the page, never assumed from the `curr` asked for:
the price's `aria-label` ("258 US dollars"), else its symbol or code ("₹14,411"), else
the option's sentence ("From 79 US dollars."); "" when the page does not say.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from parsel import Selector

from crawlers.deals.tfs import TfsError, decode
from crawlers.extraction.blocks import NOT_RENDERED, UNRECOGNISED

CARD = "div.SwQ5Be"
NO_RESULTS = "div.no-results"
# Every row of the option lists; not every row is an option ("View fewer flights").
ROWS = "ul.Rk10dc li"
# What a browser waits for: rows that are options (each has its sentence element).
OPTION = "ul.Rk10dc li div.JMc5Xc"

# The currency names Google spells out in aria-labels (hl=en).
CURRENCY_NAMES = {
    "us dollars": "USD",
    "euros": "EUR",
    "british pounds": "GBP",
    "canadian dollars": "CAD",
    "australian dollars": "AUD",
    "new zealand dollars": "NZD",
    "singapore dollars": "SGD",
    "hong kong dollars": "HKD",
    "mexican pesos": "MXN",
    "brazilian reals": "BRL",
    "japanese yen": "JPY",
    "south korean won": "KRW",
    "chinese yuan": "CNY",
    "swiss francs": "CHF",
    "swedish kronor": "SEK",
    "norwegian kroner": "NOK",
    "danish kroner": "DKK",
    "polish zlotys": "PLN",
    "turkish lira": "TRY",
    "thai baht": "THB",
    "indian rupees": "INR",
    "south african rand": "ZAR",
    "uae dirhams": "AED",
}
# Symbols as Google shows them with hl=en, longest first ("CA$" before "$").
CURRENCY_SYMBOLS = (
    ("US$", "USD"),
    ("CA$", "CAD"),
    ("A$", "AUD"),
    ("NZ$", "NZD"),
    ("MX$", "MXN"),
    ("HK$", "HKD"),
    ("R$", "BRL"),
    ("$", "USD"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("₹", "INR"),
    ("¥", "JPY"),
    ("₩", "KRW"),
    ("₺", "TRY"),
)
ISO_CODES = frozenset(CURRENCY_NAMES.values())

# A page of the site: its title, or the progress bar every flights page carries (hidden
# once rendered, so it tells a flights page apart, not an unrendered one).
_SITE_PAGE = re.compile(r"<title[^>]*>[^<]*Google Flights|Loading results")
_AMOUNT = re.compile(r"(\d[\d,]*(?:\.\d+)?)")
_CODE = re.compile(r"\b([A-Z]{3})\b")
_DATES = re.compile(rb":(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})\s*([AaPp])\.?\s*[Mm]\.?(?:\s*([+-])\s*(\d+))?")
_HOURS = re.compile(r"(\d+)\s*hr")
_MINUTES = re.compile(r"(\d+)\s*min")
_STOPS = re.compile(r"(\d+)\s*stop")
_SPACES = re.compile(r"\s+")


@dataclass
class ExploreCard:
    destination: str
    destination_id: str  # the flights link's destination (an IATA code or a /m/ id), or ""
    price: float
    currency: str  # ISO code, "" if the card does not say
    outbound_date: str
    return_date: str
    duration: str
    flights_url: str  # as in the page: relative to the site root


@dataclass
class ExplorePage:
    cards: list[ExploreCard] = field(default_factory=list)
    no_results: bool = False
    broken: int = 0  # cards present but missing something the contract promises

    @property
    def rendered(self) -> bool:
        return self.no_results or bool(self.cards)


def text(value: str | None) -> str:
    """Unicode spaces (U+202F, U+00A0 ...) as plain spaces, runs collapsed, ends trimmed."""
    return _SPACES.sub(" ", value or "").strip()


def parse_amount(label: str) -> float | None:
    match = _AMOUNT.search(label or "")
    return float(match.group(1).replace(",", "")) if match else None


def parse_currency(label: str, default: str = "") -> str:
    """The ISO code of a spelled-out amount ("249 US dollars"), else `default`."""
    tail = _AMOUNT.sub("", text(label)).strip().casefold()
    for name, code in CURRENCY_NAMES.items():
        if name in tail:
            return code
    return default


def currency_of_price(shown: str, default: str = "") -> str:
    """The ISO code of a price as shown ("$79", "₹14,411", "CHF 120"), else `default`."""
    value = text(shown)
    code = _CODE.search(value)
    if code and code.group(1) in ISO_CODES:
        return code.group(1)
    for symbol, iso in CURRENCY_SYMBOLS:
        if symbol in value:
            return iso
    return default


def parse_data_gs(value: str) -> tuple[str, str] | None:
    """(outbound, return) from a `data-gs` token: base64 text with `:<date>_<date>` inside."""
    token = (value or "").strip()
    for decoder in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decoder(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            continue
        match = _DATES.search(raw)
        if match:
            return match.group(1).decode(), match.group(2).decode()
    return None


def flights_destination(href: str) -> str:
    """The destination of a flights link, from its `tfs` (empty if it has none)."""
    values = parse_qs(urlsplit(href).query).get("tfs")
    if not values:
        return ""
    try:
        legs = decode(values[0]).legs
    except TfsError:
        return ""
    return legs[0].destination if legs else ""


def parse_explore(html: str) -> ExplorePage:
    sel = Selector(text=html)
    page = ExplorePage(no_results=bool(sel.css(NO_RESULTS)))
    for node in sel.css(CARD):
        card = parse_card(node)
        if card is None:
            page.broken += 1
        else:
            page.cards.append(card)
    return page


def parse_card(node: Selector) -> ExploreCard | None:
    name = text(" ".join(node.css(".cCO9qc.tdMWuf.mxXqs ::text").getall()))
    gs = node.css("[data-gs]")
    label = gs.attrib.get("aria-label", "") if gs else ""
    shown = text(" ".join(gs[0].css("::text").getall())) if gs else ""
    price = parse_amount(label)
    dates = parse_data_gs(gs.attrib.get("data-gs", "")) if gs else None
    href = node.css('a[href^="/travel/flights?tfs="]::attr(href)').get("")
    duration = text(node.css(".ogfYpf span[role=text]::attr(aria-label)").get(""))
    destination_id = flights_destination(href)
    # The destination code is a bonus: a link whose tfs is not the schema we know still
    # leads to the flights, and the name identifies the destination.
    if not (name and price is not None and dates and href):
        return None
    return ExploreCard(
        destination=name,
        destination_id=destination_id,
        price=price,
        currency=parse_currency(label, currency_of_price(shown)),
        outbound_date=dates[0],
        return_date=dates[1],
        duration=duration,
        flights_url=href,
    )


def explore_problem(html: str, page: ExplorePage | None = None) -> str | None:
    """Why an explore page cannot be read, or None: it shows cards or says it has none.
    `page`: the page as parse_explore() read it, when it was."""
    page = page if page is not None else parse_explore(html)
    if page.rendered:
        return None
    if page.broken:
        return UNRECOGNISED  # cards none of which can be read: the page has changed
    return NOT_RENDERED if _SITE_PAGE.search(html) else UNRECOGNISED


def parse_clock(value: str) -> tuple[str, int] | None:
    """`7:05 PM+1` -> ("19:05", 1)."""
    match = _CLOCK.search(text(value))
    if not match:
        return None
    hour, minute = int(match.group(1)) % 12, int(match.group(2))
    if match.group(3).upper() == "P":
        hour += 12
    offset = int(match.group(5) or 0) * (-1 if match.group(4) == "-" else 1)
    return f"{hour:02d}:{minute:02d}", offset


def parse_minutes(value: str) -> int | None:
    hours, mins = _HOURS.search(value or ""), _MINUTES.search(value or "")
    if not hours and not mins:
        return None
    return (int(hours.group(1)) * 60 if hours else 0) + (int(mins.group(1)) if mins else 0)


def parse_stops(value: str) -> int | None:
    if text(value).casefold() == "nonstop":
        return 0
    match = _STOPS.search(value or "")
    return int(match.group(1)) if match else None


def is_option(node: Selector) -> bool:
    """A row of the list that is a flight (not "View more flights" and the like)."""
    return bool(node.css("div.JMc5Xc, span.mv1WYe"))


def parse_flights(html: str) -> tuple[list[dict[str, Any]], int]:
    """The options of a rendered flights page, and how many were unreadable.

    Each option once: the server's HTML holds the list twice (the second copy hidden),
    told apart by the option's `data-id`. Rows that are not options are not counted."""
    options, broken, seen = [], 0, set()
    for node in Selector(text=html).css(ROWS):
        # The id sits on the row's first element: looked up there, not in the whole row.
        key = node.xpath("./div/@data-id").get()
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        if not is_option(node):
            continue
        option = parse_option(node)
        if option is None:
            broken += 1
        else:
            options.append(option)
    return options, broken


def flights_problem(html: str, parsed: tuple[list, int] | None = None) -> str | None:
    """Why a flights page cannot be read, or None: it shows at least one option.
    `parsed`: what parse_flights() read from it, when it was.

    Google has no page for a route without flights (its form lists other dates), so a
    flights page without options has not rendered; one that is not of the site at all is
    unrecognised."""
    options, broken = parsed if parsed is not None else parse_flights(html)
    if options:
        return None
    if broken:
        return UNRECOGNISED  # options none of which can be read: the page has changed
    return NOT_RENDERED if _SITE_PAGE.search(html) else UNRECOGNISED


def _own_text(node: Selector) -> str:
    return text("".join(node.xpath("./text()").getall()))


def _price(node: Selector, sentence: str) -> tuple[float | None, str, str] | None:
    """(price, as shown, currency); price None for "Price unavailable"; None when the
    option has no price element at all."""
    block = node.css(".YMlIz.FpEdX")
    if not block:
        return None
    first = block[0]
    value = first.css("span[role=text]") or first.css("span") or [first]
    shown = text(" ".join(value[0].css("::text").getall()))
    label = value[0].attrib.get("aria-label", "")
    amount = parse_amount(label) if label else None
    if amount is None:
        amount = parse_amount(shown)
    if amount is None:
        return None, shown, ""
    head = sentence.split(".", 1)[0]
    currency = parse_currency(label) or currency_of_price(shown) or parse_currency(head)
    return amount, shown, currency


def parse_option(node: Selector) -> dict[str, Any] | None:
    airline = text(node.css("div.sSHqwe.tPgKwe.ogfYpf > span::text").get(""))
    shown = []
    for visible in node.css("span.mv1WYe span[role=text]")[:2]:
        marker = text("".join(visible.css(".bOzv6 ::text").getall()))
        shown.append(_own_text(visible) + marker)
    duration = text(" ".join(node.css("div.Ak5kof > div")[:1].css("::text").getall()))
    stops_text = text(" ".join(node.css(".BbR8Ec .ogfYpf")[:1].css("::text").getall()))
    sentence = node.css("div.JMc5Xc::attr(aria-label)").get("")
    price = _price(node, sentence)
    if len(shown) < 2 or price is None:
        return None
    departure, arrival = parse_clock(shown[0]), parse_clock(shown[1])
    stops = parse_stops(stops_text)
    if not (airline and departure and arrival) or stops is None:
        return None
    return {
        "airline": airline,
        "departure": departure[0],
        "arrival": arrival[0],
        "arrival_day_offset": arrival[1] - departure[1],
        "departure_text": shown[0],
        "arrival_text": shown[1],
        "duration": duration,
        "duration_minutes": parse_minutes(duration),
        "stops": stops,
        "stops_text": stops_text,
        "price": price[0],  # None: "Price unavailable"
        "price_text": price[1],
        "currency": price[2],
    }
