"""CONCURRENCY_AUTO against fixed concurrencies, on the plain and the browser workload.

    python -m bench autoscale [--workload http|browser|all] [--runs 2] [--fixed 4,8,16]
                              [--latency-ms 200] [--pages 1200] [--browser-pages 300]

The workloads of `python -m bench compare` (ours only, no peer): the businesses listing
crawl over plain HTTP, and JS-rendered flights pages in Chromium, on the sandbox started
with the same knobs. Each round runs every fixed concurrency (CONCURRENCY_AUTO off,
CONCURRENT_REQUESTS = CONCURRENT_REQUESTS_PER_DOMAIN = C, and for the browser
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = C) and `auto` (CONCURRENCY_AUTO on, the largest fixed C
as its ceiling, every other setting its default), in an order that turns each round, the
machine being shared. Medians of pages/s over the whole process's wall time, CPU per page
and peak PSS of the process tree (bench/measure.py), the 1-minute load when each run
started, and for auto the concurrency it ended at and its lowest and highest.
Results: a table on stdout, JSON and Markdown under .bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from bench import compare
from bench._sandbox_proc import SandboxProcess

MB = 1024 * 1024


@dataclass
class Variant:
    workload: str  # "http" or "browser"
    name: str  # "4", "8", "16" or "auto"
    concurrency: int  # fixed C, or auto's ceiling
    runs: list[dict] = field(default_factory=list)

    def median(self, key: str) -> float:
        values = [r[key] for r in self.runs if r.get(key) is not None]
        return statistics.median(values) if values else float("nan")


def command(v: Variant, root: Path, inputs: dict, i: int) -> tuple[list[str], Path]:
    where = root / f"{v.workload}-{v.name}-{i}"
    if v.workload == "http":
        cmd = compare.our_listing_cmd(where, inputs["targets"], inputs["base"], v.concurrency)
    else:
        cmd = compare.our_browser_cmd(where, inputs["urls"], v.concurrency)
    cmd += ["-s", f"CONCURRENCY_AUTO={v.name == 'auto'}"]
    return cmd, where


def run_one(v: Variant, root: Path, inputs: dict, i: int) -> dict:
    cmd, where = command(v, root, inputs, i)
    run = compare.run_ours(cmd, where)
    stats_path = where / "stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    result = {
        "pages": run.pages,
        "pages_per_second": run.pages_per_second,
        "cpu_ms_per_page": run.cpu_ms_per_page,
        "peak_pss_mb": run.m.peak_pss_bytes / MB,
        "load": run.m.load_before,
        "wall_seconds": run.m.wall_seconds,
        "returncode": run.m.returncode,
        **{k: v for k, v in stats.items() if k.startswith("concurrency/")},
    }
    auto = ""
    if v.name == "auto":
        auto = (
            f", concurrency ended {stats.get('concurrency/desired')} (lowest "
            f"{stats.get('concurrency/lowest')}, highest {stats.get('concurrency/highest')})"
        )
    print(
        f"autoscale: {v.workload} {v.name} run {i + 1}: {run.pages} pages in "
        f"{run.m.wall_seconds:.1f}s = {run.pages_per_second:.1f}/s, "
        f"{run.cpu_ms_per_page:.1f} ms CPU/page, {run.m.peak_pss_bytes / MB:.0f} MB PSS, "
        f"load {run.m.load_before:.1f}, rc={run.m.returncode}{auto}",
        flush=True,
    )
    return result


def table(variants: list[Variant]) -> str:
    rows = [
        "| workload | concurrency | pages/s | CPU ms/page | peak PSS MB | load (1 min) "
        "| runs | auto: ended (lowest-highest) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in variants:
        auto = ""
        if v.name == "auto":
            auto = (
                f"{v.median('concurrency/desired'):.0f} "
                f"({v.median('concurrency/lowest'):.0f}-{v.median('concurrency/highest'):.0f})"
            )
        label = f"auto (ceiling {v.concurrency})" if v.name == "auto" else v.name
        rows.append(
            f"| {v.workload} | {label} | {v.median('pages_per_second'):.1f} "
            f"| {v.median('cpu_ms_per_page'):.1f} | {v.median('peak_pss_mb'):.0f} "
            f"| {v.median('load'):.1f} | {len(v.runs)} | {auto} |"
        )
    return "\n".join(rows)


def verdicts(variants: list[Variant]) -> list[str]:
    out = []
    for workload in dict.fromkeys(v.workload for v in variants):
        mine = [v for v in variants if v.workload == workload]
        fixed = [v for v in mine if v.name != "auto"]
        auto = next(v for v in mine if v.name == "auto")
        best = max(fixed, key=lambda v: v.median("pages_per_second"))
        ratio = auto.median("pages_per_second") / best.median("pages_per_second")
        out.append(
            f"{workload}: auto {auto.median('pages_per_second'):.1f} pages/s = {ratio:.0%} of "
            f"the best fixed ({best.name}: {best.median('pages_per_second'):.1f})"
        )
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench autoscale", description=__doc__)
    p.add_argument("--workload", choices=("http", "browser", "all"), default="all")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--fixed", default="4,8,16", help="fixed concurrencies, comma-separated")
    p.add_argument("--latency-ms", type=float, default=200.0)
    p.add_argument("--pages", type=int, default=1200, help="listing pages per run")
    p.add_argument("--browser-pages", type=int, default=300)
    args = p.parse_args(argv)
    try:
        args.fixed = [int(c) for c in args.fixed.split(",") if c.strip()]
    except ValueError:
        p.error(f"--fixed wants integers, got {args.fixed!r}")
    if not args.fixed or min(args.fixed) < 1:
        p.error("--fixed: concurrencies of 1 or more")
    if args.runs < 1 or args.pages < 1 or args.browser_pages < 1 or args.latency_ms <= 0:
        p.error("--runs, --pages, --browser-pages, --latency-ms: must be positive")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    root = compare.BENCH_DIR / "runs" / f"autoscale-{stamp}"
    root.mkdir(parents=True, exist_ok=True)
    workloads = ["http", "browser"] if args.workload == "all" else [args.workload]
    sites, knobs = [], []
    if "http" in workloads:
        sites.append("businesses")
        knobs.extend(compare.BUSINESS_KNOBS)
    if "browser" in workloads:
        sites.append("deals")
        knobs.extend(compare.DEALS_KNOBS)
    options = ["--latency-ms", str(args.latency_ms)]
    for knob in knobs:
        options += ["--set", knob]
    sandbox = SandboxProcess(sites, root, options, who="autoscale")
    variants: list[Variant] = []
    try:
        inputs: dict = {}
        if "http" in workloads:
            inputs["base"] = sandbox.urls["businesses"]
            truth = sandbox.get_json("businesses", "/_sandbox/truth")
            lines, _ = compare.listing_targets(truth, args.pages)
            inputs["targets"] = root / "targets.tsv"
            inputs["targets"].write_text("\n".join(lines) + "\n", encoding="utf-8")
        if "browser" in workloads:
            inputs["urls"] = root / "urls.txt"
            urls = compare.flight_urls(sandbox.urls["deals"], args.browser_pages)
            inputs["urls"].write_text("\n".join(urls) + "\n")
        for workload in workloads:
            mine = [Variant(workload, str(c), c) for c in args.fixed]
            mine.append(Variant(workload, "auto", max(args.fixed)))
            variants.extend(mine)
            for i in range(args.runs):
                turn = i % len(mine)
                for v in mine[turn:] + mine[:turn]:
                    v.runs.append(run_one(v, root, inputs, i))
    finally:
        sandbox.stop()
    report = [table(variants), "", *verdicts(variants)]
    print("\n" + "\n".join(report))
    results = {
        "at": stamp,
        "args": vars(args),
        "cpus": os.cpu_count(),
        "variants": [vars(v) for v in variants],
        "verdicts": verdicts(variants),
    }
    out = compare.BENCH_DIR / "results" / f"autoscale-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    (out.parent / f"autoscale-{stamp}.md").write_text("\n".join(report) + "\n")
    print(f"\nautoscale: results in {out} (runs and logs in {root})")
    return 0
