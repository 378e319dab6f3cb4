"""yellowpages.com search results as plain data (SITES.md section 3).

Only cards inside `div.search-results.organic` are results; everything else on the page
(sponsored cards, `span.ad-pill`) is advertising. Every field but the name can be missing.
A page without cards is a search without results only when it is the directory's own page
(its `div.search-results` area or its "No results found" message); any other page (a block
page, a maintenance page, an empty body) raises UnparsablePage, so it can never end a
search as empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlencode, urljoin, urlsplit

from cssselect import GenericTranslator
from lxml import etree

from crawlers.extraction.blocks import UNRECOGNISED

RATING_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_RANK = re.compile(r"^\s*(\d+)\s*\.")
_LOCALITY = re.compile(
    r"^\s*(?P<city>.*?)\s*,\s*(?P<state>[A-Z]{2})\b\s*(?P<zip>\d{5}(?:-\d{4})?)?"
)
_DIGITS = re.compile(r"\d[\d,]*")
# The directory's own page, with or without results (SITES.md 3): its results area, or its
# message for a search without any.
_RESULTS_AREA = re.compile(rb"""class=["']?[^"'>]*\bsearch-results\b""")
# Hosts of the directory itself: a "website" link to one of them is a listing of the
# directory, not the business's site. The page's own host is one too (a mirror, the sandbox).
DIRECTORY_HOSTS = ("yellowpages.com",)


class UnparsablePage(ValueError):
    """A body that is no results page: no HTML at all, or not the directory's page."""

    reason = "unparsable_page"


class UnrecognisedPage(UnparsablePage):
    """HTML, but neither a results page nor the directory's "no results" page."""

    reason = UNRECOGNISED


def directory_page(body: bytes | str) -> bool:
    """True for the directory's own search page, with results or without; False for any
    other page (a block or challenge page, an error page, an empty body)."""
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    # Plain substring tests first: far cheaper than the patterns on a page that has neither.
    if b"search-results" in body and _RESULTS_AREA.search(body):
        return True
    return b"no results found" in body.lower()


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
    data = html.encode("utf-8")
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:  # an empty or broken body: not a results page
        raise UnparsablePage(str(exc)) from None
    if root is None:
        raise UnparsablePage("no document")
    listings = []
    for card in ORGANIC(root):
        listing = parse_card(card, url)
        if listing is not None:
            listings.append(listing)
    if not listings and not directory_page(data):
        raise UnrecognisedPage("neither results nor the directory's no-results page")
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
                found.website = _website(el, url)
            elif "result-rating" in classes and found.rating is None:
                found.rating = parse_rating(" ".join(classes))
                count = next(
                    (c for c in el.iter("span") if "count" in (c.get("class") or "").split()),
                    None,
                )
                if count is not None:
                    found.review_count = parse_count(_text(count))
            elif "years-in-business" in classes and found.years_in_business is None:
                found.years_in_business = _years(el)
        elif tag == "span" and "count" in classes and found.review_count is None:
            found.review_count = parse_count(_text(el))
    if not found.name:
        return None
    found.city, found.state, found.postal_code = parse_locality(found.locality)
    found.detail_url = urljoin(url, detail) if detail else ""
    return found


def _years(badge) -> int | None:
    """Older markup `div.number` holding `12`; the 2025 markup `div.count strong` holding
    `25 Years` (the badge's `img` alt text is no number)."""
    count = None
    for div in badge.iter("div"):
        classes = (div.get("class") or "").split()
        if "number" in classes:
            return parse_count(_text(div))
        if "count" in classes and count is None:
            count = div
    return parse_count(_text(count)) if count is not None else None


def _website(links, url: str) -> str:
    for a in links.iter("a"):
        href = (a.get("href") or "").strip()
        if href and "track-visit-website" in (a.get("class") or "").split():
            # Nearly every website link is absolute: urljoin, for those only, would cost
            # more than the rest of the card.
            website = href if href.startswith(("http://", "https://")) else urljoin(url, href)
            if external_website(website, url):
                return website
    return ""


def external_website(link: str, page_url: str) -> bool:
    """An http(s) link off the directory: not to yellowpages.com, nor to the page's host."""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https"):
        return False
    return _off_directory(parts.netloc, urlsplit(page_url).netloc)


@lru_cache(maxsize=4096)
def _off_directory(netloc: str, page_netloc: str) -> bool:
    # Cached: a crawl meets the same few page hosts, and parsing hosts is most of the cost.
    host = _bare(netloc)
    return (
        bool(host)
        and host != _bare(page_netloc)
        and not any(host == d or host.endswith("." + d) for d in DIRECTORY_HOSTS)
    )


def _bare(netloc: str) -> str:
    """`User@WWW.Example.com.:8080` -> `example.com`."""
    host = netloc.rpartition("@")[2]
    host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


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
