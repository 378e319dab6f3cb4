"""A test's own Redis client for a URL the crawlers take: a plain server's or a cluster's
(`redis+cluster://`, see crawlers/cluster/connection.py)."""

from __future__ import annotations

import redis
from redis.cluster import RedisCluster

from crawlers.cluster.connection import node_url


def redis_client(url: str, **kwargs) -> redis.Redis | RedisCluster:
    node = node_url(url)
    if node is None:
        return redis.Redis.from_url(url, **kwargs)
    return RedisCluster.from_url(node, **kwargs)
