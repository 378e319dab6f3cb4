import logging

from scrapy.http import HtmlResponse
from scrapy.spiders import Spider
from scrapy.utils.test import get_crawler

from crawlers.logformatter import QuietLogFormatter


def formatter(level: str) -> QuietLogFormatter:
    return QuietLogFormatter.from_crawler(get_crawler(settings_dict={"LOG_LEVEL": level}))


def test_no_record_per_item_unless_debug():
    response = HtmlResponse("http://example.test/", body=b"<html></html>")
    spider = Spider("s")
    assert formatter("INFO").scraped({"a": 1}, response, spider) is None
    assert formatter("INFO").dropped({"a": 1}, ValueError("x"), response, spider) is None
    record = formatter("DEBUG").scraped({"a": 1}, response, spider)
    assert record["level"] == logging.DEBUG
