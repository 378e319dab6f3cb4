"""A tiny site for checking the harness itself: a page only a browser can read."""

from __future__ import annotations

from aiohttp import web

from sandbox.site import BaseSite

PAGE = """<!doctype html><html><head><title>probe</title></head><body>
<div id="out">not rendered</div>
<script>document.getElementById('out').textContent = 'rendered ' + (6 * 7);</script>
</body></html>"""


class Site(BaseSite):
    name = "probe"

    def routes(self):
        return [
            web.get("/", self.index),
            web.get("/status/{code:\\d+}", self.status),
            web.get("/flaky/{key}", self.flaky),
        ]

    def truth(self):
        return {"rendered_text": "rendered 42"}

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def flaky(self, request: web.Request) -> web.Response:
        """429 with Retry-After for the first `fails` hits of each key, then 200."""
        key = request.match_info["key"]
        self.count(f"flaky:{key}")
        if self.stats[f"flaky:{key}"] <= self.knobs.option("fails", 2):
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        return web.Response(text=f"ok {key}")

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status page")
