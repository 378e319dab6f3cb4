"""What a site sees of a crawl through proxies, and what the proxies cost the crawl.

    python -m bench proxies [--pages 300] [--proxies 8] [--per-site 2] [--latency-ms 200]

Crawls the probe sandbox site with the `proxied` test spider: direct (no proxies), then
through N local forward proxies (sandbox.proxy) with Scrapy 2.19's own downloader, then
through the same proxies with crawlers.internals.downloader.PacedDownloader (the project's
default).
For each: wall time, pages per second, CPU seconds of the crawl's process tree, and (through
proxies) the largest number of requests in flight to the site at once, counted by the
proxies. The proxies run in this process; their CPU is not in the crawl's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bench.measure import run as measure
from crawlers.env import PROJECT_ROOT
from sandbox import Sandbox
from sandbox.crawl import crawl_command
from sandbox.proxy import ProxyFarm

SCRAPY_DOWNLOADER = "scrapy.core.downloader.Downloader"


def crawl(label, sb, farm, pages, settings, tmp: Path) -> dict:
    proxy_list = farm.write_list(tmp / f"{label}.txt") if farm.proxies else ""
    stats_path = tmp / f"{label}-stats.json"
    cmd = crawl_command(
        "proxied",
        {"base_url": sb.url("probe"), "pages": pages, "site_errors": 0},
        {
            "SPIDER_MODULES": "tests.spiders.proxied_spider",
            "PROXY_LIST": str(proxy_list),
            "PROXY_ENABLED": bool(proxy_list),
            "AUTOTHROTTLE_ENABLED": False,
            "STATS_FILE": str(stats_path),
            "LOG_LEVEL": "WARNING",
            **settings,
        },
    )
    env = {**os.environ, "DATA_DIR": str(tmp / label / "data"), "PYTHONPATH": str(PROJECT_ROOT)}
    result = measure(cmd, cwd=PROJECT_ROOT, env=env, timeout=1800)
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    site = sb.url("probe").removeprefix("http://")
    done = stats.get("progress/done", 0)
    return {
        "run": label,
        "returncode": result.returncode,
        "pages": done,
        "wall_s": round(result.wall_seconds, 2),
        "pages_per_s": round(done / result.wall_seconds, 1) if result.wall_seconds else 0,
        "cpu_s": round(result.cpu_seconds, 2),
        "max_in_flight_to_site": farm.max_in_flight[site] if farm.proxies else None,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench proxies")
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--proxies", type=int, default=8)
    parser.add_argument("--per-site", type=int, default=2, help="CONCURRENT_REQUESTS_PER_DOMAIN")
    parser.add_argument("--latency-ms", type=float, default=200)
    args = parser.parse_args(argv)
    common = {"CONCURRENT_REQUESTS_PER_DOMAIN": args.per_site, "CONCURRENT_REQUESTS": 16}
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        sb = Sandbox(["probe"], common={"latency_ms": args.latency_ms}).start()
        try:
            for label, n, downloader in (
                ("direct", 0, None),
                ("proxies+scrapy-downloader", args.proxies, SCRAPY_DOWNLOADER),
                ("proxies+paced-downloader", args.proxies, None),
            ):
                with ProxyFarm() as farm:
                    for _ in range(n):
                        farm.add("ok")
                    settings = dict(common)
                    if downloader:
                        settings["DOWNLOADER"] = downloader
                    rows.append(crawl(label, sb, farm, args.pages, settings, tmp))
        finally:
            sb.stop()
    print(
        f"pages={args.pages} proxies={args.proxies} CONCURRENT_REQUESTS_PER_DOMAIN="
        f"{args.per_site} site latency={args.latency_ms:.0f} ms"
    )
    for row in rows:
        print(json.dumps(row))
    return 0 if all(r["returncode"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
