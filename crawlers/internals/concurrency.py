"""Scrapy 2.19.0 downloader internals for a total concurrency that changes during a crawl
(see crawlers/internals/__init__.py).

Scrapy reads CONCURRENT_REQUESTS once, into `Downloader.total_concurrency`, and the engine
asks `Downloader.needs_backout()` (total_concurrency against the requests in `active`)
before it takes each request from the scheduler. Changing the attribute is the only way to
change the limit of a running crawl; no public API does it.
"""

from __future__ import annotations


def total_concurrency(engine) -> int:
    return engine.downloader.total_concurrency


def set_total_concurrency(engine, value: int) -> None:
    """The limit the engine backs out at from now on. Requests already above a lowered limit
    finish; a raised one is used at once (the engine is woken, not left to its heartbeat)."""
    downloader = engine.downloader
    raised = value > downloader.total_concurrency
    downloader.total_concurrency = value
    slot = getattr(engine, "_slot", None)
    if raised and slot is not None:
        slot.nextcall.schedule()


def transferring(engine) -> int:
    """Requests on the wire now. `active` also holds requests waiting in a site's slot
    (CONCURRENT_REQUESTS_PER_DOMAIN), which are not load on anything yet."""
    return sum(len(slot.transferring) for slot in engine.downloader.slots.values())
