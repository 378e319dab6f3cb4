"""CLUSTER_SEEN_FILTER_CAPACITY: a run's fingerprints in a Bloom filter on a Redis bitmap, on
a single Redis and on a Redis Cluster (the crawl on a single Redis only: test_cluster.py
runs crawls on both)."""

from __future__ import annotations

import hashlib

import pytest

from bench.frontier import bloom_positions
from crawlers.cluster.queue import LeasedQueue
from tests.integration.test_cluster import Node, assert_all_stored_once, catalog, fetches
from tests.redis_clients import redis_client

pytestmark = pytest.mark.integration

__all__ = ["catalog"]  # the sandbox fixture of test_cluster


@pytest.fixture
def client(redis_url):
    conn = redis_client(redis_url)
    yield conn
    conn.close()


def fp(i: int) -> str:
    return hashlib.sha1(f"request-{i}".encode()).hexdigest()


def node(client, name, capacity=1000, error=0.001, job="bloom") -> LeasedQueue:
    queue = LeasedQueue(client, job, name, 30, seen_capacity=capacity, seen_error=error)
    queue.open()
    return queue


@pytest.mark.redis_cluster
def test_duplicates_are_filtered_through_the_bitmap(client):
    a, b = node(client, "a"), node(client, "b")
    assert [a.push(fp(i), 0, b"x") for i in range(50)] == [True] * 50
    assert not any(b.push(fp(i), 0, b"x") for i in range(50))
    assert not b.see(fp(3))
    assert b.see(fp(999))
    assert a.status().pending == 50
    # A bitmap of the filter's size, not a set: 14,378 bits for 1,000 at 0.001, 10 each.
    seen = a.keys["seen"]
    assert client.type(seen) == b"string"
    assert a.seen_filter == "14378 10"
    bits, k = 14378, 10
    assert all(client.getbit(seen, bit) for bit in bloom_positions(fp(7), bits, k))


@pytest.mark.redis_cluster
def test_a_node_set_otherwise_follows_the_run_it_joins(client):
    first = node(client, "a", capacity=1000)
    first.push(fp(1), 0, b"x")
    plain = node(client, "b", capacity=0)  # no filter set on this node: the run's counts
    assert not plain.push(fp(1), 0, b"x")
    assert plain.push(fp(2), 0, b"x")
    assert client.type(first.keys["seen"]) == b"string"


@pytest.mark.redis_cluster
def test_the_next_run_starts_with_what_its_first_node_says(client):
    a = node(client, "a", capacity=1000)
    a.started()
    assert a.claim() is None
    assert a.mark_done()
    b = node(client, "b", capacity=0)
    assert b.push(fp(1), 0, b"x")
    assert client.type(b.keys["seen"]) == b"set"


@pytest.mark.redis_cluster
def test_an_overfull_filter_takes_new_urls_for_seen(client):
    """What a false positive costs: a request never queued, so its page never crawled."""
    small = node(client, "a", capacity=20, error=0.1)
    queued = sum(small.push(fp(i), 0, b"x") for i in range(400))
    assert 20 < queued < 400
    exact = node(client, "b", capacity=0, job="exact")
    assert sum(exact.push(fp(i), 0, b"x") for i in range(400)) == 400


def test_a_crawl_with_the_filter_does_every_unit_once(catalog, redis_url, database_url, tmp_path):
    sb = catalog(40, latency_ms=50)
    truth = sb.truth("catalog")
    settings = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "CRAWL_JOB": "filtered",
        "CLUSTER_SEEN_FILTER_CAPACITY": 10_000,
    }
    nodes = [Node(f"n{i}", tmp_path, sb.url("catalog"), settings, truth["pages"]) for i in range(2)]
    assert [n.wait() for n in nodes] == [0, 0], "\n".join(n.log[-3000:] for n in nodes)
    rows = assert_all_stored_once(database_url, truth)
    assert {r["writes"] for r in rows.values()} == {1}
    pages, items = fetches(sb, truth)
    assert set(pages.values()) == set(items.values()) == {1}
    client = redis_client(redis_url)
    assert client.type("cluster:{filtered}:seen") == b"string"
    assert client.hget("cluster:{filtered}:meta", "seen_filter") == b"143776 10"
