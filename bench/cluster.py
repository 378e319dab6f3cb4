"""Cluster: throughput of 1, 2 and 3 nodes, and the cost of the shared Redis queue.

python -m bench cluster [--nodes 1,2,3] [--items 1200] [--latency-ms 200] [--concurrency 8]
                        [--overhead-items 3000] [--parts scaling,overhead,calls]

Scaling: N `scrapy crawl catalog` nodes share one job through a private Redis, against the
sandbox catalog (every listing page is a start request, so no page waits for another) with
a fixed latency per response. Each node keeps `concurrency` requests in flight
(AutoThrottle off), so the ideal rate is N * concurrency / latency. The rate is measured on
the server side, from the first request served to the last one (process start-up and the
idle grace at the end are not in it); the wall time of the whole job is given too.

Overhead: one node, no latency, the same crawl with Scrapy's own scheduler and with the
Redis one; CPU of the node per request (from the kernel's accounting of the child) and
of redis-server, and the rate over the busy period.

Calls: the client-side CPU of each step a request takes through the shared queue, in this
process without a crawl (fingerprint, pickle, queue, claim and unpickle, ack).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil
from scrapy import Request
from scrapy.settings import Settings
from scrapy.utils.request import RequestFingerprinter, request_from_dict

from crawlers.cluster import connection
from crawlers.cluster.queue import LeasedQueue
from crawlers.env import PROJECT_ROOT
from sandbox import Sandbox
from sandbox.crawl import crawl_command
from sandbox.services import RedisServer


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench cluster", description=__doc__)
    p.add_argument("--nodes", default="1,2,3")
    p.add_argument("--items", type=int, default=1200)
    p.add_argument("--per-page", type=int, default=20)
    p.add_argument("--latency-ms", type=float, default=200.0)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--overhead-items", type=int, default=3000)
    p.add_argument("--parts", default="scaling,overhead,calls")
    p.add_argument("--out", default=str(PROJECT_ROOT / "data" / "bench" / "cluster"))
    return p.parse_args(argv)


class ServedCounter:
    """Polls the sandbox's request count: when the first and the last request were served."""

    def __init__(self, sb: Sandbox, expected: int):
        self.sb = sb
        self.expected = expected
        self.first: float | None = None
        self.last: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            served = self.sb.site("catalog").stats["requests"]
            now = time.monotonic()
            if served and self.first is None:
                self.first = now
            if served >= self.expected and self.last is None:
                self.last = now
                return
            time.sleep(0.02)

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join()
        if self.first is None or self.last is None:
            return None
        return self.last - self.first


def run_nodes(
    n: int, sb: Sandbox, workdir: Path, settings: dict, pages: int
) -> tuple[list[dict], list[float]]:
    """Start n nodes at once; their final stats and CPU seconds, once all have exited."""
    procs = []
    for i in range(n):
        node_dir = workdir / f"node{i}"
        node_dir.mkdir(parents=True, exist_ok=True)
        cmd = crawl_command(
            "catalog",
            args={"base_url": sb.url("catalog"), "start_pages": pages},
            settings={**settings, "STATS_FILE": str(node_dir / "stats.json")},
        )
        env = {**os.environ, "NODE_ID": f"node{i}", "DATA_DIR": str(node_dir / "data")}
        with open(node_dir / "log.txt", "w") as log:
            procs.append(
                (
                    node_dir,
                    subprocess.Popen(
                        cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                    ),
                )
            )
    stats, cpu = [], []
    for node_dir, proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"node failed ({proc.returncode}): see {node_dir / 'log.txt'}")
        stats.append(json.loads((node_dir / "stats.json").read_text()))
        cpu.append(usage.ru_utime + usage.ru_stime)
    return stats, cpu


BASE_SETTINGS = {
    "SPIDER_MODULES": "tests.spiders.catalog_spider",
    "AUTOTHROTTLE_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "LOGSTATS_INTERVAL": 0,
}


def scaling(args, redis: RedisServer, workdir: Path) -> list[dict]:
    rows = []
    for n in [int(x) for x in args.nodes.split(",")]:
        knobs = {"size": args.items, "latency_ms": args.latency_ms, "per_page": args.per_page}
        with Sandbox(["catalog"], knobs={"catalog": knobs}) as sb:
            pages = sb.site("catalog").pages
            expected = args.items + pages
            settings = {
                **BASE_SETTINGS,
                "CONCURRENT_REQUESTS": args.concurrency,
                "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
                "REDIS_URL": redis.url,
                "CRAWL_JOB": f"bench-{n}-{int(time.time())}",
            }
            counter = ServedCounter(sb, expected)
            started = time.monotonic()
            stats, cpu = run_nodes(n, sb, workdir / f"scaling-{n}", settings, pages)
            wall = time.monotonic() - started
            busy = counter.stop()
            served = sb.site("catalog").stats["requests"]
        rate = expected / busy if busy else 0.0
        ideal = n * args.concurrency / (args.latency_ms / 1000)
        row = {
            "nodes": n,
            "requests": expected,
            "served": served,
            "busy_seconds": round(busy or 0, 2),
            "rate": round(rate, 1),
            "ideal": round(ideal, 1),
            "of_ideal": round(rate / ideal, 3),
            "wall_seconds": round(wall, 1),
            "shares": [s.get("scheduler/dequeued/redis", 0) for s in stats],
            "cpu_seconds": [round(c, 2) for c in cpu],
        }
        print(
            f"scaling: {n} node(s): {rate:.1f} req/s over {busy or 0:.1f}s "
            f"({rate / ideal:.0%} of ideal {ideal:.0f}), job wall {wall:.1f}s, "
            f"shares {row['shares']}, served {served}/{expected}",
            flush=True,
        )
        rows.append(row)
    return rows


def overhead(args, redis: RedisServer, workdir: Path) -> list[dict]:
    rows = []
    redis_proc = psutil.Process(redis.proc.pid)
    for mode in ("scrapy", "redis"):
        knobs = {"size": args.overhead_items, "latency_ms": 0, "per_page": 30}
        with Sandbox(["catalog"], knobs={"catalog": knobs}) as sb:
            pages = sb.site("catalog").pages
            expected = args.overhead_items + pages
            settings = {**BASE_SETTINGS, "CONCURRENT_REQUESTS": 16}
            if mode == "redis":
                settings |= {"REDIS_URL": redis.url, "CRAWL_JOB": f"overhead-{int(time.time())}"}
            before = sum(redis_proc.cpu_times()[:2])
            counter = ServedCounter(sb, expected)
            _, cpu = run_nodes(1, sb, workdir / f"overhead-{mode}", settings, pages)
            busy = counter.stop()
            redis_cpu = sum(redis_proc.cpu_times()[:2]) - before
        row = {
            "scheduler": mode,
            "requests": expected,
            "busy_seconds": round(busy or 0, 2),
            "rate": round(expected / busy, 1) if busy else 0.0,
            "node_cpu_ms_per_request": round(cpu[0] * 1000 / expected, 2),
            "redis_cpu_ms_per_request": round(redis_cpu * 1000 / expected, 3),
        }
        print(
            f"overhead: {mode} scheduler: {row['rate']} req/s, node CPU "
            f"{row['node_cpu_ms_per_request']} ms/request, redis-server CPU "
            f"{row['redis_cpu_ms_per_request']} ms/request",
            flush=True,
        )
        rows.append(row)
    return rows


def calls(args, redis: RedisServer, workdir: Path) -> dict:
    client = connection.client(Settings({"REDIS_URL": redis.url}))
    queue = LeasedQueue(client, f"calls-{int(time.time())}", "bench", 60)
    queue.open()
    fingerprinter = RequestFingerprinter()
    requests = [Request(f"http://catalog.test/item/{i}") for i in range(args.overhead_items)]
    steps: dict[str, float] = {}

    def timed(name, func, items):
        started = time.process_time()
        out = [func(item) for item in items]
        steps[name] = round((time.process_time() - started) * 1000 / len(items), 4)
        return out

    prints = timed("fingerprint", lambda r: fingerprinter.fingerprint(r).hex(), requests)
    payloads = timed("pickle", lambda r: pickle.dumps(r.to_dict(), protocol=4), requests)
    pairs = list(zip(prints, payloads, strict=True))
    timed("queue", lambda pair: queue.push(pair[0], 0, pair[1]), pairs)

    def claim(_):
        lease, payload = queue.claim()
        request_from_dict(pickle.loads(payload))
        return lease

    leases = timed("claim_and_unpickle", claim, requests)
    timed("ack", lambda lease: queue.ack([lease]), leases)
    steps["total"] = round(sum(steps.values()), 4)
    print("calls: client CPU ms per request: " + ", ".join(f"{k} {v}" for k, v in steps.items()))
    return steps


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    redis = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
            results = {"args": vars(args), "load_before": os.getloadavg()[0]}
            for part in args.parts.split(","):
                results[part] = PARTS[part](args, redis, Path(tmp))
            results["load_after"] = os.getloadavg()[0]
    finally:
        redis.stop()
    name = (
        "results.json" if args.parts == "scaling,overhead,calls" else f"results-{args.parts}.json"
    )
    (out / name).write_text(json.dumps(results, indent=1))
    print(f"cluster: results in {out / name}")
    return 0


PARTS = {"scaling": scaling, "overhead": overhead, "calls": calls}
