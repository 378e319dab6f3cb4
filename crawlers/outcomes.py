"""How a spider reports its units of work, so progress, ETA and reports need no spider code.

Stats keys (shared by every spider, merged across nodes in cluster mode):
  progress/total              units planned (vehicles, expansions, targets, address target)
  progress/done               units finished successfully
  progress/skipped            units already done by an earlier run
  progress/failed             units given up on
  progress/failed/<reason>    the same, per reason (short, ASCII, no secrets)
"""

from __future__ import annotations

import re

from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.internet import error as net_errors
from twisted.web.client import ResponseNeverReceived

_REASON = re.compile(r"[^a-z0-9_.:-]+")


def clean_reason(reason: str) -> str:
    return _REASON.sub("_", reason.lower()).strip("_")[:60] or "unknown"


def set_total(stats, total: int) -> None:
    stats.set_value("progress/total", int(total))


def add_total(stats, n: int = 1) -> None:
    stats.inc_value("progress/total", n)


def done(stats, n: int = 1) -> None:
    stats.inc_value("progress/done", n)


def skipped(stats, n: int = 1) -> None:
    stats.inc_value("progress/skipped", n)


def failed(stats, reason: str, n: int = 1) -> None:
    stats.inc_value("progress/failed", n)
    stats.inc_value(f"progress/failed/{clean_reason(reason)}", n)


class PageRejected(IgnoreRequest):
    """A page that is not what was asked for (crawlers/middlewares/page_check.py), after its
    retries; `reason` is `blocked`, `not_rendered` or `unrecognised_page`."""

    def __init__(self, reason: str, url: str = ""):
        super().__init__(f"{reason}: {url}" if url else reason)
        self.reason = reason


_BROWSER_ERROR = re.compile(r"net::(ERR_[A-Z_]+)")


def failure_reason(failure) -> str:
    """The short reason a request failed, for `progress/failed/<reason>` and ledgers."""
    exc = failure.value
    if isinstance(exc, PageRejected):
        return exc.reason
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, net_errors.TimeoutError | defer.TimeoutError):
        return "timeout"
    if isinstance(exc, net_errors.DNSLookupError):
        return "dns"
    if isinstance(exc, net_errors.ConnectError | net_errors.ConnectionLost | ResponseNeverReceived):
        return "connection"
    browser = _BROWSER_ERROR.search(str(exc))
    if browser:
        return browser.group(1).lower()
    name = type(exc).__name__
    return "timeout" if "Timeout" in name else name
