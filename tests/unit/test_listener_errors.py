"""A dead browser's listener errors become one warning line; anything else keeps its traceback.

The record comes from asyncio's own default exception handler, as Playwright reports a
failed event listener, so the test follows the real path from loop to log line.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from playwright._impl._errors import Error, TargetClosedError
from scrapy.statscollectors import MemoryStatsCollector

from crawlers.extensions.listener_errors import MESSAGE, DeadBrowserListenerFilter


class FakeCrawler:  # only what the stats collector reads
    class settings:
        @staticmethod
        def getbool(name, default=False):
            return default


@pytest.fixture
def reported(caplog):
    stats = MemoryStatsCollector(FakeCrawler)
    log_filter = DeadBrowserListenerFilter(stats)
    logger = logging.getLogger("asyncio")
    logger.addFilter(log_filter)
    loop = asyncio.new_event_loop()

    def report(error):
        with caplog.at_level(logging.DEBUG, logger="asyncio"):
            loop.call_exception_handler({"message": MESSAGE, "exception": error})
        text = "\n".join(
            logging.Formatter().format(r) for r in caplog.records if r.name == "asyncio"
        )
        caplog.clear()
        return text, caplog

    report.stats = stats
    yield report
    logger.removeFilter(log_filter)
    loop.close()


def test_a_closed_browser_is_one_warning_line(reported):
    text, _ = reported(TargetClosedError())
    assert "Traceback" not in text
    assert len(text.splitlines()) == 1
    assert text.startswith("browser listener stopped with its browser: TargetClosedError: ")
    assert reported.stats.get_value("playwright/listener_errors_after_close") == 1


def test_a_closed_connection_is_one_line_too(reported):
    text, _ = reported(Error("Connection closed while reading from the driver"))
    assert text.splitlines() == [
        "browser listener stopped with its browser: Error: "
        "Connection closed while reading from the driver"
    ]


@pytest.mark.parametrize(
    "error", [Error("Protocol error: something else"), ValueError("has been closed")]
)
def test_any_other_listener_error_keeps_its_traceback(reported, error):
    try:
        raise error
    except Exception as raised:
        text, _ = reported(raised)
    assert text.startswith(MESSAGE)
    assert "Traceback" in text
    assert reported.stats.get_value("playwright/listener_errors_after_close") is None
