"""Distinct addresses across a whole crawl, and across nodes, with the target enforced.

The `emails` spider asks `claim(addresses, request)` once per page, before it yields
anything, and yields items only for what comes back: an item costs about 75 us in Scrapy,
a duplicate that reaches a pipeline costs that and a drop, and a Redis round trip per item
would cost far more than one per page.

`claim` returns the addresses never claimed before in this crawl, in order, and never more
than what is left of the target, so a crawl with `target=N` yields exactly N addresses
however many nodes share it.

- One process: a Python set (exact; a Bloom filter would silently lose addresses).
- REDIS_URL set: one Lua script per page claims in the job's hash (address -> the page
  that claimed it) and counts in the same atomic step, so two pages never both claim an
  address and the target is never passed. A claim belongs to its page: the same page
  (the request's `page` token, which the spider sets and the shared queue, retries and
  redirects keep) claiming again gets its addresses back as new. That is what makes
  a node killed before its rows were committed lose nothing: its pages stay leased until
  the commit (crawlers/cluster/scheduler.py, AckHold), come back to another node, and that
  node yields their addresses again; the write is idempotent (ON CONFLICT DO NOTHING).
  The hash belongs to the cluster's current run (its token is in the keys), so the next
  run of the job starts with an empty one.
"""

from __future__ import annotations

from collections.abc import Sequence

from scrapy.http import Request

from crawlers.cluster import connection
from crawlers.cluster.scheduler import run_key

# KEYS[1]: the run's hash. ARGV: target (0: none), page, addresses (distinct).
# Returns {count, addresses new to this page}.
_CLAIM = """
local target = tonumber(ARGV[1])
local page = ARGV[2]
local count = redis.call('HLEN', KEYS[1])
local new = {}
for i = 3, #ARGV do
  local owner = redis.call('HGET', KEYS[1], ARGV[i])
  if owner == page then
    new[#new + 1] = ARGV[i]
  elseif (not owner) and (target == 0 or count < target) then
    redis.call('HSET', KEYS[1], ARGV[i], page)
    count = count + 1
    new[#new + 1] = ARGV[i]
  end
end
-- A finished run's hash is not needed for long: a week, renewed by every claim.
redis.call('EXPIRE', KEYS[1], 604800)
return {count, new}
"""


class LocalAddresses:
    def __init__(self, target: int = 0):
        self.target = target
        self.seen: set[str] = set()

    def claim(self, addresses: Sequence[str], request: Request | None = None) -> list[str]:
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
    """The job's hash in Redis; `count` is the whole job's, as of this node's last claim."""

    def __init__(self, crawler, target: int = 0):
        self.target = target
        self.crawler = crawler
        self.client = connection.client(crawler.settings)
        self.script = self.client.register_script(_CLAIM)
        self._key: str | None = None
        self.count = 0

    @property
    def key(self) -> str:
        if self._key is None:  # at the first claim, once the run is open
            self._key = run_key(self.crawler, "emails", "addresses")
        return self._key

    def page(self, request: Request) -> str:
        # Without a token (a request queued by an older version of the spider): the URL's
        # fingerprint, which a second visit of the page shares (one duplicate item, which
        # ON CONFLICT drops in the table).
        token = request.meta.get("page")
        return token or self.crawler.request_fingerprinter.fingerprint(request).hex()[:16]

    def claim(self, addresses: Sequence[str], request: Request) -> list[str]:
        """The addresses new to the crawl, or already claimed by this same page."""
        if not addresses:
            return []
        args = [self.target, self.page(request), *dict.fromkeys(addresses)]
        count, new = self.script(keys=[self.key], args=args)
        self.count = int(count)
        return [a.decode() if isinstance(a, bytes) else a for a in new]

    @property
    def full(self) -> bool:
        return bool(self.target) and self.count >= self.target


def address_book(crawler, target: int = 0) -> LocalAddresses | RedisAddresses:
    if crawler.settings.get("REDIS_URL"):
        return RedisAddresses(crawler, target)
    return LocalAddresses(target)
