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
