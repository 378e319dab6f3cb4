"""A generic paged catalog, for proving a crawl does every unit exactly once (cluster tests).

`size` items (default 120) over listing pages of `per_page` (option, default 10):
  /page/<n>   links to its items, to the first, previous, next and last page
  /item/<id>  the item (name, price), linking to `related` other items (option, default 2)
Pages and items are reachable along many paths, so a crawler without a shared duplicate
filter fetches them more than once. `/_sandbox/stats` counts each fetch (`page:<n>`,
`item:<id>`), the ground truth lists every item.

Option `record` (for the shared pace's tests): every request is recorded from its arrival,
before the shared latency, to its answer: `/_sandbox/arrivals` lists [seconds since the
site started, User-Agent, requests in flight with it, status] and `in_flight_max` counts
the most at once. Option `burst_agent` with `burst_429` (a count) answers the next that
many requests whose User-Agent holds `burst_agent` with 429 and Retry-After `retry_after`.
"""

from __future__ import annotations

import random
import time

from aiohttp import web

from sandbox.site import BaseSite


class Site(BaseSite):
    name = "catalog"
    default_size = 120

    def setup(self) -> None:
        rng = random.Random(self.knobs.seed)
        self.per_page = max(1, self.knobs.option("per_page", 10))
        related = self.knobs.option("related", 2)
        self.items = [
            {
                "id": f"c{n:05d}",
                "name": f"Item {n} {rng.choice(['red', 'blue', 'green'])}",
                "price": round(rng.uniform(1, 500), 2),
            }
            for n in range(1, self.size + 1)
        ]
        self.by_id = {item["id"]: item for item in self.items}
        self.related = {
            item["id"]: [rng.choice(self.items)["id"] for _ in range(related)]
            for item in self.items
        }
        self.pages = max(1, -(-len(self.items) // self.per_page))
        self.started = time.monotonic()
        self.in_flight = 0
        self.arrivals: list[list] = []

    def app(self) -> web.Application:
        app = super().app()
        # In front of the faults, so the shared latency counts as time in flight.
        app.middlewares.insert(0, self._record)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler):
        if request.path.startswith("/_sandbox/") or not self.knobs.option("record", False):
            return await self._burst(request, handler)
        self.in_flight += 1
        self.stats["in_flight_max"] = max(self.stats["in_flight_max"], self.in_flight)
        entry = [
            round(time.monotonic() - self.started, 4),
            request.headers.get("User-Agent", ""),
            self.in_flight,
            0,
        ]
        self.arrivals.append(entry)
        try:
            response = await self._burst(request, handler)
            entry[3] = response.status
            return response
        finally:
            self.in_flight -= 1

    async def _burst(self, request: web.Request, handler):
        agent = self.knobs.option("burst_agent", "")
        if agent and agent in request.headers.get("User-Agent", ""):
            left = self.knobs.option("burst_429", 0)
            if left > 0:
                self.knobs.update(burst_429=left - 1)
                self.count("burst_429")
                return web.Response(
                    status=429,
                    text="Too Many Requests",
                    headers={"Retry-After": f"{self.knobs.retry_after:g}"},
                )
        return await handler(request)

    def routes(self):
        return [
            web.get("/", self.index),
            web.get("/page/{n:\\d+}", self.page),
            web.get("/item/{id}", self.item),
            web.get("/_sandbox/arrivals", self.arrivals_page),
        ]

    def truth(self):
        return {"pages": self.pages, "items": self.items}

    async def arrivals_page(self, request: web.Request) -> web.Response:
        return web.json_response(self.arrivals)

    async def index(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/page/1")

    async def page(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if not 1 <= n <= self.pages:
            raise web.HTTPNotFound()
        self.count(f"page:{n}")
        start = (n - 1) * self.per_page
        cards = "".join(
            f'<li class="card"><a href="/item/{item["id"]}">{item["name"]}</a></li>'
            for item in self.items[start : start + self.per_page]
        )
        nav = "".join(
            f'<a class="{rel}" href="/page/{target}">{rel}</a>'
            for rel, target in (
                ("first", 1),
                ("prev", n - 1),
                ("next", n + 1),
                ("last", self.pages),
            )
            if 1 <= target <= self.pages
        )
        html = f"<html><body><ul>{cards}</ul><nav>{nav}</nav></body></html>"
        return web.Response(text=html, content_type="text/html")

    async def item(self, request: web.Request) -> web.Response:
        item = self.by_id.get(request.match_info["id"])
        if item is None:
            raise web.HTTPNotFound()
        self.count(f"item:{item['id']}")
        related = "".join(
            f'<a class="related" href="/item/{other}">{other}</a>'
            for other in self.related[item["id"]]
        )
        html = (
            f'<html><body><h1 data-id="{item["id"]}">{item["name"]}</h1>'
            f'<span class="price">{item["price"]:.2f}</span>{related}</body></html>'
        )
        return web.Response(text=html, content_type="text/html")
