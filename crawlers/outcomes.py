"""How a spider reports its units of work, so progress, ETA and reports need no spider code.

Stats keys (shared by every spider, merged across nodes in cluster mode):
  progress/total              units planned (vehicles, expansions, targets, address target)
  progress/done               units finished successfully
  progress/skipped            units already done by an earlier run
  progress/failed             units given up on
  progress/failed/<reason>    the same, per reason (short, ASCII, no secrets)

Which units failed is kept beside the stats, not in them (a list in the stats would be merged,
dumped and logged as a number would): the last TELEMETRY_FAILED_UNITS of this node, each
{"unit", "reason", "at"}, read by the telemetry extension (`failed_units(stats)`).
"""

from __future__ import annotations

import re
import time
from collections import deque

from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.internet import error as net_errors
from twisted.web.client import ResponseNeverReceived

from crawlers.telemetry.snapshot import clean_message

DEFAULT_FAILED_UNITS = 500

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


def failed(stats, reason: str, n: int = 1, unit: str | None = None) -> None:
    """`unit` names what failed (a vehicle ref, a target, a site) for the dashboard's list of
    failed units: never a secret (a URL goes through crawlers.env.redact_url first)."""
    reason = clean_reason(reason)
    stats.inc_value("progress/failed", n)
    stats.inc_value(f"progress/failed/{reason}", n)
    if unit is not None:
        failed_units(stats).append(
            {"unit": clean_message(str(unit), 200), "reason": reason, "at": round(time.time(), 1)}
        )


def failed_units(stats, keep: int | None = None) -> deque:
    """This node's last failed units (oldest first); `keep` sets how many are kept."""
    units = getattr(stats, "_failed_units", None)
    if units is None or (keep is not None and units.maxlen != keep):
        units = deque(units or (), maxlen=DEFAULT_FAILED_UNITS if keep is None else keep)
        # A side list on the stats object: the spider and the telemetry share only that.
        stats._failed_units = units
    return units


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
