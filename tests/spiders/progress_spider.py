"""Units of work over the sandbox's probe site, reported through crawlers/outcomes.py.

Unit i fetches /status/404 when i is a multiple of `fail_every` (a failed unit),
/flaky/<key> when a multiple of `flaky_every` (429s with Retry-After, then done), else
/status/200. `total=0`: the spider announces no total. `browser=1`: every unit in Chromium.
`first`: the number of the first unit, so several nodes can share one job without overlap.
"""

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError

from crawlers import outcomes


class ProgressProbeSpider(scrapy.Spider):
    name = "progress_probe"

    def __init__(
        self,
        base_url: str = "",
        units: str = "20",
        first: str = "0",
        fail_every: str = "0",
        flaky_every: str = "0",
        total: str = "1",
        browser: str = "0",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.base_url = base_url
        self.units = int(units)
        self.first = int(first)
        self.fail_every = int(fail_every)
        self.flaky_every = int(flaky_every)
        self.announce_total = total == "1"
        self.browser = browser == "1"

    def path(self, unit: int) -> str:
        if self.fail_every and unit % self.fail_every == 0:
            return f"/status/404?unit={unit}"
        if self.flaky_every and unit % self.flaky_every == 0:
            return f"/flaky/unit{unit}"
        return f"/status/200?unit={unit}"

    async def start(self):
        if self.announce_total:
            outcomes.set_total(self.crawler.stats, self.units)
        for unit in range(self.first, self.first + self.units):
            yield scrapy.Request(
                self.base_url + self.path(unit),
                callback=self.parse_unit,
                errback=self.unit_failed,
                meta={"unit": unit, "playwright": self.browser},
            )

    def parse_unit(self, response):
        outcomes.done(self.crawler.stats)
        yield {"unit": response.meta["unit"], "status": response.status}

    def unit_failed(self, failure):
        if failure.check(HttpError):
            reason = f"http_{failure.value.response.status}"
        else:
            reason = type(failure.value).__name__
        outcomes.failed(self.crawler.stats, reason)
        self.logger.error("unit %s failed: %s", failure.request.meta["unit"], reason)
