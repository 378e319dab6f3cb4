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
    for i in site.reachable():
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


def test_blocked_sites_are_out_of_the_truth_and_every_knob_can_turn_blocks_off():
    site = Site(Knobs(size=6, options={"blocked_sites": 2}))
    assert site.truth()["blocked_sites"] == [site.host(4), site.host(5)]
    assert site.reachable() == [0, 1, 2, 3]
    own = set(site.addresses(5)) - set(site.shared_addresses(5))
    assert own and not own & set(site.all_addresses())
    assert site.count_addresses() == len(set(site.all_addresses()))
    off = Site(Knobs(size=6, options={"blocked_sites": 0, "block_200": 0, "block_403": 0}))
    assert off.reachable() == list(range(6))
    assert all(off.block_page(i) is None for i in range(6) for _ in range(50))
    on = Site(Knobs(size=6))  # on by default
    assert on.block_page(5).status == 200  # the blocked site, every time
    answers = [on.block_page(0) for _ in range(2000)]
    statuses = sorted({a.status for a in answers if a is not None})
    assert statuses == [200, 403]
    assert 20 < sum(a is not None for a in answers) < 250  # 6% of the requests


def test_rare_forms_are_in_the_truth_and_their_look_alikes_are_not():
    site = Site(Knobs(size=3))
    html = site.contact(1, [], None)
    found = set(extract_emails(html))
    assert set(site.special_addresses(1)) <= found
    assert any("\u0900" <= c <= "\u097f" for a in found for c in a)  # Devanagari
    domain = site.domain(1)
    for look_alike in ("ask", "news", "curly", "org"):
        assert not [a for a in found if a.startswith(look_alike)], look_alike
    assert f"Questions?ask@{domain}" in html
