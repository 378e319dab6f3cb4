"""Proxy health: which proxies are in use, which were banned lately, which rest and until when.

The rule (same in both stores):
- a ban adds one failure; PROXY_BAN_THRESHOLD failures in a row send the proxy to rest;
- a rest lasts PROXY_REST_SECONDS, doubled for each rest since the proxy last answered
  well, up to PROXY_REST_MAX_SECONDS;
- back from a rest the proxy is on probation: its first ban sends it back to rest at once;
- a good answer clears everything;
- answers that arrive while the proxy rests (requests sent before the rest began) are
  ignored, so they neither extend nor cut the rest.

`LocalHealth` keeps this in the process. `RedisHealth` keeps it in one Redis hash per
crawl job, so every node of a job sees the same bans and rests: a ban is between a proxy
and the site a job crawls, so another job (another site) keeps its own view of the same
proxy. Changes are atomic Lua scripts (crawlers/redis_scripts/proxy_*.lua); each node
re-reads the hash every few seconds.

Both also know whether a page has got through any proxy yet (`served`): in Redis per run
of the job (a field `served <run>` of the same hash, never a proxy id), so a node joining
a run that others have been crawling knows the list works, while the next run of the job
has to find out again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from crawlers import redis_scripts
from crawlers.cluster.keys import STATE_TTL_SECONDS

logger = logging.getLogger(__name__)

ALIVE, BANNED, RESTING = "alive", "banned", "resting"


@dataclass
class ProxyState:
    failures: int = 0  # bans since the last good answer, while not resting
    rests: int = 0  # rests since the last good answer (each one twice as long)
    until: float = 0.0  # resting until this time (epoch seconds)

    def status(self, now: float) -> str:
        if self.until > now:
            return RESTING
        if self.failures or self.rests:
            return BANNED
        return ALIVE


def rest_seconds(rests: int, base: float, cap: float) -> float:
    """The length of the (rests+1)-th rest in a row: base, 2*base, 4*base, ... up to cap."""
    return min(cap, base * 2 ** min(rests, 40))


class LocalHealth:
    where = "kept in this process"

    def __init__(
        self,
        ids: list[str],
        threshold: int = 10,
        rest_base: float = 3600.0,
        rest_max: float = 4 * 3600.0,
        clock=time.time,
    ):
        self.ids = list(ids)
        self.threshold = max(1, threshold)
        self.rest_base = rest_base
        self.rest_max = max(rest_max, rest_base)
        self.clock = clock
        self.states: dict[str, ProxyState] = {pid: ProxyState() for pid in self.ids}
        self.served = False  # a page got through one of the proxies, this run

    # -- changes ------------------------------------------------------------------------
    def ban(self, pid: str) -> float | None:
        """Count a ban; the length of the rest if this ban started one."""
        state = self.states[pid]
        now = self.clock()
        if state.until > now:
            return None
        state.failures += 1
        if state.failures < self.threshold and not state.rests:
            return None
        rest = rest_seconds(state.rests, self.rest_base, self.rest_max)
        state.until, state.rests, state.failures = now + rest, state.rests + 1, 0
        return rest

    def good(self, pid: str) -> None:
        state = self.states[pid]
        if state.until <= self.clock():
            self.states[pid] = ProxyState()

    def page_served(self) -> None:
        self.served = True

    def join_run(self, run: str) -> None:
        """The cluster run this node crawls ('' outside a cluster): one process is its
        own run here."""

    def refresh(self) -> None:
        """Pick up changes made elsewhere (nothing to do in one process)."""

    # -- views --------------------------------------------------------------------------
    def status(self, pid: str) -> str:
        return self.states[pid].status(self.clock())

    def usable(self) -> list[str]:
        now = self.clock()
        return [pid for pid in self.ids if self.states[pid].until <= now]

    def next_return(self) -> float:
        """Seconds until the first resting proxy comes back (0 if none rests)."""
        now = self.clock()
        resting = [self.states[pid].until for pid in self.ids if self.states[pid].until > now]
        return min(resting, default=now) - now

    def counts(self) -> dict[str, int]:
        now = self.clock()
        result = {ALIVE: 0, BANNED: 0, RESTING: 0}
        for pid in self.ids:
            result[self.states[pid].status(now)] += 1
        return result


class RedisHealth(LocalHealth):
    where = "shared through Redis"
    # Keys of finished jobs go away by themselves a while after their last change.
    key_ttl = STATE_TTL_SECONDS

    def __init__(self, ids: list[str], client, key: str, **kwargs):
        super().__init__(ids, **kwargs)
        self.client = client
        self.key = key
        self._ban = redis_scripts.script(client, "proxy_ban")
        self._good = redis_scripts.script(client, "proxy_good")
        self._redis_down = False
        self._served_field = ""  # set once the run is known (join_run)
        self._served_shared = False

    def join_run(self, run: str) -> None:
        # Without a run token (not a cluster node) a flag would outlive the run: keep it
        # in the process then.
        self._served_field = f"served {run}" if run else ""

    def page_served(self) -> None:
        super().page_served()
        if self._served_shared or not self._served_field:
            return
        try:
            pipe = self.client.pipeline()
            pipe.hset(self.key, self._served_field, 1)
            pipe.expire(self.key, self.key_ttl)
            pipe.execute()
        except Exception as exc:
            self._lost(exc)
            return
        self._back()
        self._served_shared = True

    def ban(self, pid: str) -> float | None:
        args = [pid, self.clock(), self.threshold, self.rest_base, self.rest_max, self.key_ttl]
        try:
            failures, rests, until, rest = self._ban(keys=[self.key], args=args)
        except Exception as exc:  # redis.RedisError and connection errors alike
            self._lost(exc)
            return super().ban(pid)
        self._back()
        self.states[pid] = ProxyState(int(failures), int(rests), float(until))
        return float(rest) or None

    def good(self, pid: str) -> None:
        # Most answers are good: Redis is written only when this node saw a bad mark.
        if self.states[pid] == ProxyState():
            return
        super().good(pid)
        try:
            self._good(keys=[self.key], args=[pid, self.clock()])
        except Exception as exc:
            self._lost(exc)
            return
        self._back()

    def refresh(self) -> None:
        try:
            raw = self.client.hgetall(self.key)
        except Exception as exc:
            self._lost(exc)
            return
        self._back()
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        if self._served_field and self._served_field in fields:
            self.served = True
        for pid in self.ids:
            value = fields.get(pid)
            if value is None:
                self.states[pid] = ProxyState()
                continue
            failures, rests, until = value.split()
            self.states[pid] = ProxyState(int(failures), int(rests), float(until))

    def _lost(self, exc: Exception) -> None:
        if not self._redis_down:
            self._redis_down = True
            logger.warning(
                "proxy health: Redis unreachable (%s); this node goes on with its own view",
                type(exc).__name__,
            )

    def _back(self) -> None:
        if self._redis_down:
            self._redis_down = False
            logger.info("proxy health: Redis reachable again; health is shared again")
