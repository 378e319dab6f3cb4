"""Real crawls against the sandbox: their progress lines, report JSON and local telemetry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crawlers.env import PROJECT_ROOT

pytestmark = pytest.mark.integration

SPIDER = PROJECT_ROOT / "tests" / "spiders" / "progress_spider.py"
# Short intervals so a crawl of a few seconds logs several lines and snapshots.
FAST = {
    "PROGRESS_INTERVAL": 0.3,
    "RESOURCES_INTERVAL": 0.3,
    "TELEMETRY_INTERVAL": 0.3,
    "DOWNLOAD_TIMEOUT": 20,
    "CONCURRENT_REQUESTS": 2,
}
# Plain HTTP only: no Playwright driver to start (faster, and nothing left if killed).
NO_BROWSER = {"DOWNLOAD_HANDLERS": {}}
LINE = re.compile(
    r"Progress: (?P<finished>\d+)/(?P<total>\d+) \((?P<percent>[\d.]+)%\)"
    r" done (?P<done>\d+) skipped \d+ failed (?P<failed>\d+)"
    r" \| rate (?P<rate>\S+) ETA (?P<eta>\S+) \| retries (?P<retries>\d+)"
    r" \| mem [\d.]+ \w+ (?:pss|rss), (?P<procs>\d+) procs"
)


def spider_command(args: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    cmd = [sys.executable, "-m", "scrapy", "runspider", str(SPIDER)]
    for key, value in args.items():
        cmd += ["-a", f"{key}={value}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={json.dumps(value) if isinstance(value, dict) else value}"]
    return cmd


def spider_env(data_dir: Path, **extra: str) -> dict[str, str]:
    # Empty REDIS_URL: a developer's .env must not turn these into cluster crawls.
    return {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        "REDIS_URL": "",
        "TELEMETRY_REDIS_URL": "",
        **extra,
    }


def run_spider(data_dir: Path, args: dict, settings: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        spider_command(args, {**FAST, **settings}),
        cwd=PROJECT_ROOT,
        env=spider_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def progress_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "[crawlers.extensions.progress]" in line]


def only_report(data_dir: Path) -> tuple[Path, dict]:
    reports = list((data_dir / "reports").glob("*.json"))
    assert len(reports) == 1, reports
    return reports[0], json.loads(reports[0].read_text())


def test_progress_lines_report_and_local_snapshot(sandbox_factory, tmp_path):
    sb = sandbox_factory(["probe"], common={"latency_ms": 150})
    data = tmp_path / "data"
    # Units 0, 7, 14, 21 fail (404); 10 and 20 get two 429s each before they succeed.
    args = {"base_url": sb.url("probe"), "units": 24, "fail_every": 7, "flaky_every": 10}
    proc = run_spider(data, args, NO_BROWSER)
    log = proc.stderr
    assert proc.returncode == 0, log[-3000:]

    lines = progress_lines(log)
    parsed = [m.groupdict() for m in map(LINE.search, lines) if m]
    assert len(parsed) >= 3, lines
    assert all(line.isascii() for line in lines)
    assert {p["total"] for p in parsed} == {"24"}
    finished = [int(p["finished"]) for p in parsed]
    assert finished == sorted(finished) and finished[-1] > finished[0]
    for p in parsed:
        assert int(p["finished"]) == int(p["done"]) + int(p["failed"])
        assert float(p["percent"]) == pytest.approx(100 * int(p["finished"]) / 24, abs=0.05)
    # Once units have finished, a rate and an ETA are shown rather than "--".
    running = [p for p in parsed if 0 < int(p["finished"]) < 24]
    assert running, lines
    assert any(p["rate"] != "--" and p["eta"] != "--" for p in running), lines
    assert int(parsed[-1]["retries"]) <= 4

    path, report = only_report(data)
    assert re.fullmatch(r"progress_probe-progress_probe-\d{8}T\d{6}Z\.json", path.name)
    assert report["finish_reason"] == "finished"
    assert report["units"] == {
        "total": 24,
        "done": 20,
        "skipped": 0,
        "failed": 4,
        "finished": 24,
        "remaining": 0,
        "percent": 100.0,
    }
    assert report["failures"] == {"http_404": 4}
    assert report["retries"]["count"] == 4
    assert report["retries"]["by_reason"] == {"429 Unknown Status": 4}
    assert report["retries"]["retry_after_honoured"] == 4
    assert report["counters"]["items"] == 20
    assert report["rates"]["units_per_second"] > 0
    used = report["resources"]
    assert used["memory_peak_bytes"] > 0 and used["cpu_seconds"] > 0
    assert used["memory_kind"] in {"pss", "rss"}

    text = log[log.index("Crawl report: spider progress_probe") :]
    assert "units:     24/24 finished (100.0%): done 20, skipped 0, failed 4" in text
    assert "failures:  http_404 4" in text
    assert "retries:   4: 429 Unknown Status 4" in text
    assert f"JSON:      {path}" in text
    assert text.split("[scrapy.statscollectors]")[0].isascii()

    snapshot = json.loads((data / "jobs" / "progress_probe.json").read_text())
    assert snapshot["state"] == "finished"
    assert snapshot["finish_reason"] == "finished"
    assert snapshot["progress"] == {"total": 24, "done": 20, "skipped": 0, "failed": 4}
    assert [e["message"] for e in snapshot["recent_errors"]] == [
        f"unit {n} failed: http_404" for n in (0, 7, 14, 21)
    ]


def test_progress_lines_give_the_memory_of_the_tree_as_it_is_browser_included(
    sandbox_factory, chromium, tmp_path
):
    """Regular samples as rare as an hour: the lines still see Chromium once it runs."""
    sb = sandbox_factory(["probe"], knobs={"probe": {"latency_ms": 300}})
    args = {"base_url": sb.url("probe"), "units": 12, "browser": 1}
    proc = run_spider(tmp_path / "data", args, {"RESOURCES_INTERVAL": 3600})
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [LINE.search(line) for line in progress_lines(proc.stderr)]
    # Pages done and pages to come: the browser is up, its processes are in the figure.
    while_browsing = [m for m in lines if m and 1 <= int(m["done"]) < 12]
    assert while_browsing
    assert all(int(m["procs"]) >= 6 for m in while_browsing), [m[0] for m in while_browsing]


def test_browser_crawl_without_total_counts_chromium(sandbox_factory, chromium, tmp_path):
    sb = sandbox_factory(["probe"])
    data = tmp_path / "data"
    args = {"base_url": sb.url("probe"), "units": 4, "total": 0, "browser": 1}
    proc = run_spider(data, args, {})
    log = proc.stderr
    assert proc.returncode == 0, log[-3000:]

    lines = progress_lines(log)
    assert lines
    for line in lines:
        assert re.search(r"Progress: done \d+ failed 0 \| rate \S+ \| retries 0", line), line
        assert "ETA" not in line and "%)" not in line

    _, report = only_report(data)
    assert report["units"]["total"] is None and report["units"]["done"] == 4
    assert report["counters"]["browser_pages"] == 4
    # Python, Playwright's driver, and Chromium's browser, zygote, GPU, network and renderer
    # processes: far more than the crawl process and its drivers alone (3 in the plain crawl).
    assert report["resources"]["processes_max"] >= 6
    assert "4 finished (no total known)" in log
