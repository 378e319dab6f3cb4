"""bench.compare's inputs and its link-graph cap, without running crawls."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from bench.compare import flight_urls, graph_rounds, listing_targets, parse_args
from sandbox.sites.deals import parse_tfs


@pytest.mark.parametrize(
    ("chains", "concurrency", "rounds"),
    [
        ([1] * 10, 4, 3),  # independent pages: ceil(10 / 4)
        ([5], 64, 5),  # one search: its pages one after the other, whatever the concurrency
        ([3, 1, 1, 1], 2, 3),  # the long chain started first
        ([2, 2, 2, 2, 2, 2, 1, 1], 3, 5),  # 14 pages on 3 slots
    ],
)
def test_graph_rounds(chains, concurrency, rounds):
    assert graph_rounds(chains, concurrency) == rounds


def test_listing_targets_take_searches_until_enough_pages():
    truth = {
        "searches": [
            {"search_terms": "plumbers", "location": "Dover, DE", "pages": 3},
            {"search_terms": "dentists", "location": "Dover, DE", "pages": 0},
            {"search_terms": "plumbers", "location": "Newark, DE", "pages": 2},
            {"search_terms": "dentists", "location": "Newark, DE", "pages": 1},
        ]
    }
    lines, chains = listing_targets(truth, 4)
    assert lines == ["plumbers\tDover, DE", "dentists\tDover, DE"]
    assert chains == [3, 1]  # a search without results is still one page
    with pytest.raises(SystemExit, match="only 7 listing pages"):
        listing_targets(truth, 8)


def test_flight_urls_are_distinct_round_trips_the_site_accepts():
    urls = flight_urls("http://127.0.0.1:1", 300)
    assert len(set(urls)) == 300
    for url in urls[::37]:
        query = parse_tfs(parse_qs(urlsplit(url).query)["tfs"][0])
        out, back = query["legs"]
        assert query["trip"] == 1
        assert (out["from"], out["to"]) == (back["to"], back["from"])
        assert out["date"] < back["date"]


def test_bad_options_are_refused_with_a_message(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["--concurrency", "16,lots"])
    assert exc.value.code == 2
    assert "--concurrency wants integers" in capsys.readouterr().err
    assert parse_args(["--concurrency", "16,64"]).concurrency == [16, 64]
