"""A spider over the sandbox's probe site, run with the project's settings by the tests."""

import scrapy


class ProbeSpider(scrapy.Spider):
    name = "probe"

    def __init__(self, base_url: str = "", **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url

    async def start(self):
        yield scrapy.Request(self.base_url + "/", meta={"playwright": True}, callback=self.page)
        yield scrapy.Request(self.base_url + "/flaky/a", callback=self.flaky)

    def page(self, response):
        yield {"kind": "browser", "text": response.css("#out::text").get()}

    def flaky(self, response):
        yield {"kind": "flaky", "status": response.status, "text": response.text}
