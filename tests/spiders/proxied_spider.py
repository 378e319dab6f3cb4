"""A spider over the sandbox's probe site for the proxy tests: plain or browser pages, a
site's own 404 and 500, and pages of one login-like browser session (a named context)."""

import scrapy

from crawlers import outcomes


class ProxiedSpider(scrapy.Spider):
    name = "proxied"
    # The site's own errors reach the callback: they are answers, not bans.
    custom_settings = {"HTTPERROR_ALLOWED_CODES": [404, 500]}

    def __init__(self, base_url="", pages="10", browser="0", session="0", site_errors="1", **kw):
        super().__init__(**kw)
        self.base_url = base_url.rstrip("/")
        self.pages = int(pages)
        self.browser = browser == "1"
        self.session_pages = int(session)
        self.site_errors = (404, 500) if site_errors == "1" else ()

    async def start(self):
        total = self.pages + len(self.site_errors) + self.session_pages
        outcomes.set_total(self.crawler.stats, total)
        path = "/" if self.browser else "/status/200"
        meta = {"playwright": True} if self.browser else {}
        for page in range(self.pages):
            yield self._request(f"{path}?page={page}", page, meta)
        for code in self.site_errors:
            yield self._request(f"/status/{code}?page=site-{code}", f"site-{code}", {})
        for page in range(self.session_pages):
            session = {"playwright": True, "playwright_context": "session"}
            yield self._request(f"/?session={page}", f"session-{page}", session)

    def _request(self, path, page, meta):
        return scrapy.Request(
            self.base_url + path,
            callback=self.parse,
            errback=self.failed,
            meta=dict(meta),
            cb_kwargs={"page": str(page)},
        )

    def parse(self, response, page):
        outcomes.done(self.crawler.stats)
        text = response.css("#out::text").get() if response.meta.get("playwright") else None
        yield {"page": page, "status": response.status, "text": text}

    def failed(self, failure):
        outcomes.failed(self.crawler.stats, type(failure.value).__name__)
