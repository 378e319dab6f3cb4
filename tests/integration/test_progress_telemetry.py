"""Telemetry through a real Redis: keys, expiry, readers, and a crawl that outlives Redis."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import redis

from crawlers.env import PROJECT_ROOT
from crawlers.telemetry import RedisStore, read_job, read_jobs
from sandbox.services import free_port
from tests.integration.test_progress_crawl import (
    FAST,
    NO_BROWSER,
    only_report,
    run_spider,
    spider_command,
    spider_env,
)

pytestmark = pytest.mark.integration


def snapshot(job: str, node: str, seen: float, done: int = 1, state: str = "running") -> dict:
    return {
        "job": job,
        "node": node,
        "spider": "s",
        "host": "h",
        "pid": 1,
        "started": seen - 10,
        "last_seen": seen,
        "state": state,
        "finish_reason": None,
        "total_scope": "job",
        "progress": {"total": 10, "done": done, "skipped": 0, "failed": 0},
        "failures": {},
        "rate": 1.0,
        "counters": {},
        "resources": {},
        "recent_errors": [],
    }


@pytest.mark.parametrize("decode", [False, True])
def test_redis_store_keys_expiry_and_readers(redis_url, decode):
    client = redis.Redis.from_url(redis_url, decode_responses=decode)
    store = RedisStore(client, prefix="t", ttl=60)
    now = time.time()
    store.publish(snapshot("job-1", "a", now, done=3))
    store.publish(snapshot("job-1", "b", now - 100, done=2))
    store.publish(snapshot("job-2", "a", now, done=5, state="finished"))

    assert json.loads(client.get("t:job-1:node:a"))["progress"]["done"] == 3
    assert 0 < client.ttl("t:job-1:node:a") <= 60
    assert set(map(str, [*store.job_names()])) == {"job-1", "job-2"}

    # A raw client works too (default prefix "telemetry": nothing there).
    assert read_job(client, "job-1") is None
    view = read_job(store, "job-1", silent_after=30, now=now)
    assert view["progress"]["done"] == 5
    assert view["silent_nodes"] == ["b"]
    assert {v["job"]: v["state"] for v in read_jobs(store, now=now)} == {
        "job-1": "running",
        "job-2": "finished",
    }

    # An expired snapshot drops its node, and a job without nodes drops out of the index.
    client.delete("t:job-2:node:a")
    assert [v["job"] for v in read_jobs(store, now=now)] == ["job-1"]
    assert client.zscore("t:jobs", "job-2") is None
    client.delete("t:job-1:node:b")
    assert [n["node"] for n in read_job(store, "job-1", now=now)["nodes"]] == ["a"]
    assert client.zrange("t:job-1:nodes", 0, -1) in ([b"a"], ["a"])


def test_a_crawl_goes_on_when_redis_is_unreachable(sandbox_factory, tmp_path):
    sb = sandbox_factory(["probe"])
    data = tmp_path / "data"
    dead = f"redis://:pw-secret@127.0.0.1:{free_port()}/0"
    proc = run_spider(
        data,
        {"base_url": sb.url("probe"), "units": 5},
        {**NO_BROWSER, "TELEMETRY_REDIS_URL": dead},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if "telemetry: cannot publish" in line]
    assert len(warnings) == 1, warnings  # once per outage, not once per interval
    assert "redis 127.0.0.1:" in warnings[0]
    assert "pw-secret" not in proc.stderr
    _, report = only_report(data)
    assert report["units"]["done"] == 5
    assert not (data / "jobs").exists()  # with Redis configured, no local snapshot


def test_cluster_nodes_merge_into_one_job(sandbox_factory, redis_url, tmp_path):
    """Two nodes share one crawl through the cluster scheduler (REDIS_URL): each unit is
    done by one of them, both know the whole total, and the job's view adds them up."""
    sb = sandbox_factory(["probe"], common={"latency_ms": 100})
    args = {"base_url": sb.url("probe"), "units": 40, "fail_every": 9}  # 0, 9, ... 36 fail
    settings = {**FAST, **NO_BROWSER, "CRAWL_JOB": "shared-job"}
    nodes = [
        subprocess.Popen(
            spider_command(args, {**settings, "NODE_ID": node}),
            cwd=PROJECT_ROOT,
            env=spider_env(tmp_path / node, REDIS_URL=redis_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for node in ("n1", "n2")
    ]
    for proc in nodes:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]

    client = redis.Redis.from_url(redis_url)
    assert client.ttl("telemetry:shared-job:node:n1") > 3600
    view = read_job(client, "shared-job")
    assert view["state"] == "finished"
    assert view["progress"]["total"] == 40  # the largest, not the sum of 40 and 40
    assert (view["progress"]["done"], view["progress"]["failed"]) == (35, 5)
    assert view["failures"] == {"http_404": 5}
    by_node = {n["node"]: n for n in view["nodes"]}
    assert set(by_node) == {"n1", "n2"}
    assert sum(n["progress"]["done"] for n in by_node.values()) == 35
    assert sum(n["share_percent"] or 0 for n in by_node.values()) == pytest.approx(100, abs=0.2)
    assert all(n["finish_reason"] == "finished" for n in by_node.values())
