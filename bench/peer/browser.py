"""The peer's browser crawl: Crawlee's PlaywrightCrawler on pages rendered by JavaScript.

Run with the peer's own interpreter (`.bench/peer-venv/bin/python`, see requirements.txt):
    python bench/peer/browser.py --urls FILE --concurrency 8 --summary OUT

Same work as bench/_flights_spider.py (our side): open each URL in Chromium, wait until the
page's script has rendered the flight options, read the rendered HTML, parse it with the
project's extraction (crawlers/extraction/deals.py), store each option as an item. Both
block images, media, fonts and stylesheets the same way (crawlers/browser.py), and run
Debian's Chromium with the project's launch arguments.
Peer settings: concurrency pinned (min = desired = max = --concurrency), in-memory storage
(MemoryStorageClient); otherwise Crawlee's defaults (one shared browser context, browser
fingerprints, a fresh browser after 100 pages).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project, for the extraction

from _cli import add_output_args, peer_settings, run
from crawlee import Request
from crawlee.crawlers import (
    PlaywrightCrawler,
    PlaywrightCrawlingContext,
    PlaywrightPreNavCrawlingContext,
)

from crawlers.browser import BLOCKED_RESOURCE_TYPES, CHROMIUM_ARGS, chromium_executable
from crawlers.extraction.deals import OPTION, parse_flights


async def crawl(args: argparse.Namespace) -> dict:
    crawler = PlaywrightCrawler(
        **peer_settings(args.concurrency),
        browser_type="chromium",
        headless=True,
        browser_launch_options={"executable_path": chromium_executable(), "args": CHROMIUM_ARGS},
        max_request_retries=3,
    )
    counts = {"pages": 0, "items": 0, "unreadable": 0}

    @crawler.pre_navigation_hook
    async def block_resources(context: PlaywrightPreNavCrawlingContext) -> None:
        async def route(route) -> None:
            if route.request.resource_type in BLOCKED_RESOURCE_TYPES:
                await route.abort()
            else:
                await route.continue_()

        await context.page.route("**/*", route)

    @crawler.router.default_handler
    async def flights_page(context: PlaywrightCrawlingContext) -> None:
        await context.page.wait_for_selector(OPTION)
        options, broken = parse_flights(await context.page.content())
        counts["pages"] += 1
        counts["unreadable"] += broken
        for option in options:
            await context.push_data(option)
        counts["items"] += len(options)

    urls = [u for u in Path(args.urls).read_text().split() if u]
    stats = await crawler.run([Request.from_url(u) for u in urls])
    if args.items:
        await crawler.export_data(args.items)  # a Crawlee crawl's usual way to a file
    return {
        **counts,
        "requests_finished": stats.requests_finished,
        "requests_failed": stats.requests_failed,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--urls", required=True, help="one URL a line")
    p.add_argument("--concurrency", type=int, default=8)
    add_output_args(p)
    args = p.parse_args()
    return run(crawl, args)


if __name__ == "__main__":
    sys.exit(main())
