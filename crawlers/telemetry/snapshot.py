"""What a node publishes about its crawl, built from its stats alone (no spider code)."""

from __future__ import annotations

import logging
import re
import socket
from collections import deque
from collections.abc import Mapping
from typing import Any

from crawlers.errors import first_line
from crawlers.progress_math import counts_from_stats

# Stats every spider produces through Scrapy itself, shown next to the units of work.
COUNTERS = {
    "items": "item_scraped_count",
    "items_dropped": "item_dropped_count",
    "requests": "downloader/request_count",
    "responses": "response_received_count",
    "bytes": "downloader/response_bytes",
    "browser_pages": "playwright/page_count",
    "retries": "retry/count",
    "errors": "log_count/ERROR",
}
RESOURCES = (
    "memory_bytes",
    "memory_peak_bytes",
    "memory_kind",
    "cpu_seconds",
    "cpu_percent",
    "processes",
    "processes_max",
)
_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@:]+:[^\s/@]+@")


def counters(stats: Mapping[str, Any]) -> dict[str, float]:
    return {name: stats[key] for name, key in COUNTERS.items() if key in stats}


def resources(stats: Mapping[str, Any]) -> dict[str, Any]:
    return {name: stats[f"resources/{name}"] for name in RESOURCES if f"resources/{name}" in stats}


def retries(stats: Mapping[str, Any]) -> dict[str, Any]:
    """Every retry/* stat: Scrapy's count, max_reached and reason_count/<reason>, our
    backoff_seconds and retry_after_honoured."""
    by_reason = {
        key[len("retry/reason_count/") :]: value
        for key, value in stats.items()
        if key.startswith("retry/reason_count/")
    }
    out: dict[str, Any] = {
        key[len("retry/") :]: value
        for key, value in stats.items()
        if key.startswith("retry/") and not key.startswith("retry/reason_count/")
    }
    out.setdefault("count", 0)
    out["by_reason"] = dict(sorted(by_reason.items(), key=lambda kv: -kv[1]))
    return out


def clean_message(text: str, limit: int = 300) -> str:
    """One ASCII line without credentials, for logs, snapshots and the dashboard."""
    line = _CREDENTIALS.sub(r"\1***:***@", first_line(text, limit=None))
    return line.encode("ascii", "backslashreplace").decode("ascii")[:limit]


class RecentErrors(logging.Handler):
    """Keeps the last ERROR records of the crawl for the dashboard's error table."""

    def __init__(self, size: int = 20):
        super().__init__(level=logging.ERROR)
        self.records: deque[dict[str, Any]] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        self.records.append(
            {
                "at": record.created,
                "level": record.levelname,
                "logger": record.name,
                "message": clean_message(message),
            }
        )


def build_snapshot(
    stats: Mapping[str, Any],
    *,
    job: str,
    node: str,
    spider: str,
    pid: int,
    started: float,
    now: float,
    state: str,
    rate: float | None,
    total_scope: str = "job",
    finish_reason: str | None = None,
    recent_errors: list[dict[str, Any]] | None = None,
    failed_units: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    counts = counts_from_stats(stats)
    return {
        "job": job,
        "node": node,
        "spider": spider,
        "host": socket.gethostname(),
        "pid": pid,
        "started": started,
        "last_seen": now,
        "state": state,
        "finish_reason": finish_reason,
        "total_scope": total_scope,
        "progress": {
            "total": counts.total,
            "done": counts.done,
            "skipped": counts.skipped,
            "failed": counts.failed,
        },
        "failures": counts.failures,
        "rate": None if rate is None else round(rate, 4),
        "counters": counters(stats),
        "resources": resources(stats),
        "recent_errors": list(recent_errors or []),
        "failed_units": list(failed_units or []),
    }
