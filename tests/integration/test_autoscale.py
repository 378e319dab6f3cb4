"""CONCURRENCY_AUTO in real crawls of the sandbox's probe site: it grows to the ceiling
when there is room and never past it, and shrinks when the event loop is overloaded or the
site answers 429. Decisions every second here (10 s by default) to keep the crawls short."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawlers.env import PROJECT_ROOT

pytestmark = pytest.mark.integration

SPIDER = PROJECT_ROOT / "tests" / "spiders" / "autoscale_spider.py"
AUTO = {
    "CONCURRENCY_AUTO": True,
    "CONCURRENCY_AUTO_INTERVAL": 1.0,
    "CONCURRENT_REQUESTS": 4,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_HANDLERS": {},  # plain HTTP: no Playwright driver to start
    "RETRY_ENABLED": False,
    "PROGRESS_INTERVAL": 0.5,
    "REPORT_ENABLED": False,
    "TELEMETRY_INTERVAL": 0,
}


def crawl(tmp_path: Path, args: dict, settings: dict) -> tuple[dict, str]:
    stats_path = tmp_path / "stats.json"
    cmd = [sys.executable, "-m", "scrapy", "runspider", str(SPIDER)]
    for key, value in args.items():
        cmd += ["-a", f"{key}={value}"]
    merged = {**AUTO, **settings, "STATS_FILE": str(stats_path)}
    for key, value in merged.items():
        cmd += ["-s", f"{key}={json.dumps(value) if isinstance(value, dict) else value}"]
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "REDIS_URL": "",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.run(
        cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(stats_path.read_text()), proc.stderr


def test_with_room_it_grows_to_the_ceiling_and_never_past_it(sandbox_factory, tmp_path):
    sb = sandbox_factory(["probe"], common={"latency_ms": 100})
    stats, log = crawl(
        tmp_path,
        {"base_url": sb.url("probe"), "units": 250},
        {"CONCURRENCY_AUTO_START": 1},
    )
    assert stats["item_scraped_count"] == 250
    assert stats["concurrency/lowest"] == 1
    assert stats["concurrency/highest"] == 4
    assert stats["concurrency/ceiling"] == 4
    assert stats["concurrency/scaled_up"] >= 3
    # Counted from the downloader's own signals: the limit held at every moment.
    assert 1 <= stats["probe/in_flight_max"] <= 4
    assert "concurrency 4/4" in log
    assert "concurrency 1 -> 2 (room to grow)" in log


def test_an_overloaded_event_loop_shrinks_it(sandbox_factory, tmp_path):
    sb = sandbox_factory(["probe"], common={"latency_ms": 50})
    # Each response burns 150 ms of CPU on the loop: every snapshot comes late.
    args = {"base_url": sb.url("probe"), "units": 40, "burn_ms": 150}
    stats, log = crawl(tmp_path, args, {})
    assert stats["item_scraped_count"] == 40
    assert stats["concurrency/highest"] == 4  # it started at the ceiling
    assert stats["concurrency/lowest"] < 4
    assert stats["concurrency/overloaded/event_loop"] >= 1
    # At its lowest a spare slot can look like room now and then; the loop stays the limit.
    assert stats["concurrency/scaled_down"] > stats.get("concurrency/scaled_up", 0)
    assert "overloaded: cpu, event_loop" in log or "overloaded: event_loop" in log


def test_a_site_answering_429_shrinks_it(sandbox_factory, tmp_path):
    sb = sandbox_factory(["probe"], common={"latency_ms": 100})
    stats, log = crawl(
        tmp_path, {"base_url": sb.url("probe"), "path": "/status/429", "units": 200}, {}
    )
    assert stats["downloader/response_status_count/429"] == 200
    assert stats["concurrency/lowest"] < 4
    assert stats["concurrency/overloaded/client"] >= 1
    assert "concurrency/scaled_up" not in stats
    assert "client" in log.split("concurrency 4 -> 3 (overloaded: ")[1].split(")")[0]


def test_off_it_leaves_concurrency_alone(sandbox_factory, tmp_path):
    sb = sandbox_factory(["probe"], common={"latency_ms": 20})
    stats, log = crawl(
        tmp_path, {"base_url": sb.url("probe"), "units": 20}, {"CONCURRENCY_AUTO": False}
    )
    assert stats["item_scraped_count"] == 20
    assert not any(key.startswith("concurrency/") for key in stats)
    assert "concurrency " not in "\n".join(line for line in log.splitlines() if "Progress:" in line)


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            {"CONCURRENCY_AUTO_MIN": 9},
            "error: CONCURRENCY_AUTO_MIN (9) is above CONCURRENT_REQUESTS (4)",
        ),
        (
            {"CONCURRENCY_AUTO_STEP": -1},
            "error: CONCURRENCY_AUTO_STEP must be more than 0",
        ),
    ],
)
def test_a_bad_setting_is_one_error_line(tmp_path, settings, line):
    cmd = [sys.executable, "-m", "scrapy", "crawl", "autoscale_probe"]
    given = {
        "SPIDER_MODULES": "tests.spiders.autoscale_spider",
        "CONCURRENCY_AUTO": "true",
        "CONCURRENT_REQUESTS": 4,
        **settings,
    }
    for key, value in given.items():
        cmd += ["-s", f"{key}={value}"]
    env = {**os.environ, "DATA_DIR": str(tmp_path), "REDIS_URL": ""}
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == line
    assert "Traceback" not in proc.stderr
