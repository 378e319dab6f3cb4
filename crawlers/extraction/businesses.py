"""yellowpages.com search results as plain data (SITES.md section 3).

Only cards inside `div.search-results.organic` are results; everything else on the page
(sponsored cards, `span.ad-pill`) is advertising. Every field but the name can be missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

from parsel import Selector

RATING_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_RANK = re.compile(r"^\s*(\d+)\s*\.")
_LOCALITY = re.compile(
    r"^\s*(?P<city>.*?)\s*,\s*(?P<state>[A-Z]{2})\b\s*(?P<zip>\d{5}(?:-\d{4})?)?"
)
_DIGITS = re.compile(r"\d[\d,]*")


@dataclass
class Listing:
    ypid: str
    name: str
    rank: int | None = None
    categories: list[str] = field(default_factory=list)
    phone: str = ""
    street: str = ""
    locality: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    website: str = ""
    rating: float | None = None
    review_count: int | None = None
    years_in_business: int | None = None
    detail_url: str = ""


@dataclass
class ResultsPage:
    listings: list[Listing]
    next_url: str | None


def search_url(base_url: str, search_terms: str, location: str, page: int = 1) -> str:
    query = {"search_terms": search_terms, "geo_location_terms": location}
    if page > 1:
        query["page"] = str(page)
    return f"{base_url.rstrip('/')}/search?{urlencode(query)}"


def parse_results(html: str, url: str) -> ResultsPage:
    sel = Selector(text=html)
    listings = []
    for card in sel.css("div.search-results.organic div.result[data-ypid]"):
        listing = parse_card(card, url)
        if listing is not None:
            listings.append(listing)
    href = sel.css("a.next.ajax-page::attr(href)").get()
    return ResultsPage(listings, urljoin(url, href.strip()) if href else None)


def parse_card(card: Selector, url: str) -> Listing | None:
    ypid = (card.attrib.get("data-ypid") or "").strip()
    name = _text(card.css("a.business-name span"))
    if not ypid or not name:
        return None
    locality = _text(card.css("div.locality"))
    city, state, postal_code = parse_locality(locality)
    detail = card.css("a.business-name::attr(href)").get()
    website = card.css("div.links a.track-visit-website::attr(href)").get()
    return Listing(
        ypid=ypid,
        name=name,
        rank=parse_rank(_text(card.css("h2.n"))),
        categories=[c for c in (_text(a) for a in card.css("div.categories a")) if c],
        phone=_text(card.css("div.phones.phone.primary")),
        street=_text(card.css("div.street-address")),
        locality=locality,
        city=city,
        state=state,
        postal_code=postal_code,
        website=website.strip() if website else "",
        rating=parse_rating(card.css("div.result-rating::attr(class)").get()),
        review_count=parse_count(_text(card.css("span.count"))),
        years_in_business=parse_count(_text(card.css("div.years-in-business div.number"))),
        detail_url=urljoin(url, detail.strip()) if detail else "",
    )


def parse_rank(heading: str) -> int | None:
    match = _RANK.match(heading)
    return int(match.group(1)) if match else None


def parse_rating(class_attr: str | None) -> float | None:
    """`result-rating four half ` -> 4.5; the class list may hold extra spaces."""
    if not class_attr:
        return None
    words = class_attr.split()
    stars = next((RATING_WORDS[w] for w in words if w in RATING_WORDS), None)
    if stars is None:
        return None
    return stars + (0.5 if "half" in words else 0.0)


def parse_count(text: str) -> int | None:
    """`(12)`, `1,204` or `15` -> the number; None when there is none."""
    match = _DIGITS.search(text or "")
    return int(match.group().replace(",", "")) if match else None


def parse_locality(text: str) -> tuple[str, str, str]:
    """`Dover, DE 19901` -> ("Dover", "DE", "19901"); empty parts when absent."""
    match = _LOCALITY.match(text or "")
    if not match:
        return "", "", ""
    return match.group("city"), match.group("state"), match.group("zip") or ""


def _text(nodes) -> str:
    return " ".join(" ".join(nodes.css("::text").getall()).split())
