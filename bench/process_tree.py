"""python -m bench process_tree [--units N]: what the whole-tree resource figures add.

1. A browser crawl of N units against the sandbox: the report's CPU seconds (every process
   of the tree, Chromium's re-parented ones included) against what the parent process sees
   of its children once they are waited for (getrusage(RUSAGE_CHILDREN), what /usr/bin/time
   prints).
2. The cost of one ProcessTree.sample() with Chromium and 4 pages open.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crawlers.browser import launch_options
from crawlers.env import PROJECT_ROOT
from crawlers.telemetry.resources import MARKER_ENV, ProcessTree
from sandbox import Sandbox

SPIDER = PROJECT_ROOT / "tests" / "spiders" / "progress_spider.py"


def crawl(units: int) -> None:
    with Sandbox(["probe"]) as sb, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATA_DIR": tmp, "REDIS_URL": "", "TELEMETRY_REDIS_URL": ""}
        env.pop(MARKER_ENV, None)
        cmd = [sys.executable, "-m", "scrapy", "runspider", str(SPIDER)]
        cmd += ["-a", f"base_url={sb.url('probe')}", "-a", f"units={units}", "-a", "browser=1"]
        cmd += ["-s", "RESOURCES_INTERVAL=1", "-s", "LOG_LEVEL=WARNING"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, check=True, stdin=subprocess.DEVNULL)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        waited = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        (report_path,) = Path(tmp, "reports").glob("*.json")
        used = json.loads(report_path.read_text())["resources"]
    tree = used["cpu_seconds"]
    print(f"browser crawl of {units} units in {wall:.1f} s wall")
    print(
        f"  whole tree (report): {tree:.1f} s CPU, peak {used['memory_peak_bytes'] / 2**20:.0f}"
        f" MiB {used['memory_kind']}, up to {used['processes_max']} processes"
    )
    print(
        f"  waited children (/usr/bin/time): {waited:.1f} s CPU,"
        f" {100 * (1 - waited / tree):.0f}% less"
    )


def sample_cost(samples: int = 30) -> None:
    from playwright.sync_api import sync_playwright

    tree = ProcessTree()
    previous = os.environ.get(MARKER_ENV)
    tree.mark_environment()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(**launch_options())
            for _ in range(4):
                browser.new_page().goto("data:text/html,<p>page</p>")
            tree.sample()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(samples):
                last = tree.sample()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            browser.close()
    finally:
        if previous is None:
            os.environ.pop(MARKER_ENV, None)
        else:
            os.environ[MARKER_ENV] = previous
    print(
        f"one sample of {last.processes} processes ({last.memory_bytes / 2**20:.0f} MiB"
        f" {last.memory_kind}): {1000 * wall / samples:.1f} ms wall,"
        f" {1000 * cpu / samples:.1f} ms CPU"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench process_tree")
    parser.add_argument("--units", type=int, default=100)
    args = parser.parse_args(argv)
    crawl(args.units)
    sample_cost()
    return 0
