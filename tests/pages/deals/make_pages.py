"""Save rendered deals pages from the sandbox, with what each should parse to.

    PYTHONPATH=. .venv/bin/python tests/pages/deals/make_pages.py

Writes explore_<delivery>.html, explore_empty.html, flights_<delivery>.html and
expected.json (the sandbox's ground truth for those pages). The DOM is what Chromium
holds once the page script has rendered everything (page.content()).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from playwright.async_api import async_playwright

from crawlers.browser import launch_options
from crawlers.deals.tfs import encode, explore_query
from sandbox import Sandbox
from sandbox.sites.deals import REGIONS

HERE = Path(__file__).parent
ORIGIN = "PHX"


async def render(url: str, wait_selector: str) -> str:
    async with async_playwright() as p:
        browser = await p.chromium.launch(**launch_options())
        page = await browser.new_page()
        await page.goto(url)
        await page.wait_for_selector(wait_selector)
        await page.wait_for_timeout(2000)  # the last cards
        html = await page.content()
        await browser.close()
        return html


def main() -> None:
    expected: dict = {}
    for delivery in ("inline", "xhr"):
        knobs = {"delivery": delivery, "card_ms": 50, "first_ms": 50, "flights_ms": 50}
        with Sandbox(["deals"], knobs={"deals": knobs}) as sb:
            truth = sb.truth("deals")
            regions = truth["origins"][ORIGIN]["regions"]
            region = REGIONS["europe"]
            empty = next(rid for rid, deals in regions.items() if not deals)
            base = sb.url("deals")
            for name, rid in ((f"explore_{delivery}", region), ("explore_empty", empty)):
                tfs = encode(explore_query(ORIGIN, rid))
                html = asyncio.run(
                    render(
                        f"{base}/travel/explore?tfs={tfs}&hl=en&curr=USD", ".SwQ5Be, .no-results"
                    )
                )
                (HERE / f"{name}.html").write_text(html, encoding="utf-8")
                expected[name] = regions[rid]
            # A search with an option the site lists without a price, where there is one.
            unpriced = [d for d in regions[region] if any(o["price"] is None for o in d["options"])]
            deal = min(unpriced or regions[region], key=lambda d: d["price"])
            html = asyncio.run(
                render(base + _flights_href(html_of(delivery), deal), "ul.Rk10dc li")
            )
            (HERE / f"flights_{delivery}.html").write_text(html, encoding="utf-8")
            expected[f"flights_{delivery}"] = deal
    (HERE / "expected.json").write_text(
        json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def html_of(delivery: str) -> str:
    return (HERE / f"explore_{delivery}.html").read_text(encoding="utf-8")


def _flights_href(html: str, deal: dict) -> str:
    from crawlers.extraction.deals import parse_explore

    card = next(c for c in parse_explore(html).cards if c.destination_id == deal["destination_id"])
    return card.flights_url


if __name__ == "__main__":
    main()
