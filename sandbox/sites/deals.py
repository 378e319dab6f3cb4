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

The `tfs` codec here is a hand-written protobuf wire reader/writer, deliberately separate
from the spider's (which uses the protobuf runtime): each checks the other.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import random
import re
import time
import zlib
from collections import deque
from typing import Any

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
                "currency": "USD",
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
            cards.append([deal["destination"], code, deal["price"], gs, minutes, href])
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
        rows = []
        for o in self.options_for(origin, dest, out, back, price):
            depart = _clock_minutes(o["departure"])
            arrive = _clock_minutes(o["arrival"])
            rows.append(
                [
                    o["airline"],
                    fmt_clock(depart),
                    fmt_clock(arrive),
                    o["arrival_day_offset"],
                    o["duration"],
                    fmt_stops(o["stops"]),
                    o["price"],
                ]
            )
        return {"options": rows}

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
        return self._page(request, "explore", lambda: self.explore_payload(origin, region))

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
        return self._page(request, "flights", lambda: self.flights_payload(origin, dest, out, back))

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

    def _page(self, request: web.Request, kind: str, payload) -> web.Response:
        delivery = self._delivery(request)
        self.count(f"delivery_{delivery}")
        config = {
            "kind": kind,
            "api": f"/travel/api/{kind}?" + request.query_string,
            "first_ms": self.knobs.option("first_ms", 300),
            "card_ms": self.knobs.option("card_ms", 120),
            "flights_ms": self.knobs.option("flights_ms", 800),
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
<body><div id="yDmH0d"><main><div class="results" aria-live="polite"></div></main></div>
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
  var price = el('span', 'QB2Jof', '$' + money(c[2]));
  price.setAttribute('data-gs', c[3]);
  price.setAttribute('aria-label', money(c[2]) + ' US dollars');
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
function option(o) {
  var li = el('li', 'pIav2d');
  var row = el('div', 'JMc5Xc');
  var logo = el('img', 'EbY4Pc'); logo.alt = '';
  logo.src = '/travel/static/img/airline-' + encodeURIComponent(o[0]) + '.gif';
  row.appendChild(logo);
  var air = el('div', 'sSHqwe tPgKwe ogfYpf'); air.appendChild(el('span', '', o[0]));
  var times = el('span', 'mv1WYe');
  times.appendChild(el('div', '', o[1]));
  times.appendChild(document.createTextNode(' \u2013 '));
  var arr = el('div', '', o[2]);
  if (o[3]) arr.appendChild(el('span', 'bOzv6', '+' + o[3]));
  times.appendChild(arr);
  var dur = el('div', 'Ak5kof'); dur.appendChild(el('div', '', o[4]));
  var stops = el('div', 'BbR8Ec'); var s = el('div', 'EfT7Ae');
  s.appendChild(el('span', 'ogfYpf', o[5]));
  stops.appendChild(s);
  var price = el('div', 'YMlIz FpEdX'); price.appendChild(el('span', '', '$' + money(o[6])));
  [times, air, dur, stops, price].forEach(function (x) { row.appendChild(x); });
  li.appendChild(row);
  return li;
}
async function main() {
  var data = DATA || await fetchData(CONFIG.api);
  if (!data) return;
  var root = document.querySelector('.results');
  if (CONFIG.kind === 'explore') {
    await sleep(CONFIG.first_ms);
    if (!data.cards.length) {
      root.appendChild(el('div', 'no-results', 'No results for these dates and destinations'));
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
    root.appendChild(ul);
  }
}
document.addEventListener('DOMContentLoaded', main);
"""
