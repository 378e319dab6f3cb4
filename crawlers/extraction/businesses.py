"""yellowpages.com search results as plain data (SITES.md section 3).

Only cards inside `div.search-results.organic` are results; everything else on the page
(sponsored cards, `span.ad-pill`) is advertising. Every field but the name can be missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

from cssselect import GenericTranslator
from lxml import etree

RATING_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_RANK = re.compile(r"^\s*(\d+)\s*\.")
_LOCALITY = re.compile(
    r"^\s*(?P<city>.*?)\s*,\s*(?P<state>[A-Z]{2})\b\s*(?P<zip>\d{5}(?:-\d{4})?)?"
)
_DIGITS = re.compile(r"\d[\d,]*")


class UnparsablePage(ValueError):
    """A body that is no HTML page at all (empty, cut off to nothing)."""


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


def _css(selector: str) -> etree.XPath:
    return etree.XPath(GenericTranslator().css_to_xpath(selector, prefix="descendant-or-self::"))


# The text is already decoded (Scrapy honours the headers): parse its UTF-8 bytes as such.
# lxml.etree's parser, not lxml.html's: the latter looks up a Python class for every
# element it hands out, a third of the parsing time here.
_PARSER = etree.HTMLParser(encoding="utf-8")
ORGANIC = _css("div.search-results.organic div.result[data-ypid]")
NEXT = _css("a.next.ajax-page[href]")


def parse_results(html: str, url: str) -> ResultsPage:
    try:
        root = etree.fromstring(html.encode("utf-8"), parser=_PARSER)
    except etree.XMLSyntaxError as exc:  # an empty or broken body: not a results page
        raise UnparsablePage(str(exc)) from None
    if root is None:
        raise UnparsablePage("no document")
    listings = []
    for card in ORGANIC(root):
        listing = parse_card(card, url)
        if listing is not None:
            listings.append(listing)
    links = NEXT(root)
    href = (links[0].get("href") or "").strip() if links else ""
    return ResultsPage(listings, urljoin(url, href) if href else None)


def parse_card(card, url: str) -> Listing | None:
    """One pass over the card's elements, by class: a selector per field costs several
    times more CPU, and parsing is most of a crawl's CPU here."""
    ypid = (card.get("data-ypid") or "").strip()
    if not ypid:
        return None
    found = Listing(ypid=ypid, name="")
    detail = ""
    for el in card.iter("a", "div", "h2", "span"):
        classes = el.get("class")
        if not classes:
            continue
        classes = classes.split()
        tag = el.tag
        if tag == "a" and "business-name" in classes and not found.name:
            found.name = _first_text(el, "span")
            detail = (el.get("href") or "").strip()
        elif tag == "h2" and "n" in classes and found.rank is None:
            found.rank = parse_rank(_text(el))
        elif tag == "div":
            if "categories" in classes and not found.categories:
                found.categories = [c for c in (_text(a) for a in el.iter("a")) if c]
            elif {"phones", "phone", "primary"} <= set(classes) and not found.phone:
                found.phone = _text(el)
            elif "street-address" in classes and not found.street:
                found.street = _text(el)
            elif "locality" in classes and not found.locality:
                found.locality = _text(el)
            elif "links" in classes and not found.website:
                found.website = _website(el)
            elif "result-rating" in classes and found.rating is None:
                found.rating = parse_rating(" ".join(classes))
                count = next(
                    (c for c in el.iter("span") if "count" in (c.get("class") or "").split()),
                    None,
                )
                if count is not None:
                    found.review_count = parse_count(_text(count))
            elif "years-in-business" in classes and found.years_in_business is None:
                number = next(
                    (d for d in el.iter("div") if "number" in (d.get("class") or "").split()),
                    None,
                )
                found.years_in_business = parse_count(_text(number))
        elif tag == "span" and "count" in classes and found.review_count is None:
            found.review_count = parse_count(_text(el))
    if not found.name:
        return None
    found.city, found.state, found.postal_code = parse_locality(found.locality)
    found.detail_url = urljoin(url, detail) if detail else ""
    return found


def _website(links) -> str:
    for a in links.iter("a"):
        if "track-visit-website" in (a.get("class") or "").split() and a.get("href"):
            return a.get("href").strip()
    return ""


def _first_text(el, tag: str) -> str:
    return next((_text(child) for child in el.iter(tag)), "")


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


def _text(el) -> str:
    """An element's text, its descendants' included, whitespace collapsed."""
    return " ".join(" ".join(el.itertext()).split()) if el is not None else ""
