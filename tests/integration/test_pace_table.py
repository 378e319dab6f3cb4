"""The pace rule in Redis (pace_sync.lua) is the rule of the in-memory table (table.py)."""

from __future__ import annotations

import random

import pytest
import redis

from crawlers.cluster import keys
from crawlers.pace.shared import RedisTable
from crawlers.pace.table import Ask, Limits, LocalTable

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("rate", [0.0, 7.0])
def test_redis_and_memory_tables_answer_alike(redis_url, rate):
    limits = Limits(ceiling=6, rate=rate, lease_ms=2000, horizon_ms=1000, ttl_seconds=60)
    shared = RedisTable(redis.Redis.from_url(redis_url), "parity", limits)
    local = LocalTable(limits)
    rng = random.Random(11)
    now = 1_000_000
    for _ in range(400):
        now += rng.choice((3, 40, 300, 2500))
        ask = Ask(
            node=rng.choice("abc"),
            in_flight=rng.randint(0, 6),
            want=rng.randint(0, 9),
            good=rng.randint(0, 4),
            bad=int(rng.random() < 0.05),
            retry_after_ms=rng.choice((0,) * 20 + (1500,)),
            latency_sum=round(rng.uniform(0.1, 2.0), 3),
            latencies=rng.randint(0, 3),
            tokens=rng.randint(0, 8),
        )
        a, b = shared.ask("site", ask, now_ms=now), local.ask("site", ask, now_ms=now)
        assert (a.slots, a.limit, a.tokens, a.nodes, a.until_ms) == (
            b.slots,
            b.limit,
            b.tokens,
            b.nodes,
            b.until_ms,
        )
        assert a.rate == pytest.approx(b.rate, abs=1e-3)
        assert a.first_ms == pytest.approx(b.first_ms, abs=1e-2)


def test_the_sites_key_carries_the_jobs_hash_tag(redis_url):
    client = redis.Redis.from_url(redis_url)
    limits = Limits(ceiling=2, rate=0, lease_ms=2000, horizon_ms=1000, ttl_seconds=60)
    RedisTable(client, "tagged", limits).ask("example.com", Ask("a", 0, 1))
    assert client.keys("pace:*") == [keys.pace("tagged", "example.com").encode()]
    assert b"{tagged}" in client.keys("pace:*")[0]
    assert 0 < client.ttl(keys.pace("tagged", "example.com")) <= 60
