"""Flight explore (SITES.md section 2): Google Flights' explore and flights pages.

Pages are rendered by page JavaScript from data delivered in one of two ways (knob
`delivery`): `inline` (an `AF_initDataCallback(...)` script in the page, as Google does) or
`xhr` (a fetch of `/travel/api/explore` or `/travel/api/flights`, which the shared faults hit
too; the page script retries it). `mixed` (default) picks one per URL.

Site knobs (`--set deals.<name>=<value>`):
  destinations       destinations per origin and region (default 6)
  empty_share        share of origin/region pairs with nothing to show (default 0.15;
                     `anywhere` is never empty)
  price_step         prices are multiples of this (default 10)
  price_levels       distinct price levels; few levels make many ties (default 150)
  delivery           inline | xhr | mixed (default mixed)
  first_ms           delay before the first explore card or no-results (default 300)
  card_ms            delay between progressively rendered cards (default 120)
  flights_ms         delay before a flights page shows its options (default 800)
  budget_per_minute  page loads (explore + flights documents) allowed per rolling window;
                     beyond it 429 with Retry-After until the window frees (0: no budget)
  budget_window      the window of that budget in seconds (default 60)
  broken_regions     region ids (comma-separated) whose explore pages always answer 503
  broken_destinations  destination codes whose flights pages always answer 503
  origins            origins the ground truth always covers (others are added once asked)
  top                N of the ground truth's top-N per origin (default 5)
  currency           what the prices are in, whatever `curr` asks: USD (default), EUR,
                     GBP, INR, JPY (as a real site does for a visitor's country)

What the real flights page throws at a parser (SITES.md section 2), each on by default:
  time_tooltips      a hidden tooltip ("4:25 PM on Wed, Oct 15") next to each visible time
  day_marker         an arrival on a later day marked `<span class="bOzv6">+1</span>`
                     inside the visible time (0: the `+1` as plain text after it)
  price_repeats      the price shown this many times, each in nested spans (default 3)
  airports           the airports' codes and names after the duration
  layovers           the layover ("1 hr 5 min ORD") after the stops
  hidden_copy        a second, hidden copy of the whole list (as the server HTML has)
  price_unavailable  share of searches with one more option without a price ("Price
                     unavailable"; default 0.3); the ground truth has it with price null
  fewer_row          a "View fewer flights" row at the end of the list, not an option
  never_render       share of flights page loads that stay at "Loading results" forever
                     (default 0.02; each load draws again)
  never_render_destinations  destination codes whose flights pages never render
  never_render_regions       region ids whose explore pages never render (off by default)

The `tfs` codec here is a hand-written protobuf wire reader/writer, deliberately separate
from the spider's (which uses the protobuf runtime): each checks the other.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import math
import random
import re
import time
import zlib
from collections import deque
from typing import Any

import airportsdata
from aiohttp import web

from sandbox.site import BaseSite

REGIONS = {
    "anywhere": "/m/02j71",
    "europe": "/m/02j9z",
    "asia": "/m/0j0k",
    "africa": "/m/0dg3n1",
    "north-america": "/m/059g4",
    "south-america": "/m/06n3y",
    "central-america": "/m/01tzh",
    "oceania": "/m/05nrg",
    "middle-east": "/m/04wsz",
    "caribbean": "/m/0261m",
}
REGION_NAMES = {v: k for k, v in REGIONS.items()}

# code, name as displayed, regions (besides anywhere), typical one-way flight minutes
DESTINATIONS = [
    ("CDG", "Paris", ["europe"], 600),
    ("LHR", "London", ["europe"], 560),
    ("FCO", "Rome", ["europe"], 640),
    ("BCN", "Barcelona", ["europe"], 620),
    ("MAD", "Madrid", ["europe"], 600),
    ("AMS", "Amsterdam", ["europe"], 580),
    ("ZRH", "Zürich", ["europe"], 610),
    ("LIS", "Lisbon", ["europe"], 540),
    ("ATH", "Athens", ["europe"], 700),
    ("KEF", "Reykjavík", ["europe"], 420),
    ("IST", "Istanbul", ["europe", "asia", "middle-east"], 690),
    ("SVO", "Moscow", ["europe", "asia"], 700),
    ("NRT", "Tokyo", ["asia"], 780),
    ("ICN", "Seoul", ["asia"], 800),
    ("BKK", "Bangkok", ["asia"], 1020),
    ("SIN", "Singapore", ["asia"], 1080),
    ("HKG", "Hong Kong", ["asia"], 900),
    ("DEL", "Delhi", ["asia"], 960),
    ("MNL", "Manila", ["asia"], 900),
    ("DXB", "Dubai", ["asia", "middle-east"], 840),
    ("DOH", "Doha", ["asia", "middle-east"], 850),
    ("TLV", "Tel Aviv", ["asia", "middle-east"], 720),
    ("AMM", "Amman", ["asia", "middle-east"], 760),
    ("CAI", "Cairo", ["africa", "middle-east"], 740),
    ("CMN", "Casablanca", ["africa"], 560),
    ("CPT", "Cape Town", ["africa"], 1020),
    ("NBO", "Nairobi", ["africa"], 960),
    ("ACC", "Accra", ["africa"], 660),
    ("MEX", "Mexico City", ["north-america", "central-america"], 240),
    ("CUN", "Cancún", ["north-america", "caribbean"], 230),
    ("YVR", "Vancouver", ["north-america"], 180),
    ("YYZ", "Toronto", ["north-america"], 170),
    ("HNL", "Honolulu", ["north-america", "oceania"], 380),
    ("ANC", "Anchorage", ["north-america"], 330),
    ("SJO", "San José", ["central-america"], 330),
    ("PTY", "Panama City", ["central-america"], 340),
    ("GUA", "Guatemala City", ["central-america"], 300),
    ("SJU", "San Juan", ["caribbean", "north-america"], 280),
    ("NAS", "Nassau", ["caribbean"], 200),
    ("MBJ", "Montego Bay", ["caribbean"], 230),
    ("PUJ", "Punta Cana", ["caribbean"], 260),
    ("AUA", "Aruba", ["caribbean", "south-america"], 290),
    ("GRU", "São Paulo", ["south-america"], 600),
    ("EZE", "Buenos Aires", ["south-america"], 660),
    ("BOG", "Bogotá", ["south-america"], 360),
    ("LIM", "Lima", ["south-america"], 470),
    ("SCL", "Santiago", ["south-america"], 620),
    ("SYD", "Sydney", ["oceania"], 930),
    ("AKL", "Auckland", ["oceania"], 780),
    ("NAN", "Nadi", ["oceania"], 660),
    ("MEL", "Melbourne", ["oceania"], 960),
]

AIRLINES = [
    "American",
    "Delta",
    "United",
    "Alaska",
    "JetBlue",
    "Air France",
    "Lufthansa",
    "British Airways",
    "Aeroméxico",
    "Iberia",
    "Turkish Airlines",
    "Emirates",
    "LATAM",
    "Qantas",
    "Delta, KLM",
]

HUBS = ("ORD", "DFW", "ATL", "DEN", "JFK", "LHR", "FRA", "IST", "DXB", "PTY", "MEX")
CURRENCIES = {
    "USD": ("$", "US dollars"),
    "EUR": ("\u20ac", "euros"),
    "GBP": ("\u00a3", "British pounds"),
    "INR": ("\u20b9", "Indian rupees"),
    "JPY": ("\u00a5", "Japanese yen"),
}

FIRST_DATE = dt.date(2027, 1, 4)
NNBSP = "\u202f"
DEFAULT_ORIGINS = "PHX,DFW,LAX,ORD,JFK,ATL,DEN,SFO,SEA,MIA"


# -- tfs: protobuf wire format by hand ---------------------------------------------------
class BadTfs(ValueError):
    pass


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _read_varint(raw: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(raw) or shift > 63:
            raise BadTfs("truncated varint")
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(raw: bytes) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    pos = 0
    while pos < len(raw):
        key, pos = _read_varint(raw, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise BadTfs("field number 0")
        if wire == 0:
            value, pos = _read_varint(raw, pos)
        elif wire == 2:
            size, pos = _read_varint(raw, pos)
            if pos + size > len(raw):
                raise BadTfs("truncated field")
            value, pos = raw[pos : pos + size], pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(raw):
                raise BadTfs("truncated field")
            value, pos = raw[pos : pos + size], pos + size
        else:
            raise BadTfs(f"wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _text(value: Any) -> str:
    if not isinstance(value, bytes):
        raise BadTfs("expected a string")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise BadTfs("not UTF-8") from None


def parse_tfs(tfs: str) -> dict[str, Any]:
    """{"trip": int, "legs": [{"date", "from", "to"}]}; BadTfs if it cannot be decoded."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", tfs or ""):
        raise BadTfs("not URL-safe base64")
    try:
        raw = base64.urlsafe_b64decode(tfs.rstrip("=") + "=" * (-len(tfs.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise BadTfs("not base64") from None
    info = _fields(raw)
    legs = []
    for data in info.get(3, []):
        if not isinstance(data, bytes):
            raise BadTfs("data is not a message")
        f = _fields(data)
        airport_from = _fields(f[13][-1]) if 13 in f else {}
        airport_to = _fields(f[14][-1]) if 14 in f else {}
        legs.append(
            {
                "date": _text(f[2][-1]) if 2 in f else "",
                "from": _text(airport_from[2][-1]) if 2 in airport_from else "",
                "to": _text(airport_to[2][-1]) if 2 in airport_to else "",
            }
        )
    trip = info.get(19, [0])[-1]
    if not isinstance(trip, int):
        raise BadTfs("trip is not an enum")
    return {"trip": trip, "legs": legs}


def build_tfs(legs: list[tuple[str, str, str]]) -> str:
    """Round trip, economy, one adult; legs of (date, from, to)."""
    raw = b""
    for date, origin, dest in legs:
        raw += _field(
            3, _field(2, date) + _field(13, _field(2, origin)) + _field(14, _field(2, dest))
        )
    raw += _field(8, b"\x01") + _field(9, 1) + _field(19, 1)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- display forms -----------------------------------------------------------------------
def fmt_duration(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    if not hours:
        return f"{mins} min"
    return f"{hours} hr {mins} min" if mins else f"{hours} hr"


def fmt_clock(minutes: int) -> str:
    """Google's form: `7:05 AM` with a narrow no-break space."""
    hour, minute = divmod(minutes % 1440, 60)
    suffix = "AM" if hour < 12 else "PM"
    return f"{(hour % 12) or 12}:{minute:02d}{NNBSP}{suffix}"


def fmt_stops(stops: int) -> str:
    return "Nonstop" if stops == 0 else f"{stops} stop" + ("s" if stops > 1 else "")


@functools.cache
def _airports() -> dict[str, dict[str, Any]]:
    return airportsdata.load("IATA")


def airport_name(code: str) -> str:
    return _airports().get(code, {}).get("name") or f"{code} Airport"


def fmt_money(amount: int, currency: str) -> tuple[str, str]:
    """(as shown, as spoken): ("$1,289", "1289 US dollars"), as Google writes them."""
    symbol, name = CURRENCIES[currency]
    return f"{symbol}{amount:,}", f"{amount} {name}"


def rank_key(deal: dict[str, Any]) -> tuple:
    """The order of the issue: lowest price, then destination name, then dates."""
    name = deal["destination"]
    return (
        deal["price"],
        name.casefold(),
        name,
        deal["outbound_date"],
        deal["return_date"],
        deal["destination_id"],
    )


def expected_top(truth: dict[str, Any], origin: str, region_ids: list[str], n: int) -> list:
    """The best `n` deals of `origin` over `region_ids`, each destination once (its lowest
    price, regions united), from the ground truth."""
    best: dict[str, dict[str, Any]] = {}
    regions = truth["origins"][origin]["regions"]
    for region_id in region_ids:
        for deal in regions.get(region_id, []):
            key = deal["destination_id"]
            kept = best.get(key)
            merged_regions = sorted({*deal["regions"], *(kept["regions"] if kept else [])})
            if kept is None or rank_key(deal) < rank_key(kept):
                best[key] = dict(deal)
            best[key]["regions"] = merged_regions
    return sorted(best.values(), key=rank_key)[:n]


class Site(BaseSite):
    name = "deals"

    def setup(self) -> None:
        self._origins: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._prices: dict[tuple[str, str, str, str], int] = {}
        self._budget: deque[float] = deque()
        self._loads: dict[str, int] = {}

    def on_knobs_changed(self) -> None:
        self.setup()

    # -- data ---------------------------------------------------------------------
    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(map(str, (self.knobs.seed, *parts))))

    def _price(self, rng: random.Random, low: int = 9) -> int:
        step = self.knobs.option("price_step", 10)
        levels = self.knobs.option("price_levels", 150)
        return step * (low + rng.randrange(levels))

    def origin_data(self, origin: str) -> dict[str, list[dict[str, Any]]]:
        """Region id -> deals shown for it, built the same whatever the order of requests."""
        if origin in self._origins:
            return self._origins[origin]
        per_region = self.knobs.option("destinations", 6)
        empty_share = self.knobs.option("empty_share", 0.15)
        step = self.knobs.option("price_step", 10)
        base: dict[str, dict[str, Any]] = {}
        for code, name, _regions, minutes in DESTINATIONS:
            if code == origin:
                continue
            rng = self._rng("base", origin, code)
            out = FIRST_DATE + dt.timedelta(days=rng.randrange(0, 120))
            back = out + dt.timedelta(days=rng.randrange(2, 15))
            base[code] = {
                "origin": origin,
                "destination": name,
                "destination_id": code,
                "price": self._price(rng),
                "currency": self.knobs.option("currency", "USD"),
                "outbound_date": out.isoformat(),
                "return_date": back.isoformat(),
                "duration": fmt_duration(minutes + rng.randrange(-40, 41, 5)),
            }
        data: dict[str, list[dict[str, Any]]] = {}
        for region, region_id in REGIONS.items():
            rng = self._rng("region", origin, region)
            pool = sorted(
                code
                for code, _name, regions, _m in DESTINATIONS
                if code in base and (region == "anywhere" or region in regions)
            )
            if region != "anywhere" and rng.random() < empty_share:
                pool = []
            deals = []
            for code in rng.sample(pool, min(per_region, len(pool))):
                deal = dict(base[code], regions=[region])
                if rng.random() < 0.5:
                    # The same destination seen from another region: other dates, a price
                    # that is never lower (and sometimes equal: a tie on price).
                    # Seeded by the dates alone, so one search always has one price.
                    days = rng.randrange(1, 30)
                    extra = self._rng("variant", origin, code, days).randrange(0, 15)
                    shift = dt.timedelta(days=days)
                    out = dt.date.fromisoformat(deal["outbound_date"]) + shift
                    back = dt.date.fromisoformat(deal["return_date"]) + shift
                    deal.update(
                        price=deal["price"] + step * extra,
                        outbound_date=out.isoformat(),
                        return_date=back.isoformat(),
                    )
                deal["options"] = self.options_for(
                    origin, code, deal["outbound_date"], deal["return_date"], deal["price"]
                )
                deals.append(deal)
            data[region_id] = deals
        self._origins[origin] = data
        return data

    def options_for(
        self, origin: str, dest: str, out: str, back: str, price: int | None = None
    ) -> list[dict[str, Any]]:
        """The flight options of one search; the cheapest costs the deal's price."""
        rng = self._rng("options", origin, dest, out, back)
        minutes = next((m for c, _n, _r, m in DESTINATIONS if c == dest), 300)
        low = price if price is not None else self._price(rng)
        step = self.knobs.option("price_step", 10)
        options = []
        for i in range(rng.randrange(3, 8)):
            stops = rng.choice((0, 0, 1, 1, 2))
            duration = minutes + stops * rng.randrange(60, 240, 5) + rng.randrange(-30, 31, 5)
            depart = rng.randrange(5 * 60, 23 * 60, 5)
            arrive = depart + duration + rng.choice((-180, -120, -60, 0, 60, 120, 180))
            options.append(
                {
                    "airline": rng.choice(AIRLINES),
                    "departure": f"{depart // 60:02d}:{depart % 60:02d}",
                    "arrival": f"{(arrive % 1440) // 60:02d}:{arrive % 60:02d}",
                    "arrival_day_offset": arrive // 1440,
                    "duration": fmt_duration(duration),
                    "duration_minutes": duration,
                    "stops": stops,
                    "price": low if i == 0 else low + step * rng.randrange(0, 40),
                    "_depart": depart,
                    "_arrive": arrive,
                }
            )
        currency = self.knobs.option("currency", "USD")
        for option in options:
            option["currency"] = currency
        if rng.random() < self.knobs.option("price_unavailable", 0.3):
            # A flight the site lists without a price: one more, never the cheapest.
            extra = dict(options[rng.randrange(len(options))])
            depart = (_clock_minutes(extra["departure"]) + 95) % (23 * 60)
            arrive = depart + extra["duration_minutes"]
            extra.update(
                airline=rng.choice(AIRLINES),
                departure=f"{depart // 60:02d}:{depart % 60:02d}",
                arrival=f"{(arrive % 1440) // 60:02d}:{arrive % 60:02d}",
                arrival_day_offset=arrive // 1440,
                price=None,
                currency="",
            )
            options.append(extra)
        rng.shuffle(options)
        return [{k: v for k, v in o.items() if not k.startswith("_")} for o in options]

    def truth(self) -> dict[str, Any]:
        top = self.knobs.option("top", 5)
        names = [o for o in self.knobs.option("origins", DEFAULT_ORIGINS).split(",") if o]
        origins = {}
        for origin in sorted({*names, *self._origins}):
            data = self.origin_data(origin)
            origins[origin] = {"regions": data}
        truth = {"regions": dict(REGIONS), "top": top, "origins": origins}
        for origin in origins:
            origins[origin]["top"] = expected_top(truth, origin, list(REGIONS.values()), top)
        return truth

    # -- HTTP ---------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/travel/explore", self.explore),
            web.get("/travel/flights", self.flights),
            web.get("/travel/api/explore", self.api_explore),
            web.get("/travel/api/flights", self.api_flights),
            web.get("/travel/static/{name}", self.static),
            web.get("/travel/static/img/{name}", self.static),
        ]

    def exempt(self, request: web.Request) -> bool:
        return request.path.startswith("/travel/static/")

    def _over_budget(self) -> web.Response | None:
        budget = self.knobs.option("budget_per_minute", 0)
        if budget <= 0:
            return None
        now = time.monotonic()
        window = self.knobs.option("budget_window", 60.0)
        while self._budget and now - self._budget[0] >= window:
            self._budget.popleft()
        if len(self._budget) >= budget:
            self.count("budget_429")
            wait = max(1, math.ceil(window - (now - self._budget[0])))
            return web.Response(
                status=429, text="Too Many Requests", headers={"Retry-After": str(wait)}
            )
        self._budget.append(now)
        return None

    def _listed(self, knob: str) -> set[str]:
        return {v.strip() for v in str(self.knobs.option(knob, "")).split(",") if v.strip()}

    def _delivery(self, request: web.Request) -> str:
        mode = self.knobs.option("delivery", "mixed")
        if mode == "mixed":
            return ("inline", "xhr")[zlib.crc32(request.query.get("tfs", "").encode()) % 2]
        return mode

    def _explore_query(self, request: web.Request) -> tuple[str, str]:
        query = parse_tfs(request.query.get("tfs", ""))
        legs = query["legs"]
        if query["trip"] != 1 or len(legs) != 2:
            raise BadTfs("an explore search is a round trip of two legs")
        origin, region = legs[0]["from"], legs[0]["to"]
        if not re.fullmatch(r"[A-Z]{3}", origin) or not re.fullmatch(r"/[mg]/\w+", region):
            raise BadTfs("explore wants an airport and a region")
        return origin, region

    def _flights_query(self, request: web.Request) -> tuple[str, str, str, str]:
        query = parse_tfs(request.query.get("tfs", ""))
        legs = query["legs"]
        if query["trip"] != 1 or len(legs) != 2:
            raise BadTfs("a flights search here is a round trip of two legs")
        origin, dest = legs[0]["from"], legs[0]["to"]
        out, back = legs[0]["date"], legs[1]["date"]
        if not (re.fullmatch(r"[A-Z]{3}", origin) and re.fullmatch(r"[A-Z]{3}", dest)):
            raise BadTfs("flights want two airports")
        try:
            dt.date.fromisoformat(out)
            dt.date.fromisoformat(back)
        except ValueError:
            raise BadTfs("flights want YYYY-MM-DD dates") from None
        return origin, dest, out, back

    def explore_payload(self, origin: str, region_id: str) -> dict[str, Any]:
        deals = self.origin_data(origin).get(region_id, [])
        rng = self._rng("order", origin, region_id)
        cards = []
        for deal in deals:
            code = deal["destination_id"]
            dates = f"{deal['outbound_date']}_{deal['return_date']}"
            # Opaque like Google's: protobuf-ish bytes around the dates, base64 text.
            gs = base64.b64encode(
                b"\x08\x01\x12\x03"
                + origin.encode()
                + b"\x1a\x03"
                + code.encode()
                + b'"\x16:'
                + dates.encode()
                + b"*\x04"
                + rng.randbytes(4)
            ).decode()
            href = (
                "/travel/flights?tfs="
                + build_tfs(
                    [
                        (deal["outbound_date"], origin, code),
                        (deal["return_date"], code, origin),
                    ]
                )
                + "&hl=en&curr=USD"
            )
            minutes = _minutes(deal["duration"])
            shown = fmt_money(deal["price"], deal["currency"])[0]
            label = f"{deal['price']:,} {CURRENCIES[deal['currency']][1]}"
            cards.append(
                [deal["destination"], code, deal["price"], gs, minutes, href, shown, label]
            )
        rng.shuffle(cards)
        return {"cards": cards}

    def flights_payload(self, origin: str, dest: str, out: str, back: str) -> dict[str, Any]:
        self.origin_data(origin)
        price = None
        for deals in self._origins[origin].values():
            for deal in deals:
                if (deal["destination_id"], deal["outbound_date"], deal["return_date"]) == (
                    dest,
                    out,
                    back,
                ):
                    price = deal["price"]
        day = dt.date.fromisoformat(out)
        rows = []
        for n, o in enumerate(self.options_for(origin, dest, out, back, price)):
            rng = self._rng("shown", origin, dest, out, back, n)
            hubs = [h for h in HUBS if h not in (origin, dest)]
            layovers = [
                (hub, fmt_duration(rng.randrange(35, 300, 5)))
                for hub in rng.sample(hubs, o["stops"])
            ]
            key = f"o{zlib.crc32(f'{origin}{dest}{out}{back}:{n}'.encode()):08x}"
            rows.append(self._row(origin, dest, day, o, layovers, key))
        return {"options": rows}

    def _row(self, origin, dest, day, o, layovers, key) -> dict[str, Any]:
        """One option as the page shows it: every text ready, the script only places it."""
        depart = _clock_minutes(o["departure"])
        arrive = _clock_minutes(o["arrival"])
        arrival_day = day + dt.timedelta(days=o["arrival_day_offset"])
        when = {"dep": (fmt_clock(depart), day), "arr": (fmt_clock(arrive), arrival_day)}
        if o["price"] is None:
            shown, spoken, head = "Price unavailable", "", "Total price is unavailable."
        else:
            shown, spoken = fmt_money(o["price"], o["currency"])
            head = f"From {spoken}."
        airline = o["airline"]
        carriers = airline.split(", ")
        spoken_airline = " and ".join(
            [", ".join(carriers[:-1]), carriers[-1]] if len(carriers) > 1 else carriers
        )
        stops = fmt_stops(o["stops"])
        sentence = (
            f"{head} {stops} flight with {spoken_airline}. Leaves {airport_name(origin)} at"
            f" {when['dep'][0]} on {when['dep'][1]:%A, %B} {when['dep'][1].day} and arrives at"
            f" {airport_name(dest)} at {when['arr'][0]} on {when['arr'][1]:%A, %B}"
            f" {when['arr'][1].day}. Total duration {o['duration']}."
        )
        for i, (hub, wait) in enumerate(layovers, 1):
            sentence += (
                f" Layover ({i} of {len(layovers)}) is a {wait} layover at {airport_name(hub)}."
            )
        return {
            "id": key,
            "airline": airline,
            "dep": when["dep"][0],
            "arr": when["arr"][0],
            "offset": o["arrival_day_offset"],
            "dep_tip": f"{when['dep'][0]} on {when['dep'][1]:%a, %b} {when['dep'][1].day}",
            "arr_tip": f"{when['arr'][0]} on {when['arr'][1]:%a, %b} {when['arr'][1].day}",
            "duration": o["duration"],
            "airports": [[origin, airport_name(origin)], [dest, airport_name(dest)]],
            "stops": stops,
            "layover": " ".join(f"{wait} {hub}" for hub, wait in layovers),
            "price": shown,
            "price_label": spoken,
            "sentence": sentence + " Select flight",
        }

    async def explore(self, request: web.Request) -> web.Response:
        try:
            origin, region = self._explore_query(request)
        except BadTfs as exc:
            self.count("bad_tfs")
            return web.Response(status=400, text=f"Bad Request: {exc}")
        # A broken page is broken whatever the budget (and does not use it up).
        if region in self._listed("broken_regions"):
            self.count("broken_503")
            return web.Response(status=503, text="Service Unavailable")
        limited = self._over_budget()
        if limited is not None:
            return limited
        self.count("explore_pages")
        never = region in self._listed("never_render_regions")
        if never:
            self.count("never_rendered")
        return self._page(request, "explore", lambda: self.explore_payload(origin, region), never)

    async def flights(self, request: web.Request) -> web.Response:
        try:
            origin, dest, out, back = self._flights_query(request)
        except BadTfs as exc:
            self.count("bad_tfs")
            return web.Response(status=400, text=f"Bad Request: {exc}")
        # A broken page is broken whatever the budget (and does not use it up).
        if dest in self._listed("broken_destinations"):
            self.count("broken_503")
            return web.Response(status=503, text="Service Unavailable")
        limited = self._over_budget()
        if limited is not None:
            return limited
        self.count("flights_pages")
        never = self._never_renders(request, dest)
        if never:
            self.count("never_rendered")
        return self._page(
            request, "flights", lambda: self.flights_payload(origin, dest, out, back), never
        )

    def _never_renders(self, request: web.Request, dest: str) -> bool:
        if dest in self._listed("never_render_destinations"):
            return True
        # Drawn per load of a URL, from the seed: a retry of the page draws again.
        tfs = request.query.get("tfs", "")
        self._loads[tfs] = n = self._loads.get(tfs, 0) + 1
        return self._rng("never", tfs, n).random() < self.knobs.option("never_render", 0.02)

    async def api_explore(self, request: web.Request) -> web.Response:
        try:
            origin, region = self._explore_query(request)
        except BadTfs as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.count("api_explore")
        return web.json_response(self.explore_payload(origin, region))

    async def api_flights(self, request: web.Request) -> web.Response:
        try:
            query = self._flights_query(request)
        except BadTfs as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self.count("api_flights")
        return web.json_response(self.flights_payload(*query))

    async def static(self, request: web.Request) -> web.Response:
        if request.path.endswith(".css"):
            return web.Response(text=CSS, content_type="text/css")
        return web.Response(body=PIXEL, content_type="image/gif")

    def _page(self, request: web.Request, kind: str, payload, never: bool = False) -> web.Response:
        delivery = self._delivery(request)
        self.count(f"delivery_{delivery}")
        knob = self.knobs.option
        config = {
            "kind": kind,
            "api": f"/travel/api/{kind}?" + request.query_string,
            "first_ms": knob("first_ms", 300),
            "card_ms": knob("card_ms", 120),
            "flights_ms": knob("flights_ms", 800),
            "never": never,
            "tooltips": knob("time_tooltips", True),
            "marker": knob("day_marker", True),
            "repeats": max(1, knob("price_repeats", 3)),
            "airports": knob("airports", True),
            "layovers": knob("layovers", True),
            "copy": knob("hidden_copy", True),
            "fewer": knob("fewer_row", True),
        }
        data = ""
        if delivery == "inline":
            blob = json.dumps(payload(), ensure_ascii=False).replace("</", "<\\/")
            data = (
                f"<script nonce=\"n\">AF_initDataCallback({{key: 'ds:1', data: {blob}}});</script>"
            )
        title = "Explore" if kind == "explore" else "Flights"
        html = PAGE.format(
            title=title,
            config=json.dumps(config),
            script=SCRIPT,
            data=data,
        )
        return web.Response(text=html, content_type="text/html")

    def demo(self) -> dict[str, Any]:
        regions = ["anywhere", "europe", "asia", "caribbean"]

        def check(result) -> str:
            truth = json.loads(_get(self.url + "/_sandbox/truth"))
            ids = [REGIONS[r] for r in regions]
            right = total = 0
            for origin in ("PHX", "DFW"):
                want = [
                    (d["destination_id"], d["price"]) for d in expected_top(truth, origin, ids, 5)
                ]
                got = [
                    (i["destination_id"], i["price"])
                    for i in sorted(result.items, key=lambda i: i["rank"])
                    if i["origin"] == origin
                ]
                total += len(want)
                right += sum(1 for a, b in zip(want, got, strict=False) if a == b)
            done = result.stats.get("progress/done", 0)
            planned = result.stats.get("progress/total", 0)
            return (
                f"{len(result.items)} deals, {right}/{total} as the ground truth ranks them; "
                f"{done}/{planned} units done"
            )

        return {
            "spider": "deals",
            "args": {"phase": 1, "regions": ",".join(regions), "within": "60m"},
            "env": {"DEALS_BASE_URL": self.url},
            "check": check,
        }


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.read().decode()


def _minutes(text: str) -> int:
    hours = re.search(r"(\d+) hr", text)
    mins = re.search(r"(\d+) min", text)
    return (int(hours.group(1)) * 60 if hours else 0) + (int(mins.group(1)) if mins else 0)


def _clock_minutes(text: str) -> int:
    hour, minute = text.split(":")
    return int(hour) * 60 + int(minute)


PIXEL = base64.b64decode("R0lGODlhAQABAAAAACw=")
CSS = ".SwQ5Be{display:inline-block;width:260px;margin:8px}.Rk10dc{list-style:none}"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - Google Flights</title>
<link rel="stylesheet" href="/travel/static/flights.css"></head>
<body><div id="yDmH0d"><main>
<div class="Jwkq3b" jsname="P1ekSe"><div class="VfPpkd-qNpTzb-Mr8B3-V67aGc">Loading results</div>
<div role="progressbar" aria-label="Loading results"></div></div>
<div class="results" aria-live="polite"></div></main></div>
<script nonce="n">var CONFIG = {config};{script}</script>
{data}
</body></html>
"""

# The page's own script: data from AF_initDataCallback or from the API (retried, as a real
# single-page app does), then cards added one by one.
SCRIPT = r"""
var DATA = null;
function AF_initDataCallback(x) { DATA = x.data; }
function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
async function fetchData(url) {
  for (var attempt = 0; attempt < 6; attempt++) {
    try {
      var ctl = new AbortController();
      var timer = setTimeout(function () { ctl.abort(); }, 5000);
      var r = await fetch(url, {signal: ctl.signal});
      clearTimeout(timer);
      if (r.ok) return await r.json();
      var ra = parseFloat(r.headers.get('Retry-After') || '0');
      await sleep(Math.min(ra ? ra * 1000 : 250 * Math.pow(2, attempt), 5000));
    } catch (e) { await sleep(250 * Math.pow(2, attempt)); }
  }
  return null;
}
function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function money(n) { return n.toLocaleString('en-US'); }
function durationText(m) {
  var h = Math.floor(m / 60), r = m % 60;
  if (!h) return r + ' min';
  return r ? h + ' hr ' + r + ' min' : h + ' hr';
}
function card(c) {
  var box = el('div', 'SwQ5Be');
  var img = el('img', 'R1Ybne'); img.src = '/travel/static/img/' + c[1] + '.gif'; img.alt = '';
  box.appendChild(img);
  var body = el('div', 'tsAU4e');
  body.appendChild(el('div', 'cCO9qc tdMWuf mxXqs', c[0]));
  var price = el('span', 'QB2Jof', c[6]);
  price.setAttribute('data-gs', c[3]);
  price.setAttribute('aria-label', c[7]);
  price.setAttribute('role', 'text');
  var pw = el('div', 'PTuQse'); pw.appendChild(price); body.appendChild(pw);
  var info = el('div', 'ogfYpf');
  var dur = el('span', '', durationText(c[4]));
  dur.setAttribute('role', 'text'); dur.setAttribute('aria-label', durationText(c[4]));
  info.appendChild(dur); info.appendChild(el('span', '', ' \u00b7 Round trip'));
  body.appendChild(info);
  var a = el('a', 'jR6T5d', 'View flights'); a.setAttribute('href', c[5]);
  body.appendChild(a);
  box.appendChild(body);
  return box;
}
function attr(e, name, value) { e.setAttribute(name, value); return e; }
function hidden(text) {
  // Google's tooltip: in the DOM next to what it explains, not displayed.
  var tip = attr(el('div'), 'style', 'display:none');
  tip.appendChild(el('span', 'eoY5cb', text));
  return tip;
}
function clock(shown, tip, offset, label) {
  var box = el('span');
  var t = attr(attr(el('span', '', shown), 'role', 'text'), 'aria-label', label + shown + '.');
  if (offset) {
    if (CONFIG.marker) t.appendChild(el('span', 'bOzv6', '+' + offset));
    else t.appendChild(document.createTextNode('+' + offset));
  }
  box.appendChild(t);
  if (CONFIG.tooltips) box.appendChild(hidden(tip));
  return box;
}
function priceBlock(o) {
  var p = el('div', o.price_label ? 'YMlIz FpEdX jLMuyc' : 'YMlIz FpEdX hoFJvd');
  if (o.price_label) {
    p.appendChild(attr(attr(el('span', '', o.price), 'role', 'text'), 'aria-label', o.price_label));
  } else {
    p.appendChild(el('span', 'MHtEfb', o.price));
  }
  var outer = el('div', 'BVAVmf'); outer.appendChild(el('div', 'MEDXEe')); outer.appendChild(p);
  return outer;
}
function option(o) {
  var li = el('li', 'pIav2d');
  var wrap = attr(el('div', 'gQ6yfe m7VU8c'), 'data-id', o.id);
  wrap.appendChild(attr(attr(el('div', 'JMc5Xc'), 'role', 'link'), 'aria-label', o.sentence));
  var row = el('div', 'yR1fYc');
  var logo = el('img', 'EbY4Pc'); logo.alt = '';
  logo.src = '/travel/static/img/airline-' + encodeURIComponent(o.airline) + '.gif';
  row.appendChild(logo);
  var left = el('div', 'Ir0Voe');
  var timesBox = el('div', 'zxVSec YMlIz tPgKwe ogfYpf');
  var times = el('span', 'mv1WYe');
  times.appendChild(clock(o.dep, o.dep_tip, 0, 'Departure time: '));
  times.appendChild(document.createTextNode(' \u2013 '));
  times.appendChild(clock(o.arr, o.arr_tip, o.offset, 'Arrival time: '));
  timesBox.appendChild(times); left.appendChild(timesBox);
  var air = el('div', 'sSHqwe tPgKwe ogfYpf'); air.appendChild(el('span', '', o.airline));
  left.appendChild(air);
  var dur = el('div', 'Ak5kof');
  dur.appendChild(attr(el('div', 'gvkrdb AdWm1c tPgKwe ogfYpf', o.duration), 'aria-label',
                       'Total duration ' + o.duration + '.'));
  if (CONFIG.airports) {
    var codes = attr(el('span', 'PTuQse sSHqwe tPgKwe ogfYpf'), 'aria-hidden', 'true');
    o.airports.forEach(function (a, i) {
      if (i) codes.appendChild(document.createTextNode('\u2013'));
      var q = el('div', 'QylvBf'); q.appendChild(el('span', '', a[0])); q.appendChild(hidden(a[1]));
      codes.appendChild(q);
    });
    dur.appendChild(codes);
  }
  var stops = el('div', 'BbR8Ec'); var s = el('div', 'EfT7Ae AdWm1c tPgKwe');
  s.appendChild(attr(el('span', 'ogfYpf', o.stops), 'aria-label', o.stops + ' flight.'));
  stops.appendChild(s);
  if (CONFIG.layovers && o.layover) stops.appendChild(el('div', 'sSHqwe tPgKwe ogfYpf', o.layover));
  [left, dur, stops].forEach(function (x) { row.appendChild(x); });
  for (var i = 0; i < CONFIG.repeats; i++) {
    var box = el('div', ['U3gSDe', 'XWuBZb', 'BVAVmf tPgKwe'][i % 3]);
    box.appendChild(priceBlock(o));
    row.appendChild(box);
  }
  wrap.appendChild(row);
  li.appendChild(wrap);
  return li;
}
function fewerRow() {
  var li = el('li', 'ZVk93d'); var box = el('div', 'zISZ5c QB2Jof');
  box.appendChild(attr(el('button', '', ''), 'aria-label', 'View fewer flights'));
  box.appendChild(attr(el('span', 'bEfgkb', 'View fewer flights'), 'aria-hidden', 'true'));
  li.appendChild(box);
  return li;
}
async function main() {
  // A page that never renders: what a real one shows when its data never comes.
  if (CONFIG.never) return;
  var data = DATA || await fetchData(CONFIG.api);
  if (!data) return;
  var root = document.querySelector('.results');
  if (CONFIG.kind === 'explore') {
    await sleep(CONFIG.first_ms);
    if (!data.cards.length) {
      root.appendChild(el('div', 'no-results', 'No results for these dates and destinations'));
      loaded();
      return;
    }
    for (var i = 0; i < data.cards.length; i++) {
      root.appendChild(card(data.cards[i]));
      await sleep(CONFIG.card_ms);
    }
  } else {
    await sleep(CONFIG.flights_ms);
    var ul = el('ul', 'Rk10dc');
    data.options.forEach(function (o) { ul.appendChild(option(o)); });
    if (CONFIG.fewer) ul.appendChild(fewerRow());
    root.appendChild(ul);
    if (CONFIG.copy) {
      var copy = attr(el('div'), 'style', 'display: none;');
      copy.appendChild(ul.cloneNode(true));
      root.appendChild(copy);
    }
  }
  loaded();
}
function loaded() { document.querySelector('.Jwkq3b').style.display = 'none'; }
document.addEventListener('DOMContentLoaded', main);
"""
