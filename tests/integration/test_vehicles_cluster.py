"""Two vehicles nodes sharing one crawl through a private Redis."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests import helpers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def start_node(name: str, tmp: Path, env: dict, settings: dict) -> tuple[subprocess.Popen, Path]:
    work = tmp / name
    return helpers.start_node("vehicles", name, work, settings=settings, env=env, feed=True), work


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
        items += helpers.read_jsonl(work / "items.jsonl")
    truth = {v["ref"]: v for v in sb.truth("vehicles")["vehicles"]}
    downloaded = Counter(i["ref"] for i in items if i["status"] == "downloaded")
    assert set(downloaded) == set(truth)
    assert max(downloaded.values()) == 1
    # One outcome per vehicle across the nodes: a later walk on the other node finds the
    # PDF saved, and stays silent rather than reporting it `skipped`.
    assert sorted(i["ref"] for i in items) == sorted(truth)
    site = sb.stats("vehicles")
    assert site["pdf_ok"] == len(truth)  # no PDF fetched twice
    assert site["login_ok"] >= 2  # each node logged in by itself
    assert sorted(p.stem for p in store.glob("*.pdf")) == sorted(truth)
