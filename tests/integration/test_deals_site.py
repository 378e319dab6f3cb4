"""The explore sandbox itself: tfs checks, the request budget, both deliveries, its truth."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from crawlers.deals.tfs import encode, explore_query, flights_query
from sandbox.sites.deals import REGIONS

pytestmark = pytest.mark.integration


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def explore_url(base: str, origin="PHX", region=REGIONS["europe"]) -> str:
    return f"{base}/travel/explore?tfs={encode(explore_query(origin, region))}&hl=en&curr=USD"


@pytest.mark.parametrize("path", ["/travel/explore", "/travel/flights", "/travel/api/explore"])
@pytest.mark.parametrize(
    "tfs",
    [
        "",
        "!!notbase64!!",
        "GgM",  # a truncated message
        encode(flights_query("PHX", "CDG", "someday", "2027-01-02")),
    ],
)
def test_undecodable_tfs_is_400(sandbox_factory, path, tfs):
    sb = sandbox_factory(["deals"])
    status, _, _ = get(f"{sb.url('deals')}{path}?tfs={tfs}&hl=en&curr=USD")
    assert status == 400


def test_explore_needs_an_airport_and_a_region(sandbox_factory):
    sb = sandbox_factory(["deals"])
    base = sb.url("deals")
    assert get(explore_url(base))[0] == 200
    flights = encode(flights_query("PHX", "CDG", "2027-01-04", "2027-01-06"))
    assert get(f"{base}/travel/explore?tfs={flights}")[0] == 400
    assert get(f"{base}/travel/flights?tfs={flights}")[0] == 200


def test_request_budget_answers_429_with_retry_after(sandbox_factory):
    sb = sandbox_factory(["deals"], knobs={"deals": {"budget_per_minute": 2}})
    base = sb.url("deals")
    assert [get(explore_url(base))[0] for _ in range(2)] == [200, 200]
    status, headers, _ = get(explore_url(base))
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert sb.stats("deals")["budget_429"] == 1


def test_deliveries(sandbox_factory):
    sb = sandbox_factory(["deals"], knobs={"deals": {"delivery": "inline"}})
    base = sb.url("deals")
    assert "AF_initDataCallback({key" in get(explore_url(base))[2]
    sb.set_knobs("deals", delivery="xhr")
    page = get(explore_url(base))[2]
    assert "AF_initDataCallback({key" not in page
    api = f"{base}/travel/api/explore?tfs={encode(explore_query('PHX', REGIONS['europe']))}"
    cards = json.loads(get(api)[2])["cards"]
    truth = sb.truth("deals")["origins"]["PHX"]["regions"][REGIONS["europe"]]
    assert sorted(c[1] for c in cards) == sorted(d["destination_id"] for d in truth)
    sb.set_knobs("deals", delivery="mixed")
    for origin in ("PHX", "DFW", "LAX", "ORD", "JFK", "ATL"):
        get(explore_url(base, origin))
    stats = sb.stats("deals")
    assert stats["delivery_inline"] > 1 and stats["delivery_xhr"] > 1


def test_truth_top_matches_its_own_deals(sandbox_factory):
    sb = sandbox_factory(["deals"], knobs={"deals": {"price_levels": 5}})
    truth = sb.truth("deals")
    for data in truth["origins"].values():
        top = data["top"]
        assert len(top) == truth["top"]
        assert len({d["destination_id"] for d in top}) == len(top)
        prices = [d["price"] for d in top]
        assert prices == sorted(prices)
        others = [
            d
            for deals in data["regions"].values()
            for d in deals
            if d["destination_id"] not in {t["destination_id"] for t in top}
        ]
        assert all(d["price"] >= prices[-1] for d in others)
        for deal in top:
            cheapest = min(o["price"] for o in deal["options"] if o["price"] is not None)
            assert cheapest == deal["price"]


def flights_url(base: str, sb, origin="PHX") -> tuple[str, dict]:
    deal = sb.truth("deals")["origins"][origin]["top"][0]
    tfs = encode(
        flights_query(origin, deal["destination_id"], deal["outbound_date"], deal["return_date"])
    )
    return f"{base}/travel/flights?tfs={tfs}&hl=en&curr=USD", deal


def test_flights_page_as_the_real_one_and_each_knob_turns_its_part_off(sandbox_factory):
    sb = sandbox_factory(["deals"], knobs={"deals": {"delivery": "inline", "price_unavailable": 1}})
    base = sb.url("deals")
    url, deal = flights_url(base, sb)
    status, _, page = get(url)
    assert status == 200
    # Every page, rendered or not, carries the "Loading results" bar; the script hides it.
    assert "Loading results" in page and "Google Flights</title>" in page
    config = json.loads(re.search(r"var CONFIG = (\{.*?\});", page).group(1))
    assert config["never"] is False
    assert {
        k: config[k] for k in ("tooltips", "marker", "airports", "layovers", "copy", "fewer")
    } == dict.fromkeys(("tooltips", "marker", "airports", "layovers", "copy", "fewer"), True)
    assert config["repeats"] == 3
    rows = json.loads(get(url.replace("/travel/flights", "/travel/api/flights"))[2])["options"]
    assert len(rows) == len(deal["options"])
    unpriced = [r for r in rows if r["price"] == "Price unavailable"]
    assert len(unpriced) == 1 and unpriced[0]["sentence"].startswith("Total price is unavailable.")
    priced = [r for r in rows if r not in unpriced]
    assert all(r["sentence"].startswith(f"From {r['price_label']}.") for r in priced)
    assert all(r["price"].startswith("$") for r in priced)
    sb.set_knobs(
        "deals",
        time_tooltips=0,
        day_marker=0,
        price_repeats=1,
        airports=0,
        layovers=0,
        hidden_copy=0,
        fewer_row=0,
        currency="EUR",
    )
    config = json.loads(re.search(r"var CONFIG = (\{.*?\});", get(url)[2]).group(1))
    assert not any(
        config[k] for k in ("tooltips", "marker", "airports", "layovers", "copy", "fewer")
    )
    rows = json.loads(get(url.replace("/travel/flights", "/travel/api/flights"))[2])["options"]
    assert all(r["price"].startswith("\u20ac") for r in rows if r["price_label"])


def test_a_chosen_route_never_renders_and_others_at_a_rate(sandbox_factory):
    sb = sandbox_factory(["deals"], knobs={"deals": {"never_render": 0}})
    base = sb.url("deals")
    url, deal = flights_url(base, sb)
    sb.set_knobs("deals", never_render_destinations=deal["destination_id"])
    for _ in range(3):
        config = json.loads(re.search(r"var CONFIG = (\{.*?\});", get(url)[2]).group(1))
        assert config["never"] is True
    sb.set_knobs("deals", never_render_destinations="", never_render=0.5)
    drawn = [
        json.loads(re.search(r"var CONFIG = (\{.*?\});", get(url)[2]).group(1))["never"]
        for _ in range(40)
    ]
    # Each load draws again: some never render, and a retry can succeed.
    assert 5 < sum(drawn) < 35
    assert sb.stats("deals")["never_rendered"] == 3 + sum(drawn)
