"""Many requests to one path of the sandbox's probe site, for CONCURRENCY_AUTO.

`path`: /status/200 (a site with room) or /status/429 (a site that pushes back).
`burn_ms`: CPU burnt in the callback of each response, on the event loop (an overloaded
loop). Stats `probe/in_flight_max`: the most requests the downloader held at once, counted
from its own signals, not from what the extension samples.
"""

import time

import scrapy
from scrapy import signals


class AutoscaleProbeSpider(scrapy.Spider):
    name = "autoscale_probe"

    def __init__(self, base_url="", path="/status/200", units="100", burn_ms="0", **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url
        self.path = path
        self.units = int(units)
        self.burn = int(burn_ms) / 1000
        self.in_flight = 0

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.reached, signal=signals.request_reached_downloader)
        crawler.signals.connect(spider.left, signal=signals.request_left_downloader)
        return spider

    def reached(self, request, spider):
        self.in_flight += 1
        self.crawler.stats.max_value("probe/in_flight_max", self.in_flight)

    def left(self, request, spider):
        self.in_flight -= 1

    async def start(self):
        for unit in range(self.units):
            yield scrapy.Request(
                f"{self.base_url}{self.path}?unit={unit}",
                callback=self.parse,
                errback=self.failed,
                dont_filter=True,
            )

    def parse(self, response):
        until = time.process_time() + self.burn
        while time.process_time() < until:
            pass
        yield {"unit": response.url}

    def failed(self, failure):
        self.crawler.stats.inc_value("probe/failed")
