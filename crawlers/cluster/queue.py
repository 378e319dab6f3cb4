"""A job's shared request queue in Redis, where a claimed request is leased, not popped.

scrapy-redis pops a request and forgets it, so a node that dies loses what it held. Here a
claim moves the request from `queue` to `leases` with an expiry; the node acks it once the
response (or failure) has been fully handled, and renews its leases while it works. A
lease that expires (its node died or hung) puts the request back in the queue.

Every key of a job shares the hash tag `{<job>}`, so the scripts also run on Redis Cluster:
  cluster:{job}:meta      hash: run (token of the current run), done, seq, requeued
  cluster:{job}:queue     sorted set: request id -> -priority (FIFO within a priority)
  cluster:{job}:requests  hash: request id -> serialized request
  cluster:{job}:prio      hash: request id -> its queue score, to requeue it
  cluster:{job}:leases    sorted set: request id -> lease expiry (ms, Redis clock)
  cluster:{job}:owners    hash: request id -> node holding it
  cluster:{job}:seen      set: fingerprints of every request ever queued in this run
  cluster:{job}:nodes     sorted set: node -> liveness expiry (ms)
  cluster:{job}:starting  set: nodes whose spider has not finished its start() yet

A fingerprint enters `seen` in the same script that queues its request, so a node dying
between the two cannot leave a request marked seen but never queued. Time comes from the
Redis server, so nodes with skewed clocks agree on lease expiry.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import redis

KEYS = ("meta", "queue", "requests", "prio", "leases", "owners", "seen", "nodes", "starting")
_COUNT_KEYS = ("meta", "queue", "requests", "prio", "leases", "owners", "nodes", "starting")

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1] is meta, ARGV[1] the node's run token: -1 if the job's run is gone (Redis lost
# it), -2 if another run replaced it (it had finished).
_SAME_RUN = """
local run = redis.call('HGET', KEYS[1], 'run')
if run ~= ARGV[1] then
  if run then return -2 end
  return -1
end
"""

# KEYS: meta queue requests prio leases owners; after `_NOW`.
_REQUEUE_EXPIRED = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[5], id)
  redis.call('HDEL', KEYS[6], id)
  local score = redis.call('HGET', KEYS[4], id)
  if score then
    redis.call('ZADD', KEYS[2], score, id)
    redis.call('HINCRBY', KEYS[1], 'requeued', 1)
  end
end
"""

# KEYS: all of KEYS. ARGV: node, new run token, lease ms. Returns the run token in force.
_OPEN = (
    _NOW
    + """
local run = redis.call('HGET', KEYS[1], 'run')
if (not run) or redis.call('HEXISTS', KEYS[1], 'done') == 1 then
  for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end
  run = ARGV[2]
  redis.call('HSET', KEYS[1], 'run', run, 'started_ms', now)
end
redis.call('ZADD', KEYS[8], now + tonumber(ARGV[3]), ARGV[1])
redis.call('SADD', KEYS[9], ARGV[1])
return run
"""
)

# KEYS: meta queue requests prio seen. ARGV: run, fingerprint ('' = never filtered), score,
# payload. Returns 1 queued, 0 already seen.
_PUSH = (
    _SAME_RUN
    + """
if ARGV[2] ~= '' and redis.call('SADD', KEYS[5], ARGV[2]) == 0 then return 0 end
local id = string.format('%015d', redis.call('HINCRBY', KEYS[1], 'seq', 1))
redis.call('HSET', KEYS[3], id, ARGV[4])
redis.call('HSET', KEYS[4], id, ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], id)
return 1
"""
)

# KEYS: meta seen. ARGV: run, fingerprint. For requests kept on one node: 1 new, 0 seen.
_SEE = _SAME_RUN + "return redis.call('SADD', KEYS[2], ARGV[2])"

# KEYS: meta queue requests prio leases owners. ARGV: run, node, lease ms.
# Returns {} (nothing pending) or {id, payload}.
_CLAIM = (
    _NOW
    + _SAME_RUN
    + _REQUEUE_EXPIRED
    + """
while true do
  local top = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #top == 0 then return {} end
  local id = top[1]
  redis.call('ZREM', KEYS[2], id)
  local payload = redis.call('HGET', KEYS[3], id)
  if payload then
    redis.call('ZADD', KEYS[5], now + tonumber(ARGV[3]), id)
    redis.call('HSET', KEYS[6], id, ARGV[2])
    return {id, payload}
  end
end
"""
)

# KEYS: meta leases nodes. ARGV: run, node, lease ms, ids...
_RENEW = (
    _NOW
    + _SAME_RUN
    + """
local expiry = now + tonumber(ARGV[3])
redis.call('ZADD', KEYS[3], expiry, ARGV[2])
for i = 4, #ARGV do redis.call('ZADD', KEYS[2], 'XX', expiry, ARGV[i]) end
return 1
"""
)

# KEYS: queue requests prio leases owners. ARGV: ids. Forgets handled requests (wherever
# they are: a lease that expired meanwhile put its request back in the queue).
_ACK = """
for i = 1, #ARGV do
  redis.call('ZREM', KEYS[4], ARGV[i])
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[5], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
return 1
"""

# KEYS: queue prio leases owners. ARGV: ids. Puts leased requests back at once.
_RELEASE = """
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[3], ARGV[i]) == 1 then
    redis.call('HDEL', KEYS[4], ARGV[i])
    local score = redis.call('HGET', KEYS[2], ARGV[i])
    if score then redis.call('ZADD', KEYS[1], score, ARGV[i]) end
  end
end
return 1
"""

# KEYS: meta queue requests prio leases owners nodes starting; after `_NOW`. Counts the live
# nodes still in their start(), forgetting dead ones.
_COUNT = (
    _REQUEUE_EXPIRED
    + """
local starting = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[8])) do
  local alive = redis.call('ZSCORE', KEYS[7], node)
  if alive and tonumber(alive) > now then
    starting = starting + 1
  else
    redis.call('SREM', KEYS[8], node)
  end
end
local pending = redis.call('ZCARD', KEYS[2])
local leased = redis.call('ZCARD', KEYS[5])
"""
)

# KEYS: as _COUNT. ARGV: run. Returns {pending, leased, nodes_starting, done}.
_STATUS = (
    _NOW
    + _SAME_RUN
    + _COUNT
    + "return {pending, leased, starting, redis.call('HEXISTS', KEYS[1], 'done')}"
)

# KEYS: as _COUNT. ARGV: run. Marks the run finished if, at this instant, no request is
# pending or leased and no node is starting (so the next crawl of the job starts fresh).
# Returns 1 if the run is (now) done, 0 if work appeared since the caller last looked.
_DONE = (
    _NOW
    + _SAME_RUN
    + _COUNT
    + """
if pending + leased + starting > 0 then return 0 end
redis.call('HSETNX', KEYS[1], 'done', now)
return 1
"""
)


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

    def __init__(self, client: redis.Redis, job: str, node: str, lease_seconds: float):
        self.client = client
        self.job = job
        self.node = node
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.keys = {name: f"cluster:{{{job}}}:{name}" for name in KEYS}
        self.run = ""
        self._scripts = {
            name: client.register_script(source)
            for name, source in {
                "open": _OPEN,
                "push": _PUSH,
                "see": _SEE,
                "claim": _CLAIM,
                "renew": _RENEW,
                "ack": _ACK,
                "release": _RELEASE,
                "status": _STATUS,
                "done": _DONE,
            }.items()
        }

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
        run = self._scripts["open"](keys=self._k(*KEYS), args=[self.node, token, self.lease_ms])
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
