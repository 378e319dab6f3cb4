"""The base of every sandbox site: its knobs, its data, its ground truth and control API.

A site module in `sandbox/sites/` defines `class Site(BaseSite)` with a `name`, `routes()`
and `truth()`. Control endpoints under `/_sandbox/` are never slowed down nor faulted:
  GET  /_sandbox/truth   what a perfect crawl would collect (JSON)
  GET  /_sandbox/stats   requests served and faults injected
  GET  /_sandbox/knobs   the knobs in force; POST a JSON object to change them live
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from aiohttp import web

from sandbox.knobs import Knobs

SITE_KEY = web.AppKey("site", object)


class BaseSite:
    name = "base"
    default_size = 10

    def __init__(self, knobs: Knobs):
        self.knobs = knobs
        self.stats: Counter[str] = Counter()
        self.fault_rng = random.Random(knobs.seed * 7919 + 1)
        self.url = ""  # set by the server once bound: the site root, no trailing slash
        self.setup()

    # -- for subclasses ---------------------------------------------------------------
    def setup(self) -> None:
        """Build the site's data from its knobs (seed, size, options)."""

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def truth(self) -> Any:
        return {}

    def exempt(self, request: web.Request) -> bool:
        """True for requests the shared faults must never touch (latency still applies)."""
        return False

    def on_knobs_changed(self) -> None:
        """Called after the knobs change at run time."""

    def demo(self) -> dict[str, Any] | None:
        """How `make demo` crawls this site once it is listening: a dict with `spider` and
        optionally `args`, `settings`, `env` (see sandbox.crawl.run_crawl), and `check`, a
        callable(CrawlResult) -> str summing the result up in one line. None: no demo."""
        return None

    # -- shared -----------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.knobs.size or self.default_size

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] += n

    def app(self) -> web.Application:
        from sandbox.faults import faults_middleware

        app = web.Application(middlewares=[faults_middleware], client_max_size=8 * 1024**2)
        app[SITE_KEY] = self
        app.add_routes(
            [
                web.get("/_sandbox/truth", self._truth),
                web.get("/_sandbox/stats", self._stats),
                web.get("/_sandbox/knobs", self._knobs),
                web.post("/_sandbox/knobs", self._set_knobs),
            ]
        )
        app.add_routes(self.routes())
        return app

    async def _truth(self, request: web.Request) -> web.Response:
        return web.json_response(self.truth())

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.stats))

    async def _knobs(self, request: web.Request) -> web.Response:
        return web.json_response(self.knobs.as_dict())

    async def _set_knobs(self, request: web.Request) -> web.Response:
        self.knobs.update(**(await request.json()))
        self.on_knobs_changed()
        return web.json_response(self.knobs.as_dict())
