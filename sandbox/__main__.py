"""python -m sandbox [--sites a,b] [--latency-ms 50] [--fault-429 0.05] [--set site.key=value]"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import sys
import tempfile

from sandbox import sites
from sandbox.server import Sandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    p.add_argument("--sites", default="all", help="comma-separated: " + ",".join(sites.available()))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port-base", type=int, default=0, help="first port (0: free ports)")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--fault-429", type=float, default=0.0)
    p.add_argument("--fault-5xx", type=float, default=0.0)
    p.add_argument("--fault-reset", type=float, default=0.0)
    p.add_argument("--fault-hang", type=float, default=0.0)
    p.add_argument("--retry-after", type=float, default=1.0)
    p.add_argument("--hang-seconds", type=float, default=300.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size", type=int, default=0, help="data size (0: each site's default)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SITE.KEY=VALUE",
        help="a site-specific knob, e.g. vehicles.inventory=500 (repeatable)",
    )
    p.add_argument("--ports-file", help="write {site: url} as JSON here once listening")
    return p.parse_args(argv)


def build(args: argparse.Namespace) -> Sandbox:
    names = sites.available() if args.sites == "all" else args.sites.split(",")
    names = [n for n in names if n != "probe"] if args.sites == "all" else names
    common = {
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
        "fault_429": args.fault_429,
        "fault_5xx": args.fault_5xx,
        "fault_reset": args.fault_reset,
        "fault_hang": args.fault_hang,
        "retry_after": args.retry_after,
        "hang_seconds": args.hang_seconds,
        "seed": args.seed,
        "size": args.size,
    }
    per_site: dict[str, dict] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        site, dot, option = key.partition(".")
        if not sep or not dot or not option:
            raise SystemExit(f"sandbox: --set wants SITE.KEY=VALUE, got {item!r}")
        per_site.setdefault(site, {})[option] = value
    ports = {}
    if args.port_base:
        ports = {name: args.port_base + i for i, name in enumerate(names)}
    return Sandbox(names, host=args.host, ports=ports, knobs=per_site, common=common)


def try_line(recipe: dict) -> str:
    """The demo's crawl of a site as a command a user can paste: its environment (the
    portal's sandbox account included: it is the sandbox's, not a secret), arguments and
    settings."""
    words = [f"{k}={shlex.quote(str(v))}" for k, v in recipe.get("env", {}).items()]
    words += ["scrapy", "crawl", recipe["spider"]]
    for key, value in recipe.get("args", {}).items():
        if key == "urls":
            # Every seed on one line is unreadable: a file of them, one a line.
            fd, path = tempfile.mkstemp(prefix="sandbox-urls-", suffix=".txt")
            with os.fdopen(fd, "w") as fh:
                fh.write("\n".join(str(value).split(",")) + "\n")
            key, value = "urls_file", path
        words += ["-a", f"{key}={shlex.quote(str(value))}"]
    for key, value in recipe.get("settings", {}).items():
        words += ["-s", f"{key}={shlex.quote(str(value))}"]
    return " ".join(words)


async def main_async(sandbox: Sandbox, ports_file: str | None) -> None:
    await sandbox._start_async()
    if ports_file:
        # Written (atomically) before anything is printed: readers wait on the first line.
        tmp = f"{ports_file}.tmp"
        with open(tmp, "w") as fh:
            json.dump({n: sandbox.url(n) for n in sandbox.names}, fh)
        os.replace(tmp, ports_file)
    for name in sandbox.names:
        print(f"sandbox: {name:<12} {sandbox.url(name)}", flush=True)
        site = sandbox.site(name)
        # What a site holds, where that decides what a crawl finds (the directory's states).
        holds = getattr(site, "holds", None)
        if holds is not None:
            print(f"sandbox: {'':<12} holds {holds()}", flush=True)
        recipe = site.demo()
        if recipe:
            print(f"sandbox: {'':<12} try: {try_line(recipe)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sandbox._stop_async()
    print("sandbox: stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sandbox = build(args)
    except ValueError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(main_async(sandbox, args.ports_file))
    except OSError as exc:
        print(f"sandbox: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
