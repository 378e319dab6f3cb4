"""The peer's address crawl: Crawlee's HttpCrawler doing `emails`' work.

Run with the peer's own interpreter (`.bench/peer-venv/bin/python`, see requirements.txt):
    python bench/peer/emails.py --proxy URL --seeds FILE --target N --concurrency 64 \
        --summary OUT [--items OUT.json]

Same work as `scrapy crawl emails -a urls_file=FILE -a target=N` (crawlers/spiders/
emails.py): each seed is a site; every page is read by the project's own
`extract_emails` (crawlers/extraction/emails.py) and its links by `page_links` and
`classify` (crawlers/extraction/email_links.py), with the spider's policy: links on the
site's own host or registered domain only, traps never, at most EMAILS_MAX_QUERY_VARIANTS
query strings per path, EMAILS_MAX_DEPTH links deep, EMAILS_MAX_PAGES_PER_SITE pages a
site with contact-like links taking the budget first. Addresses are deduplicated across
the crawl in a set, each new one stored once as an item (email, site, page, first_seen),
and the crawl stops at exactly `--target` of them (`crawler.stop()`; pages in flight are
read, their addresses past the target dropped, as our spider does while it closes).
Crawlee has no request priorities: contact-like links go to the front of the queue
(`forefront=True`), the others to its back. A redirect to a page already read (the
sandbox's /kontakt -> /contact) is fetched but not read again, as Scrapy's duplicate
filter drops the redirected request.
The sites are reached through the sandbox as an HTTP proxy (`ProxyConfiguration`), as
ours does through `http_proxy`.
Peer settings: concurrency pinned (min = desired = max = --concurrency), in-memory storage
(MemoryStorageClient), max_request_retries=3, default HTTP client; new addresses of a page
pushed in one `push_data` call, the dataset exported to a file at the end.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project, for the extraction

from _cli import add_output_args, peer_settings, run
from crawlee import Request
from crawlee.crawlers import HttpCrawler, HttpCrawlingContext
from crawlee.proxy_configuration import ProxyConfiguration

from crawlers.extraction.email_links import CONTACT, TRAP, classify, page_links
from crawlers.extraction.emails import extract_emails, registered_domain

# The spider's defaults (crawlers/settings.py, EMAILS_*).
MAX_DEPTH = 3
MAX_PAGES = 100
MAX_QUERY_PARAMS = 2
MAX_QUERY_VARIANTS = 5


@dataclass
class SiteState:  # as crawlers/spiders/emails.py keeps it
    host: str
    domain: str
    scheduled: int = 0
    seen: set[str] = field(default_factory=set)
    read: set[str] = field(default_factory=set)
    query_variants: Counter[str] = field(default_factory=Counter)

    def owns(self, host: str) -> bool:
        return host == self.host or host == self.domain or host.endswith("." + self.domain)


def follow(site: SiteState, base_url: str, text: str) -> tuple[list[str], list[str]]:
    """The links of a page the spider would follow: (contact-like, others), in page order."""
    fresh = [url for url in page_links(text, base_url) if url not in site.seen]
    if not fresh:
        return [], []
    site.seen.update(fresh)
    ranked = []
    for url in fresh:
        parts = urlsplit(url)
        if not site.owns((parts.hostname or "").lower()):
            continue
        kind = classify(url, MAX_QUERY_PARAMS)
        if kind != TRAP and parts.query:
            site.query_variants[parts.path] += 1
            if site.query_variants[parts.path] > MAX_QUERY_VARIANTS:
                kind = TRAP
        if kind != TRAP:
            ranked.append((kind, url))
    ranked.sort(key=lambda pair: -pair[0])
    ranked = ranked[: max(0, MAX_PAGES - site.scheduled)]
    site.scheduled += len(ranked)
    return [u for k, u in ranked if k == CONTACT], [u for k, u in ranked if k != CONTACT]


async def crawl(args: argparse.Namespace) -> dict:
    crawler = HttpCrawler(
        **peer_settings(args.concurrency),
        proxy_configuration=ProxyConfiguration(proxy_urls=[args.proxy]),
        max_request_retries=3,
    )
    sites: dict[str, SiteState] = {}
    seen: set[str] = set()
    counts = {"pages": 0, "items": 0, "pages_repeated": 0}
    closing = False

    @crawler.router.default_handler
    async def page(context: HttpCrawlingContext) -> None:
        nonlocal closing
        request = context.request
        site = sites[request.user_data["site"]]
        url = request.loaded_url or request.url
        counts["pages"] += 1
        if url in site.read:
            counts["pages_repeated"] += 1
            return
        site.read.add(url)
        text = (await context.http_response.read()).decode("utf-8", "replace")
        found = extract_emails(text)
        new = [a for a in found if a not in seen]
        if new and not closing:
            new = new[: max(0, args.target - len(seen))]
            seen.update(new)
            when = datetime.now(UTC).isoformat(timespec="seconds")
            await context.push_data(
                [{"email": a, "site": site.host, "page": url, "first_seen": when} for a in new]
            )
            counts["items"] += len(new)
            if len(seen) >= args.target:
                closing = True
                crawler.stop("target_reached")
        depth = request.user_data["depth"] + 1
        if depth > MAX_DEPTH or closing:
            return
        contact, plain = follow(site, url, text)
        meta = {"site": site.host, "depth": depth}
        if contact:
            await crawler.add_requests(
                [Request.from_url(u, user_data=meta) for u in contact], forefront=True
            )
        if plain:
            await crawler.add_requests([Request.from_url(u, user_data=meta) for u in plain])

    start = []
    for line in Path(args.seeds).read_text(encoding="utf-8").splitlines():
        url = line.split("#", 1)[0].strip()
        host = (urlsplit(url).hostname or "") if url else ""
        if not host or host in sites:
            continue
        site = SiteState(host=host, domain=registered_domain(host), scheduled=1)
        site.seen.add(url)
        sites[host] = site
        start.append(Request.from_url(url, user_data={"site": host, "depth": 0}))
    stats = await crawler.run(start)
    if args.items:
        await crawler.export_data(args.items)  # a Crawlee crawl's usual way to a file
    return {
        **counts,
        "sites": len(sites),
        "requests_finished": stats.requests_finished,
        "requests_failed": stats.requests_failed,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--proxy", required=True, help="the sandbox's URL (an HTTP proxy)")
    p.add_argument("--seeds", required=True, help="start URLs, one a line")
    p.add_argument("--target", type=int, required=True, help="stop at this many addresses")
    p.add_argument("--concurrency", type=int, default=64)
    add_output_args(p)
    args = p.parse_args()
    if args.target < 1 or args.concurrency < 1:
        p.error("--target and --concurrency must be positive")
    return run(crawl, args)


if __name__ == "__main__":
    sys.exit(main())
