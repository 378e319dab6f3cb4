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

A claim is a reservation until its page is acked in the shared queue (its rows committed).
With a target, the claims of a node that died would hold places no row ever fills, and
the other nodes would stop short of N. So each claim is also recorded in a second hash
(page -> the queue id of its request, the node that claimed, the addresses), and
`settle()` sorts those records: acked (done: forgotten); leased by a live node (pending,
unless this node made the claim and still holds the page: it commits its own rows as it
closes); or neither (the lease expired or was let go uncommitted: the addresses are
released, the count drops below the target, and whoever crawls the page again claims them
again). A node stops on the target only when the addresses claimed, less those pending,
reach it; otherwise it waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scrapy.http import Request

from crawlers import redis_scripts
from crawlers.cluster import connection
from crawlers.cluster.keys import STATE_TTL_SECONDS
from crawlers.cluster.scheduler import Scheduler, node_scheduler, run_key


@dataclass(frozen=True)
class Standing:
    """The crawl's addresses against its target, as of one look."""

    claimed: int
    # claimed by pages in flight that this node did not claim them for: other live nodes'
    # pages (not committed yet), or pages of a dead node this one crawls again
    pending: int = 0
    released: int = 0  # claims of pages whose node died, given back by this look

    @property
    def settled(self) -> int:
        return self.claimed - self.pending


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
        self.script = redis_scripts.script(self.client, "emails_claim")
        self.settle_script = redis_scripts.script(self.client, "emails_settle")
        self._keys: list[str] | None = None
        # The node's cluster scheduler, found with the keys.
        self.scheduler: Scheduler | None = None
        self.count = 0

    @property
    def keys(self) -> list[str]:
        """The run's hash and claims hash (looked up at the first use, once the run is
        open), then the queue's requests, leases and owners."""
        if self._keys is None:
            self.scheduler = node_scheduler(self.crawler)
            keys = [run_key(self.crawler, "emails", n) for n in ("addresses", "claims")]
            if self.scheduler is not None and self.scheduler.queue is not None:
                keys += [self.scheduler.queue.keys[n] for n in ("requests", "leases", "owners")]
            self._keys = keys
        return self._keys

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
        keys = self.keys
        # Only a target needs the claims sorted later; a request not leased from the shared
        # queue has no lease to watch, its claim is final at once.
        scheduler = self.scheduler if self.target and len(keys) > 2 else None
        lease = scheduler.lease_of(request) if scheduler is not None else ""
        node = scheduler.node if scheduler is not None and lease else ""
        args = [
            self.target,
            self.page(request),
            lease,
            node,
            STATE_TTL_SECONDS,
            *dict.fromkeys(addresses),
        ]
        count, new = self.script(keys=keys[:2], args=args)
        self.count = int(count)
        return [a.decode() if isinstance(a, bytes) else a for a in new]

    @property
    def full(self) -> bool:
        return bool(self.target) and self.count >= self.target

    def settle(self) -> Standing:
        """Sort the recorded claims (see the module's doc); one round trip."""
        keys = self.keys
        if len(keys) < 5 or self.scheduler is None:  # both, or neither (see keys)
            return Standing(self.count)
        claimed, waiting, released = self.settle_script(keys=keys, args=[self.scheduler.node])
        self.count = int(claimed)
        return Standing(self.count, int(waiting), int(released))


def address_book(crawler, target: int = 0) -> LocalAddresses | RedisAddresses:
    if crawler.settings.get("REDIS_URL"):
        return RedisAddresses(crawler, target)
    return LocalAddresses(target)
