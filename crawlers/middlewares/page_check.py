"""Pages that are not what was asked for: told apart before any callback sees them.

Real sites answer with block and challenge pages (often with status 200) and with pages
whose script has not rendered yet; read as results, either becomes "nothing here" and a
search, route or unit is marked done with nothing. Here every text response is checked:
first against the block markers (BLOCK_PAGE_MARKERS, crawlers/extraction/blocks.py; any
status but a redirect), then, for a 2xx, by the spider's own `page_problem(response)` where
it has one (a results page that is none of the site's known pages, a flights page without
options). A problem sets
`meta["page_problem"]` to its reason (`blocked`, `not_rendered`, `unrecognised_page`) and
counts `pages/rejected/<reason>`; the ban policy then counts it as a ban (another proxy is
tried where there are proxies), the retry middleware retries it with backoff, and once the
retries are spent the request's errback gets `PageRejected(reason)`: never the callback.

`meta["page_check"] = False` turns the check off for one request.
"""

from __future__ import annotations

from scrapy.http import TextResponse

from crawlers.extraction.blocks import DEFAULT_BLOCK_MARKERS, BlockDetector
from crawlers.outcomes import PageRejected, clean_reason

__all__ = ["PageCheckMiddleware", "PageRejected", "page_problem"]

PROBLEM = "page_problem"


class PageCheckMiddleware:
    def __init__(self, crawler, markers):
        self.crawler = crawler
        self.stats = crawler.stats
        self.blocks = BlockDetector(markers)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        markers = settings.getlist("BLOCK_PAGE_MARKERS") or list(DEFAULT_BLOCK_MARKERS)
        return cls(crawler, markers)

    def process_response(self, request, response, spider=None):
        meta = request.meta
        meta.pop(PROBLEM, None)
        if meta.get("page_check", True) is False or not isinstance(response, TextResponse):
            return response
        if 300 <= response.status < 400:
            return response  # the redirect middleware's, after us on the way back
        reason = self.blocks.reason(response.body, response.url)
        # The spider knows its pages, not the site's error pages: those stay HTTP errors.
        if reason is None and 200 <= response.status < 300:
            check = getattr(self.crawler.spider, "page_problem", None)
            reason = check(response) if check is not None else None
        if reason:
            reason = clean_reason(reason)
            meta[PROBLEM] = reason
            self.stats.inc_value(f"pages/rejected/{reason}")
        return response


def page_problem(request) -> str | None:
    return request.meta.get(PROBLEM)
