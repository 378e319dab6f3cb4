"""Several `scrapy crawl` processes sharing one crawl through a private Redis and PostgreSQL.

The catalog spider upserts each item into PostgreSQL as it passes the pipeline and counts
the writes, and the sandbox counts each fetch, so work done twice or not at all shows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from crawlers.env import PROJECT_ROOT
from sandbox.crawl import crawl_command
from sandbox.services import RedisServer, free_port
from tests.redis_clients import redis_client

pytestmark = pytest.mark.integration

NODE_SETTINGS = {
    "SPIDER_MODULES": "tests.spiders.catalog_spider",
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 2,
    "DOWNLOAD_TIMEOUT": 15,
    "CLUSTER_POLL_INTERVAL": 0.5,
    "CLUSTER_IDLE_GRACE": 2,
    "LOGSTATS_INTERVAL": 0,
}


class Node:
    """One `scrapy crawl catalog` process of the job."""

    def __init__(self, name: str, tmp: Path, base_url: str, settings: dict, pages: int):
        self.name = name
        self.dir = tmp / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir / "log.txt"
        self.stats_path = self.dir / "stats.json"
        cmd = crawl_command(
            "catalog",
            args={"base_url": base_url, "start_pages": pages},
            settings={**NODE_SETTINGS, "STATS_FILE": str(self.stats_path), **settings},
        )
        env = {
            **os.environ,
            "NODE_ID": name,
            "DATA_DIR": str(self.dir / "data"),
            "PYTHONUNBUFFERED": "1",
        }
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait(self, timeout: float = 240) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"node {self.name} did not finish:\n{self.log[-3000:]}")

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def stats(self) -> dict:
        return json.loads(self.stats_path.read_text())


@pytest.fixture
def catalog(sandbox_factory):
    def make(size: int, latency_ms: float = 300, **faults):
        knobs = {"size": size, "latency_ms": latency_ms, **faults}
        return sandbox_factory(["catalog"], knobs={"catalog": knobs})

    return make


def stored(database_url: str) -> dict[str, dict]:
    with psycopg.connect(database_url) as conn:
        exists = conn.execute("SELECT to_regclass('catalog_items')").fetchone()[0]
        if exists is None:
            return {}
        rows = conn.execute("SELECT id, name, price, node, writes FROM catalog_items").fetchall()
    return {
        r[0]: {"id": r[0], "name": r[1], "price": float(r[2]), "node": r[3], "writes": r[4]}
        for r in rows
    }


def wait_until(condition, nodes: list[Node], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if all(n.proc.poll() is not None for n in nodes):
            pytest.fail("every node exited early:\n" + "\n".join(n.log[-2000:] for n in nodes))
        time.sleep(0.2)
    pytest.fail("condition not reached in time")


def joined(redis_url: str, job: str) -> set[str]:
    client = redis_client(redis_url)
    return {n.decode() for n in client.zrange(f"cluster:{{{job}}}:nodes", 0, -1)}


def slow_until_joined(sb, redis_url: str, job: str, names: set[str], nodes: list[Node]) -> None:
    """Hold the site back until every node has joined, so a node that starts late on a busy
    machine still finds work (a node starting after the job ended would start a new run)."""
    sb.set_knobs("catalog", latency_ms=1500)
    wait_until(lambda: names <= joined(redis_url, job), nodes)
    sb.set_knobs("catalog", latency_ms=300)


def assert_all_stored_once(database_url: str, truth: dict) -> dict[str, dict]:
    """Every item of the truth stored with the right fields, and nothing else."""
    rows = stored(database_url)
    assert sorted(rows) == sorted(i["id"] for i in truth["items"])
    for item in truth["items"]:
        row = rows[item["id"]]
        assert (row["name"], row["price"]) == (item["name"], item["price"])
    return rows


def fetches(sb, truth: dict) -> tuple[dict[int, int], dict[str, int]]:
    stats = sb.stats("catalog")
    pages = {n: stats.get(f"page:{n}", 0) for n in range(1, truth["pages"] + 1)}
    items = {i["id"]: stats.get(f"item:{i['id']}", 0) for i in truth["items"]}
    return pages, items


@pytest.mark.redis_cluster
def test_three_nodes_do_every_unit_exactly_once(catalog, redis_url, database_url, tmp_path):
    sb = catalog(60)
    truth = sb.truth("catalog")
    settings = {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "CRAWL_JOB": "three"}
    # Every node's start() yields every listing page: they must enter the queue once.
    nodes = [Node(f"n{i}", tmp_path, sb.url("catalog"), settings, truth["pages"]) for i in range(3)]
    slow_until_joined(sb, redis_url, "three", {"n0", "n1", "n2"}, nodes)
    codes = [n.wait() for n in nodes]
    assert codes == [0, 0, 0], "\n".join(n.log[-3000:] for n in nodes)

    rows = assert_all_stored_once(database_url, truth)
    assert {r["writes"] for r in rows.values()} == {1}
    pages, items = fetches(sb, truth)
    assert set(pages.values()) == {1}
    assert set(items.values()) == {1}

    shares = {n.name: n.stats.get("progress/done", 0) for n in nodes}
    assert sum(shares.values()) == len(truth["items"])
    assert all(shares.values()), shares
    assert {n.stats["finish_reason"] for n in nodes} == {"finished"}
    assert {r["node"] for r in rows.values()} == set(shares)
    for n in nodes:
        assert "Traceback" not in n.log
        assert "Deprecat" not in n.log

    client = redis_client(redis_url)
    assert client.hexists("cluster:{three}:meta", "done")
    assert client.zcard("cluster:{three}:queue") == 0
    assert client.zcard("cluster:{three}:leases") == 0


@pytest.mark.redis_cluster
def test_a_node_killed_mid_crawl_loses_nothing(catalog, redis_url, database_url, tmp_path):
    """Even with rows in the dead node's memory: its pipeline writes every 2 s, and the
    requests behind them are acked 4 s after they were handled (CLUSTER_ACK_DELAY)."""
    sb = catalog(90)
    truth = sb.truth("catalog")
    settings = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "CRAWL_JOB": "kill",
        "CLUSTER_LEASE_SECONDS": 6,
        "CATALOG_FLUSH_SECONDS": 2,
        "CLUSTER_ACK_DELAY": 4,
    }
    nodes = [Node(f"n{i}", tmp_path, sb.url("catalog"), settings, truth["pages"]) for i in range(3)]
    slow_until_joined(sb, redis_url, "kill", {"n0", "n1", "n2"}, nodes)
    victim, survivors = nodes[0], nodes[1:]

    def victim_busy() -> bool:
        return sum(r["node"] == victim.name for r in stored(database_url).values()) >= 5

    wait_until(victim_busy, nodes)
    time.sleep(1.2)  # between two of its writes: rows wait in its memory
    victim.proc.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL
    assert [n.wait() for n in survivors] == [0, 0], "\n".join(n.log[-3000:] for n in survivors)

    rows = assert_all_stored_once(database_url, truth)
    # What the victim held when it died ran again elsewhere, and only that: every extra
    # write is a request that came back; the upsert kept one row each.
    client = redis_client(redis_url)
    requeued = int(client.hget("cluster:{kill}:meta", "requeued") or 0)
    assert requeued >= 1
    assert sum(r["writes"] for r in rows.values()) - len(rows) <= requeued
    _, items = fetches(sb, truth)
    assert min(items.values()) >= 1
    # Rows keep the node that wrote them first: the victim's own writes survived it.
    assert any(r["node"] == victim.name for r in rows.values())


def test_a_late_node_takes_a_share(catalog, redis_url, database_url, tmp_path):
    """With 5xx answers too: their retries (dont_filter) go through the shared queue."""
    sb = catalog(100, fault_5xx=0.1)
    truth = sb.truth("catalog")
    settings = {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "CRAWL_JOB": "late"}
    nodes = [Node(f"n{i}", tmp_path, sb.url("catalog"), settings, 1) for i in range(2)]
    wait_until(lambda: len(stored(database_url)) >= 20, nodes)
    late = Node("late", tmp_path, sb.url("catalog"), settings, 1)
    nodes.append(late)
    slow_until_joined(sb, redis_url, "late", {"late"}, nodes)
    assert [n.wait() for n in nodes] == [0, 0, 0], "\n".join(n.log[-3000:] for n in nodes)

    rows = assert_all_stored_once(database_url, truth)
    assert {r["writes"] for r in rows.values()} == {1}
    assert late.stats.get("progress/done", 0) > 0
    assert any(r["node"] == "late" for r in rows.values())
    assert sum(n.stats.get("retry/count", 0) for n in nodes) > 0


def test_unreachable_redis_is_one_line_without_the_password(crawl, tmp_path):
    url = f"redis://crawler:hunter2@127.0.0.1:{free_port()}/0"
    result = crawl(
        "catalog",
        args={"base_url": "http://127.0.0.1:9"},
        settings={**NODE_SETTINGS, "REDIS_URL": url},
        timeout=120,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot reach Redis at redis://crawler:***@127.0.0.1:")
    assert "hunter2" not in result.log
    assert "Traceback" not in result.log


@pytest.fixture
def durable_redis():
    server = RedisServer(durable=True).start()
    yield server
    server.stop()


def test_nodes_wait_for_a_restarting_redis_and_carry_on(
    catalog, durable_redis, database_url, tmp_path
):
    sb = catalog(60)
    truth = sb.truth("catalog")
    settings = {"REDIS_URL": durable_redis.url, "DATABASE_URL": database_url}
    nodes = [Node(f"n{i}", tmp_path, sb.url("catalog"), settings, 1) for i in range(2)]
    wait_until(lambda: len(stored(database_url)) >= 15, nodes)
    durable_redis.stop(keep_data=True)
    time.sleep(3)
    durable_redis.start()
    assert [n.wait() for n in nodes] == [0, 0], "\n".join(n.log[-3000:] for n in nodes)

    rows = assert_all_stored_once(database_url, truth)
    assert {r["writes"] for r in rows.values()} == {1}
    assert all(n.stats.get("cluster/redis_outages", 0) >= 1 for n in nodes)
    assert all("Redis at redis://127.0.0.1" in n.log and "is back" in n.log for n in nodes)


def test_a_long_redis_outage_stops_cleanly_and_the_crawl_resumes(
    catalog, durable_redis, database_url, tmp_path
):
    sb = catalog(40)
    truth = sb.truth("catalog")
    settings = {
        "REDIS_URL": durable_redis.url,
        "DATABASE_URL": database_url,
        "CLUSTER_REDIS_WAIT": 3,
        "CLUSTER_LEASE_SECONDS": 4,
    }
    first = Node("first", tmp_path, sb.url("catalog"), settings, 1)
    wait_until(lambda: len(stored(database_url)) >= 10, [first])
    durable_redis.stop(keep_data=True)
    assert first.wait() == 1
    last = first.log.strip().splitlines()[-1]
    assert last.startswith(f"error: Redis at {durable_redis.url} unreachable for 3s; stopped")
    assert "Traceback" not in first.log
    assert len(stored(database_url)) < len(truth["items"])

    durable_redis.start()
    again = Node("again", tmp_path, sb.url("catalog"), settings, 1)
    assert again.wait() == 0, again.log[-3000:]
    rows = assert_all_stored_once(database_url, truth)
    assert any(r["node"] == "again" for r in rows.values())
    assert again.stats.get("progress/done", 0) < len(truth["items"])


def test_a_redis_that_lost_its_data_stops_the_nodes_with_one_line(
    catalog, redis_server, redis_url, database_url, tmp_path
):
    sb = catalog(40)
    settings = {"REDIS_URL": redis_url, "DATABASE_URL": database_url}
    node = Node("n0", tmp_path, sb.url("catalog"), settings, 1)
    wait_until(lambda: len(stored(database_url)) >= 10, [node])
    redis_server.restart()  # no persistence: the queue is gone
    assert node.wait() == 1
    last = node.log.strip().splitlines()[-1]
    assert last == (
        f"error: Redis at {redis_url} no longer holds job catalog's run"
        " (restarted without persistence, or its keys were deleted)"
    )
    assert "Traceback" not in node.log
    assert len(stored(database_url)) >= 10
