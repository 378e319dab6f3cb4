"""The report at the end of every crawl: text in the log, JSON under DATA_DIR/reports/.

The JSON file is <spider>-<job>-<UTC timestamp>.json (REPORT_ENABLED = False: none). It
holds counts, rates, failures grouped by reason, retries, resources and the finish reason,
all read from stats, so every spider gets the same report without code of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawlers.jobs import job_id, node_id
from crawlers.progress_math import (
    average_rate,
    counts_from_stats,
    format_bytes,
    format_duration,
    format_rate,
)
from crawlers.telemetry.snapshot import counters, resources, retries

logger = logging.getLogger(__name__)


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    return None


def build_report(
    stats: Mapping[str, Any], *, spider: str, job: str, node: str, reason: str
) -> dict[str, Any]:
    counts = counts_from_stats(stats)
    elapsed = float(stats.get("elapsed_time_seconds") or 0.0)
    found = counters(stats)
    used = resources(stats)
    cpu = used.get("cpu_seconds")

    def per_second(n: float | None) -> float | None:
        rate = average_rate(n or 0, elapsed)
        return None if rate is None else round(rate, 4)

    return {
        "spider": spider,
        "job": job,
        "node": node,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": _iso(stats.get("start_time")),
        "finished": _iso(stats.get("finish_time")),
        "elapsed_seconds": round(elapsed, 3),
        "finish_reason": reason,
        "fatal_error": stats.get("fatal_error"),
        "units": counts.summary(),
        "rates": {
            "units_per_second": per_second(counts.worked),
            "items_per_second": per_second(found.get("items")),
            "requests_per_second": per_second(found.get("requests")),
        },
        "failures": dict(sorted(counts.failures.items(), key=lambda kv: -kv[1])),
        "retries": retries(stats),
        "counters": found,
        "resources": {
            **used,
            "cpu_percent_average": (
                round(100 * cpu / elapsed, 1) if cpu is not None and elapsed else None
            ),
        },
    }


def report_text(report: dict[str, Any], path: Path | None) -> str:
    units = report["units"]
    fraction = (
        f"{units['finished']}/{units['total']} finished"
        + (f" ({units['percent']:.1f}%)" if units["percent"] is not None else "")
        if units["total"] is not None
        else f"{units['finished']} finished (no total known)"
    )
    failures = ", ".join(f"{k} {v}" for k, v in report["failures"].items()) or "none"
    retry = report["retries"]
    retry_reasons = ", ".join(f"{k} {v}" for k, v in retry["by_reason"].items())
    used = report["resources"]
    counters_ = report["counters"]
    lines = [
        f"Crawl report: spider {report['spider']}, job {report['job']}, node {report['node']},"
        f" {report['finish_reason']} after {format_duration(report['elapsed_seconds'])}",
        f"  units:     {fraction}: done {units['done']}, skipped {units['skipped']},"
        f" failed {units['failed']}"
        + (f", remaining {units['remaining']}" if units["remaining"] is not None else ""),
        f"  rates:     {format_rate(report['rates']['units_per_second'])} units,"
        f" {format_rate(report['rates']['items_per_second'])} items,"
        f" {format_rate(report['rates']['requests_per_second'])} requests"
        f" ({counters_.get('items', 0)} items, {counters_.get('requests', 0)} requests)",
        f"  failures:  {failures}",
        f"  retries:   {retry['count']}"
        + (f" (gave up {retry['max_reached']})" if retry.get("max_reached") else "")
        + (f": {retry_reasons}" if retry_reasons else ""),
    ]
    if "memory_peak_bytes" in used:
        count = used.get("processes_max", 1)
        processes = f"{count} process" + ("" if count == 1 else "es")
        lines.append(
            f"  resources: peak {format_bytes(used['memory_peak_bytes'])}"
            f" {used.get('memory_kind', 'rss')} ({processes} at most),"
            f" CPU {used.get('cpu_seconds', 0):.1f} s"
            + (
                f" ({used['cpu_percent_average']:.0f}% of one core)"
                if used.get("cpu_percent_average") is not None
                else ""
            )
        )
    if report.get("fatal_error"):
        lines.append(f"  error:     {report['fatal_error']}")
    if path is not None:
        lines.append(f"  JSON:      {path}")
    return "\n".join(lines).encode("ascii", "backslashreplace").decode("ascii")


class CrawlReport:
    def __init__(self, crawler, directory: Path):
        self.crawler = crawler
        self.directory = directory

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("REPORT_ENABLED", True):
            raise NotConfigured
        directory = Path(crawler.settings.get("DATA_DIR") or "data") / "reports"
        ext = cls(crawler, directory)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider, reason) -> None:
        job = job_id(self.crawler)
        report = build_report(
            self.crawler.stats.get_stats(),
            spider=spider.name,
            job=job,
            node=node_id(self.crawler.settings),
            reason=reason,
        )
        path = self.write(report, f"{spider.name}-{job}")
        logger.info(report_text(report, path))

    def write(self, report: dict[str, Any], stem: str) -> Path | None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.directory / f"{stem}-{stamp}.json"
        if path.exists():  # another node of the job finished in the same second
            path = path.with_name(f"{stem}-{stamp}-{report['node']}.json")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(report, indent=1, default=str))
            os.replace(tmp, path)
        except OSError as exc:
            logger.error("report: cannot write %s: %s", path, exc)
            return None
        self.crawler.stats.set_value("report_file", str(path))
        return path
