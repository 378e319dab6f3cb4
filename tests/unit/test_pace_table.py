"""The shared pace's rule (crawlers/pace/table.py), on the in-memory table."""

from __future__ import annotations

import itertools
import random

from crawlers.pace.node import SESSION_LIMITED
from crawlers.pace.progress import pace_part
from crawlers.pace.table import Ask, Limits, LocalTable

LIMITS = Limits(ceiling=6, rate=0, lease_ms=3000, horizon_ms=1000, ttl_seconds=3600)


def held(table: LocalTable, site: str = "s") -> dict[str, int]:
    return {name: entry[0] for name, entry in table.sites[site]["nodes"].items()}


def test_one_node_gets_what_it_wants_up_to_the_ceiling():
    table = LocalTable(LIMITS)
    assert table.ask("s", Ask("a", 0, 4), now_ms=0).slots == 4
    assert table.ask("s", Ask("a", 4, 20), now_ms=10).slots == 6


def test_nodes_share_the_ceiling_fairly_and_never_hold_more_than_it():
    table = LocalTable(LIMITS)
    assert table.ask("s", Ask("a", 0, 8), now_ms=0).slots == 6
    # b finds everything held: it gets nothing now, and a is cut to its share at its next ask.
    assert table.ask("s", Ask("b", 0, 8), now_ms=1).slots == 0
    assert table.ask("s", Ask("a", 6, 8), now_ms=2).slots == 3
    assert held(table) == {"a": 6, "b": 0}  # a's requests are still in flight
    table.ask("s", Ask("a", 3, 8), now_ms=3)  # three of them ended
    assert table.ask("s", Ask("b", 0, 8), now_ms=4).slots == 3
    assert sum(held(table).values()) == 6


def test_random_asks_never_hold_more_than_the_ceiling_in_flight():
    rng = random.Random(5)
    table = LocalTable(LIMITS)
    in_flight = dict.fromkeys("abc", 0)
    for now in range(0, 20_000, 7):
        name = rng.choice("abc")
        in_flight[name] = rng.randint(0, in_flight[name])  # some of its requests ended
        grant = table.ask(
            "s", Ask(name, in_flight[name], rng.randint(0, 10), bad=rng.random() < 0.02), now
        )
        if grant.slots > in_flight[name]:  # it starts more, up to its slots
            in_flight[name] = rng.randint(in_flight[name], grant.slots)
        assert sum(in_flight.values()) <= LIMITS.ceiling
        assert sum(held(table).values()) <= LIMITS.ceiling


def test_a_dead_nodes_share_comes_back_when_its_lease_ends():
    table = LocalTable(LIMITS)
    table.ask("s", Ask("dead", 0, 8), now_ms=0)
    assert table.ask("s", Ask("live", 0, 8), now_ms=100).slots == 0
    assert table.ask("s", Ask("live", 0, 8), now_ms=2_900).slots == 0
    assert table.ask("s", Ask("live", 0, 8), now_ms=3_001).slots == 6
    assert held(table) == {"live": 6}


def test_a_429_halves_the_limit_for_every_node_and_good_answers_bring_it_back():
    table = LocalTable(LIMITS)
    table.ask("s", Ask("a", 0, 8), now_ms=0)
    assert table.ask("s", Ask("a", 6, 8, bad=3), now_ms=100).limit == 3
    # Another 429 in the same second is an answer to a request sent before the cut.
    assert table.ask("s", Ask("b", 0, 8, bad=1), now_ms=200).limit == 3
    assert table.ask("s", Ask("b", 0, 8, bad=1), now_ms=1_300).limit == 1
    limits = [
        table.ask("s", Ask("b", 0, 8, good=2), now_ms=2_000 + step).limit for step in range(12)
    ]
    assert limits[0] == 2 and limits[-1] == 6
    assert limits == sorted(limits)


def test_retry_after_holds_every_node_off_the_site_until_it_ends():
    table = LocalTable(LIMITS)
    table.ask("s", Ask("a", 0, 8), now_ms=0)
    grant = table.ask("s", Ask("a", 2, 8, bad=1, retry_after_ms=3000), now_ms=1000)
    assert (grant.slots, grant.until_ms) == (0, 4000)
    assert table.ask("s", Ask("b", 0, 8), now_ms=3_999).slots == 0
    assert table.ask("s", Ask("b", 0, 8), now_ms=4_000).slots > 0


def test_latency_twice_the_sites_best_lowers_the_limit():
    table = LocalTable(LIMITS)
    table.ask("s", Ask("a", 0, 8, latency_sum=1.0, latencies=10), now_ms=0)
    grant = table.ask("s", Ask("a", 6, 8, latency_sum=30.0, latencies=10), now_ms=2000)
    assert grant.limit < 6


def test_tokens_of_all_nodes_lie_on_one_timeline_at_the_rate():
    limits = Limits(ceiling=0, rate=10, lease_ms=3000, horizon_ms=1000, ttl_seconds=3600)
    table = LocalTable(limits)
    times = []
    for now, name in ((0, "a"), (1, "b"), (2, "c"), (400, "a"), (500, "b"), (900, "c")):
        grant = table.ask("s", Ask(name, 0, 50, tokens=50), now_ms=now)
        times += [grant.first_ms + i * grant.interval_ms for i in range(grant.tokens)]
    times.sort()
    assert len(times) == len(set(times))
    assert all(b - a >= 100 - 1e-6 for a, b in itertools.pairwise(times))
    # Never more than a horizon ahead of the ask.
    assert max(times) <= 900 + 1000


def test_a_rate_without_a_concurrency_limit_leaves_slots_to_the_node():
    limits = Limits(ceiling=0, rate=5, lease_ms=3000, horizon_ms=1000, ttl_seconds=3600)
    grant = LocalTable(limits).ask("s", Ask("a", 0, 30, tokens=5), now_ms=0)
    assert (grant.slots, grant.limit, grant.tokens) == (30, 0, 5)


def test_the_session_meta_key_is_the_vehicles_sessions_own():
    from crawlers.middlewares.vehicles_session import IN_FLIGHT

    assert SESSION_LIMITED == IN_FLIGHT


def test_the_progress_line_shows_the_pace():
    stats = {"pace/ceiling": 8, "pace/rate_ceiling": 5.0}
    assert pace_part(stats) is None
    one = {**stats, "pace/x.com/limit": 4, "pace/x.com/rate": 2.5, "pace/x.com/nodes": 3}
    assert pace_part(one) == "pace x.com 4/8 2.5/s 3 nodes"
    two = {**one, "pace/y.com/limit": 8, "pace/y.com/rate": 5.0, "pace/y.com/nodes": 1}
    assert pace_part(two) == "pace 2 sites, 1 slowed"


def test_a_fast_sites_jitter_is_not_taken_for_queueing():
    """Nor a busy event loop of our own, which adds its lag to every latency it measures."""
    table = LocalTable(LIMITS)
    table.ask("s", Ask("a", 0, 8, latency_sum=0.01, latencies=10), now_ms=0)
    for step in range(1, 20):  # three hundred times its best, yet only 0.3 s more
        grant = table.ask("s", Ask("a", 6, 8, latency_sum=3.0, latencies=10), now_ms=step * 1100)
    assert grant.limit == 6
