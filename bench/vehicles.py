"""Vehicles: vehicles per hour against the latency-bound ideal, and peak memory of the tree.

python -m bench vehicles [--vehicles 400] [--latency-ms 250] [--jitter-ms 40]
                         [--concurrency 7] [--modes http,browser] [--session-requests 500]
                         [--interval 0.25] [--project DIR] [-s NAME=VALUE ...]

One `scrapy crawl vehicles -s CONCURRENT_REQUESTS=C` per mode, with the project's defaults
otherwise (AutoThrottle on), measured over its whole process tree, Chromium included
(bench/measure.py: wall, CPU, peak PSS). The sandbox runs in its own process (not counted),
every response delayed by `latency` (gaussian, `jitter`), each session expiring after
`session-requests` requests (so the run logs in again along the way).
  http     the login in the browser, then vehicle pages and PDFs as plain HTTP requests
           carrying the session (the default)
  browser  vehicle pages opened in browser pages (C pages in the login's context), as the
           old tool did; PDFs still plain HTTP
Each vehicle costs two requests (its page and its PDF), so with C requests in flight the
latency-bound ideal is C / (2 * latency) vehicles per second, before the login and the
inventory pages. `per hour` counts the whole run, process and browser start and first
login included; `after login` counts from the first login to the end (the crawl's log).
Memory is also split by the log's logins: the peak during them (the browser's) and the
peak after the first one outside any login (what the crawl itself holds).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench._sandbox_proc import SandboxProcess
from bench.measure import run as measure
from crawlers.env import PROJECT_ROOT
from sandbox.crawl import crawl_command


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench vehicles", description=__doc__)
    p.add_argument("--vehicles", type=int, default=400)
    p.add_argument("--latency-ms", type=float, default=250.0)
    p.add_argument("--jitter-ms", type=float, default=40.0)
    p.add_argument("--concurrency", type=int, default=7)
    p.add_argument("--modes", default="http,browser")
    p.add_argument("--session-requests", type=int, default=500)
    p.add_argument("--pdf-kb", type=int, default=40)
    p.add_argument("--interval", type=float, default=0.25, help="seconds between samples")
    p.add_argument(
        "-s",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra Scrapy setting for the crawl (repeatable)",
    )
    p.add_argument("--out", default=str(PROJECT_ROOT / "data" / "bench" / "vehicles"))
    p.add_argument(
        "--project",
        default=str(PROJECT_ROOT),
        help="the checkout whose spider runs (another one: a before/after comparison)",
    )
    args = p.parse_args(argv)
    if args.latency_ms <= 0:
        # The ideal it reports against is latency-bound: without latency there is none.
        p.error("--latency-ms must be above 0 (the latency-bound ideal needs one)")
    return args


def start_sandbox(args: argparse.Namespace, workdir: Path) -> SandboxProcess:
    options = ["--latency-ms", str(args.latency_ms), "--jitter-ms", str(args.jitter_ms)]
    options += ["--size", str(args.vehicles)]
    options += ["--set", f"vehicles.session_requests={args.session_requests}"]
    options += ["--set", f"vehicles.pdf_kb={args.pdf_kb}"]
    return SandboxProcess(["vehicles"], workdir, options, who="bench vehicles")


def after_login_seconds(log: Path) -> float | None:
    """From the first login to the spider's close, by the timestamps of the crawl's log."""
    first = last = None
    for line in log.read_text(errors="replace").splitlines():
        if first is None and "vehicles: logged in" in line:
            first = datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S")
        elif "Spider closed" in line:
            last = datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S")
    return (last - first).total_seconds() if first and last and last > first else None


def _stamp(line: str) -> float | None:
    """Unix time of a log line (LOG_FORMAT below adds milliseconds), None if it has none."""
    try:
        return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f").timestamp()
    except ValueError:
        try:
            return datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S").timestamp()
        except ValueError:
            return None


def login_windows(log: Path, started: float) -> list[tuple[float, float]]:
    """(start, end) of each login, by the crawl's log: from `logging in (session N)` to
    `logged in (session N)`, or to the browser's closing after it. The first starts with
    the process (a crawl that does not log the start of a login has only this one)."""
    starts: dict[str, float] = {}
    windows: list[tuple[float, float]] = []
    for line in log.read_text(errors="replace").splitlines():
        at = _stamp(line)
        if at is None:
            continue
        if "vehicles: logging in (session " in line:
            starts[line.rsplit("(session ", 1)[1]] = at
        elif "vehicles: logged in (session " in line:
            number = line.rsplit("(session ", 1)[1]
            windows.append((starts.pop(number, started if not windows else at), at))
        elif "browser closed until a browser page is needed" in line and windows:
            # The browser closes just after the login, while the crawl goes on: its
            # memory is the login's.
            windows[-1] = (windows[-1][0], at)
    return windows


def memory_phases(timeline, windows: list[tuple[float, float]]) -> dict:
    """Peak PSS during the logins and after the first one (outside any login), and the most
    browser processes seen alive after the first login outside a login."""
    first_done = windows[0][1] if windows else float("inf")
    during = [pss for at, pss, _ in timeline if any(a <= at <= b for a, b in windows)]
    after = [
        (pss, browsers)
        for at, pss, browsers in timeline
        if at > first_done and not any(a <= at <= b for a, b in windows)
    ]
    mib = 2**20
    return {
        "login_peak_pss_mib": round(max(during, default=0) / mib, 1),
        "after_login_peak_pss_mib": round(max((p for p, _ in after), default=0) / mib, 1),
        "after_login_samples": len(after),
        "after_login_most_browser_processes": max((b for _, b in after), default=0),
    }


def run_one(args: argparse.Namespace, url: str, workdir: Path, mode: str) -> dict:
    run_dir = workdir / mode
    run_dir.mkdir(parents=True)
    settings = {
        "CONCURRENT_REQUESTS": args.concurrency,
        "LOG_LEVEL": "INFO",
        # Milliseconds, to place the memory samples inside or outside the logins.
        "LOG_FORMAT": "%(asctime)s.%(msecs)03d [%(name)s] %(levelname)s: %(message)s",
        "FILES_STORE": str(run_dir / "pdfs"),
        "STATS_FILE": str(run_dir / "stats.json"),
        "FEEDS": {str(run_dir / "items.jsonl"): {"format": "jsonlines"}},
    }
    settings.update(dict(pair.split("=", 1) for pair in args.settings))
    if mode == "browser":
        settings["VEHICLES_BROWSER_PAGES"] = True
        settings["PLAYWRIGHT_MAX_PAGES_PER_CONTEXT"] = args.concurrency
    env = {
        **os.environ,
        "VEHICLES_BASE_URL": url,
        "VEHICLES_USERNAME": "dealer",
        "VEHICLES_PASSWORD": "letmein-42",
        "DATA_DIR": str(run_dir / "data"),
    }
    cmd = crawl_command("vehicles", settings=settings)
    started = time.time()
    m = measure(
        cmd,
        cwd=args.project,
        env=env,
        log_path=run_dir / "crawl.log",
        timeout=3600,
        interval=args.interval,
        timeline=True,
    )
    phases = memory_phases(m.timeline, login_windows(run_dir / "crawl.log", started))
    stats = json.loads((run_dir / "stats.json").read_text())
    done = stats.get("progress/done", 0)
    latency = args.latency_ms / 1000
    ideal_per_hour = 3600 * args.concurrency / (2 * latency)
    per_hour = 3600 * done / m.wall_seconds if m.wall_seconds else 0.0
    steady = after_login_seconds(run_dir / "crawl.log")
    return {
        "mode": mode,
        "returncode": m.returncode,
        "vehicles": done,
        "failed": stats.get("progress/failed", 0),
        "logins": stats.get("vehicles/logins", 0),
        "wall_seconds": m.wall_seconds,
        "vehicles_per_hour": round(per_hour),
        "ideal_per_hour": round(ideal_per_hour),
        "share_of_ideal": round(per_hour / ideal_per_hour, 3),
        "after_login_per_hour": round(3600 * done / steady) if steady else None,
        "after_login_share_of_ideal": round(3600 * done / steady / ideal_per_hour, 3)
        if steady
        else None,
        "seconds_per_vehicle": round(m.wall_seconds / done, 3) if done else None,
        "cpu_seconds": m.cpu_seconds,
        "cpu_ms_per_vehicle": round(1000 * m.cpu_seconds / done, 1) if done else None,
        "peak_pss_mib": round(m.peak_pss_bytes / 2**20, 1),
        "memory_kind": m.memory_kind,
        "peak_processes": m.peak_processes,
        **phases,
        "samples": m.samples,
        "load_before": m.load_before,
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-vehicles-"))
    results = []
    for mode in args.modes.split(","):
        # A fresh portal per mode: the same inventory, no PDF already saved.
        sandbox = start_sandbox(args, workdir / f"sandbox-{mode}")
        try:
            result = run_one(args, sandbox.urls["vehicles"], workdir, mode)
        finally:
            sandbox.stop()
        results.append(result)
        print(json.dumps(result), flush=True)
    print()
    print(
        "mode     vehicles  veh/hour  after login  ideal/hour  of ideal  CPU ms/veh  peak PSS MiB"
        "  login / after login"
    )
    for r in results:
        print(
            f"{r['mode']:<8} {r['vehicles']:>8}  {r['vehicles_per_hour']:>8}  "
            f"{r['after_login_per_hour'] or 0:>11}  {r['ideal_per_hour']:>10}  "
            f"{r['share_of_ideal']:>8.0%}  {r['cpu_ms_per_vehicle'] or 0:>10}  "
            f"{r['peak_pss_mib']:>12}  {r['login_peak_pss_mib']} / {r['after_login_peak_pss_mib']}"
        )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = out / f"vehicles-{stamp}.json"
    path.write_text(json.dumps({"args": vars(args), "runs": results}, indent=1))
    print(f"\nsaved {path}")
    return 0 if all(r["returncode"] == 0 for r in results) else 1
