"""The pace table in Redis, shared by every node of a job: one hash per site
(`pace:{<job>}:<site>`, crawlers/cluster/keys.py), changed only by the script
crawlers/redis_scripts/pace_sync.lua, one round trip per ask."""

from __future__ import annotations

from crawlers import redis_scripts
from crawlers.cluster import keys
from crawlers.pace.table import Ask, Grant, Limits


class RedisTable:
    def __init__(self, client, job: str, limits: Limits):
        self.client = client
        self.job = job
        self.limits = limits
        self._sync = redis_scripts.script(client, "pace_sync")

    def ask(self, site: str, ask: Ask, now_ms: float | None = None) -> Grant:
        limits = self.limits
        reply = self._sync(
            keys=[keys.pace(self.job, site)],
            args=[
                ask.node,
                ask.in_flight,
                ask.want,
                ask.good,
                ask.bad,
                ask.retry_after_ms,
                f"{ask.latency_sum:.4f}",
                ask.latencies,
                ask.tokens,
                limits.ceiling,
                f"{limits.rate:.4f}",
                limits.lease_ms,
                limits.horizon_ms,
                limits.ttl_seconds,
                0 if now_ms is None else int(now_ms),
            ],
        )
        return Grant.parse(reply)
