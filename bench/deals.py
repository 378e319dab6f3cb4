"""Deals: expansions per minute and memory per concurrent browser page.

python -m bench deals [--concurrency 1,4,8] [--origins 8] [--top 5] [--latency-ms 50]
                      [--flights-ms 800] [--blocking on,off]

One `scrapy crawl deals` per (resource blocking, concurrency), each measured over its whole
process tree, Chromium's children included (bench/measure.py: CPU, peak PSS). The sandbox
runs in its own process (not counted). Concurrency C means C browser pages at once
(CONCURRENT_REQUESTS, CONCURRENT_REQUESTS_PER_DOMAIN and PLAYWRIGHT_MAX_PAGES_PER_CONTEXT
all C, one context, no AutoThrottle). Each origin costs one explore page (region
`anywhere`) and `top` expansions; the rate counts only the expansions, from the first one
queued to the last one finished (the spider's capacity report).

Memory per concurrent browser page is measured apart, because in a crawl pages open and
close every second and the peak PSS of a run moves by more than a page's worth from run to
run: one Chromium (launched as the spider launches it) with one flights page of the sandbox
open opens C more in the same context, waits until each has rendered its options, and the
PSS of the browser's whole process tree (Playwright's driver, Chromium and all its
children) is read, median of five readings; (PSS with C more pages - PSS before) / C is
the memory per page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
from playwright.async_api import async_playwright

from bench._sandbox_proc import SandboxProcess
from bench.measure import run as measure
from crawlers.browser import BLOCKED_RESOURCE_TYPES, launch_options
from crawlers.deals.tfs import encode, flights_query
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


def start_sandbox(args: argparse.Namespace, workdir: Path) -> SandboxProcess:
    options = ["--latency-ms", str(args.latency_ms), "--set", f"deals.flights_ms={args.flights_ms}"]
    # A page left unrendered costs a render timeout and retries: not what is measured here.
    options += ["--set", "deals.never_render=0"]
    return SandboxProcess(["deals"], workdir, options, who="bench deals")


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


def tree_pss(root: psutil.Process, exclude: set[int]) -> int:
    total = 0
    for proc in root.children(recursive=True):
        if proc.pid in exclude or any(p.pid in exclude for p in proc.parents()):
            continue
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            continue
    return total


async def settled_pss(exclude: set[int]) -> int:
    readings = []
    for _ in range(5):
        await asyncio.sleep(0.4)
        readings.append(tree_pss(psutil.Process(), exclude))
    return int(statistics.median(readings))


def flights_urls(url: str, n: int) -> list[str]:
    with urllib.request.urlopen(url + "/_sandbox/truth", timeout=60) as resp:
        truth = json.load(resp)
    urls = []
    for origin, data in truth["origins"].items():
        for deals in data["regions"].values():
            for d in deals:
                tfs = encode(
                    flights_query(origin, d["destination_id"], d["outbound_date"], d["return_date"])
                )
                urls.append(f"{url}/travel/flights?tfs={tfs}&hl=en&curr=USD")
    return urls[:n]


async def page_memory(url: str, pages: int, blocking: bool) -> dict:
    # Everything under this process but the sandbox's tree: the driver and its Chromium.
    exclude = {p.pid for p in psutil.Process().children() if "sandbox" in " ".join(p.cmdline())}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**launch_options())
        context = await browser.new_context()
        if blocking:

            async def route(r):
                if r.request.resource_type in BLOCKED_RESOURCE_TYPES:
                    await r.abort()
                else:
                    await r.continue_()

            await context.route("**/*", route)
        # One page open before counting: the first page of a site also starts processes
        # every later page shares (its renderer, the network service), not a page's cost.
        first, *targets = flights_urls(url, pages + 1)
        warm = await context.new_page()
        await warm.goto(first)
        await warm.wait_for_selector("ul.Rk10dc li", timeout=60_000)
        none = await settled_pss(exclude)
        opened = []
        for target in targets:
            page = await context.new_page()
            await page.goto(target)
            opened.append(page)
        for page in opened:
            await page.wait_for_selector("ul.Rk10dc li", timeout=60_000)
        with_pages = await settled_pss(exclude)
        await browser.close()
    return {
        "blocking": blocking,
        "pages": pages,
        "pss_none_mib": round(none / 2**20, 1),
        "pss_pages_mib": round(with_pages / 2**20, 1),
        "mib_per_page": round((with_pages - none) / pages / 2**20, 1),
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    blockings = [b.strip() == "on" for b in args.blocking.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-deals-"))
    sandbox = start_sandbox(args, workdir)
    url = sandbox.urls["deals"]
    results = []
    try:
        for blocking in blockings:
            for c in concurrencies:
                r = run_one(args, url, workdir, c, blocking)
                results.append(r)
                print(json.dumps(r), flush=True)
        memory = [
            asyncio.run(page_memory(url, c, blocking))
            for blocking in blockings
            for c in concurrencies
        ]
        for m in memory:
            print(json.dumps(m), flush=True)
    finally:
        sandbox.stop()
    print()
    print("crawl: blocking  C  exp/min  exp s (mean/p95)  peak PSS MiB  CPU s  wall s")
    for r in results:
        print(
            f"       {'on ' if r['blocking'] else 'off'}      {r['concurrency']:>2}  "
            f"{r['expansions_per_minute']:>7}  "
            f"{r['expansion_seconds_mean']:>6.2f}/{r['expansion_seconds_p95']:<6.2f}     "
            f"{r['peak_pss_mib']:>12}  {r['cpu_seconds']:>5.0f}  {r['wall_seconds']:>6.0f}"
        )
    print()
    print("pages: blocking  C  browser PSS MiB (none -> C pages)  MiB per page")
    for m in memory:
        print(
            f"       {'on ' if m['blocking'] else 'off'}      {m['pages']:>2}  "
            f"{m['pss_none_mib']:>8} -> {m['pss_pages_mib']:<8}              "
            f"{m['mib_per_page']:>6}"
        )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = out / f"deals-{stamp}.json"
    path.write_text(json.dumps({"args": vars(args), "runs": results, "memory": memory}, indent=1))
    print(f"\nsaved {path}")
    return 0 if all(r["returncode"] == 0 for r in results) else 1
