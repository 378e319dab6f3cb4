"""A job's shared request queue in Redis, where a claimed request is leased, not popped.

scrapy-redis pops a request and forgets it, so a node that dies loses what it held. Here a
claim moves the request from `queue` to `leases` with an expiry; the node acks it once the
response (or failure) has been fully handled, and renews its leases while it works. A
lease that expires (its node died or hung) puts the request back in the queue.

Every key of a job shares the hash tag `{<job>}`, so the scripts (crawlers/redis_scripts/
queue_*.lua) also run on Redis Cluster; the names are built in crawlers/cluster/keys.py:
  cluster:{job}:meta      hash: run (token of the current run), done, seq, requeued
  cluster:{job}:queue     sorted set: request id -> -priority (FIFO within a priority)
  cluster:{job}:requests  hash: request id -> serialized request
  cluster:{job}:prio      hash: request id -> its queue score, to requeue it
  cluster:{job}:leases    sorted set: request id -> lease expiry (ms, Redis clock)
  cluster:{job}:owners    hash: request id -> node holding it
  cluster:{job}:seen      set: fingerprints of every request ever queued in this run, or
                          with a seen filter (CLUSTER_SEEN_FILTER_CAPACITY) a Bloom
                          filter on a bitmap (crawlers/redis_scripts/_seen_add.lua)
  cluster:{job}:nodes     sorted set: node -> liveness expiry (ms)
  cluster:{job}:starting  set: nodes whose spider has not finished its start() yet

A fingerprint enters `seen` in the same script that queues its request, so a node dying
between the two cannot leave a request marked seen but never queued. Time comes from the
Redis server, so nodes with skewed clocks agree on lease expiry.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

import redis

from crawlers import redis_scripts
from crawlers.cluster.keys import QUEUE_NAMES, queue_keys

KEYS = QUEUE_NAMES
_COUNT_KEYS = tuple(name for name in KEYS if name != "seen")
SCRIPTS = ("open", "push", "see", "claim", "renew", "ack", "release", "status", "done")

# SETBIT takes offsets below 2**32: one bitmap of 512 MiB at most.
MAX_FILTER_BITS = 2**32


def seen_filter(capacity: int, error: float) -> tuple[int, int]:
    """(bits, positions per fingerprint) of a Bloom filter holding `capacity` fingerprints
    with a false-positive rate of `error` once full (the textbook optimum)."""
    if capacity <= 0 or not 0 < error < 1:
        raise ValueError("a seen filter needs a capacity above 0 and an error between 0 and 1")
    bits = math.ceil(-capacity * math.log(error) / math.log(2) ** 2)
    if bits > MAX_FILTER_BITS:
        raise ValueError(
            f"a seen filter of {capacity:,} fingerprints at {error:g} needs {bits:,} bits, "
            f"more than one Redis bitmap holds ({MAX_FILTER_BITS:,}): raise the error rate"
        )
    return bits, max(1, round(bits / capacity * math.log(2)))


class RunOver(Exception):
    """The run this node joined has ended: replaced by a new run after it finished, or lost
    (Redis restarted without persistence, or the keys were deleted)."""

    def __init__(self, job: str, lost: bool):
        super().__init__(job)
        self.lost = lost


@dataclass(frozen=True)
class Status:
    pending: int
    leased: int
    starting: int
    done: bool

    @property
    def busy(self) -> bool:
        return bool(self.pending or self.leased or self.starting)


class LeasedQueue:
    """One job's queue, seen by one node. Every method is one round trip to Redis."""

    def __init__(
        self,
        client: redis.Redis,
        job: str,
        node: str,
        lease_seconds: float,
        seen_capacity: int = 0,
        seen_error: float = 0.001,
    ):
        """`seen_capacity` > 0: a new run keeps its fingerprints in a Bloom filter sized
        for that many at `seen_error` false positives (see seen_filter), not in a set."""
        self.client = client
        self.seen_filter = (
            "{} {}".format(*seen_filter(seen_capacity, seen_error)) if seen_capacity else ""
        )
        self.job = job
        self.node = node
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.keys = queue_keys(job)
        self.run = ""
        scripts = redis_scripts.register(client, *(f"queue_{name}" for name in SCRIPTS))
        self._scripts = {name: scripts[f"queue_{name}"] for name in SCRIPTS}

    def _k(self, *names: str) -> list[str]:
        return [self.keys[name] for name in names]

    def _checked(self, result):
        if result in (-1, -2):
            raise RunOver(self.job, lost=result == -1)
        return result

    def open(self) -> str:
        """Join the job's current run, or start a fresh one if none runs or it finished.

        Returns the run token; the node counts as "starting" until `started()`.
        """
        token = secrets.token_hex(8)
        run = self._scripts["open"](
            keys=self._k(*KEYS), args=[self.node, token, self.lease_ms, self.seen_filter]
        )
        self.run = run.decode() if isinstance(run, bytes) else run
        return self.run

    def started(self) -> None:
        """This node's start() is exhausted: other nodes need not wait for it any more."""
        self.client.srem(self.keys["starting"], self.node)

    def push(self, fingerprint: str, score: int, payload: bytes) -> bool:
        """Queue a request unless its fingerprint was seen ('' : always). True if queued."""
        result = self._scripts["push"](
            keys=self._k("meta", "queue", "requests", "prio", "seen"),
            args=[self.run, fingerprint, score, payload],
        )
        return self._checked(result) == 1

    def see(self, fingerprint: str) -> bool:
        """Record a fingerprint without queueing anything. True if it was new."""
        result = self._scripts["see"](keys=self._k("meta", "seen"), args=[self.run, fingerprint])
        return self._checked(result) == 1

    def claim(self) -> tuple[str, bytes] | None:
        """Lease the next request: (id, payload), or None when nothing is pending."""
        result = self._checked(
            self._scripts["claim"](
                keys=self._k("meta", "queue", "requests", "prio", "leases", "owners"),
                args=[self.run, self.node, self.lease_ms],
            )
        )
        if not result:
            return None
        request_id, payload = result
        return request_id.decode(), payload

    def ack(self, ids: list[str]) -> None:
        """These requests are fully handled: forget them (their fingerprints stay seen)."""
        self._scripts["ack"](
            keys=self._k("queue", "requests", "prio", "leases", "owners"), args=ids
        )

    def renew(self, ids: list[str]) -> None:
        """Extend this node's liveness and the leases it holds."""
        self._checked(
            self._scripts["renew"](
                keys=self._k("meta", "leases", "nodes"),
                args=[self.run, self.node, self.lease_ms, *ids],
            )
        )

    def release(self, ids: list[str]) -> None:
        """Give leased requests back to the queue now (a node stopping early)."""
        if ids:
            self._scripts["release"](keys=self._k("queue", "prio", "leases", "owners"), args=ids)

    def leave(self) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self.keys["nodes"], self.node)
        pipe.srem(self.keys["starting"], self.node)
        pipe.execute()

    def pending(self) -> int:
        return self.client.zcard(self.keys["queue"])

    def status(self) -> Status:
        """The job's counts, after putting back requests whose lease expired."""
        pending, leased, starting, done = self._checked(
            self._scripts["status"](keys=self._k(*_COUNT_KEYS), args=[self.run])
        )
        return Status(int(pending), int(leased), int(starting), bool(done))

    def mark_done(self) -> bool:
        """Mark the run finished unless work appeared meanwhile. True if it is done."""
        return (
            self._checked(self._scripts["done"](keys=self._k(*_COUNT_KEYS), args=[self.run])) == 1
        )
