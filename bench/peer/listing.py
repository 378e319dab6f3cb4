"""The peer's plain-HTTP listing crawl: Crawlee's HttpCrawler doing `businesses`' work.

Run with the peer's own interpreter (`.bench/peer-venv/bin/python`, see requirements.txt):
    python bench/peer/listing.py --base-url URL --targets FILE --concurrency 64 --summary OUT

Same work as `scrapy crawl businesses -a targets_file=FILE`: page 1 of every search, then
each next page while the page has results; every page parsed once by the project's own
extraction (`parse_results` of crawlers/extraction/businesses.py, lxml in one pass), cards
repeated across the pages of one search skipped, each business stored once (as our dedupe
pipeline does) as an item, the items exported to a file at the end.
HttpCrawler rather than ParselCrawler: ParselCrawler parses every page with parsel before
the handler runs, a second parse our spider does not do.
Peer settings: concurrency pinned (min = desired = max = --concurrency, so autoscaling
cannot go below it), in-memory storage (MemoryStorageClient), default HTTP client.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project, for the extraction

from _cli import add_output_args, peer_settings, run
from crawlee import Request
from crawlee.crawlers import HttpCrawler, HttpCrawlingContext

from crawlers.extraction.businesses import parse_results, search_url


def read_targets(path: str) -> list[tuple[str, str]]:
    targets = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        terms, _, location = line.partition("\t")
        if terms.strip() and location.strip():
            targets.append((terms.strip(), location.strip()))
    return targets


async def crawl(args: argparse.Namespace) -> dict:
    crawler = HttpCrawler(
        **peer_settings(args.concurrency),
        max_request_retries=3,
    )
    seen: dict[str, set[str]] = {}
    stored: set[str] = set()
    counts = {"pages": 0, "items": 0}

    @crawler.router.default_handler
    async def results_page(context: HttpCrawlingContext) -> None:
        target = context.request.user_data["target"]
        body = await context.http_response.read()
        result = parse_results(body.decode("utf-8"), context.request.url)
        counts["pages"] += 1
        kept = seen.setdefault(target, set())
        terms, location = target.split("\t")
        for listing in result.listings:
            if listing.ypid in kept:
                continue
            kept.add(listing.ypid)
            if listing.ypid in stored:
                continue
            stored.add(listing.ypid)
            await context.push_data(
                {**asdict(listing), "search_terms": terms, "search_location": location}
            )
            counts["items"] += 1
        if result.next_url and result.listings:
            await context.add_requests(
                [Request.from_url(result.next_url, user_data={"target": target})]
            )

    start = [
        Request.from_url(
            search_url(args.base_url, terms, location), user_data={"target": f"{terms}\t{location}"}
        )
        for terms, location in read_targets(args.targets)
    ]
    stats = await crawler.run(start)
    if args.items:
        await crawler.export_data(args.items)  # a Crawlee crawl's usual way to a file
    return {
        **counts,
        "requests_finished": stats.requests_finished,
        "requests_failed": stats.requests_failed,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True)
    p.add_argument("--targets", required=True, help="search terms<TAB>City, ST a line")
    p.add_argument("--concurrency", type=int, default=64)
    add_output_args(p)
    args = p.parse_args()
    return run(crawl, args)


if __name__ == "__main__":
    sys.exit(main())
