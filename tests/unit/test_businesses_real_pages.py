"""The extraction on pages saved from the real yellowpages.com (../shared/real-pages/
businesses, see its SOURCES.md): a 2025 results page of 30 organic cards read field by
field, a part of it, and three block pages that must never read as "no results".

The expected values below were written from reading the pages' HTML, card by card.
"""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse

from crawlers.extraction.blocks import UNRECOGNISED, block_reason
from crawlers.extraction.businesses import (
    UnparsablePage,
    directory_page,
    parse_results,
)
from crawlers.spiders.businesses import BusinessesSpider
from tests.real_pages import real_page

FULL = "businesses/foxhound_yp_search_30listings_excerpt.html"
TRIMMED = "businesses/foxhound_yellowpages_search_trimmed.html"
BLOCKS = [
    "businesses/block_vnodedigital_yp_debug.html",  # Cloudflare "Sorry, you have been blocked"
    "businesses/block_maycoll_debug_yp.html",  # the same kind
    "businesses/block_phantom_yellowpages_sample.html",  # Cloudflare "Just a moment..."
]
URL = "https://www.yellowpages.com/search?search_terms=day+spa&geo_location_terms=Honolulu%2C+HI"
MIP = "https://www.yellowpages.com/honolulu-hi/mip/"

DS, HR, MS, BS = "Day Spas", "Health Resorts", "Medical Spas", "Beauty Salons"
SC, MSV, MT = "Skin Care", "Massage Services", "Massage Therapists"
COSMETIC = "Physicians & Surgeons, Cosmetic Surgery"
ORAL = "Physicians & Surgeons, Oral Surgery"

# rank, ypid, name, categories, phone, street, postal code, website, rating, reviews,
# years, detail page slug. Every card is in Honolulu, HI. Ratings are the site's own stars
# (`div.result-rating`), not the TripAdvisor figures some cards carry in `data-tripadvisor`.
# Card 5 and 17 have an empty `div.links`; card 16's "Website" links to another listing of
# the directory (http://yellowpages.com/honolulu-hi/mip/...): none of them has a website.
CARDS = [
    (1, "8285777", "Honolulu Medspa", [DS, BS, "Hair Removal"], "(808) 528-0888",
     "1650 Liliha St Ste 102", "96817", "http://honolulumedspa.com", 5.0, 1, 25,
     "honolulu-medspa-8285777"),
    (2, "460703686", "Thai Banyan Massage and Spa", [DS, "Retreat Facilities", MT],
     "(808) 421-8026", "661 Keeaumoku St", "96814", "http://thaibanyanmassage.com", 5.0, 7,
     16, "thai-banyan-massage-and-spa-460703686"),
    (3, "10833161", "Pure Joy Day Spa", [DS, MS, HR], "(808) 532-7873",
     "705 S King St Ste 100", "96813", "http://www.purejoydayspa.com", None, None, 17,
     "pure-joy-day-spa-10833161"),
    (4, "1777383", "Touch Mini Day Spa", [DS], "(808) 732-5456", "619 Kapahulu Ave Ste 207",
     "96815", "http://touchminidayspa.localsearch.com", None, None, 21,
     "touch-mini-day-spa-1777383"),
    (5, "1238817", "Loess Spa", [DS, HR, MS], "(808) 841-3311", "1361 Mookaula St", "96817",
     "", None, None, 16, "loess-spa-1238817"),
    (6, "459047362", "Ho'ala Salon and Spa", [DS, HR, MS], "(808) 947-6141",
     "1450 Ala Moana Blvd", "96814", "http://hoalasalonspa.com", None, None, 16,
     "hoala-salon-and-spa-459047362"),
    (7, "463090779", "Pulelehua Skin Care Aesthetics", [DS, BS], "(808) 218-7871",
     "1401 S Beretania St Ste 320", "96814",
     "http://pulelehuaskincareaestheticshi.localsearch.com", None, None, None,
     "pulelehua-skin-care-aesthetics-463090779"),
    (8, "9411168", "Spa Pure Waikiki", [DS, "Health Clubs", MSV], "(808) 924-3200",
     "400 Royal Hawaiian Ave", "96815", "http://www.spapurewaikiki.com", None, None, 20,
     "spa-pure-waikiki-9411168"),
    (9, "5370789", "Oda Ohana Chiropractic & Therapeutic Massage", [DS, HR, MS],
     "(808) 942-2232", "1600 Kapiolani Blvd", "96814",
     "http://www.odaohanachiropractic.com/team", 5.0, 1, None,
     "oda-ohana-chiropractic-therapeutic-massage-5370789"),
    (10, "5569955", "Aloha Laser Aesthetics", [DS, SC, "Physicians & Surgeons, Dermatology"],
     "(808) 792-8421", "1100 Ward Ave Ste 1015", "96814",
     "https://www.alohalaseraesthetics.com", None, None, 6, "aloha-laser-aesthetics-5569955"),
    (11, "571605508", "Akala Med Spa", [DS, BS, "Hair Removal"], "(808) 630-4333",
     "1164 Bishop St", "96813", "https://www.akalamedspa.com", None, None, None,
     "akala-med-spa-571605508"),
    (12, "472041790", "Hoku Beauty", [DS, SC], "(808) 941-1166", "1188 Bishop St", "96813",
     "https://www.hokubeauty.com", None, None, 17, "hoku-beauty-472041790"),
    (13, "574398720", "FINA MedSpa and Wellness", [DS, HR, MS], "(808) 900-8828",
     "1188 Bishop St Ste 610", "96813", "http://www.finamedspa.com", None, None, None,
     "fina-medspa-and-wellness-574398720"),
    (14, "549225695", "Sweat + Soul - Day Classes", [DS, HR, MS], "(808) 593-8384",
     "522 Keawe St Ste 101", "96813", "http://sweatandsoulstudio.com", None, None, None,
     "sweat-soul-day-classes-549225695"),
    (15, "562402838", "Ohana Medspas", [DS, MS], "(808) 468-2038", "500 Ala Moana Blvd",
     "96813", "https://www.ohanamedspas.com", None, None, 9, "ohana-medspas-562402838"),
    (16, "541504145", "Beautymed Therapy", [DS, HR, MS], "(808) 840-0556",
     "320 Ward Ave Ste 205", "96814", "", None, None, 9, "beautymed-therapy-541504145"),
    (17, "547727246", "Rooted Massage", [DS, HR, MS], "(808) 286-9894", "1001 Waimanu St",
     "96814", "", None, None, None, "rooted-massage-547727246"),
    (18, "578152607", "Ageless Sculpting and Wellness", [DS, SC, MS], "(808) 728-1141",
     "1708 Nuuanu Avenue, Suite 2", "96817", "http://www.agelesssculptingandwellness.com",
     None, None, None, "ageless-sculpting-and-wellness-578152607"),
    (19, "573818357", "Hand & Stone Massage and Facial Spa", [DS, MSV, MT], "(808) 809-6385",
     "1000 Auahi St Ste I-100", "96814",
     "https://handandstone.com/locations/honolulu-waikiki-ward-village/"
     "?utm_source=yext&utm_medium=organic&utm_campaign=businesslisting",
     None, None, 13, "hand-stone-massage-and-facial-spa-573818357"),
    (20, "495365181", "Amar", [DS, MS, MSV], "(808) 636-8182", "1101 Waimanu St", "96814",
     "http://www.amarmassage.com/home.html", None, None, None, "amar-495365181"),
    (21, "482308220", "Hawaii Facial Plastic Surgery", [DS, COSMETIC, ORAL], "(808) 636-9084",
     "1150 S King St Ste 504", "96814", "http://www.drshimching.com", None, None, 21,
     "hawaii-facial-plastic-surgery-482308220"),
    (22, "4143996", "Facial Spa Hawaii", [DS, "Cosmetologists", SC], "(808) 591-8606",
     "1221 Kapiolani Blvd Suite 6a-1", "96814", "http://facialspahawaii.localsearch.com",
     None, None, None, "facial-spa-hawaii-4143996"),
    (23, "540455790", "Organic Spa", [DS], "(808) 308-6945", "250 Ward Ave #170", "96814",
     "http://www.organicspahonolulu.com", None, None, None, "organic-spa-540455790"),
    (24, "563973251", "Yours Truly HNL", [DS, BS], "(808) 726-5779",
     "1221 Kapiolani Blvd Ste 310", "96814", "https://www.yourstrulyhnl.com", None, None,
     None, "yours-truly-hnl-563973251"),
    (25, "574841306", "Planet Fitness", [DS, "Health Clubs", "Tanning Salons"],
     "(808) 638-2212", "Center 1450 Ala Moana Blvd", "96814",
     "https://www.planetfitness.com/gyms/honolulu-ala-moana-hi"
     "?utm_medium=organic&utm_source=extnet",
     None, None, 9, "planet-fitness-574841306"),
    # The page writes "Blvd.  100" with two spaces: text comes with whitespace collapsed.
    (26, "908204", 'Salon Blanc "the Celebrities Salon"', [DS, BS, SC], "(808) 593-2100",
     "1288 Ala Moana Blvd. 100", "96814", "http://blancsalon.com", None, None, 19,
     "salon-blanc-the-celebrities-salon-908204"),
    (27, "577260472", "Shim Ching, MD", [DS, COSMETIC, ORAL], "(808) 207-7345",
     "1330 Ala Moana Blvd Ste 4TH", "96814", "https://www.drshimching.com", None, None, None,
     "shim-ching-md-577260472"),
    (28, "536176032", "Ho'ola Chiropractic", [DS, HR, MS], "(808) 772-8284",
     "1357 Kapiolani Blvd Ste 1007", "96814", "http://www.hoolachiropractic.com", None, None,
     None, "hoola-chiropractic-536176032"),
    (29, "524000971", "Green Spa Hawaii", [DS, "Spas & Hot Tubs"], "(808) 931-0709",
     "1441 Kapiolani Blvd Ste 1401", "96814", "http://www.greenspahawaii.com/en", None, None,
     None, "green-spa-hawaii-524000971"),
    (30, "544525085", "JJ Spa body and facials", [DS, MSV, SC], "(808) 397-1231",
     "1522 Makaloa St #202", "96814", "https://www.jjspabodyandfacials.com/home", None, None,
     None, "jj-spa-body-and-facials-544525085"),
]  # fmt: skip


def page_text(name: str) -> str:
    return real_page(name).decode("utf-8")


def as_row(listing) -> tuple:
    slug = listing.detail_url.removeprefix(MIP)
    return (
        listing.rank,
        listing.ypid,
        listing.name,
        listing.categories,
        listing.phone,
        listing.street,
        listing.postal_code,
        listing.website,
        listing.rating,
        listing.review_count,
        listing.years_in_business,
        slug,
    )


@pytest.fixture(scope="module")
def full():
    return parse_results(page_text(FULL), URL)


def test_the_30_organic_cards_in_page_order(full):
    assert [x.ypid for x in full.listings] == [card[1] for card in CARDS]


@pytest.mark.parametrize("card", CARDS, ids=[f"rank{c[0]}" for c in CARDS])
def test_every_field_of_every_card(full, card):
    listing = next(x for x in full.listings if x.ypid == card[1])
    assert as_row(listing) == card
    assert listing.detail_url == MIP + card[-1]
    assert listing.locality == f"Honolulu, HI {card[6]}"
    assert (listing.city, listing.state) == ("Honolulu", "HI")


def test_years_in_business_read_from_the_2025_badge(full):
    # 15 cards carry `div.years-in-business div.count strong` = "N Years".
    years = {x.rank: x.years_in_business for x in full.listings if x.years_in_business}
    assert len(years) == 15
    assert years[1] == 25 and years[10] == 6


def test_a_website_link_into_the_directory_is_no_website(full):
    beautymed = next(x for x in full.listings if x.ypid == "541504145")
    assert beautymed.website == ""
    assert not any("yellowpages.com" in x.website for x in full.listings)


def test_the_next_page_link(full):
    assert full.next_url == (
        "https://www.yellowpages.com/search?search_terms=day%20spa"
        "&geo_location_terms=Honolulu%2C%20HI&page=2"
    )


def test_a_card_in_the_ads_area_is_not_a_result():
    html = page_text(FULL)
    start = html.index('<div class="result" id="lid-8285777"')
    end = html.index('<div class="result" id="lid-460703686"')
    card = html[start:end]
    top_ads = '<div class="search-results center-ads" id="top-center-ads"'
    at = html.index(">", html.index(top_ads)) + 1
    with_ad = html[:at] + card.replace("8285777", "900000001") + html[at:]
    ypids = [x.ypid for x in parse_results(with_ad, URL).listings]
    assert len(ypids) == 30 and "900000001" not in ypids


@pytest.mark.parametrize(
    ("classes", "stars"),
    [("result-rating four half  ", 4.5), ("  result-rating  three ", 3.0), ("result-rating", None)],
)
def test_rating_from_the_real_cards_class_list(classes, stars):
    # Card 1's own markup, its class list swapped: the site writes it with extra spaces.
    html = page_text(FULL).replace('class="result-rating five  "', f'class="{classes}"', 1)
    first = parse_results(html, URL).listings[0]
    assert (first.rating, first.review_count) == (stars, 1)


def test_the_trimmed_page_holds_four_of_the_cards_and_no_next_page():
    page = parse_results(page_text(TRIMMED), URL)
    by_rank = {card[0]: card for card in CARDS}
    assert [as_row(x) for x in page.listings] == [by_rank[r] for r in (1, 4, 5, 16)]
    assert page.next_url is None


def response(name: str, status: int = 200) -> HtmlResponse:
    return HtmlResponse(URL, status=status, body=real_page(name), encoding="utf-8")


@pytest.mark.parametrize("name", BLOCKS)
def test_a_block_page_is_refused_never_an_empty_last_page(name):
    body = real_page(name)
    assert block_reason(body) == "blocked"  # what the page check sees first
    assert not directory_page(body)
    assert BusinessesSpider().page_problem(response(name)) == UNRECOGNISED
    with pytest.raises(UnparsablePage) as refused:
        parse_results(body.decode("utf-8"), URL)
    assert refused.value.reason == UNRECOGNISED


@pytest.mark.parametrize("name", [FULL, TRIMMED])
def test_real_results_pages_pass_the_page_check(name):
    assert block_reason(real_page(name)) is None
    assert BusinessesSpider().page_problem(response(name)) is None
