"""Parsing of yellowpages.com search results, on saved pages with the real site's markup."""

import pytest

from crawlers.extraction.businesses import (
    UnparsablePage,
    UnrecognisedPage,
    external_website,
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


def card_page(inner: str) -> str:
    return (
        '<div class="search-results organic"><div class="result" data-ypid="7">'
        f'<a class="business-name" href="/x"><span>Zo</span></a>{inner}</div></div>'
    )


@pytest.mark.parametrize(
    ("badge", "years"),
    [
        # The 2025 markup.
        ('<div class="count"><strong>25 Years</strong></div><div class="label">in Business'
         "</div>", 25),
        # The older one, whose div.number sits in a div.count.
        ('<div class="count"><div class="number">12</div></div><span>Years</span>', 12),
        ('<img alt="Years in Business Icon"><div class="label">in Business</div>', None),
    ],
)  # fmt: skip
def test_years_in_business_in_either_markup(badge, years):
    html = card_page(f'<div class="badges"><div class="years-in-business">{badge}</div></div>')
    assert parse_results(html, URL).listings[0].years_in_business == years


@pytest.mark.parametrize(
    ("href", "website"),
    [
        ("http://joes.example/", "http://joes.example/"),
        ("//joes.example/a", "https://joes.example/a"),
        ("/dover-de/mip/joes-7", ""),  # the listing's own page in the directory
        ("http://yellowpages.com/honolulu-hi/mip/other-1", ""),
        ("https://m.yellowpages.com/x", ""),
        ("https://www.yellowpages.com/x", ""),
        ("javascript:void(0)", ""),
        ("mailto:joe@joes.example", ""),
    ],
)
def test_a_website_link_into_the_directory_is_not_the_business_website(href, website):
    links = f'<div class="links"><a class="track-visit-website" href="{href}">Website</a></div>'
    assert parse_results(card_page(links), URL).listings[0].website == website


def test_the_first_website_off_the_directory_is_taken():
    links = (
        '<div class="links"><a class="track-visit-website" href="/mip/joes-7">Website</a>'
        '<a class="track-visit-website" href="https://joes.example">Website</a></div>'
    )
    assert parse_results(card_page(links), URL).listings[0].website == "https://joes.example"


def test_a_link_to_the_pages_own_host_is_the_directory():
    page = "http://127.0.0.1:8301/search?search_terms=x"
    assert not external_website("http://127.0.0.1:8301/dover-de/mip/x-1", page)
    assert external_website("https://joes.example/", page)
    assert not external_website("https://WWW.YellowPages.com./x", page)
    assert not external_website("http://joe@www.yellowpages.com:80/x", page)
    assert external_website("http://joe@joes.example:8301/", page)


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>Maintenance</title></head><body>Back soon</body></html>",
        "<html><body><div class='results'></div></body></html>",
        "<p>",
    ],
)
def test_a_page_that_is_not_the_directorys_is_refused_not_empty(html):
    with pytest.raises(UnrecognisedPage) as refused:
        parse_results(html, URL)
    assert refused.value.reason == "unrecognised_page"


@pytest.mark.parametrize(
    "html",
    [
        '<html><body><div class="search-results center-ads"></div></body></html>',
        "<html><body><h1>No Results Found for plumbers in Dover, DE</h1></body></html>",
    ],
)
def test_the_directorys_own_signs_of_emptiness(html):
    assert parse_results(html, URL).listings == []
