"""The frontier at scale: Redis memory per queued request and per seen fingerprint, measured.

python -m bench frontier [--sizes 1000000,10000000] [--batch 2000] [--filters set,bloom]
                         [--error 0.001]

A synthetic load through the queue's own scripts (crawlers/redis_scripts/queue_*.lua, as
EVALSHA streamed through `redis-cli --pipe`): for each size N, on a fresh private redis-server,
  seen:   N fingerprints recorded with `queue_see` (what is left of a request once crawled),
  queued: N requests queued with `queue_push` (payload, priority, id and fingerprint),
  addresses: N email addresses claimed with `emails_claim`, 200 a page (the emails
          spider's job-wide hash of addresses),
and `INFO memory` (used_memory, used_memory_rss) read before and after, so the numbers are
what Redis holds, not an estimate. `node`: a node's own Python set of the fingerprints it
has seen (the scheduler keeps one to spare a round trip per known duplicate), traced with
tracemalloc. With `--filters set,bloom` the seen part runs again with
CLUSTER_SEEN_FILTER_CAPACITY=N (the job's fingerprints in a Bloom filter on a bitmap).

The requests are an emails crawl's page requests (a URL of about 60 characters and the
spider's meta), serialized as the scheduler does (pickle of Request.to_dict); the payload
size is in the results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import time
from pathlib import Path

import redis
from scrapy import Request

from crawlers.cluster.queue import LeasedQueue
from crawlers.env import PROJECT_ROOT
from sandbox.services import RedisServer


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench frontier", description=__doc__)
    p.add_argument("--sizes", default="1000000,10000000")
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--filters", default="set,bloom")
    p.add_argument("--error", type=float, default=0.001)
    p.add_argument("--probes", type=int, default=200_000)
    p.add_argument("--parts", default="seen,queued,addresses,node")
    p.add_argument("--out", default=str(PROJECT_ROOT / "data" / "bench" / "frontier"))
    return p.parse_args(argv)


def request_payload(i: int) -> bytes:
    site = f"www.site-{i % 50_000}.example"
    request = Request(
        f"https://{site}/about/team/contact-{i}.html",
        meta={"site": site, "depth": 2, "download_slot": site},
        priority=-2,
    )
    return pickle.dumps(request.to_dict(), protocol=4)


def fingerprint(i: int) -> str:
    # As Scrapy's: the hex SHA1 of the request (here of its number, the same shape).
    return hashlib.sha1(str(i).encode()).hexdigest()


def memory(client: redis.Redis) -> dict[str, int]:
    info = client.info("memory")
    return {k: int(info[k]) for k in ("used_memory", "used_memory_rss")}


def resp(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def load(queue: LeasedQueue, part: str, n: int, port: int, batch: int) -> float:
    """Seconds to record n fingerprints (part 'seen') or queue n requests ('queued').

    EVALSHA of the queue's own scripts, streamed through `redis-cli --pipe` (what the
    nodes' calls add up to, at the server's pace rather than one Python client's)."""
    script = queue._scripts["see" if part == "seen" else "push"]
    sha = queue.client.script_load(script.script).encode()
    names = ("meta", "seen") if part == "seen" else ("meta", "queue", "requests", "prio", "seen")
    head = [b"EVALSHA", sha, str(len(names)).encode(), *(k.encode() for k in queue._k(*names))]
    run = queue.run.encode()
    # One payload for all (real ones differ by a few bytes with the URL).
    tail = [] if part == "seen" else [b"2", request_payload(0)]
    started = time.monotonic()
    cli = subprocess.Popen(
        ["redis-cli", "-p", str(port), "--pipe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    for start in range(0, n, batch):
        chunk = b"".join(
            resp(*head, run, fingerprint(i).encode(), *tail)
            for i in range(start, min(n, start + batch))
        )
        cli.stdin.write(chunk)
    cli.stdin.close()
    report = cli.stdout.read().decode(errors="replace")
    cli.wait()
    if cli.returncode != 0 or "errors: 0," not in report:
        raise RuntimeError(f"redis-cli --pipe: {report[-500:]}")
    return time.monotonic() - started


def bloom_positions(fp: str, bits: int, k: int) -> list[int]:
    """The bits _seen_add.lua sets for a fingerprint (read here without setting them)."""
    h = hashlib.sha1(fp.encode()).hexdigest()
    h1, h2 = int(h[:8], 16), int(h[8:16], 16)
    if h2 % bits == 0:
        h2 = 1
    return [(h1 + i * h2) % bits for i in range(k)]


def false_positives(queue: LeasedQueue, first: int, probes: int) -> float:
    """Share of fingerprints never added that the filter holds as seen."""
    bits, k = (int(x) for x in queue.seen_filter.split())
    hits = 0
    for start in range(first, first + probes, 1000):
        pipe = queue.client.pipeline(transaction=False)
        for i in range(start, start + 1000):
            for bit in bloom_positions(fingerprint(i), bits, k):
                pipe.getbit(queue.keys["seen"], bit)
        answers = pipe.execute()
        hits += sum(all(answers[j : j + k]) for j in range(0, len(answers), k))
    return hits / probes


def address(i: int) -> str:
    return f"person.{i}@site-{i % 50_000}.example"


def load_addresses(client: redis.Redis, port: int, n: int, per_page: int = 200) -> float:
    """n addresses claimed through emails_claim, a page of `per_page` a call, no target."""
    from crawlers import redis_scripts
    from crawlers.cluster.keys import run_key

    sha = client.script_load(redis_scripts.source("emails_claim")).encode()
    names = [run_key("frontier", "emails", k, "run").encode() for k in ("addresses", "claims")]
    started = time.monotonic()
    cli = subprocess.Popen(
        ["redis-cli", "-p", str(port), "--pipe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    for first in range(0, n, per_page):
        page = hashlib.sha1(str(first).encode()).hexdigest()[:16].encode()
        found = [address(i).encode() for i in range(first, min(n, first + per_page))]
        cli.stdin.write(resp(b"EVALSHA", sha, b"2", *names, b"0", page, b"", b"", b"3600", *found))
    cli.stdin.close()
    report = cli.stdout.read().decode(errors="replace")
    cli.wait()
    if cli.returncode != 0 or "errors: 0," not in report:
        raise RuntimeError(f"redis-cli --pipe: {report[-500:]}")
    return time.monotonic() - started


def measure_addresses(n: int) -> dict:
    server = RedisServer().start()
    try:
        client = redis.Redis.from_url(server.url)
        before = memory(client)
        seconds = load_addresses(client, server.port, n)
        after = memory(client)
        used = after["used_memory"] - before["used_memory"]
        client.close()
        return {
            "part": "addresses",
            "filter": "hash",
            "n": n,
            "seconds": round(seconds, 1),
            "per_second": round(n / seconds),
            "used_memory_bytes": used,
            "rss_bytes": after["used_memory_rss"] - before["used_memory_rss"],
            "bytes_per_item": round(used / n, 1),
        }
    finally:
        server.stop()


def measure_node(n: int) -> dict:
    """A node's own set of the fingerprints it has seen (the scheduler's _seen_here)."""
    import tracemalloc

    tracemalloc.start()
    seen = {fingerprint(i) for i in range(n)}
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del seen
    return {
        "part": "node",
        "filter": "python set",
        "n": n,
        "used_memory_bytes": used,
        "bytes_per_item": round(used / n, 1),
        "seconds": 0,
        "per_second": 0,
        "rss_bytes": 0,
    }


def measure(part: str, n: int, args, bloom: bool) -> dict:
    server = RedisServer().start()
    try:
        client = redis.Redis.from_url(server.url)
        filter_capacity = n if bloom else 0
        queue = LeasedQueue(
            client, "frontier", "bench", 600, seen_capacity=filter_capacity, seen_error=args.error
        )
        queue.open()
        # Loaded before the first reading (a bitmap is allocated by its first SETBIT, so
        # no script runs before it).
        for name in ("see", "push"):
            queue.client.script_load(queue._scripts[name].script)
        before = memory(client)
        seconds = load(queue, part, n, server.port, args.batch)
        after = memory(client)
        row = {
            "part": part,
            "filter": "bloom" if bloom else "set",
            "n": n,
            "seconds": round(seconds, 1),
            "per_second": round(n / seconds),
            "used_memory_bytes": after["used_memory"] - before["used_memory"],
            "rss_bytes": after["used_memory_rss"] - before["used_memory_rss"],
            "bytes_per_item": round((after["used_memory"] - before["used_memory"]) / n, 1),
            "payload_bytes": len(request_payload(0)) if part == "queued" else 0,
        }
        if bloom:
            row["bits"], row["k"] = (int(x) for x in queue.seen_filter.split())
            row["false_positive_rate"] = false_positives(queue, n + 10**9, args.probes)
        client.close()
        return row
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    results = {"args": vars(args), "load_before": os.getloadavg()[0], "rows": rows}
    for n in (int(s) for s in args.sizes.split(",")):
        for part in args.parts.split(","):
            for filt in args.filters.split(","):
                if part in ("queued", "addresses", "node") and filt == "bloom":
                    continue  # a queued request's payload dwarfs its fingerprint
                if part == "addresses":
                    row = measure_addresses(n)
                elif part == "node":
                    row = measure_node(n)
                else:
                    row = measure(part, n, args, bloom=filt == "bloom")
                rows.append(row)
                fp = row.get("false_positive_rate")
                print(
                    f"frontier: {part} {filt} n={n:,}: {row['bytes_per_item']} B each "
                    f"(used_memory +{row['used_memory_bytes'] / 2**20:.1f} MiB, rss "
                    f"+{row['rss_bytes'] / 2**20:.1f} MiB), {row['per_second']:,}/s"
                    + ("" if fp is None else f", false positives {fp:.5f}"),
                    flush=True,
                )
                (out / "results.json").write_text(json.dumps(results, indent=1))
    results["load_after"] = os.getloadavg()[0]
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"frontier: results in {out / 'results.json'}")
    return 0
