"""Deals: expansions per minute and memory per concurrent browser page.

python -m bench deals [--concurrency 1,4,8] [--origins 8] [--top 5] [--latency-ms 50]
                      [--flights-ms 800] [--blocking on,off]

One `scrapy crawl deals` per (resource blocking, concurrency), each measured over its whole
process tree, Chromium's children included (bench/measure.py: CPU, peak PSS). The sandbox
runs in its own process (not counted). Concurrency C means C browser pages at once
(CONCURRENT_REQUESTS, CONCURRENT_REQUESTS_PER_DOMAIN and PLAYWRIGHT_MAX_PAGES_PER_CONTEXT
all C, one context, no AutoThrottle). Each origin costs one explore page (region
`anywhere`) and `top` expansions; the rate counts only the expansions, from the first one
queued to the last one finished (the spider's capacity report). Memory per page is the
growth of peak PSS over the C=1 run, divided by the extra pages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import run as measure
from crawlers.env import PROJECT_ROOT
from sandbox.crawl import crawl_command

ORIGINS = ["PHX", "DFW", "LAX", "ORD", "JFK", "ATL", "DEN", "SFO", "SEA", "MIA", "BOS", "LAS"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench deals", description=__doc__)
    p.add_argument("--concurrency", default="1,4,8")
    p.add_argument("--origins", type=int, default=8)
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--flights-ms", type=int, default=800, help="sandbox flights render delay")
    p.add_argument("--blocking", default="on,off", help="resource blocking runs: on, off")
    p.add_argument("--out", default=str(PROJECT_ROOT / "data" / "bench" / "deals"))
    return p.parse_args(argv)


def start_sandbox(args: argparse.Namespace, workdir: Path) -> tuple[subprocess.Popen, str]:
    ports = workdir / "ports.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--sites",
            "deals",
            "--latency-ms",
            str(args.latency_ms),
            "--set",
            f"deals.flights_ms={args.flights_ms}",
            "--ports-file",
            str(ports),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not ports.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("bench deals: the sandbox did not start")
        time.sleep(0.1)
    return proc, json.loads(ports.read_text())["deals"]


def run_one(args, url: str, workdir: Path, concurrency: int, blocking: bool) -> dict:
    run_dir = workdir / f"c{concurrency}-{'block' if blocking else 'noblock'}"
    run_dir.mkdir(parents=True)
    settings = {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "PLAYWRIGHT_MAX_CONTEXTS": 1,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": concurrency,
        "AUTOTHROTTLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "STATS_FILE": str(run_dir / "stats.json"),
        "FEEDS": {str(run_dir / "items.jsonl"): {"format": "jsonlines"}},
    }
    cmd = crawl_command(
        "deals",
        {
            "origins": ",".join(ORIGINS[: args.origins]),
            "regions": "anywhere",
            "top": args.top,
        },
        settings,
    )
    env = {
        **os.environ,
        "DEALS_BASE_URL": url,
        "DATA_DIR": str(run_dir / "data"),
        "BLOCK_RESOURCES": "true" if blocking else "false",
    }
    m = measure(cmd, cwd=PROJECT_ROOT, env=env, log_path=run_dir / "crawl.log", timeout=1800)
    stats = json.loads((run_dir / "stats.json").read_text())
    report = json.loads(Path(stats["deals/capacity_report"]).read_text())
    each = report["expansions"]["each"]
    ok = [e for e in each if e["outcome"] == "ok"]
    span = max(e["finished_at"] for e in each) - min(e["started_at"] for e in each)
    return {
        "concurrency": concurrency,
        "blocking": blocking,
        "returncode": m.returncode,
        "expansions": len(each),
        "expansions_ok": len(ok),
        "expansions_per_minute": round(60 * len(ok) / span, 1) if span > 0 else None,
        "expansion_seconds_mean": report["expansions"]["seconds"]["mean"],
        "expansion_seconds_p95": report["expansions"]["seconds"]["p95"],
        "aborted_requests": stats.get("playwright/request_count/aborted", 0),
        "wall_seconds": m.wall_seconds,
        "cpu_seconds": m.cpu_seconds,
        "peak_pss_mib": round(m.peak_pss_bytes / 2**20, 1),
        "memory_kind": m.memory_kind,
        "load_before": m.load_before,
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    blockings = [b.strip() == "on" for b in args.blocking.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-deals-"))
    sandbox, url = start_sandbox(args, workdir)
    results = []
    try:
        for blocking in blockings:
            for c in concurrencies:
                r = run_one(args, url, workdir, c, blocking)
                results.append(r)
                print(json.dumps(r), flush=True)
    finally:
        sandbox.terminate()
        sandbox.wait(10)
    for blocking in blockings:
        runs = [r for r in results if r["blocking"] == blocking]
        base = min(runs, key=lambda r: r["concurrency"])
        for r in runs:
            extra = r["concurrency"] - base["concurrency"]
            r["mib_per_extra_page"] = (
                round((r["peak_pss_mib"] - base["peak_pss_mib"]) / extra, 1) if extra else None
            )
    print()
    print("blocking  C  exp/min  exp s (mean/p95)  peak PSS MiB  MiB/extra page  CPU s  wall s")
    for r in results:
        per_page = "-" if r["mib_per_extra_page"] is None else f"{r['mib_per_extra_page']:.1f}"
        print(
            f"{'on ' if r['blocking'] else 'off'}      {r['concurrency']:>2}  "
            f"{r['expansions_per_minute']:>7}  "
            f"{r['expansion_seconds_mean']:>6.2f}/{r['expansion_seconds_p95']:<6.2f}     "
            f"{r['peak_pss_mib']:>12}  {per_page:>14}  {r['cpu_seconds']:>5.0f}  "
            f"{r['wall_seconds']:>6.0f}"
        )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = out / f"deals-{stamp}.json"
    path.write_text(json.dumps({"args": vars(args), "runs": results}, indent=1))
    print(f"\nsaved {path}")
    return 0 if all(r["returncode"] == 0 for r in results) else 1
