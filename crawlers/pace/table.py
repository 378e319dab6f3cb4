"""The shared pace of a site, as a table every node asks: the rule, and its in-memory form.

A node asks with what it has in flight, what it wants in flight (in flight + queued), and
what it saw since its last ask (good answers, 429s, a Retry-After, latencies); it gets back
how many requests it may have in flight (its slots) and when it may send its next requests
(tokens on a timeline shared by every node, when a rate is set).

The rule (the same in crawlers/redis_scripts/pace_sync.lua for the table in Redis):
- the site's limit starts at the ceiling (CLUSTER_SITE_CONCURRENCY) and its rate at
  CLUSTER_SITE_RATE; a 429 halves both (once a second at most), its Retry-After holds every
  node off the site until it ends; latency twice the site's best (and 0.5 s over it) cuts
  them by a quarter, as AutoThrottle slows down for a slow site; `limit` good answers in a
  row add one to the limit and a quarter to the rate, up to the ceilings;
- a node's slots: what it wants, within what the other nodes do not hold; while another
  node gets less than its fair share (limit / nodes wanting) no node gets more than that
  share, so a node that holds more gives back as its requests end;
- a node's entry is a lease: a node that stops asking (it died) loses its slots after
  CLUSTER_SITE_LEASE_SECONDS, and they come back to the others;
- tokens: consecutive times 1/rate apart on one timeline, at most a horizon ahead and a
  fair share of it per ask, so all nodes together send at most `rate` a second.
The sum of all slots never exceeds the ceiling: a node gets slots only out of what the
others do not hold, and a node's entry counts what it has in flight even when its slots
were cut below that.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Ask:
    node: str
    in_flight: int
    want: int
    good: int = 0
    bad: int = 0
    retry_after_ms: int = 0
    latency_sum: float = 0.0
    latencies: int = 0
    tokens: int = 0


@dataclass(frozen=True)
class Limits:
    ceiling: int  # CLUSTER_SITE_CONCURRENCY (0: no shared concurrency limit)
    rate: float  # CLUSTER_SITE_RATE (0: no rate limit)
    lease_ms: int
    horizon_ms: int
    ttl_seconds: int


@dataclass(frozen=True)
class Grant:
    slots: int  # requests this node may have in flight
    limit: int  # the site's shared concurrency limit now (0: none)
    rate: float  # the site's shared rate now (0: none)
    until_ms: float  # no request before this (the table's clock)
    now_ms: float  # the table's clock when it answered
    first_ms: float  # this node's first token, then one every interval_ms
    interval_ms: float
    tokens: int
    nodes: int  # nodes that want the site now

    @classmethod
    def parse(cls, reply) -> Grant:
        slots, limit, rate, until, now, first, interval, tokens, nodes = (
            v.decode() if isinstance(v, bytes) else v for v in reply
        )
        return cls(
            int(slots),
            int(limit),
            float(rate),
            float(until),
            float(now),
            float(first),
            float(interval),
            int(tokens),
            int(nodes),
        )


def _new_state(limits: Limits) -> dict:
    return {
        "limit": float(limits.ceiling),
        "rate": float(limits.rate),
        "good": 0,
        "cut": 0.0,
        "lat": 0.0,
        "base": 0.0,
        "until": 0.0,
        "tat": 0.0,
        "nodes": {},
    }


def decide(state: dict, ask: Ask, limits: Limits, now: float) -> Grant:
    """The rule, applied to `state` (changed in place) at `now` (ms)."""
    ceiling, rate_ceiling = limits.ceiling, limits.rate
    limit = min(state["limit"], ceiling)
    rate = min(state["rate"], rate_ceiling)
    if rate <= 0:
        rate = rate_ceiling
    streak = state["good"] + ask.good
    cut, lat, base, hold = state["cut"], state["lat"], state["base"], state["until"]
    if ask.retry_after_ms > 0:
        hold = max(hold, now + ask.retry_after_ms)
    if ask.bad > 0:
        streak = 0
        if cut == 0 or now - cut >= 1000:
            limit = max(1, math.floor(limit / 2))
            rate = max(rate_ceiling / 64, rate / 2)
            cut = now
    elif ask.latencies > 0:
        sample = ask.latency_sum / ask.latencies
        lat = sample if lat == 0 else 0.8 * lat + 0.2 * sample
        base = lat if base == 0 or lat < base else base * 1.01
        if lat > 2 * base and lat > base + 0.5 and (cut == 0 or now - cut >= 1000):
            limit = max(1, limit * 0.75)
            rate = max(rate_ceiling / 64, rate * 0.75)
            cut = now
            streak = 0
    if streak >= max(1, math.floor(limit)) and now >= hold:
        streak = 0
        limit = min(ceiling, limit + 1)
        rate = min(rate_ceiling, rate * 1.25)

    nodes = state["nodes"]
    others, wanting = 0, []
    for name, (held, expiry, wants) in list(nodes.items()):
        if expiry <= now:
            del nodes[name]
        elif name != ask.node:
            others += held
            if wants > 0:
                wanting.append((held, wants))
    active = len(wanting) + (1 if ask.want > 0 else 0)

    slots = 0
    whole = math.floor(limit)
    if ask.want > 0 and now >= hold:
        if ceiling <= 0:
            slots = ask.want
        else:
            fair = max(1, whole // max(1, active))
            slots = min(ask.want, whole - others)
            if any(wants > held and held < fair for held, wants in wanting):
                slots = min(slots, fair)
            slots = max(0, slots)
    held = max(ask.in_flight, slots)
    if held > 0 or ask.want > 0:
        nodes[ask.node] = (held, now + limits.lease_ms, ask.want)
    else:
        nodes.pop(ask.node, None)

    first, interval, granted = 0.0, 0.0, 0
    if rate > 0 and ask.tokens > 0 and slots > 0:
        interval = 1000 / rate
        first = max(state["tat"], now)
        share = max(1, math.ceil(rate * limits.horizon_ms / 1000 / max(1, active)))
        room = math.floor((now + limits.horizon_ms - first) / interval) + 1
        granted = max(0, min(ask.tokens, share, room))
        if granted > 0:
            state["tat"] = round(first + granted * interval, 3)

    # Rounded as the script stores them, so both tables go on alike.
    state.update(
        limit=round(limit, 4),
        rate=round(rate, 4),
        good=streak,
        cut=cut,
        lat=round(lat, 4),
        base=round(base, 4),
        until=hold,
    )
    return Grant(slots, whole, rate, hold, now, first, interval, granted, active)


class LocalTable:
    """The table of a node without Redis: the same rule, the node alone at the table."""

    def __init__(self, limits: Limits, clock=time.monotonic):
        self.limits = limits
        self.clock = clock
        self.sites: dict[str, dict] = {}

    def ask(self, site: str, ask: Ask, now_ms: float | None = None) -> Grant:
        state = self.sites.setdefault(site, _new_state(self.limits))
        now = float(math.floor(self.clock() * 1000)) if now_ms is None else now_ms
        return decide(state, ask, self.limits, now)
