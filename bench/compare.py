"""Side by side with Crawlee for Python, and against the latency-bound ideal.

    python -m bench compare [--workload http|browser|emails|all] [--runs 3] [--latency-ms 200]
                            [--concurrency 64[,16...]] [--pages 3000]
                            [--browser-concurrency 8] [--browser-pages 200]
                            [--emails-concurrency 64] [--emails-target 200000] [--profile]

Creates the peer's virtualenv (.bench/peer-venv, bench/peer/requirements.txt) when missing,
starts the sandbox in a process of its own, then runs our crawl and the peer's in turn
(the order flips every run, the machine being shared and noisy) and prints medians:
  http     `scrapy crawl businesses -a targets_file=...` (a jsonlines feed, no ledger) vs
           bench/peer/listing.py (HttpCrawler) on the same searches of the sandbox's
           `businesses` site;
  browser  bench/_flights_spider.py (scrapy-playwright with the project's settings) vs
           bench/peer/browser.py (PlaywrightCrawler) on the same JS-rendered pages of the
           sandbox's `deals` site, Debian's Chromium for both;
  emails   `scrapy crawl emails -a urls_file=... -a target=N` (a jsonlines feed, no
           PostgreSQL, the sites reached through the sandbox as `http_proxy`) vs
           bench/peer/emails.py (HttpCrawler, the same link policy and extraction) on the
           sandbox's `emails` sites, shaped as in `python -m bench emails` (10 directory
           pages of 200 people a site), until N distinct addresses; both sides' items are
           checked against the sandbox's ground truth.
Throughput is pages over the process's wall time (start-up included); CPU and peak memory
(PSS) are of the whole process tree (bench/measure.py). The ideal is concurrency / latency;
for the listing crawl, the link graph (each search's pages one after the other) caps it
lower, and that cap is shown too. `--profile` adds a cProfile of one more run of ours.
Results: a table on stdout, and JSON under .bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench import measure
from bench._sandbox_proc import SandboxProcess
from crawlers.env import PROJECT_ROOT
from sandbox.crawl import crawl_command

BENCH_DIR = PROJECT_ROOT / ".bench"
PEER_VENV = BENCH_DIR / "peer-venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
PEER_DIR = PROJECT_ROOT / "bench" / "peer"
REQUIREMENTS = PEER_DIR / "requirements.txt"
MB = 1024 * 1024

# Enough searches for ~6,000 listing pages: 30 cards a page (the last page of a search
# fewer), as on the real site. No 429 bursts nor block pages: the crawlers' speed is
# measured here, the handling of push-back in the spiders' own tests and benchmarks.
BUSINESS_STATES = "CA,TX,FL,NY"
BUSINESS_KNOBS = (
    f"businesses.states={BUSINESS_STATES}",
    "businesses.per_page=30",
    "businesses.burst_429=0",
    "businesses.block_rate=0",
    "businesses.odd_rate=0",
)
# Flights pages render their options at once from data inline in the page: one round trip
# a page, so concurrency / latency is the real ceiling. None is left unrendered (each would
# cost a render timeout, which is not what is measured here).
DEALS_KNOBS = ("deals.flights_ms=0", "deals.delivery=inline", "deals.never_render=0")
FLIGHT_ORIGINS = ("PHX", "DFW", "JFK", "LAX", "ORD", "ATL", "SEA", "DEN", "BOS", "MIA")
# The sites of `python -m bench emails` (about 2,014 addresses a site), no faults: enough
# sites that the target is reached before the last one is done.
# Block pages off, as bench/emails.py has them: the peers are compared on the same work.
EMAILS_OPTIONS = {
    "team_pages": 10,
    "per_page": 200,
    "blocked_sites": 0,
    "block_200": 0,
    "block_403": 0,
}


@dataclass
class Run:
    side: str  # "ours" or "peer"
    pages: int
    items: int
    failed: int
    m: measure.Measurement
    check: dict = field(default_factory=dict)  # emails: the items against the truth

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.m.wall_seconds if self.m.wall_seconds else 0.0

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.m.cpu_seconds / self.pages if self.pages else float("inf")


@dataclass
class Workload:
    name: str
    concurrency: int
    latency_ms: float
    expected_pages: int
    graph_rounds: int = 0  # round trips the link graph needs at this concurrency (0: none)
    target: int = 0  # emails: distinct addresses each run stops at
    runs: list[Run] = field(default_factory=list)

    @property
    def ideal(self) -> float:
        return self.concurrency / (self.latency_ms / 1000)

    @property
    def graph_ideal(self) -> float:
        if not self.graph_rounds:
            return self.ideal
        return self.expected_pages / (self.graph_rounds * self.latency_ms / 1000)

    def median(self, side: str, key) -> float:
        values = [key(r) for r in self.runs if r.side == side]
        return statistics.median(values) if values else float("nan")


# -- the peer's virtualenv ------------------------------------------------------------------
def ensure_peer_venv() -> None:
    stamp = PEER_VENV / ".requirements-sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if PEER_PYTHON.exists() and stamp.exists() and stamp.read_text() == want:
        return
    print(f"compare: installing the peer into {PEER_VENV} (once)", flush=True)
    if not PEER_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run(
        [str(PEER_PYTHON), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True
    )
    stamp.write_text(want)


# -- inputs ---------------------------------------------------------------------------------
def listing_targets(truth: dict, pages: int) -> tuple[list[str], list[int]]:
    """The first searches of the site that make `pages` pages: target lines, pages each."""
    lines, chains, total = [], [], 0
    for search in truth["searches"]:
        if total >= pages:
            break
        n = max(1, search["pages"])  # a search without results is still one page
        lines.append(f"{search['search_terms']}\t{search['location']}")
        chains.append(n)
        total += n
    if total < pages:
        raise SystemExit(f"compare: the sandbox has only {total} listing pages; use --pages <= it")
    return lines, chains


def graph_rounds(chains: list[int], concurrency: int) -> int:
    """Round trips needed when each search's pages come one after the other, `concurrency`
    at a time, the longest chains first (the best any scheduler can do here)."""
    left = sorted(chains, reverse=True)
    rounds = 0
    while left:
        busy = [n - 1 for n in left[:concurrency]]
        left = sorted([n for n in busy if n] + left[concurrency:], reverse=True)
        rounds += 1
    return rounds


def flight_urls(base_url: str, pages: int) -> list[str]:
    from sandbox.sites.deals import DESTINATIONS, build_tfs

    urls = []
    first = dt.date(2027, 3, 1)
    per_day = len(FLIGHT_ORIGINS) * len(DESTINATIONS)
    for i in range(pages):
        origin = FLIGHT_ORIGINS[i % len(FLIGHT_ORIGINS)]
        dest = DESTINATIONS[(i // len(FLIGHT_ORIGINS)) % len(DESTINATIONS)][0]
        out = first + dt.timedelta(days=i // per_day)
        back = out + dt.timedelta(days=7)
        tfs = build_tfs([(out.isoformat(), origin, dest), (back.isoformat(), dest, origin)])
        urls.append(f"{base_url}/travel/flights?tfs={tfs}&hl=en&curr=USD")
    return urls


def emails_sites(target: int):
    """The sandbox's emails site with enough sites for `target` addresses."""
    from sandbox.knobs import Knobs
    from sandbox.sites.emails import Site

    per_site = len(Site(Knobs(size=1, options=EMAILS_OPTIONS)).addresses(0))
    size = math.ceil(target / (per_site - 1)) + 1  # as bench/emails.py sizes it
    return Site(Knobs(size=size, options=dict(EMAILS_OPTIONS)))


def check_emails(path: Path, truth: set[str], target: int) -> dict:
    """Items of a run (jsonlines, or Crawlee's JSON array) against the sandbox's truth."""
    if not path.exists():
        return {"items": 0, "distinct": 0, "not_in_truth": 0, "exactly_target": False}
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        items = json.loads(text)
    else:
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    emails = [item["email"] for item in items]
    distinct = set(emails)
    return {
        "items": len(emails),
        "distinct": len(distinct),
        "not_in_truth": len(distinct - truth),
        "exactly_target": len(emails) == len(distinct) == target,
    }


# -- one run of each side -------------------------------------------------------------------
def crawl_env(workdir: Path) -> dict[str, str]:
    return {**os.environ, "DATA_DIR": str(workdir / "data"), "PYTHONUNBUFFERED": "1"}


def our_settings(workdir: Path, concurrency: int) -> dict:
    return {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        # The benchmark measures the crawler, not politeness towards a real site.
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "STATS_FILE": str(workdir / "stats.json"),
        "FEEDS": {str(workdir / "items.jsonl"): {"format": "jsonlines"}},
    }


def our_listing_cmd(workdir: Path, targets: Path, base_url: str, concurrency: int) -> list[str]:
    settings = {
        **our_settings(workdir, concurrency),
        "BUSINESSES_BASE_URL": base_url,
        "BUSINESSES_FILTER_FILE": "",
    }
    return crawl_command("businesses", {"targets_file": str(targets)}, settings)


def our_browser_cmd(workdir: Path, urls: Path, concurrency: int) -> list[str]:
    settings = {
        **our_settings(workdir, concurrency),
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": concurrency,
    }
    cmd = [sys.executable, "-m", "scrapy", "runspider", "bench/_flights_spider.py"]
    cmd += ["-a", f"urls_file={urls}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={json.dumps(value) if isinstance(value, dict) else value}"]
    return cmd


def our_emails_cmd(workdir: Path, seeds: Path, target: int, concurrency: int) -> list[str]:
    return crawl_command(
        "emails", {"urls_file": str(seeds), "target": target}, our_settings(workdir, concurrency)
    )


def emails_env(workdir: Path, proxy: str) -> dict[str, str]:
    env = {**crawl_env(workdir), "http_proxy": proxy, "no_proxy": ""}
    # A feed, one process: no PostgreSQL storage, no cluster.
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return env


def run_ours(cmd: list[str], workdir: Path, env: dict[str, str] | None = None) -> Run:
    workdir.mkdir(parents=True, exist_ok=True)
    env = env or crawl_env(workdir)
    m = measure.run(cmd, cwd=PROJECT_ROOT, env=env, log_path=workdir / "log")
    stats_path = workdir / "stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    return Run(
        "ours",
        stats.get("response_received_count", 0),
        stats.get("item_scraped_count", 0),
        stats.get("progress/failed", 0),
        m,
    )


def run_peer(script: str, args: list[str], workdir: Path) -> Run:
    workdir.mkdir(parents=True, exist_ok=True)
    summary_path = workdir / "summary.json"
    cmd = [str(PEER_PYTHON), str(PEER_DIR / script), *args, "--summary", str(summary_path)]
    cmd += ["--items", str(workdir / "items.json")]  # as ours writes a feed
    m = measure.run(cmd, cwd=PROJECT_ROOT, env=crawl_env(workdir), log_path=workdir / "log")
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return Run(
        "peer",
        summary.get("pages", 0),
        summary.get("items", 0),
        summary.get("requests_failed", 0),
        m,
    )


def alternate(workload: Workload, runs: int, ours, peer) -> None:
    for i in range(runs):
        order = [("ours", ours), ("peer", peer)]
        if i % 2:
            order.reverse()
        for side, run in order:
            result = run(i)
            workload.runs.append(result)
            print(
                f"compare: {workload.name} C={workload.concurrency} run {i + 1}/{runs} {side}: "
                f"{result.pages} pages in {result.m.wall_seconds:.1f}s, "
                f"{result.cpu_ms_per_page:.1f} ms CPU/page, "
                f"{result.m.peak_pss_bytes / MB:.0f} MB PSS, rc={result.m.returncode}, "
                f"load {result.m.load_before:.1f}{check_text(result)}",
                flush=True,
            )


def check_text(run: Run) -> str:
    if not run.check:
        return ""
    c = run.check
    return (
        f", {c['distinct']} addresses ({c['items'] - c['distinct']} repeated, "
        f"{c['not_in_truth']} not in the truth)"
    )


# -- reporting ------------------------------------------------------------------------------
def verdicts(w: Workload) -> list[str]:
    ours_pps = w.median("ours", lambda r: r.pages_per_second)
    peer_pps = w.median("peer", lambda r: r.pages_per_second)
    ours_cpu = w.median("ours", lambda r: r.m.cpu_seconds / r.pages if r.pages else 0)
    peer_cpu = w.median("peer", lambda r: r.m.cpu_seconds / r.pages if r.pages else 0)
    ours_core = w.median("ours", lambda r: r.m.cpu_seconds / r.m.wall_seconds)
    ours_pss = w.median("ours", lambda r: r.m.peak_pss_bytes)
    peer_pss = w.median("peer", lambda r: r.m.peak_pss_bytes)
    load = statistics.median(r.m.load_before for r in w.runs)
    cores = os.cpu_count() or 1
    busy = ""
    if load > cores:
        busy = f" (machine busy: load {load:.1f} on {cores} cores, ours got {ours_core:.2f} cores)"
    out = []
    if w.name == "emails":
        ratio = peer_cpu / ours_cpu if ours_cpu else float("nan")
        out.append(
            f"pages per CPU-second {ratio:.2f}x the peer's (the plain-HTTP target >= 2x): "
            f"{'met' if ratio >= 2 else 'NOT met'}"
        )
        # Pages differ in worth (a directory page holds 200 addresses, a trap page one), and
        # each side reaches the target over its own mix of pages: the address is the unit.
        per_address = {
            side: w.median(side, lambda r: r.m.cpu_seconds / max(1, r.check.get("distinct", 0)))
            for side in ("ours", "peer")
        }
        out.append(
            f"CPU per address: ours {1e6 * per_address['ours']:.0f} us, the peer's "
            f"{1e6 * per_address['peer']:.0f} us (addresses per CPU-second "
            f"{per_address['peer'] / per_address['ours']:.2f}x the peer's)"
        )
        speed = ours_pps / peer_pps if peer_pps else float("nan")
        mem = ours_pss / peer_pss if peer_pss else float("nan")
        walls = {side: w.median(side, lambda r: r.m.wall_seconds) for side in ("ours", "peer")}
        out.append(
            f"pages/s {speed:.2f}x the peer's; to the target in {walls['ours']:.1f} s against "
            f"{walls['peer']:.1f} s ({w.target / walls['ours']:.0f} and "
            f"{w.target / walls['peer']:.0f} addresses/s); peak PSS {mem:.2f}x{busy}"
        )
        exact = all(r.check.get("exactly_target") for r in w.runs)
        wrong = sum(r.check.get("not_in_truth", 0) for r in w.runs)
        out.append(
            f"every run exactly {w.target} distinct addresses: {'yes' if exact else 'NO'}; "
            f"not in the sandbox's truth: {wrong}"
        )
    elif w.name == "http":
        # One Scrapy process computes on one core: past `ceiling` pages/s the CPU is the limit.
        ceiling = 1.0 / ours_cpu if ours_cpu else float("inf")
        limit = min(w.graph_ideal, ceiling)
        share = ours_pps / limit
        out.append(
            f"throughput {ours_pps:.0f} pages/s = {share:.0%} of min(link-graph ideal "
            f"{w.graph_ideal:.0f}, one core's worth {ceiling:.0f}) (target >= 90%): "
            f"{'met' if share >= 0.9 else 'NOT met'}{busy}"
        )
        ratio = peer_cpu / ours_cpu if ours_cpu else float("nan")
        out.append(
            f"pages per CPU-second {ratio:.2f}x the peer's (target >= 2x): "
            f"{'met' if ratio >= 2 else 'NOT met'}"
        )
    else:
        ratio = ours_pps / peer_pps if peer_pps else float("nan")
        out.append(
            f"pages/s {ratio:.2f}x the peer's (target >= 1.5x): "
            f"{'met' if ratio >= 1.5 else 'NOT met'}{busy}"
        )
        mem = ours_pss / peer_pss if peer_pss else float("nan")
        out.append(
            f"peak PSS {mem:.2f}x the peer's (target <= 0.7x): {'met' if mem <= 0.7 else 'NOT met'}"
        )
    return out


def table(workloads: list[Workload]) -> str:
    rows = [
        "| workload | C | side | pages/s | % of ideal | CPU ms/page | pages/CPU-s "
        "| cores used | peak PSS MB | load (1 min) | pages ok |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for w in workloads:
        for side, label in (("ours", "ours"), ("peer", "Crawlee 1.11")):
            if not any(r.side == side for r in w.runs):
                continue

            def med(key, w=w, side=side):
                return w.median(side, key)

            pps = med(lambda r: r.pages_per_second)
            cpu = med(lambda r: r.cpu_ms_per_page)
            done = f"{med(lambda r: r.pages):.0f}/{w.expected_pages}"
            if w.target:
                done = (
                    f"{med(lambda r: r.pages):.0f} pages, "
                    f"{med(lambda r: r.check.get('distinct', 0)):.0f}/{w.target} addresses"
                )
            rows.append(
                f"| {w.name} | {w.concurrency} | {label} | {pps:.1f} | {pps / w.ideal:.0%} "
                f"| {cpu:.1f} | {1000 / cpu if cpu else 0:.0f} "
                f"| {med(lambda r: r.m.cpu_seconds / r.m.wall_seconds):.2f} "
                f"| {med(lambda r: r.m.peak_pss_bytes) / MB:.0f} "
                f"| {med(lambda r: r.m.load_before):.1f} "
                f"| {done} |"
            )
        cap = ""
        if w.graph_rounds:
            cap = f"; the link graph caps it at {w.graph_ideal:.0f} ({w.graph_ideal / w.ideal:.0%})"
        rows.append(
            f"| {w.name} | {w.concurrency} | ideal | {w.ideal:.0f} | 100% | | | | | "
            f"| latency {w.latency_ms:g} ms{cap} |"
        )
    return "\n".join(rows)


# Profiles CPU time, not wall time: on a shared machine the wall clock counts other
# processes' turns too.
PROFILER = """
import cProfile, runpy, sys, time
out, sys.argv = sys.argv[1], sys.argv[2:]
profile = cProfile.Profile(time.process_time)
try:
    profile.runcall(runpy.run_module, sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit:
    pass
finally:
    profile.dump_stats(out)
"""


def profile_ours(
    cmd: list[str], workdir: Path, top: int = 30, env: dict[str, str] | None = None
) -> str:
    """One more run of ours under cProfile: where the CPU goes, by own time and cumulative."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "ours.prof"
    module_args = cmd[cmd.index("-m") + 1 :]  # e.g. scrapy crawl businesses ...
    profiled = [sys.executable, "-c", PROFILER, str(out), *module_args]
    env = crawl_env(workdir) if env is None else env
    measure.run(profiled, cwd=PROJECT_ROOT, env=env, log_path=workdir / "log")
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def run_emails(args, site, proxy: str, root: Path, workloads: list[Workload]) -> str:
    """Alternating runs of both sides; with --profile, the profile of one more of ours."""
    c, target = args.emails_concurrency, args.emails_target
    seeds = root / "sites.txt"
    seeds.write_text("\n".join(site.seeds()) + "\n")
    truth = set(site.all_addresses())
    w = Workload("emails", c, args.latency_ms, 0, target=target)
    workloads.append(w)

    def ours(i: int) -> Run:
        where = root / f"emails-ours-{i}"
        run = run_ours(our_emails_cmd(where, seeds, target, c), where, emails_env(where, proxy))
        run.check = check_emails(where / "items.jsonl", truth, target)
        return run

    def peer(i: int) -> Run:
        where = root / f"emails-peer-{i}"
        peer_args = ["--proxy", proxy, "--seeds", str(seeds), "--target", str(target)]
        run = run_peer("emails.py", [*peer_args, "--concurrency", str(c)], where)
        run.check = check_emails(where / "items.json", truth, target)
        return run

    alternate(w, args.runs, ours, peer)
    if args.profile:
        where = root / "profile-emails"
        cmd = our_emails_cmd(where, seeds, target, c)
        return profile_ours(cmd, where, env=emails_env(where, proxy))
    return ""


# -- main -----------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench compare", description=__doc__)
    p.add_argument("--workload", choices=("http", "browser", "emails", "all"), default="all")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--latency-ms", type=float, default=200.0)
    p.add_argument("--concurrency", default="64", help="listing crawl; comma-separated for several")
    p.add_argument("--pages", type=int, default=3000, help="listing pages per run")
    p.add_argument("--browser-concurrency", type=int, default=8)
    p.add_argument("--browser-pages", type=int, default=200)
    p.add_argument("--emails-concurrency", type=int, default=64)
    p.add_argument("--emails-target", type=int, default=200_000, help="distinct addresses")
    p.add_argument("--profile", action="store_true", help="add a cProfile of ours (http, emails)")
    args = p.parse_args(argv)
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        p.error(f"--concurrency wants integers, got {args.concurrency!r}")
    if (
        args.runs < 1
        or args.pages < 1
        or args.browser_pages < 1
        or args.emails_target < 1
        or args.latency_ms <= 0
    ):
        p.error("--runs, --pages, --browser-pages, --emails-target, --latency-ms: must be positive")
    if (
        not args.concurrency
        or min(args.concurrency) < 1
        or args.browser_concurrency < 1
        or args.emails_concurrency < 1
    ):
        p.error("concurrency must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    ensure_peer_venv()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    root = BENCH_DIR / "runs" / stamp
    root.mkdir(parents=True, exist_ok=True)
    sites, knobs = [], []
    if args.workload in ("http", "all"):
        sites.append("businesses")
        knobs.extend(BUSINESS_KNOBS)
    if args.workload in ("browser", "all"):
        sites.append("deals")
        knobs.extend(DEALS_KNOBS)
    email_site = None
    if args.workload in ("emails", "all"):
        sites.append("emails")
        email_site = emails_sites(args.emails_target)
        knobs.append(f"emails.size={email_site.size}")
        knobs.extend(f"emails.{k}={v}" for k, v in EMAILS_OPTIONS.items())
    options = ["--latency-ms", str(args.latency_ms)]
    for knob in knobs:
        options += ["--set", knob]
    sandbox = SandboxProcess(sites, root, options, who="compare")
    workloads: list[Workload] = []
    profile = ""
    try:
        if "businesses" in sites:
            base = sandbox.urls["businesses"]
            lines, chains = listing_targets(
                sandbox.get_json("businesses", "/_sandbox/truth"), args.pages
            )
            targets = root / "targets.tsv"
            targets.write_text("\n".join(lines) + "\n", encoding="utf-8")
            for c in args.concurrency:
                w = Workload("http", c, args.latency_ms, sum(chains), graph_rounds(chains, c))
                workloads.append(w)
                peer_args = ["--base-url", base, "--targets", str(targets), "--concurrency", str(c)]
                alternate(
                    w,
                    args.runs,
                    lambda i, c=c: run_ours(
                        our_listing_cmd(root / f"http-c{c}-ours-{i}", targets, base, c),
                        root / f"http-c{c}-ours-{i}",
                    ),
                    lambda i, c=c, a=peer_args: run_peer(
                        "listing.py", a, root / f"http-c{c}-peer-{i}"
                    ),
                )
            if args.profile:
                c = max(args.concurrency)
                where = root / "profile"
                profile = profile_ours(our_listing_cmd(where, targets, base, c), where)
        if "deals" in sites:
            c = args.browser_concurrency
            urls = root / "urls.txt"
            urls.write_text(
                "\n".join(flight_urls(sandbox.urls["deals"], args.browser_pages)) + "\n"
            )
            w = Workload("browser", c, args.latency_ms, args.browser_pages)
            workloads.append(w)
            alternate(
                w,
                args.runs,
                lambda i: run_ours(
                    our_browser_cmd(root / f"browser-ours-{i}", urls, c),
                    root / f"browser-ours-{i}",
                ),
                lambda i: run_peer(
                    "browser.py",
                    ["--urls", str(urls), "--concurrency", str(c)],
                    root / f"browser-peer-{i}",
                ),
            )
        if email_site is not None:
            emails_profile = run_emails(args, email_site, sandbox.urls["emails"], root, workloads)
            if emails_profile:
                profile += "\n" + emails_profile if profile else emails_profile
    finally:
        sandbox.stop()
    report = [table(workloads), ""]
    for w in workloads:
        report += [f"{w.name} C={w.concurrency}: {v}" for v in verdicts(w)]
    print("\n" + "\n".join(report))
    if profile:
        print("\nWhere our CPU goes (cProfile, one more run of ours per workload):\n" + profile)
    results = {
        "at": stamp,
        "args": {k: v for k, v in vars(args).items()},
        "cpus": os.cpu_count(),
        "workloads": [
            {
                "name": w.name,
                "concurrency": w.concurrency,
                "latency_ms": w.latency_ms,
                "expected_pages": w.expected_pages,
                "ideal": w.ideal,
                "graph_ideal": w.graph_ideal,
                "runs": [
                    {
                        "side": r.side,
                        "pages": r.pages,
                        "items": r.items,
                        "failed": r.failed,
                        **r.m.as_dict(),
                        **({"check": r.check} if r.check else {}),
                    }
                    for r in w.runs
                ],
                "verdicts": verdicts(w),
            }
            for w in workloads
        ],
    }
    out = BENCH_DIR / "results" / f"compare-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    (out.parent / f"compare-{stamp}.md").write_text("\n".join(report) + "\n" + profile)
    print(f"\ncompare: results in {out} (runs and logs in {root})")
    return 0
