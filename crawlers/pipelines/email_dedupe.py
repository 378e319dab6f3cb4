"""Distinct addresses across a whole crawl, and across nodes, with the target enforced.

The `emails` spider asks `claim(addresses)` once per page, before it yields anything, and
yields items only for what comes back: an item costs about 75 us in Scrapy, a duplicate
that reaches a pipeline costs that and a drop, and a Redis round trip per item would cost
far more than one per page.

`claim` returns the addresses never claimed before in this crawl, in order, and never more
than what is left of the target, so a crawl with `target=N` yields exactly N addresses
however many nodes share it.

- One process: a Python set (exact; a Bloom filter would silently lose addresses).
- REDIS_URL set: one Lua script per page adds to the job's set and counts in the same
  atomic step, so two nodes never both claim an address and the target is never passed.
  The set belongs to the cluster's current run (crawlers/cluster keeps its token in
  `cluster:{<job>}:meta`), so the next run of the job starts with an empty set.
"""

from __future__ import annotations

from collections.abc import Sequence

from crawlers.cluster import connection
from crawlers.jobs import job_id

_CLAIM = """
local target = tonumber(ARGV[1])
local count = redis.call('SCARD', KEYS[1])
local new = {}
for i = 2, #ARGV do
  if target > 0 and count >= target then break end
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    count = count + 1
    new[#new + 1] = ARGV[i]
  end
end
-- A finished run's set is not needed for long: a week, renewed by every claim.
redis.call('EXPIRE', KEYS[1], 604800)
return {count, new}
"""


class LocalAddresses:
    def __init__(self, target: int = 0):
        self.target = target
        self.seen: set[str] = set()

    def claim(self, addresses: Sequence[str]) -> list[str]:
        seen = self.seen
        new = [a for a in addresses if a not in seen]
        if self.target:
            new = new[: max(0, self.target - len(seen))]
        seen.update(new)
        return new

    @property
    def count(self) -> int:
        return len(self.seen)

    @property
    def full(self) -> bool:
        return bool(self.target) and len(self.seen) >= self.target


class RedisAddresses:
    """The job's set in Redis; `count` is the whole job's, as of this node's last claim."""

    def __init__(self, crawler, target: int = 0):
        self.target = target
        self.client = connection.client(crawler.settings)
        self.job = job_id(crawler)
        self.script = self.client.register_script(_CLAIM)
        self._key: str | None = None
        self.count = 0

    @property
    def key(self) -> str:
        if self._key is None:
            # Looked up at the first claim: the cluster scheduler opens the run after the
            # spider is built.
            run = self.client.hget(f"cluster:{{{self.job}}}:meta", "run")
            run = run.decode() if isinstance(run, bytes) else (run or "norun")
            self._key = f"emails:{{{self.job}}}:addresses:{run}"
        return self._key

    def claim(self, addresses: Sequence[str]) -> list[str]:
        if not addresses:
            return []
        count, new = self.script(keys=[self.key], args=[self.target, *addresses])
        self.count = int(count)
        return [a.decode() if isinstance(a, bytes) else a for a in new]

    @property
    def full(self) -> bool:
        return bool(self.target) and self.count >= self.target


def address_book(crawler, target: int = 0) -> LocalAddresses | RedisAddresses:
    if crawler.settings.get("REDIS_URL"):
        return RedisAddresses(crawler, target)
    return LocalAddresses(target)
