"""The deals ranking state, in memory and on a real Redis: idempotent per origin and region,
one caller sees an origin complete first, plans counted once, runs and jobs kept apart."""

from __future__ import annotations

import threading

import pytest
import redis

from crawlers.deals.state import ArgsMismatch, MemoryState, Recorded, RedisState


def deal(dest: str, price: float) -> dict:
    return {"destination_id": dest, "price": price, "regions": ["europe"]}


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


# Redis starts a server: integration, as the marker says.
@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def make_state(request):
    if request.param == "memory":
        return lambda regions, **_: MemoryState(regions, {})
    c = request.getfixturevalue("client")
    return lambda regions, run="r1", job="deals": RedisState(c, job, run, regions, ttl=60)


def test_origin_complete_once_all_regions_are_in(make_state):
    state = make_state(3)
    assert state.record("PHX", "/m/eu", [deal("CDG", 400.0)], "ok") == Recorded(True, None)
    assert state.record("DFW", "/m/eu", [deal("LHR", 300.0)], "ok") == Recorded(True, None)
    assert state.record("PHX", "/m/as", [], "failed:timeout") == Recorded(True, None)
    last = state.record("PHX", "/m/ca", [deal("SJU", 200.0)], "ok")
    assert last.first
    assert last.regions == {
        "/m/eu": [deal("CDG", 400.0)],
        "/m/as": [],
        "/m/ca": [deal("SJU", 200.0)],
    }


def test_a_redelivered_region_is_not_recorded_twice(make_state):
    state = make_state(2)
    assert state.record("PHX", "/m/eu", [deal("CDG", 400.0)], "ok").first
    again = state.record("PHX", "/m/eu", [deal("XXX", 1.0)], "ok")
    assert again == Recorded(False, None)  # the first record stands, the origin is not complete
    state.record("PHX", "/m/as", [], "ok")
    # Redelivered once complete: the deals again (its node may have died before it queued
    # the expansions), as first recorded.
    late = state.record("PHX", "/m/eu", [], "ok")
    assert not late.first
    assert late.regions == {"/m/eu": [deal("CDG", 400.0)], "/m/as": []}


def test_plans_count_once_per_origin(make_state):
    state = make_state(1)
    assert state.plan("PHX", 5) == 5
    assert state.plan("DFW", 3) == 8
    assert state.plan("PHX", 5) == 8  # a redelivered page plans nothing more


@pytest.mark.integration
def test_runs_and_jobs_do_not_share_state(client):
    old = RedisState(client, "deals", "run-1", 1, ttl=60)
    assert old.record("PHX", "/m/eu", [], "ok").regions == {"/m/eu": []}
    assert RedisState(client, "deals", "run-2", 1, ttl=60).record("PHX", "/m/eu", [], "ok").first
    assert RedisState(client, "other", "run-1", 1, ttl=60).record("PHX", "/m/eu", [], "ok").first
    keys = sorted(k.decode() for k in client.keys("deals:*"))
    assert keys and all(k.startswith(("deals:{deals}:", "deals:{other}:")) for k in keys)
    assert all(0 < client.ttl(k) <= 60 for k in keys)


@pytest.mark.integration
def test_exactly_one_of_many_nodes_sees_the_origin_complete_first(client, redis_url):
    regions = [f"/m/r{i}" for i in range(12)]
    nodes = 4
    results: list = []
    barrier = threading.Barrier(nodes)

    def node(n: int) -> None:
        c = redis.Redis.from_url(redis_url)
        state = RedisState(c, "race", "r", len(regions), ttl=60)
        barrier.wait()
        # Every node records every region (each page delivered to all of them).
        for region in regions[n:] + regions[:n]:
            results.append((n, region, state.record("PHX", region, [deal(region, n)], "ok")))
        c.close()

    threads = [threading.Thread(target=node, args=(n,)) for n in range(nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == nodes * len(regions)
    firsts = [(n, region) for n, region, r in results if r.first]
    assert sorted(region for _, region in firsts) == sorted(regions)  # each region once
    complete_first = [r for _, _, r in results if r.first and r.regions is not None]
    assert len(complete_first) == 1
    # What each region holds is the deal of the node that recorded it first.
    assert complete_first[0].regions == {region: [deal(region, n)] for n, region in firsts}


@pytest.mark.integration
def test_nodes_must_agree_on_what_they_crawl(client):
    args = {"origins": ["PHX"], "regions": ["/m/eu"], "top": 5}
    RedisState(client, "deals", "r", 1, ttl=60).agree(args)
    RedisState(client, "deals", "r", 1, ttl=60).agree(dict(args))
    with pytest.raises(ArgsMismatch, match="top"):
        RedisState(client, "deals", "r", 1, ttl=60).agree({**args, "top": 3})
    RedisState(client, "deals", "next-run", 1, ttl=60).agree({**args, "top": 3})
