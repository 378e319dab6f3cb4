"""The emails sandbox is right about itself: the extractor, run over every page a careful
crawler fetches, finds exactly the ground truth of each site, and traps add nothing."""

import pytest

from crawlers.extraction.emails import extract_emails
from sandbox.knobs import Knobs
from sandbox.sites.emails import Site


def pages(site, i):
    yield site.home(i, [], None)
    yield site.contact(i, [], None)
    yield site.about(i, [], None)
    yield site.imprint(i, [], None)
    yield site.team(i, [], None)
    for page in range(2, site.team_pages + 1):
        yield site.team(i, [str(page)], None)
    yield site.blog(i, [], None)


@pytest.mark.parametrize("seed", [1, 7])
def test_pages_hold_exactly_the_truth(seed):
    site = Site(Knobs(seed=seed, size=12, options={"team_pages": 3, "per_page": 9}))
    truth = site.truth()
    assert truth["count"] == len(set(site.all_addresses())) == site.count_addresses()
    for i in range(site.size):
        found = set()
        for html in pages(site, i):
            found.update(extract_emails(html))
        assert found == set(truth["sites"][site.host(i)]), site.host(i)


def test_truth_has_every_kind_of_address():
    site = Site(Knobs(size=12))
    everything = set(site.all_addresses())
    assert any(not a.isascii() for a in everything)  # internationalised
    shared = [a for a in everything if sum(a in site.addresses(i) for i in range(12)) > 1]
    assert shared  # the same address on several sites


def test_traps_repeat_only_the_footer():
    site = Site(Knobs(size=3))

    class Query(dict):
        pass

    class Request:
        query = Query(page="7", month="2026-02", color="red")

    footer = {f"info@{site.domain(1)}"}
    assert set(extract_emails(site.news(1, [], Request))) == footer
    assert set(extract_emails(site.shop(1, [], Request))) == footer
    assert set(extract_emails(site.calendar(1, [], Request))) == footer
    assert set(extract_emails(site.docs(1, ["sub", "sub"], Request))) == footer


def test_big_sizes_count_without_listing():
    site = Site(Knobs(size=500, options={"team_pages": 10, "per_page": 200}))
    truth = site.truth()
    assert truth["count"] >= 1_000_000
    assert all(v is None for v in truth["sites"].values())
    assert len(site.team(499, ["10"], None)) > 10_000  # a page is made on demand
