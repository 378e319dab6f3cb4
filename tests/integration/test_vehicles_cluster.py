"""Two vehicles nodes sharing one crawl through a private Redis."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from crawlers.env import PROJECT_ROOT
from sandbox.crawl import crawl_command

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def start_node(name: str, tmp: Path, env: dict, settings: dict) -> tuple[subprocess.Popen, Path]:
    work = tmp / name
    work.mkdir()
    cmd = crawl_command(
        "vehicles",
        settings={
            **settings,
            "STATS_FILE": str(work / "stats.json"),
            "FEEDS": {str(work / "items.jsonl"): {"format": "jsonlines"}},
        },
    )
    log = open(work / "log.txt", "w")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env, "NODE_ID": name, "DATA_DIR": str(work / "data")},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return proc, work


def test_two_nodes_fetch_each_pdf_once(sandbox_factory, redis_url, tmp_path):
    sb = sandbox_factory(
        ["vehicles"],
        knobs={"vehicles": {"size": 30, "latency_ms": 60, "session_requests": 40}},
    )
    env = {
        "VEHICLES_BASE_URL": sb.url("vehicles"),
        "VEHICLES_USERNAME": "dealer",
        "VEHICLES_PASSWORD": "letmein-42",
    }
    store = tmp_path / "pdfs"  # shared by both nodes, as a network folder would be
    settings = {
        "REDIS_URL": redis_url,
        "CRAWL_JOB": "vehicles-two",
        "FILES_STORE": str(store),
        "CONCURRENT_REQUESTS": 4,
        "VEHICLES_PER_PAGE": 10,
        "CLUSTER_POLL_INTERVAL": 0.5,
        "CLUSTER_IDLE_GRACE": 2,
        "DOWNLOAD_TIMEOUT": 15,
    }
    nodes = [start_node(name, tmp_path, env, settings) for name in ("node-a", "node-b")]
    for proc, work in nodes:
        assert proc.wait(600) == 0, (work / "log.txt").read_text()[-3000:]

    items = []
    for _, work in nodes:
        lines = (work / "items.jsonl").read_text().splitlines()
        items += [json.loads(line) for line in lines if line]
    truth = {v["ref"]: v for v in sb.truth("vehicles")["vehicles"]}
    downloaded = Counter(i["ref"] for i in items if i["status"] == "downloaded")
    assert set(downloaded) == set(truth)
    assert max(downloaded.values()) == 1
    site = sb.stats("vehicles")
    assert site["pdf_ok"] == len(truth)  # no PDF fetched twice
    assert site["login_ok"] >= 2  # each node logged in by itself
    assert sorted(p.stem for p in store.glob("*.pdf")) == sorted(truth)
