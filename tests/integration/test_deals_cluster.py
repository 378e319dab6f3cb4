"""Deals on a cluster: nodes sharing one Redis rank every origin on all its regions, once."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
import redis

from sandbox.sites.deals import REGIONS, expected_top
from tests import helpers
from tests.integration.test_deals_crawl import FAULTS, SETTINGS, SITE, assert_right_deals
from tests.resilience.checks import failed_by_reason

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def start_node(name: str, tmp: Path, args: dict, env: dict, settings: dict):
    work = tmp / name
    proc = helpers.start_node("deals", name, work, args=args, settings=settings, env=env, feed=True)
    return proc, work


def test_nodes_rank_each_origin_on_all_its_regions(sandbox_factory, chromium, redis_url, tmp_path):
    sb = sandbox_factory(["deals"], knobs={"deals": {**FAULTS, **SITE, "delivery": "xhr"}})
    regions = ["anywhere", "europe", "asia", "caribbean"]
    origins = ["PHX", "DFW", "LAX"]
    top = 3
    args = {"origins": ",".join(origins), "regions": ",".join(regions), "top": top}
    settings = {
        **SETTINGS,
        "REDIS_URL": redis_url,
        "CRAWL_JOB": "deals-cluster",
        "CONCURRENT_REQUESTS": 2,
        "CLUSTER_POLL_INTERVAL": 0.5,
        "CLUSTER_IDLE_GRACE": 3,
    }
    env = {"DEALS_BASE_URL": sb.url("deals")}
    nodes = [start_node(n, tmp_path, args, env, settings) for n in ("node-a", "node-b", "node-c")]
    for proc, work in nodes:
        assert proc.wait(800) == 0, (work / "log.txt").read_text()[-3000:]

    items, reports, stats = [], [], []
    for _, work in nodes:
        items += helpers.read_jsonl(work / "items.jsonl")
        stats.append(json.loads((work / "stats.json").read_text()))
        reports.append(json.loads(Path(stats[-1]["deals/capacity_report"]).read_text()))

    # Explore pages were shared out, each handled once in the job.
    explored = [r["explore"]["done"] + sum(r["explore"]["failed"].values()) for r in reports]
    assert sum(explored) == len(origins) * len(regions)
    assert sum(1 for n in explored if n) >= 2, explored  # more than one node explored

    # Each deal stored once, and the right ones: the top of every origin over the regions
    # that came in (a region given up on is reported by the node that gave it up).
    assert max(Counter((i["origin"], i["destination_id"]) for i in items).values()) == 1
    failed_regions: dict[str, dict[str, str]] = {}
    for r in reports:
        for origin, failed in r["explore"]["failed_regions"].items():
            failed_regions.setdefault(origin, {}).update(failed)
    merged = {"explore": {"failed_regions": failed_regions}}
    assert_right_deals(
        SimpleNamespace(items=items), sb.truth("deals"), merged, origins, regions, top
    )

    # Every unit done or failed with a reason, across the nodes; each node's total is the
    # job's (explore pages plus every expansion planned so far), the last one complete.
    planned = sum(r["expansions"]["planned"] for r in reports)
    assert planned == len(items)
    finished = sum(s.get("progress/done", 0) + s.get("progress/failed", 0) for s in stats)
    assert finished == len(origins) * len(regions) + planned
    assert max(s["progress/total"] for s in stats) == finished
    for s in stats:
        assert s.get("progress/failed", 0) == sum(failed_by_reason(s).values())
    for item in items:
        assert item["expansion_status"] == "ok" or item["expansion_status"].startswith("failed:")


def test_a_node_with_other_arguments_stops_with_one_line(
    sandbox_factory, chromium, redis_url, tmp_path
):
    # Every page hangs: the first node's run stays open while the second one joins it.
    sb = sandbox_factory(["deals"], knobs={"deals": {"fault_hang": 1.0, "hang_seconds": 20}})
    args = {"origins": "PHX", "regions": "europe,asia", "top": 3}
    env = {"DEALS_BASE_URL": sb.url("deals")}
    settings = {"REDIS_URL": redis_url, "CRAWL_JOB": "deals-args"}
    first, _ = start_node("node-a", tmp_path, args, env, settings)
    try:
        client = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 300
        while not client.keys("deals:{deals-args}:*:args") and time.monotonic() < deadline:
            time.sleep(0.2)
        client.close()
        odd, work = start_node("node-b", tmp_path, {**args, "top": 4}, env, settings)
        code = odd.wait(300)
        log = (work / "log.txt").read_text()
        assert code == 2, log[-5000:]
        assert "error: deals: nodes of one job must crawl the same" in log, log[-3000:]
        assert '"top": 4}, the job\'s other nodes {' in log
        assert "Traceback" not in log
    finally:
        # Twice: the first asks Scrapy to finish what it holds, the second not to wait.
        first.terminate()
        time.sleep(2)
        first.terminate()
        try:
            first.wait(60)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait(30)


def test_a_node_killed_after_recording_regions_loses_nothing_and_doubles_nothing(
    sandbox_factory, chromium, redis_url, database_url, tmp_path
):
    sb = sandbox_factory(["deals"], knobs={"deals": {**SITE, "delivery": "inline"}})
    regions, origins, top = ["europe", "asia", "caribbean"], ["PHX", "DFW"], 2
    args = {"origins": ",".join(origins), "regions": ",".join(regions), "top": top}
    env = {"DEALS_BASE_URL": sb.url("deals"), "DATABASE_URL": database_url}
    settings = {
        **SETTINGS,
        "REDIS_URL": redis_url,
        "CRAWL_JOB": "deals-kill",
        "CLUSTER_POLL_INTERVAL": 0.5,
        "CLUSTER_IDLE_GRACE": 2,
        "CLUSTER_LEASE_SECONDS": 4,
    }
    # The doomed node holds its acks back, so what it records is redelivered after it dies.
    doomed, _ = start_node("node-a", tmp_path, args, env, {**settings, "CLUSTER_ACK_DELAY": 300})
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 300
    recorded = 0
    while recorded < 2 and doomed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
        recorded = sum(client.hlen(k) for k in client.keys("deals:{deals-kill}:*:in:*"))
    client.close()
    doomed.kill()
    doomed.wait(60)
    assert recorded >= 2
    survivor, work = start_node("node-b", tmp_path, args, env, settings)
    assert survivor.wait(600) == 0, (work / "log.txt").read_text()[-3000:]

    stats = json.loads((work / "stats.json").read_text())
    assert stats["deals/explore_recorded_before"] >= 1  # redelivered, not recorded again
    truth = sb.truth("deals")
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT origin, destination_id, price, rank FROM deals ORDER BY origin, rank"
        ).fetchall()
    want = [
        (origin, d["destination_id"], d["price"], rank)
        for origin in sorted(origins)
        for rank, d in enumerate(expected_top(truth, origin, [REGIONS[r] for r in regions], top), 1)
    ]
    assert [(o, d, float(p), r) for o, d, p, r in rows] == want
