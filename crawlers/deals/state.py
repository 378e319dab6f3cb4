"""Where the deals spider keeps each origin's ranking state: which regions are in, the deals
they showed, the expansions planned.

An origin can be ranked only once all its regions are in, and its explore pages may be
handled anywhere: on one process (MemoryState, kept in `spider.state` so that a JOBDIR
crawl resumes it) or on the nodes of a cluster (RedisState, REDIS_URL set). Both answer
the same two questions, and the spider ranks what they return with the same function, so
the chosen deals do not depend on where or in which order the pages were handled.

- `record(origin, region, deals, outcome)`: idempotent per origin and region (a page
  redelivered after its node died is not counted twice). It returns whether this call
  recorded the region first and, once the origin is complete, every region's deals. Only
  one call sees the origin complete as `first`: the node that recorded the last region
  ranks the origin and queues its expansions. A redelivered page of a complete origin sees
  the deals again (its node may have died before it queued them); its expansions are then
  the same requests, which the shared fingerprints filter out if they were queued.
- `plan(origin, n)`: the expansions planned in the whole job so far, `n` counted once per
  origin however often it is called, so every node can report the job's total.

Redis keys share the cluster's hash tag `{<job>}` and carry the cluster's run token, so
a new run of the same job starts fresh; they expire after DEALS_STATE_TTL seconds.
  deals:{job}:<run>:args          the origins, regions and top every node must agree on
  deals:{job}:<run>:in:<origin>     hash: region id -> outcome ("ok" or "failed:<reason>")
  deals:{job}:<run>:found:<origin>  hash: region id -> its deals (JSON)
  deals:{job}:<run>:planned        hash: origin -> expansions planned
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from crawlers import redis_scripts
from crawlers.cluster import connection, keys
from crawlers.cluster.scheduler import run_token
from crawlers.jobs import job_id

Deal = dict[str, Any]


@dataclass(frozen=True)
class Recorded:
    first: bool  # False: this origin and region were recorded before
    regions: dict[str, list[Deal]] | None  # every region's deals, once the origin is complete


class DealsState(Protocol):
    def record(self, origin: str, region: str, deals: list[Deal], outcome: str) -> Recorded: ...

    def plan(self, origin: str, n: int) -> int: ...


class MemoryState:
    """One process. `store` is `spider.state` under JOBDIR (pickled between runs)."""

    def __init__(self, regions: int, store: dict[str, Any] | None = None):
        self.regions = regions
        store = {} if store is None else store
        self.outcomes: dict[str, dict[str, str]] = store.setdefault("deals_in", {})
        self.found: dict[str, dict[str, list[Deal]]] = store.setdefault("deals_found", {})
        self.planned: dict[str, int] = store.setdefault("deals_planned", {})

    def record(self, origin: str, region: str, deals: list[Deal], outcome: str) -> Recorded:
        seen = self.outcomes.setdefault(origin, {})
        first = region not in seen
        if first:
            seen[region] = outcome
            self.found.setdefault(origin, {})[region] = deals
        if len(seen) < self.regions:
            return Recorded(first, None)
        return Recorded(first, dict(self.found.get(origin, {})))

    def plan(self, origin: str, n: int) -> int:
        self.planned.setdefault(origin, n)
        return sum(self.planned.values())


class ArgsMismatch(Exception):
    """Another node of the same run crawls other origins, regions or top."""


class RedisState:
    """The nodes of one job's run share it. Each call is one atomic script round trip."""

    def __init__(self, client, job: str, run: str, regions: int, ttl: int):
        self.client = client
        self.regions = regions
        self.ttl = max(1, int(ttl))
        self.prefix = keys.deals_prefix(job, run)
        self._record = redis_scripts.script(client, "deals_record")
        self._plan = redis_scripts.script(client, "deals_plan")

    def agree(self, args: dict[str, Any]) -> None:
        """Raise ArgsMismatch unless `args` are those of the run's first node: ranking needs
        every node to count the same regions per origin."""
        key = self.prefix + "args"
        mine = json.dumps(args, sort_keys=True)
        self.client.set(key, mine, nx=True, ex=self.ttl)
        theirs = self.client.get(key)
        theirs = theirs.decode() if isinstance(theirs, bytes) else theirs
        if theirs is not None and theirs != mine:
            raise ArgsMismatch(f"this node crawls {mine}, the job's other nodes {theirs}")

    def record(self, origin: str, region: str, deals: list[Deal], outcome: str) -> Recorded:
        keys = [f"{self.prefix}in:{origin}", f"{self.prefix}found:{origin}"]
        payload = json.dumps(deals, ensure_ascii=True, sort_keys=True)
        reply = self._record(keys=keys, args=[region, outcome, payload, self.regions, self.ttl])
        first = int(reply[0]) == 1
        if len(reply) == 1:
            return Recorded(first, None)
        pairs = reply[1:]
        found = {_text(pairs[i]): json.loads(pairs[i + 1]) for i in range(0, len(pairs) - 1, 2)}
        return Recorded(first, found)

    def plan(self, origin: str, n: int) -> int:
        return int(self._plan(keys=[self.prefix + "planned"], args=[origin, n, self.ttl]))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def open_state(crawler, store: dict[str, Any], regions: int, args: dict[str, Any]) -> DealsState:
    """RedisState for a cluster node (REDIS_URL set), MemoryState otherwise. Called once the
    scheduler has joined the job's run (from the spider's start())."""
    settings = crawler.settings
    if not settings.get("REDIS_URL"):
        return MemoryState(regions, store)
    client = connection.client(settings)
    job = job_id(crawler)
    # The run token of the cluster's queue: state of an earlier run of the same job must
    # not be mistaken for this one's.
    run = run_token(crawler)
    state = RedisState(client, job, run or "0", regions, settings.getint("DEALS_STATE_TTL"))
    state.agree(args)
    return state
