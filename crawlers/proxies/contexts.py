"""Browser contexts per proxy, kept within PLAYWRIGHT_MAX_CONTEXTS.

scrapy-playwright ignores `meta["proxy"]`; a proxy is a property of a Playwright context.
So a browser request is sent in the context `proxy-<id>`, created with that proxy's
`playwright_context_kwargs`. scrapy-playwright never closes a context by itself and waits,
holding its context-creation lock, for a free slot when PLAYWRIGHT_MAX_CONTEXTS are open:
one context too many freezes every browser request. So no request is let through to a
context that does not exist yet unless there is room, made if needed by closing the
proxy context unused for the longest time with no page open and nothing in flight.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from crawlers.internals.playwright import open_contexts
from crawlers.proxies.proxylist import Proxy

CONTEXT_PREFIX = "proxy-"


def running_engine(crawler):
    """The crawler's engine, or None before the crawl starts (Scrapy 2.19 raises then)."""
    try:
        return crawler.engine
    except RuntimeError:
        return None


def context_name(proxy: Proxy) -> str:
    return CONTEXT_PREFIX + proxy.id


class ProxyContexts:
    def __init__(self, crawler, max_contexts: int | None):
        self.crawler = crawler
        self.max_contexts = max_contexts
        # Choosing a context and counting it in flight happen under this lock, so two
        # requests cannot both take the last free slot.
        self.lock = asyncio.Lock()
        self._inflight: dict[tuple[str, str], int] = {}
        self._last_used: dict[tuple[str, str], float] = {}
        self._sticky: dict[tuple[str, str], str] = {}
        self._sticky_seen: set[tuple[str, str]] = set()

    @staticmethod
    def key(request) -> tuple[str, str]:
        return (urlsplit(request.url).scheme, request.meta.get("playwright_context", "default"))

    def open_contexts(self, scheme: str) -> dict:
        """scrapy-playwright's open contexts for a scheme (a handler and browser each)."""
        return open_contexts(running_engine(self.crawler), scheme)

    def _busy(self, scheme: str) -> set[str]:
        return {name for (s, name), n in self._inflight.items() if s == scheme and n > 0}

    def taken(self, scheme: str) -> set[str]:
        return set(self.open_contexts(scheme)) | self._busy(scheme)

    def in_flight(self, scheme: str, name: str) -> int:
        return self._inflight.get((scheme, name), 0)

    async def room_for(self, scheme: str, name: str) -> bool:
        """True when a request may use context `name` now: it is open or on its way, or
        there is room for it (an idle proxy context is closed to make room)."""
        taken = self.taken(scheme)
        if self.max_contexts is None or name in taken or len(taken) < self.max_contexts:
            return True
        contexts = self.open_contexts(scheme)
        busy = self._busy(scheme)
        idle = [
            other
            for other, wrapper in contexts.items()
            if other.startswith(CONTEXT_PREFIX) and other not in busy and not wrapper.context.pages
        ]
        if not idle:
            return False
        victim = min(idle, key=lambda other: self._last_used.get((scheme, other), 0.0))
        self.crawler.stats.inc_value("proxies/contexts_closed")
        # Playwright runs scrapy-playwright's close callback (which frees the slot and
        # forgets the name) before close() returns.
        await contexts[victim].context.close()
        return True

    def bind(self, request, proxy: Proxy, own_context: bool) -> None:
        """Send the request through `proxy`: in its own context, or (a context the spider
        named) with the proxy given to the context when it is created."""
        meta = request.meta
        if own_context:
            meta["playwright_context"] = context_name(proxy)
            meta["_proxy_context"] = True
        kwargs = dict(meta.get("playwright_context_kwargs") or {})
        kwargs["proxy"] = proxy.playwright()
        meta["playwright_context_kwargs"] = kwargs
        key = self.key(request)
        self._inflight[key] = self._inflight.get(key, 0) + 1
        self._last_used[key] = time.monotonic()
        meta["_proxy_inflight"] = key

    def release(self, request) -> None:
        key = request.meta.pop("_proxy_inflight", None)
        if key is not None:
            self._inflight[key] = max(0, self._inflight.get(key, 0) - 1)

    # -- contexts the spider named (login sessions) -------------------------------------
    def sticky_proxy(self, request) -> str | None:
        """The proxy id a named context is bound to, None if it has none (yet, or any more:
        once it was seen open and is now closed, its successor may get another proxy)."""
        key = self.key(request)
        if key[1] in self.open_contexts(key[0]):
            self._sticky_seen.add(key)
        elif key in self._sticky_seen and not self.in_flight(*key):
            self._sticky_seen.discard(key)
            self._sticky.pop(key, None)
        return self._sticky.get(key)

    def stick(self, request, proxy_id: str) -> None:
        self._sticky[self.key(request)] = proxy_id
