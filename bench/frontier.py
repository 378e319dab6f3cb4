"""The frontier at scale: Redis memory per queued request and per seen fingerprint, measured.

python -m bench frontier [--sizes 1000000,10000000] [--batch 2000] [--filters set,bloom]
                         [--error 0.001]

A synthetic load through the queue's own scripts (crawlers/redis_scripts/queue_*.lua, as
EVALSHA streamed through `redis-cli --pipe`): for each size N, on a fresh private redis-server,
  seen:   N fingerprints recorded with `queue_see` (what is left of a request once crawled),
  queued: N requests queued with `queue_push` (payload, priority, id and fingerprint),
and `INFO memory` (used_memory, used_memory_rss) read before and after, so the numbers are
what Redis holds, not an estimate. With `--filters set,bloom` the seen part runs again with
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
    p.add_argument("--parts", default="seen,queued")
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


def measure(part: str, n: int, args, bloom: bool) -> dict:
    server = RedisServer().start()
    try:
        client = redis.Redis.from_url(server.url)
        filter_capacity = n if bloom else 0
        queue = LeasedQueue(
            client, "frontier", "bench", 600, seen_capacity=filter_capacity, seen_error=args.error
        )
        queue.open()
        # The scripts are loaded once before the first measure, not counted.
        queue._scripts["see"](keys=queue._k("meta", "seen"), args=[queue.run, "warm"])
        queue._scripts["push"](
            keys=queue._k("meta", "queue", "requests", "prio", "seen"),
            args=[queue.run, "", 0, b""],
        )
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
                if part == "queued" and filt == "bloom":
                    continue  # a queued request's payload dwarfs its fingerprint
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
