"""Telemetry through a real Redis: keys, expiry, readers, and a crawl that outlives Redis."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from crawlers.env import PROJECT_ROOT
from crawlers.telemetry import RedisStore, read_job, read_jobs, read_runs
from sandbox.services import free_port
from tests.integration.test_progress_crawl import (
    FAST,
    NO_BROWSER,
    only_report,
    run_spider,
    spider_command,
    spider_env,
)
from tests.redis_clients import redis_client

pytestmark = pytest.mark.integration


def snapshot(
    job: str, node: str, seen: float, done: int = 1, state: str = "running", run: str = "r1"
) -> dict:
    return {
        "job": job,
        "run": run,
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
        "resources": {"memory_bytes": 1000 * done},
        "recent_errors": [],
    }


@pytest.mark.redis_cluster
@pytest.mark.parametrize("decode", [False, True])
def test_redis_store_keys_runs_and_readers(redis_url, decode):
    client = redis_client(redis_url, decode_responses=decode)
    store = RedisStore(client, prefix="t", ttl=60, history_days=1)
    now = time.time()
    store.publish(snapshot("job-1", "a", now, done=3))
    store.publish(snapshot("job-1", "b", now - 100, done=2))
    store.publish(snapshot("job-2", "a", now, done=5, state="finished"))

    assert json.loads(client.hget("{t:job-1}:run:r1", "a"))["progress"]["done"] == 3
    assert 0 < client.ttl("{t:job-1}:run:r1") <= 86400
    assert set(map(str, [*store.job_names()])) == {"job-1", "job-2"}

    # A raw client works too (default prefix "telemetry": nothing there).
    assert read_job(client, "job-1") is None
    view = read_job(store, "job-1", silent_after=30, now=now)
    assert view["run"] == "r1"
    assert view["progress"]["done"] == 5
    assert view["silent_nodes"] == ["b"]
    assert {v["job"]: v["state"] for v in read_jobs(store, now=now)} == {
        "job-1": "running",
        "job-2": "finished",
    }
    # A finished run shows what its nodes used at their last report, not 0.
    assert read_job(store, "job-2", now=now)["resources"]["memory_bytes"] == 5000

    # A job not reported within the TTL leaves the live list; its runs stay in the history.
    client.zadd("t:jobs", {"job-2": now - 61})
    assert [v["job"] for v in read_jobs(store, now=now)] == ["job-1"]
    assert [v["progress"]["done"] for v in read_runs(store, "job-2", now=now)] == [5]


@pytest.mark.redis_cluster
def test_a_new_run_starts_from_zero_and_the_finished_one_keeps_its_figures(redis_url):
    client = redis_client(redis_url)
    store = RedisStore(client, prefix="t", ttl=3600, history_runs=3)
    now = time.time()
    for node, done in (("a", 40), ("b", 60)):
        store.publish(snapshot("job", node, now - 500, done=done, state="finished", run="r1"))
    store.publish(snapshot("job", "c", now, done=7, run="r2"))

    view = read_job(store, "job", silent_after=30, now=now)
    assert (view["run"], view["progress"]["done"], len(view["nodes"])) == ("r2", 7, 1)
    assert view["state"] == "running" and view["elapsed_seconds"] == 10.0
    first = read_job(store, "job", now=now, run="r1")
    assert (first["state"], first["progress"]["done"], len(first["nodes"])) == ("finished", 100, 2)
    assert [v["run"] for v in read_runs(store, "job", now=now)] == ["r2", "r1"]

    # At most TELEMETRY_HISTORY_RUNS runs are kept, with everything of the ones dropped.
    for i in (3, 4):
        store.publish(snapshot("job", "d", now + i, done=1, run=f"r{i}"))
    assert store.runs("job") == ["r4", "r3", "r2"]
    assert not client.exists("{t:job}:run:r1", "{t:job}:run:r1:series")


@pytest.mark.redis_cluster
def test_nodes_without_a_cluster_token_join_the_run_that_is_running(redis_url):
    store = RedisStore(redis_client(redis_url), prefix="t", ttl=3600)
    now = time.time()
    assert store.join("job", "a", "run-a", now, 30) == "run-a"
    # A node starting a moment later joins it (node a counts as running from its join on).
    assert store.join("job", "b", "run-b", now + 1, 30) == "run-a"
    store.publish(snapshot("job", "a", now + 2, state="finished", run="run-a"))
    store.publish(snapshot("job", "b", now + 2, state="finished", run="run-a"))
    # Once none of its nodes runs, the next crawl is a run of its own.
    assert store.join("job", "c", "run-c", now + 3, 30) == "run-c"
    # A node of a run that went silent does not hold the next one in it either.
    assert store.join("job", "d", "run-d", now + 100, 30) == "run-d"


@pytest.mark.parametrize("scheme", ["redis", "redis+cluster"])
def test_a_crawl_goes_on_when_redis_is_unreachable(sandbox_factory, tmp_path, scheme):
    sb = sandbox_factory(["probe"])
    data = tmp_path / "data"
    dead = f"{scheme}://:pw-secret@127.0.0.1:{free_port()}/0"
    proc = run_spider(
        data,
        {"base_url": sb.url("probe"), "units": 5},
        {**NO_BROWSER, "TELEMETRY_REDIS_URL": dead},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if "telemetry: cannot publish" in line]
    assert len(warnings) == 1, warnings  # once per outage, not once per interval
    shown = "redis cluster 127.0.0.1:" if "cluster" in scheme else "redis 127.0.0.1:"
    assert shown in warnings[0]
    assert "pw-secret" not in proc.stderr
    _, report = only_report(data)
    assert report["units"]["done"] == 5
    assert not (data / "jobs").exists()  # with Redis configured, no local snapshot


@pytest.mark.redis_cluster
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

    client = redis_client(redis_url)
    view = read_job(client, "shared-job")
    run = client.hget("cluster:{shared-job}:meta", "run").decode()
    assert view["run"] == run  # the cluster's run token
    assert client.ttl(f"{{telemetry:shared-job}}:run:{run}") > 30 * 86400
    assert view["state"] == "finished"
    assert view["progress"]["total"] == 40  # the largest, not the sum of 40 and 40
    assert (view["progress"]["done"], view["progress"]["failed"]) == (35, 5)
    assert view["failures"] == {"http_404": 5}
    by_node = {n["node"]: n for n in view["nodes"]}
    assert set(by_node) == {"n1", "n2"}
    assert sum(n["progress"]["done"] for n in by_node.values()) == 35
    assert sum(n["share_percent"] or 0 for n in by_node.values()) == pytest.approx(100, abs=0.2)
    assert all(n["finish_reason"] == "finished" for n in by_node.values())


def _cluster_run(sb, redis_url, tmp_path, units: int, names: tuple[str, ...]) -> None:
    args = {"base_url": sb.url("probe"), "units": units, "fail_every": 9}
    settings = {**FAST, **NO_BROWSER, "CRAWL_JOB": "again"}
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
        for node in names
    ]
    for proc in nodes:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]


def test_each_cluster_run_of_a_job_is_shown_on_its_own(sandbox_factory, redis_url, tmp_path):
    """Issue 19: after earlier runs, a new run showed their units, nodes and elapsed time."""
    sb = sandbox_factory(["probe"])
    client = redis_client(redis_url)
    _cluster_run(sb, redis_url, tmp_path / "first", 40, ("n1", "n2"))
    first = read_job(client, "again")
    assert (first["progress"]["done"], first["progress"]["failed"]) == (35, 5)

    _cluster_run(sb, redis_url, tmp_path / "second", 12, ("n1",))
    view = read_job(client, "again")
    assert view["run"] != first["run"]
    assert view["run"] == client.hget("cluster:{again}:meta", "run").decode()
    assert view["state"] == "finished"
    assert view["progress"]["total"] == 12
    assert (view["progress"]["done"], view["progress"]["failed"]) == (10, 2)
    assert [n["node"] for n in view["nodes"]] == ["n1"]
    assert view["started"] > first["last_seen"]
    assert view["resources"]["memory_bytes"] > 0  # finished: its last report, not 0

    runs = read_runs(client, "again")
    assert [r["run"] for r in runs] == [view["run"], first["run"]]
    # The finished run's figures are what they were.
    keys = ("progress", "failures", "started", "last_seen", "elapsed_seconds", "state")
    assert {k: runs[1][k] for k in keys} == {k: first[k] for k in keys}
