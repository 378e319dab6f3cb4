"""Which units a cluster run has already reported, across its nodes.

Nodes walking the same listing, and a request coming back to another node after its node
died, would report one unit twice (vehicles: a PDF found saved in the shared folder is
`skipped` on one node, `downloaded` on the node that fetched it). Each unit is claimed by
the first request that reports it (a hash: unit -> owner) and marked written once its
line is out; until then the same request may report it again (it came back because its
node died before the line was written), any other request stays silent. Keyed by the run,
so the next crawl of the job reports everything afresh; when Redis does not answer the
unit is reported (twice at worst, never lost).
"""

from __future__ import annotations

import logging

from crawlers import redis_scripts
from crawlers.cluster import connection
from crawlers.cluster.keys import STATE_TTL_SECONDS
from crawlers.cluster.scheduler import run_key

logger = logging.getLogger(__name__)

WRITTEN = "\x00written"  # not a request's token


class ReportedInRun:
    """The run's hash of reported units in Redis."""

    def __init__(self, crawler, kind: str):
        self.crawler = crawler
        self.kind = kind
        self.client = connection.client(crawler.settings)
        self._claim = redis_scripts.script(self.client, "reported_claim")
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:  # at first use, once the run is open
            self._key = run_key(self.crawler, self.kind, "reported")
        return self._key

    def claim(self, member: str, owner: str) -> bool:
        """Whether `owner` may report `member`: nobody had, or the same owner did and its
        line was not written (its request came back after its node died)."""
        try:
            return bool(self._claim(keys=[self.key], args=[member, owner, STATE_TTL_SECONDS]))
        except connection.UNAVAILABLE as exc:
            self._unavailable(member, exc)
            return True

    def written(self, member: str) -> None:
        """`member`'s line is out: no request reports it again in this run."""
        try:
            self.client.hset(self.key, member, WRITTEN)
        except connection.UNAVAILABLE as exc:
            self._unavailable(member, exc)

    def _unavailable(self, member: str, exc: Exception) -> None:
        self.crawler.stats.inc_value(f"{self.kind}/reported_set_unavailable")
        logger.warning("%s: %s reported unchecked (Redis: %s)", self.kind, member, exc)


def reported_in_run(crawler, kind: str) -> ReportedInRun | None:
    """The run's record on a cluster node (REDIS_URL set); None on a single node."""
    return ReportedInRun(crawler, kind) if crawler.settings.get("REDIS_URL") else None
