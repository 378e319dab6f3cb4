"""Our side of the browser benchmark: a minimal spider with the project's settings.

    scrapy runspider bench/_flights_spider.py -a urls_file=FILE -s CONCURRENT_REQUESTS=8 ...

Each URL is opened in Chromium through scrapy-playwright (the project's handler, launch
options and resource blocking from crawlers/settings.py), waits until the page's script has
rendered the flight options, and the rendered HTML is parsed with the project's extraction
(crawlers/extraction/deals.py), one item per option. The peer does the same in
bench/peer/browser.py.
"""

from __future__ import annotations

from pathlib import Path

import scrapy
from scrapy_playwright.page import PageMethod

from crawlers import outcomes
from crawlers.errors import ConfigError
from crawlers.extraction.deals import OPTION, parse_flights


class FlightsBenchSpider(scrapy.Spider):
    name = "bench_flights"

    def __init__(self, urls_file: str = "", **kwargs):
        super().__init__(**kwargs)
        try:
            self.urls = Path(urls_file).read_text().split()
        except OSError as exc:
            raise ConfigError(f"cannot read urls_file {urls_file!r}: {exc.strerror}") from None

    async def start(self):
        outcomes.set_total(self.crawler.stats, len(self.urls))
        for url in self.urls:
            yield scrapy.Request(
                url,
                meta={
                    "playwright": True,
                    # Attached, not visible: an option's JMc5Xc div is an empty link overlay
                    # (as on the real page since 115a070), which has no box to be visible.
                    "playwright_page_methods": [
                        PageMethod("wait_for_selector", OPTION, state="attached")
                    ],
                },
                errback=self.failed,
            )

    def parse(self, response):
        options, broken = parse_flights(response.text)
        self.crawler.stats.inc_value("bench/unreadable_options", broken)
        outcomes.done(self.crawler.stats)
        yield from options

    def failed(self, failure):
        outcomes.failed(self.crawler.stats, type(failure.value).__name__)
