"""The vehicles spider's browser: gone once a login is done, back for the next login."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from crawlers.env import PROJECT_ROOT
from crawlers.telemetry.resources import ProcessTree
from sandbox.crawl import crawl_command
from tests.integration.test_vehicles import FAST, assert_downloaded_right, portal, run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

LOGGED_IN = "vehicles: logged in (session "
CLOSED = "browser closed until a browser page is needed again"
LOGGING_IN = "vehicles: logging in (session "


def browser_processes(tree: ProcessTree) -> list[str]:
    """Chromium's processes ("chromium") and Playwright's driver ("driver") in the crawl's
    tree, those re-parented to init too (the crawl marks its environment:
    crawlers/telemetry/resources.py)."""
    names = []
    for proc in tree.members():
        if proc.pid == tree.root.pid:
            continue
        try:
            name, cmdline = proc.name(), " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if "chrom" in name or "headless_shell" in name:
            names.append("chromium")
        elif "run-driver" in cmdline:
            names.append("driver")
    return names


def between_logins(log: Path) -> bool:
    """The log's last login event is a browser closed after a login."""
    events = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if LOGGED_IN in line or CLOSED in line or LOGGING_IN in line
    ]
    return bool(events) and CLOSED in events[-1]


@pytest.mark.parametrize("release_driver", [False, True])
def test_the_browser_is_closed_between_logins_and_launched_for_each(
    sandbox_factory, tmp_path, release_driver
):
    # Sessions of 30 requests, 60 vehicles: several logins, each followed by plain HTTP.
    sb, env = portal(sandbox_factory, 60, session_requests=30, latency_ms=40)
    store, log, stats_path = tmp_path / "pdfs", tmp_path / "crawl.log", tmp_path / "stats.json"
    settings = {
        **FAST,
        "CONCURRENT_REQUESTS": 3,
        "FILES_STORE": str(store),
        "LOG_FILE": str(log),
        "STATS_FILE": str(stats_path),
        "FEEDS": {str(tmp_path / "items.jsonl"): {"format": "jsonlines"}},
        "BROWSER_RELEASE_DRIVER": release_driver,
    }
    proc = subprocess.Popen(
        crawl_command("vehicles", settings=settings),
        cwd=PROJECT_ROOT,
        env={**os.environ, **env, "DATA_DIR": str(tmp_path / "data")},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tree = ProcessTree(proc.pid)
    seen_while_closed: list[list[str]] = []
    seen_at_all: set[str] = set()
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            if log.exists():
                # A reading counts only if no login began around it.
                before = between_logins(log)
                found = browser_processes(tree)
                seen_at_all.update(found)
                if before and between_logins(log):
                    seen_while_closed.append(found)
            time.sleep(0.02)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    stats = json.loads(stats_path.read_text())
    assert "chromium" in seen_at_all, "the login ran in no Chromium of the crawl's"
    assert seen_while_closed, "no reading of the processes between two logins"
    # Between logins: no Chromium; Playwright's driver only if it is kept.
    kept = set() if release_driver else {"driver"}
    assert all(set(found) <= kept for found in seen_while_closed), seen_while_closed
    if not release_driver:
        assert any(found == ["driver"] for found in seen_while_closed)
    logins = stats["vehicles/logins"]
    assert logins >= 2, "the portal's sessions should have expired during the crawl"
    # A new browser for every login, and each closed after it (the last one's closing
    # may still be under way when the stats are written at the crawl's end).
    assert stats["playwright/browser_count"] == logins
    assert stats["playwright/browser_released"] in (logins - 1, logins)
    items = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    truth = {v["ref"]: v for v in sb.truth("vehicles")["vehicles"]}
    assert sorted(i["ref"] for i in items) == sorted(truth)
    assert all(i["status"] == "downloaded" for i in items)
    assert_downloaded_right(items, truth, store)


def test_browser_vehicle_pages_keep_the_browser(sandbox_factory, crawl, tmp_path):
    _, env = portal(sandbox_factory, 4)
    result = run(crawl, env, tmp_path / "pdfs", VEHICLES_BROWSER_PAGES=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [i["status"] for i in result.items] == ["downloaded"] * 4
    assert result.stats["playwright/browser_count"] == 1
    assert "playwright/browser_released" not in result.stats
