"""Choosing the best deals of an origin: once per destination, deterministic ties."""

from hypothesis import given
from hypothesis import strategies as st

from crawlers.deals.ranking import best_deals


def deal(dest_id, name, price, out="2027-01-10", back="2027-01-17", region="anywhere"):
    return {
        "destination_id": dest_id,
        "destination": name,
        "price": float(price),
        "outbound_date": out,
        "return_date": back,
        "regions": [region],
    }


def test_destination_in_several_regions_counts_once_with_its_lowest_price():
    deals = [
        deal("IST", "Istanbul", 700, region="europe"),
        deal("IST", "Istanbul", 650, out="2027-02-01", back="2027-02-08", region="asia"),
        deal("IST", "Istanbul", 800, region="anywhere"),
        deal("CDG", "Paris", 660, region="europe"),
    ]
    chosen = best_deals(deals, 5)
    assert [d["destination_id"] for d in chosen] == ["IST", "CDG"]
    assert chosen[0]["price"] == 650.0
    assert chosen[0]["outbound_date"] == "2027-02-01"
    assert chosen[0]["regions"] == ["anywhere", "asia", "europe"]


def test_ties_by_name_then_dates():
    deals = [
        deal("LHR", "London", 500),
        deal("AMS", "amsterdam", 500),
        deal("BCN", "Barcelona", 500),
        deal("MAD", "Madrid", 400),
    ]
    assert [d["destination_id"] for d in best_deals(deals, 3)] == ["MAD", "AMS", "BCN"]
    same_price_and_place = [
        deal("NRT", "Tokyo", 900, out="2027-03-02", back="2027-03-09", region="asia"),
        deal("NRT", "Tokyo", 900, out="2027-03-01", back="2027-03-12", region="anywhere"),
    ]
    (tokyo,) = best_deals(same_price_and_place, 5)
    assert tokyo["outbound_date"] == "2027-03-01"
    assert tokyo["regions"] == ["anywhere", "asia"]


DEALS = st.lists(
    st.builds(
        deal,
        st.sampled_from(["CDG", "LHR", "NRT", "IST", "CUN"]),
        st.sampled_from(["Paris", "London", "Tokyo", "Istanbul"]),
        st.integers(1, 5).map(lambda n: n * 100),
        st.sampled_from(["2027-01-01", "2027-01-02"]),
        st.sampled_from(["2027-01-09", "2027-01-10"]),
        st.sampled_from(["anywhere", "europe", "asia"]),
    ),
    max_size=12,
)


@given(DEALS, st.randoms(use_true_random=False), st.integers(1, 6))
def test_order_of_arrival_does_not_change_the_choice(deals, rng, top):
    shuffled = list(deals)
    rng.shuffle(shuffled)
    assert best_deals(deals, top) == best_deals(shuffled, top)
    chosen = best_deals(deals, top)
    assert len({d["destination_id"] for d in chosen}) == len(chosen) <= top
    for picked in chosen:
        seen = [d for d in deals if d["destination_id"] == picked["destination_id"]]
        assert picked["price"] == min(d["price"] for d in seen)
        assert picked["regions"] == sorted({r for d in seen for r in d["regions"]})
