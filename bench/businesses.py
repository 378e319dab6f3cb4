"""Businesses: targets per minute and pages per CPU-second against the sandbox directory.

python -m bench businesses [--latency-ms 200] [--concurrency 64] [--nodes 1]
                           [--states CA,TX] [--categories "plumbers,dentists,auto repair"]
python -m bench businesses --parse     # parse_results alone, CPU ms per results page

The sandbox runs in its own process (its CPU is not counted); targets go into an embedded
ledger in a fresh DATA_DIR; each node is one `scrapy crawl businesses` process measured over
its whole process tree (bench/measure.py). Politeness is off (DOWNLOAD_DELAY 0, no
AutoThrottle): this measures what the spider can do, not what a site should be asked for.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench._sandbox_proc import SandboxProcess
from bench.measure import run as measure
from crawlers.env import PROJECT_ROOT
from crawlers.extraction.businesses import parse_results, search_url
from crawlers.ledger.regions import build_targets, parse_states
from crawlers.ledger.sqlite import SqliteLedger
from sandbox import Sandbox
from sandbox.crawl import crawl_command


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench businesses", description=__doc__)
    p.add_argument("--latency-ms", type=float, default=200.0)
    p.add_argument("--jitter-ms", type=float, default=20.0)
    p.add_argument("--concurrency", type=int, default=64, help="CONCURRENT_REQUESTS per node")
    p.add_argument("--nodes", type=int, default=1, help="crawl processes sharing the ledger")
    p.add_argument("--states", default="CA,TX")
    p.add_argument("--categories", default="plumbers,dentists,auto repair")
    p.add_argument("--min-population", type=int, default=15000)
    p.add_argument("--out", default=str(PROJECT_ROOT / "data" / "bench" / "businesses"))
    p.add_argument("--parse", action="store_true", help="time the extraction alone")
    return p.parse_args(argv)


def bench_parse() -> int:
    """CPU time of parse_results on a full sandbox page (30 cards), median of 5 x 200."""
    # No block pages nor other pages that are not results: the measured page must be one.
    options = {"block_rate": 0, "odd_rate": 0}
    with Sandbox(["businesses"], knobs={"businesses": {"options": options}}) as sb:
        search = max(sb.truth("businesses")["searches"], key=lambda s: len(s["ypids"]))
        url = search_url(sb.url("businesses"), search["search_terms"], search["location"])
        with urllib.request.urlopen(url, timeout=30) as resp:
            html = resp.read().decode()
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(200):
            page = parse_results(html, url)
        rounds.append((time.process_time() - started) / 200 * 1000)
    rounds.sort()
    print(
        f"parse_results: {rounds[2]:.2f} ms CPU per page (median; {len(html):,} bytes, "
        f"{len(page.listings)} cards; load {os.getloadavg()[0]:.1f})"
    )
    return 0


def start_sandbox(args: argparse.Namespace, workdir: Path) -> SandboxProcess:
    options = ["--latency-ms", str(args.latency_ms), "--jitter-ms", str(args.jitter_ms)]
    for knob in ("states", "categories", "min_population"):
        options += ["--set", f"businesses.{knob}={getattr(args, knob)}"]
    return SandboxProcess(["businesses"], workdir, options, who="bench businesses")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.parse:
        return bench_parse()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-businesses-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        ledger = SqliteLedger(data_dir / "businesses-ledger.sqlite")
        categories = [c.strip() for c in args.categories.split(",") if c.strip()]
        targets = ledger.generate(
            build_targets(parse_states(args.states), args.min_population, categories)
        )
        ledger.close()
        sandbox = start_sandbox(args, workdir)
        try:
            results = run_nodes(args, sandbox.urls["businesses"], workdir, data_dir)
        finally:
            sandbox.stop()
        ledger = SqliteLedger(data_dir / "businesses-ledger.sqlite")
        overall = ledger.status().overall
        ledger.close()
    summary = summarise(args, targets, overall, results)
    (out / "result.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0 if overall.counts["done"] == targets else 1


def run_nodes(args, url: str, workdir: Path, data_dir: Path) -> list[dict]:
    results: list[dict] = [{} for _ in range(args.nodes)]

    def node(i: int) -> None:
        stats_path = workdir / f"stats{i}.json"
        cmd = crawl_command(
            "businesses",
            settings={
                "BUSINESSES_BASE_URL": url,
                "CONCURRENT_REQUESTS": args.concurrency,
                "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
                "DOWNLOAD_DELAY": 0,
                "AUTOTHROTTLE_ENABLED": False,
                "STATS_FILE": str(stats_path),
                "FEEDS": {str(workdir / f"items{i}.jsonl"): {"format": "jsonlines"}},
                "LOG_LEVEL": "INFO",
            },
        )
        env = {**os.environ, "DATA_DIR": str(data_dir), "NODE_ID": f"bench-{i}"}
        m = measure(cmd, cwd=PROJECT_ROOT, env=env, log_path=workdir / f"log{i}.txt")
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
        results[i] = {"measure": m.as_dict(), "stats": stats}

    threads = [threading.Thread(target=node, args=(i,)) for i in range(args.nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def summarise(args, targets: int, overall, results: list[dict]) -> dict:
    wall = max(r["measure"]["wall_seconds"] for r in results)
    crawl_time = max(r["stats"].get("elapsed_time_seconds", 0) for r in results)
    cpu = sum(r["measure"]["cpu_seconds"] for r in results)
    pages = sum(r["stats"].get("businesses/pages", 0) for r in results)
    items = sum(r["stats"].get("item_scraped_count", 0) for r in results)
    done = overall.counts["done"]
    ideal_pages_per_s = args.nodes * args.concurrency / (args.latency_ms / 1000)
    return {
        "command": "python -m bench businesses " + " ".join(sys.argv[2:]),
        "latency_ms": args.latency_ms,
        "concurrency_per_node": args.concurrency,
        "nodes": args.nodes,
        "targets": targets,
        "targets_done": done,
        "targets_failed": overall.counts["failed"],
        "pages": pages,
        "items_stored": items,
        "wall_seconds": wall,
        "crawl_seconds": round(crawl_time, 2),
        "targets_per_minute": round(done * 60 / crawl_time, 1) if crawl_time else None,
        "pages_per_second": round(pages / crawl_time, 1) if crawl_time else None,
        "ideal_pages_per_second": round(ideal_pages_per_s, 1),
        "cpu_seconds": round(cpu, 2),
        "pages_per_cpu_second": round(pages / cpu, 1) if cpu else None,
        "cpu_ms_per_page": round(1000 * cpu / pages, 2) if pages else None,
        "peak_pss_mib": round(max(r["measure"]["peak_pss_bytes"] for r in results) / 2**20, 1),
        "load_before": results[0]["measure"]["load_before"],
    }
