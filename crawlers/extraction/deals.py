"""Rendered Google Flights pages (SITES.md section 2) to plain data: explore cards, options.

Only what the contract names is read: class names of the rendered DOM, the `aria-label`
of the price and duration, the dates inside `data-gs`, the flights link. How the page got
its data (inline blob or a fetch) does not matter once it is rendered.

Times: Google writes `7:05 AM` with a narrow no-break space (U+202F) before AM/PM, and an
arrival on a later day with a `+1` suffix. Options keep the 24-hour form (`07:05`), the
day offset of the arrival, and the text as shown with every Unicode space made a plain
space (`7:05 AM`).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from parsel import Selector

from crawlers.tfs import TfsError, decode

CARD = "div.SwQ5Be"
NO_RESULTS = "div.no-results"
OPTION = "ul.Rk10dc li"

# The currency names Google spells out in aria-labels (hl=en).
CURRENCY_NAMES = {
    "us dollars": "USD",
    "euros": "EUR",
    "british pounds": "GBP",
    "canadian dollars": "CAD",
    "australian dollars": "AUD",
    "mexican pesos": "MXN",
    "japanese yen": "JPY",
    "swiss francs": "CHF",
    "indian rupees": "INR",
}

_AMOUNT = re.compile(r"(\d[\d,]*(?:\.\d+)?)")
_DATES = re.compile(rb":(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})\s*([AaPp])\.?\s*[Mm]\.?(?:\s*\+\s*(\d+))?")
_HOURS = re.compile(r"(\d+)\s*hr")
_MINUTES = re.compile(r"(\d+)\s*min")
_STOPS = re.compile(r"(\d+)\s*stop")
_SPACES = re.compile(r"\s+")


@dataclass
class ExploreCard:
    destination: str
    destination_id: str  # the flights link's destination (an IATA code or a /m/ id), or ""
    price: float
    currency: str
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
    tail = _AMOUNT.sub("", text(label)).strip().casefold()
    for name, code in CURRENCY_NAMES.items():
        if name in tail:
            return code
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


def parse_explore(html: str, currency: str = "USD") -> ExplorePage:
    sel = Selector(text=html)
    page = ExplorePage(no_results=bool(sel.css(NO_RESULTS)))
    for node in sel.css(CARD):
        card = parse_card(node, currency)
        if card is None:
            page.broken += 1
        else:
            page.cards.append(card)
    return page


def parse_card(node: Selector, currency: str = "USD") -> ExploreCard | None:
    name = text(" ".join(node.css(".cCO9qc.tdMWuf.mxXqs ::text").getall()))
    gs = node.css("[data-gs]")
    label = gs.attrib.get("aria-label", "") if gs else ""
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
        currency=parse_currency(label, currency),
        outbound_date=dates[0],
        return_date=dates[1],
        duration=duration,
        flights_url=href,
    )


def parse_clock(value: str) -> tuple[str, int] | None:
    """`7:05 PM+1` -> ("19:05", 1)."""
    match = _CLOCK.search(text(value))
    if not match:
        return None
    hour, minute = int(match.group(1)) % 12, int(match.group(2))
    if match.group(3).upper() == "P":
        hour += 12
    return f"{hour:02d}:{minute:02d}", int(match.group(4) or 0)


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


def parse_flights(html: str) -> tuple[list[dict[str, Any]], int]:
    """The options of a rendered flights page, and how many were unreadable."""
    options, broken = [], 0
    for node in Selector(text=html).css(OPTION):
        option = parse_option(node)
        if option is None:
            broken += 1
        else:
            options.append(option)
    return options, broken


def parse_option(node: Selector) -> dict[str, Any] | None:
    airline = text(node.css(".sSHqwe.tPgKwe.ogfYpf span::text").get(""))
    times = [text("".join(d.css("::text").getall())) for d in node.css("span.mv1WYe div")]
    duration = text(" ".join(node.css("div.Ak5kof div ::text").getall()))
    stops_text = text(" ".join(node.css(".BbR8Ec .ogfYpf ::text").getall()))
    price_text = text(" ".join(node.css(".YMlIz.FpEdX ::text").getall()))
    if len(times) < 2:
        return None
    departure, arrival = parse_clock(times[0]), parse_clock(times[1])
    stops = parse_stops(stops_text)
    price = parse_amount(price_text)
    minutes = parse_minutes(duration)
    if not (airline and departure and arrival and price is not None) or stops is None:
        return None
    return {
        "airline": airline,
        "departure": departure[0],
        "arrival": arrival[0],
        "arrival_day_offset": arrival[1] - departure[1],
        "departure_text": times[0],
        "arrival_text": times[1],
        "duration": duration,
        "duration_minutes": minutes,
        "stops": stops,
        "stops_text": stops_text,
        "price": price,
        "price_text": price_text,
    }
