"""Parsing of yellowpages.com search results, on saved pages with the real site's markup."""

import pytest

from crawlers.extraction.businesses import (
    UnparsablePage,
    parse_count,
    parse_locality,
    parse_rank,
    parse_rating,
    parse_results,
    search_url,
)

URL = "https://www.yellowpages.com/search?search_terms=plumbers&geo_location_terms=Dover%2C+DE"


def test_first_page_keeps_organic_results_only_and_links_the_next(saved_page):
    page = parse_results(saved_page("businesses/plumbers-dover-de-p1.html"), URL)
    assert [x.ypid for x in page.listings] == ["465738", "22841", "5150"]
    assert {"900001", "900002"}.isdisjoint(x.ypid for x in page.listings)
    assert page.next_url == (
        "https://www.yellowpages.com/search?search_terms=plumbers"
        "&geo_location_terms=Dover%2C+DE&page=2"
    )


def test_full_card(saved_page):
    first = parse_results(saved_page("businesses/plumbers-dover-de-p1.html"), URL).listings[0]
    assert first.name == "A-1 Plumbing & Heating"
    assert first.rank == 1
    assert first.categories == [
        "Plumbers",
        "Water Heaters",
        "Heating Contractors & Specialties",
    ]
    assert first.phone == "(302) 555-0101"
    assert first.street == "120 S Governors Ave"
    assert (first.city, first.state, first.postal_code) == ("Dover", "DE", "19904")
    assert first.website == "http://www.a1plumbingdover.com"
    assert first.rating == 4.5
    assert first.review_count == 12
    assert first.years_in_business == 27
    assert first.detail_url == "https://www.yellowpages.com/dover-de/mip/a-1-plumbing-465738"


def test_card_with_everything_but_the_name_missing(saved_page):
    bare = parse_results(saved_page("businesses/plumbers-dover-de-p1.html"), URL).listings[1]
    assert bare.name == "Delmarva Drain Service"
    assert bare.categories == []
    assert bare.phone == bare.street == bare.website == bare.postal_code == ""
    assert (bare.city, bare.state) == ("Dover", "DE")
    assert bare.rating is None and bare.review_count is None
    assert bare.years_in_business is None


def test_rating_without_half_and_count_with_thousands(saved_page):
    third = parse_results(saved_page("businesses/plumbers-dover-de-p1.html"), URL).listings[2]
    assert third.rating == 2.0
    assert third.review_count == 1204
    assert third.postal_code == "19901-7311"
    assert third.website == ""


def test_last_page_has_no_next_and_ranks_continue(saved_page):
    page = parse_results(saved_page("businesses/plumbers-dover-de-p4.html"), URL + "&page=4")
    assert page.next_url is None
    assert [(x.rank, x.ypid) for x in page.listings] == [(91, "5150"), (92, "77001")]
    assert page.listings[1].city == "Camden Wyoming"
    assert page.listings[1].rating == 5.0


def test_search_without_results_yields_nothing_even_with_ads(saved_page):
    page = parse_results(saved_page("businesses/no-results.html"), URL)
    assert page.listings == []
    assert page.next_url is None


@pytest.mark.parametrize(
    ("classes", "stars"),
    [
        ("result-rating four half", 4.5),
        ("  result-rating   one  ", 1.0),
        ("result-rating\tthree\nhalf ", 3.5),
        ("result-rating", None),
        ("", None),
        (None, None),
    ],
)
def test_rating_from_classes(classes, stars):
    assert parse_rating(classes) == stars


def test_small_parsers():
    assert parse_rank("12. Joe's") == 12
    assert parse_rank("Joe's 2. Place") is None
    assert parse_count("(7)") == 7
    assert parse_count("") is None
    assert parse_locality("Coeur d'Alene, ID 83814") == ("Coeur d'Alene", "ID", "83814")
    assert parse_locality("somewhere") == ("", "", "")


def test_search_url_encodes_terms_and_location():
    assert search_url("https://www.yellowpages.com/", "auto repair", "St. Louis, MO", 3) == (
        "https://www.yellowpages.com/search?search_terms=auto+repair"
        "&geo_location_terms=St.+Louis%2C+MO&page=3"
    )
    assert search_url("http://x", "a", "B, CD").endswith("geo_location_terms=B%2C+CD")


def test_non_ascii_text_survives():
    html = (
        '<div class="search-results organic"><div class="result" data-ypid="7">'
        '<a class="business-name" href="/x"><span>Caf\u00e9 Zo\u00eb</span></a></div></div>'
    )
    assert parse_results(html, URL).listings[0].name == "Caf\u00e9 Zo\u00eb"


def test_an_empty_body_is_not_a_page_without_results():
    with pytest.raises(UnparsablePage):
        parse_results("  ", URL)
