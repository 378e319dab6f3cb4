"""The sandbox directory's pages, read back by the spider's extraction (no server): what it
holds, both years markups, website links into the directory, its "No results found" page,
and the block pages of its knobs."""

from __future__ import annotations

import asyncio
import re

from aiohttp.test_utils import make_mocked_request

from crawlers.extraction.blocks import block_reason
from crawlers.extraction.businesses import directory_page, parse_results, search_url
from sandbox.knobs import Knobs
from sandbox.sites.businesses import Site, render_page

ROOT = "http://127.0.0.1:8301"


def directory(**options) -> Site:
    knobs = Knobs()
    knobs.update(options={"states": "DE", **options})
    site = Site(knobs)
    site.url = ROOT
    return site


def pages(site: Site):
    for search in site.searches.values():
        rank = 1
        for n, cards in enumerate(search.pages, 1):
            has_next = n < len(search.pages)
            html = render_page(search.terms, search.location, n, cards, rank, has_next, [], ROOT)
            rank += len(cards)
            yield search, html


def test_what_it_holds_by_default_and_says_so():
    knobs = Knobs()
    site = Site(knobs)
    assert site.states == ["CA", "DE", "MT"]
    assert site.categories == ["plumbers", "dentists", "auto repair"]
    assert site.holds().endswith("in CA,DE,MT; categories: plumbers, dentists, auto repair")


def test_every_card_reads_back_as_its_truth_in_either_markup():
    site = directory()
    truth = site.truth()["businesses"]
    seen = 0
    for search, html in pages(site):
        url = search_url(ROOT, search.terms, search.location)
        for listing in parse_results(html, url).listings:
            want = truth[listing.ypid]
            got = {k: getattr(listing, k) for k in ("name", "phone", "street", "locality")}
            got |= {"website": listing.website, "rating": listing.rating}
            got |= {"review_count": listing.review_count, "categories": listing.categories}
            got |= {"years_in_business": listing.years_in_business, "ypid": listing.ypid}
            assert got == want
            seen += 1
    shown = [b for s in site.searches.values() for b in s.results]
    assert seen >= len(shown)
    assert any(b.years is not None and b.years_2025 for b in shown)
    assert any(b.years is not None and not b.years_2025 for b in shown)
    assert any(b.directory_link and not b.website for b in shown)


def test_the_knobs_turn_the_markups_off():
    site = directory(years_2025=0, directory_links=0)
    shown = [b for s in site.searches.values() for b in s.results]
    assert not any(b.years_2025 or b.directory_link for b in shown)
    html = "".join(h for _, h in pages(site))
    assert "Years</strong>" not in html and '<div class="number">' in html
    websites = re.findall(r'class="track-visit-website" href="([^"]*)"', html)
    assert websites and all(w.startswith("https://www.") for w in websites)


def test_an_empty_search_is_the_directorys_no_results_page():
    html = render_page("notaries", "Nowhere, MT", 1, [], 1, False, [], ROOT)
    assert "No results found" in html and directory_page(html)
    assert parse_results(html, ROOT + "/search").listings == []


def answer(site: Site, terms: str, location: str, page: int = 1):
    query = f"search_terms={terms}&geo_location_terms={location}&page={page}"
    return asyncio.run(site.search(make_mocked_request("GET", f"/search?{query}")))


def test_a_blocked_search_answers_block_pages_from_its_page_on():
    site = directory(blocked="plumbers|Dover, DE|2", block_rate=0, burst_429=0)
    first = answer(site, "plumbers", "Dover, DE", 1)
    assert first.status == 200 and block_reason(first.text) is None
    for _ in range(6):
        later = answer(site, "plumbers", "Dover, DE", 2)
        assert later.status in (200, 403)
        assert block_reason(later.text) == "blocked" and not directory_page(later.text)
    assert site.stats["blocked_search"] == 6


def test_block_pages_at_a_rate_with_200_and_403():
    site = directory(block_rate=0.5, block_403=0.5, burst_429=0)
    statuses = [answer(site, "dentists", "Dover, DE").status for _ in range(40)]
    assert site.stats["block_200"] + site.stats["block_403"] == 40 - site.stats["search_pages"]
    assert site.stats["block_200"] > 0 and site.stats["block_403"] > 0
    assert statuses.count(403) == site.stats["block_403"]


def test_pages_that_are_not_the_directorys_at_a_rate():
    site = directory(odd_rate=1.0, block_rate=0, burst_429=0)
    for _ in range(4):
        odd = answer(site, "dentists", "Dover, DE")
        assert odd.status == 200 and block_reason(odd.text) is None
        assert not directory_page(odd.text)
    assert site.stats["odd_page"] == 4 and site.stats["search_pages"] == 0
