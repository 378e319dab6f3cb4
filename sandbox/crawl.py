"""Run `scrapy crawl` in a subprocess against the sandbox and collect what it produced.

A subprocess per crawl, because a Twisted reactor cannot be restarted in one process and a
real crawl is what users run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawlers.env import PROJECT_ROOT


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    stats: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


def crawl_command(
    spider: str, args: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
) -> list[str]:
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider]
    for key, value in (args or {}).items():
        cmd += ["-a", f"{key}={value}"]
    for key, value in (settings or {}).items():
        if isinstance(value, dict | list):
            value = json.dumps(value)
        cmd += ["-s", f"{key}={value}"]
    return cmd


def run_crawl(
    spider: str,
    workdir: Path,
    args: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> CrawlResult:
    """Crawl with outputs under `workdir`: items.jsonl, stats.json, and DATA_DIR itself."""
    workdir.mkdir(parents=True, exist_ok=True)
    items_path = workdir / "items.jsonl"
    stats_path = workdir / "stats.json"
    all_settings = {
        "STATS_FILE": str(stats_path),
        "FEEDS": {str(items_path): {"format": "jsonlines", "encoding": "utf-8"}},
        **(settings or {}),
    }
    full_env = {
        **os.environ,
        "DATA_DIR": str(workdir / "data"),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    proc = subprocess.run(
        crawl_command(spider, args, all_settings),
        cwd=PROJECT_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    items = []
    if items_path.exists():
        items = [json.loads(line) for line in items_path.read_text().splitlines() if line]
    return CrawlResult(proc.returncode, proc.stdout, proc.stderr, stats, items)
