"""The final report and the telemetry snapshot, built from stats alone."""

import datetime as dt
import logging

from crawlers.extensions.report import build_report, report_text
from crawlers.telemetry.snapshot import RecentErrors, build_snapshot, clean_message

START = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
STATS = {
    "start_time": START,
    "finish_time": START + dt.timedelta(seconds=100),
    "elapsed_time_seconds": 100.0,
    "progress/total": 60,
    "progress/done": 40,
    "progress/skipped": 10,
    "progress/failed": 5,
    "progress/failed/http_404": 4,
    "progress/failed/timeout": 1,
    "item_scraped_count": 40,
    "downloader/request_count": 80,
    "retry/count": 7,
    "retry/max_reached": 1,
    "retry/reason_count/429 Unknown Status": 6,
    "retry/reason_count/twisted.internet.error.TimeoutError": 1,
    "retry/backoff_seconds": 12.5,
    "resources/memory_peak_bytes": 300 * 1024**2,
    "resources/memory_kind": "pss",
    "resources/cpu_seconds": 25.0,
    "resources/processes_max": 9,
}


def test_report_counts_rates_failures_retries_resources():
    report = build_report(STATS, spider="s", job="j", node="n", reason="finished")
    assert report["units"] == {
        "total": 60,
        "done": 40,
        "skipped": 10,
        "failed": 5,
        "finished": 55,
        "remaining": 5,
        "percent": 91.67,
    }
    assert report["rates"]["units_per_second"] == 0.45  # (done + failed) / elapsed
    assert report["rates"]["items_per_second"] == 0.4
    assert report["rates"]["requests_per_second"] == 0.8
    assert report["failures"] == {"http_404": 4, "timeout": 1}
    assert list(report["failures"]) == ["http_404", "timeout"]
    retries = report["retries"]
    assert retries["count"] == 7
    assert retries["max_reached"] == 1
    assert retries["backoff_seconds"] == 12.5
    assert retries["by_reason"]["429 Unknown Status"] == 6
    assert report["resources"]["cpu_percent_average"] == 25.0
    assert report["resources"]["memory_peak_bytes"] == 300 * 1024**2
    assert report["started"] == "2026-01-02T03:04:05+00:00"
    assert report["finish_reason"] == "finished"


def test_report_text_is_ascii_and_complete():
    report = build_report(STATS, spider="s", job="j", node="n", reason="shutdown")
    text = report_text(report, None)
    assert text.isascii()
    assert "Crawl report: spider s, job j, node n, shutdown after 1m40s" in text
    assert "55/60 finished (91.7%): done 40, skipped 10, failed 5, remaining 5" in text
    assert "failures:  http_404 4, timeout 1" in text
    assert "retries:   7 (gave up 1): 429 Unknown Status 6" in text
    assert "peak 300.0 MiB pss (9 processes at most), CPU 25.0 s (25% of one core)" in text


def test_report_without_total_or_resources():
    report = build_report(
        {"progress/done": 3, "elapsed_time_seconds": 0.0},
        spider="s",
        job="j",
        node="n",
        reason="finished",
    )
    assert report["units"]["total"] is None
    assert report["rates"]["units_per_second"] is None
    text = report_text(report, None)
    assert "3 finished (no total known)" in text
    assert "failures:  none" in text
    assert "resources" not in text


def test_messages_lose_credentials_and_non_ascii():
    text = "proxy http://bob:hunter2@10.0.0.1:8080 failed \u2013 caf\xe9\nsecond line"
    cleaned = clean_message(text)
    assert "hunter2" not in cleaned and "bob" not in cleaned
    assert cleaned.isascii()
    assert "second line" not in cleaned
    assert cleaned.startswith("proxy http://***:***@10.0.0.1:8080 failed")


def test_recent_errors_keeps_the_last_error_records_only():
    handler = RecentErrors(size=2)
    log = logging.getLogger("test_recent_errors")
    log.addHandler(handler)
    try:
        log.warning("not an error")
        for n in range(3):
            log.error("failure %d via https://u:p4ss@host/", n)
    finally:
        log.removeHandler(handler)
    messages = [r["message"] for r in handler.records]
    assert messages == [
        "failure 1 via https://***:***@host/",
        "failure 2 via https://***:***@host/",
    ]


def test_snapshot_from_stats():
    snapshot = build_snapshot(
        STATS,
        job="j",
        node="n",
        spider="s",
        pid=42,
        started=1.0,
        now=2.0,
        state="running",
        rate=0.5,
    )
    assert snapshot["progress"] == {"total": 60, "done": 40, "skipped": 10, "failed": 5}
    assert snapshot["failures"] == {"http_404": 4, "timeout": 1}
    assert snapshot["counters"] == {"items": 40, "requests": 80, "retries": 7}
    assert snapshot["resources"]["processes_max"] == 9
    assert snapshot["total_scope"] == "job"
    assert (snapshot["started"], snapshot["last_seen"], snapshot["state"]) == (1.0, 2.0, "running")
