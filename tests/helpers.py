"""Plain helpers that integration and resilience tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crawlers.env import PROJECT_ROOT
from sandbox.crawl import crawl_command


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON-lines feed; a line that is not JSON fails the test."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_targets(path: Path, searches: Iterable[dict[str, Any]], header: str = "") -> Path:
    """A businesses targets file: one `search terms<TAB>location` line per sandbox search."""
    path.write_text(header + "".join(f"{s['search_terms']}\t{s['location']}\n" for s in searches))
    return path


def start_node(
    spider: str,
    name: str,
    workdir: Path,
    *,
    args: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    feed: bool = False,
) -> subprocess.Popen:
    """`scrapy crawl` as cluster node `name` in the background: its log in workdir/log.txt,
    stats in workdir/stats.json, items in workdir/items.jsonl when `feed`, data in
    workdir/data unless env names a DATA_DIR."""
    workdir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {"STATS_FILE": str(workdir / "stats.json")}
    if feed:
        files["FEEDS"] = {str(workdir / "items.jsonl"): {"format": "jsonlines"}}
    cmd = crawl_command(spider, args=args, settings={**files, **(settings or {})})
    env = env or {}
    log = open(workdir / "log.txt", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            **env,
            "NODE_ID": name,
            "DATA_DIR": env.get("DATA_DIR", str(workdir / "data")),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
