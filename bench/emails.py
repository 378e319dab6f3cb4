"""One million distinct addresses crawled from the sandbox into PostgreSQL, end to end.

    python -m bench emails [--addresses 1000000] [--nodes 2] [--latency-ms 0]
    python -m bench emails --profile [--addresses 200000]   (where the time goes)

Starts its own servers: the emails sandbox (`python -m sandbox`, its own process), a
private PostgreSQL (sandbox.services.PostgresServer) and, for more than one node, a private
Redis. Seeds every site, runs `scrapy crawl emails -a target=N` on each node with
DATABASE_URL (and REDIS_URL) set, and reports wall time, CPU time of the crawl's process
tree (and separately of the sandbox and PostgreSQL), peak memory (PSS) of the crawl, and
checks the table against the ground truth: exactly N rows, every one a real address.
`--profile` runs one node under cProfile and sums its time by area.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg
import redis

from bench._sandbox_proc import SandboxProcess
from crawlers.env import PROJECT_ROOT
from sandbox.knobs import Knobs
from sandbox.services import PostgresServer, RedisServer, ServiceError
from sandbox.sites.emails import Site

TEAM_PAGES = 10
PER_PAGE = 200
# The sandbox's block pages (on by default) off: the benchmark measures the crawl's own
# work, and its numbers stay comparable with those measured before there were any.
NO_BLOCKS = {"blocked_sites": 0, "block_200": 0, "block_403": 0}

AREAS = [  # (name, substrings of a profiled function's file) — first match wins
    (
        "address extraction",
        ("crawlers/extraction/emails.py", "html/__init__", "idna/", "tldextract/"),
    ),
    # The sandbox is reached through http_proxy: Scrapy checks no_proxy per request.
    ("proxy environment lookups", ("urllib/request.py", "<frozen os>")),
    ("link extraction and policy", ("crawlers/extraction/email_links.py", "urllib/parse.py")),
    ("spider and dedupe", ("crawlers/spiders/emails.py", "crawlers/emails/addresses")),
    ("storage pipeline (PostgreSQL)", ("crawlers/pipelines/emails.py", "psycopg")),
    (
        "item pipeline, signals, stats",
        (
            "scrapy/core/scraper",
            "scrapy/middleware",
            "signal",
            "pydispatch",
            "statscollectors",
            "scrapy/pipelines",
            "corestats",
            "logformatter",
            "logging/",
        ),
    ),
    (
        "engine, scheduler, downloader",
        (
            "scrapy/core/",
            "scrapy/pqueues",
            "scrapy/squeues",
            "queuelib",
            "scrapy/downloadermiddlewares",
            "scrapy/spidermiddlewares",
            "scrapy/http/",
            "scrapy/utils/",
            "crawlers/middlewares",
            "crawlers/cluster",
            "w3lib",
        ),
    ),
    (
        "HTTP client (Twisted)",
        ("twisted/web", "twisted/protocols", "twisted/internet/tcp", "twisted/internet/abstract"),
    ),
    ("event loop (asyncio, Twisted)", ("asyncio/", "twisted/", "selectors")),
    ("Redis client", ("redis/",)),
    ("extensions (progress, telemetry)", ("crawlers/extensions", "crawlers/telemetry")),
]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench emails", description=__doc__)
    p.add_argument("--addresses", type=int, default=1_000_000, help="target (distinct)")
    p.add_argument("--nodes", type=int, default=2, help="scrapy processes (cluster if > 1)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="sandbox latency per page")
    p.add_argument("--concurrency", type=int, default=64, help="CONCURRENT_REQUESTS per node")
    p.add_argument("--profile", action="store_true", help="one node under cProfile")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra Scrapy setting for the nodes (repeatable)",
    )
    return p.parse_args(argv)


class TreeSampler:
    """Peak PSS of a set of process trees, sampled every half second."""

    def __init__(self, pids):
        self.roots = [psutil.Process(pid) for pid in pids]
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def _run(self):
        while not self._stop.wait(0.5):
            total = 0
            for root in self.roots:
                try:
                    procs = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                for proc in procs:
                    with contextlib.suppress(psutil.Error):
                        total += proc.memory_full_info().pss
            self.peak = max(self.peak, total)


def postgres_cpu(server: PostgresServer) -> float:
    """CPU seconds of the PostgreSQL cluster: live processes and exited backends."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if str(server.dir) not in cmdline and proc.info["name"] != "postgres":
                continue
            if proc.info["name"] != "postgres" and "postgres" not in cmdline:
                continue
            times = proc.cpu_times()
            parent = proc.parent()
            # The postmaster counts exited backends as children.
            total += times.user + times.system
            if parent is None or parent.name() != "postgres":
                total += times.children_user + times.children_system
        except psutil.Error:
            pass
    return total


def start_sandbox(sites: int, latency_ms: float, workdir: Path) -> SandboxProcess:
    options = ["--size", str(sites), "--latency-ms", str(latency_ms)]
    options += ["--set", f"emails.team_pages={TEAM_PAGES}", "--set", f"emails.per_page={PER_PAGE}"]
    for knob, value in NO_BLOCKS.items():
        options += ["--set", f"emails.{knob}={value}"]
    return SandboxProcess(["emails"], workdir, options, who="bench emails")


def node_command(target: int, urls_file: str | None, settings: dict, profile_out: str | None):
    cmd = [sys.executable]
    if profile_out:
        cmd += ["-m", "cProfile", "-o", profile_out]
    cmd += ["-m", "scrapy", "crawl", "emails", "-a", f"target={target}"]
    if urls_file:
        cmd += ["-a", f"urls_file={urls_file}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def run(args) -> dict:
    options = {"team_pages": TEAM_PAGES, "per_page": PER_PAGE, **NO_BLOCKS}
    per_site = len(Site(Knobs(size=1, options=options)).addresses(0))
    sites = math.ceil(args.addresses / (per_site - 1)) + 1
    workdir = Path(tempfile.mkdtemp(prefix="bench-emails-"))
    site = Site(Knobs(size=sites, options=options))
    seeds = workdir / "sites.txt"
    seeds.write_text("\n".join(site.seeds()) + "\n")
    sandbox = pg = rds = None
    procs: list[subprocess.Popen] = []
    try:
        sandbox = start_sandbox(sites, args.latency_ms, workdir)
        sandbox_url = sandbox.urls["emails"]
        pg = start_postgres()
        rds = RedisServer().start() if args.nodes > 1 else None
        database_url = pg.create_database("bench")
        env = {
            **os.environ,
            "http_proxy": sandbox_url,
            "no_proxy": "",
            "DATABASE_URL": database_url,
            "DATA_DIR": str(workdir / "data"),
            "LOG_LEVEL": "INFO",
        }
        settings = {
            "CONCURRENT_REQUESTS": args.concurrency,
            "AUTOTHROTTLE_ENABLED": "False",
            "PROGRESS_INTERVAL": 10,
        }
        for item in args.set:
            key, _, value = item.partition("=")
            settings[key] = value
        urls_file = str(seeds)
        if rds is not None:
            env["REDIS_URL"] = rds.url
            client = redis.Redis.from_url(rds.url)
            client.rpush("emails:start_urls", *site.seeds())
            urls_file = None
        profile_out = str(workdir / "profile.out") if args.profile else None
        started = time.monotonic()
        for n in range(args.nodes):
            log = open(workdir / f"node{n}.log", "w")  # noqa: SIM115 (closed with the run)
            procs.append(
                subprocess.Popen(
                    node_command(args.addresses, urls_file, settings, profile_out),
                    cwd=PROJECT_ROOT,
                    env={**env, "NODE_ID": f"bench-{n}"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        sampler = TreeSampler([p.pid for p in procs]).start()
        cpu = 0.0
        codes = []
        for proc in procs:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            codes.append(proc.returncode)
            cpu += usage.ru_utime + usage.ru_stime
        wall = time.monotonic() - started
        sampler.stop()
        sandbox_cpu = sum(psutil.Process(sandbox.pid).cpu_times()[:2])
        db_cpu = postgres_cpu(pg)
        verified = verify(database_url, site, args.addresses)
        result = {
            "addresses": args.addresses,
            "sites": sites,
            "nodes": args.nodes,
            "exit_codes": codes,
            "wall_seconds": round(wall, 1),
            "crawl_cpu_seconds": round(cpu, 1),
            "sandbox_cpu_seconds": round(sandbox_cpu, 1),
            "postgres_cpu_seconds": round(db_cpu, 1),
            "crawl_peak_pss_mib": round(sampler.peak / 2**20),
            "addresses_per_second": round(verified["rows"] / wall),
            "load_average_1m_at_end": round(os.getloadavg()[0], 1),
            **verified,
            "logs": str(workdir),
        }
        if profile_out:
            result["profile"] = summarize(profile_out)
        return result
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not stop cleanup
        for proc in procs:
            if proc.returncode is None and proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        if sandbox is not None:
            sandbox.stop()
        if pg is not None:
            pg.stop()
        if rds is not None:
            rds.stop()


def start_postgres() -> PostgresServer:
    """A private cluster; once more on another port if a busy machine took the first."""
    try:
        return PostgresServer().start()
    except ServiceError:
        return PostgresServer().start()


def verify(database_url: str, site: Site, target: int) -> dict:
    truth = set(site.all_addresses())
    rows = wrong = 0
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy("COPY emails (email) TO STDOUT") as copy:
            for (email,) in copy.rows():
                rows += 1
                wrong += email not in truth
        distinct = cur.execute("SELECT count(DISTINCT email) FROM emails").fetchone()[0]
    return {
        "rows": rows,
        "distinct_rows": distinct,
        "rows_not_in_truth": wrong,
        "exactly_target": rows == target,
    }


def summarize(profile_out: str) -> dict:
    stats = pstats.Stats(profile_out)
    total = sum(row[2] for row in stats.stats.values())  # tottime
    by_area: dict[str, float] = {}

    def area_of(filename: str) -> str:
        return next((name for name, keys in AREAS if any(k in filename for k in keys)), "other")

    for (filename, _line, _name), row in stats.stats.items():
        if filename == "~":
            # A built-in (a regex search, isinstance, str methods) counts for its callers,
            # by the time spent in it on behalf of each.
            for (caller_file, _l, _n), caller_row in row[4].items():
                area = area_of(caller_file)
                by_area[area] = by_area.get(area, 0.0) + caller_row[2]
            continue
        area = area_of(filename)
        by_area[area] = by_area.get(area, 0.0) + row[2]
    top = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    return {
        "profiled_seconds": round(total, 1),
        "share_by_area": {
            k: f"{100 * v / total:.1f}%" for k, v in sorted(by_area.items(), key=lambda kv: -kv[1])
        },
        "top_functions": [
            f"{row[2]:.2f}s {Path(f).name}:{line}({name})" for (f, line, name), row in top
        ],
    }


def main(argv) -> int:
    args = parse_args(argv)
    # SIGTERM as Ctrl-C: the servers and nodes this run started are stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.profile:
        args.nodes = 1
    result = run(args)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    ok = (
        all(code == 0 for code in result["exit_codes"])
        and result["exactly_target"]
        and result["rows_not_in_truth"] == 0
    )
    return 0 if ok else 1
