"""A spider over the sandbox's catalog site, for the cluster tests and benchmark.

Run with the project's `crawl` command: `scrapy crawl catalog -a base_url=...
-s SPIDER_MODULES=tests.spiders.catalog_spider`. With DATABASE_URL set, items are upserted
into PostgreSQL as each one passes the pipeline (committed before the request is acked), and
`writes` counts how often each item was written, so a test sees work done twice. With
CATALOG_FLUSH_SECONDS the pipeline keeps rows in memory and writes them in batches, as a
COPY pipeline does.
"""

from __future__ import annotations

import psycopg
import scrapy
from scrapy.utils.asyncio import create_looping_call

from crawlers import outcomes
from crawlers.db import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS catalog_items (
    id text PRIMARY KEY,
    name text NOT NULL,
    price numeric NOT NULL,
    node text NOT NULL,
    writes integer NOT NULL DEFAULT 1
)
"""
UPSERT = """
INSERT INTO catalog_items (id, name, price, node) VALUES (%s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET writes = catalog_items.writes + 1
"""


class CatalogPipeline:
    """Idempotent writes: an item is stored once however often its request runs."""

    def __init__(self, url: str, node: str, flush_seconds: float):
        self.url = url
        self.node = node
        self.flush_seconds = flush_seconds
        self.conn: psycopg.Connection | None = None
        self.rows: list[tuple] = []
        self.timer = None

    @classmethod
    def from_crawler(cls, crawler):
        from crawlers.jobs import node_id

        settings = crawler.settings
        return cls(
            settings.get("DATABASE_URL"),
            node_id(settings),
            settings.getfloat("CATALOG_FLUSH_SECONDS", 0),
        )

    def open_spider(self):
        if self.url:
            self.conn = connect(self.url, autocommit=True)
            # Nodes start together, and concurrent CREATE TABLE IF NOT EXISTS can collide.
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(7321)")
                self.conn.execute(SCHEMA)
            if self.flush_seconds:
                self.timer = create_looping_call(self.flush)
                self.timer.start(self.flush_seconds, now=False)

    def close_spider(self):
        if self.timer is not None:
            self.timer.stop()
        if self.conn is not None:
            self.flush()
            self.conn.close()

    def process_item(self, item):
        if self.conn is not None:
            self.rows.append((item["id"], item["name"], item["price"], self.node))
            if not self.flush_seconds:
                self.flush()
        return item

    def flush(self):
        rows, self.rows = self.rows, []
        if rows:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.executemany(UPSERT, rows)


class CatalogSpider(scrapy.Spider):
    name = "catalog"
    custom_settings = {
        "ITEM_PIPELINES": {"tests.spiders.catalog_spider.CatalogPipeline": 300},
        "DOWNLOAD_HANDLERS": {},
    }

    def __init__(self, base_url: str = "", start_pages: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.start_pages = int(start_pages)

    async def start(self):
        for n in range(1, self.start_pages + 1):
            yield scrapy.Request(f"{self.base_url}/page/{n}", callback=self.parse_page)

    def parse_page(self, response):
        items = response.css("li.card a::attr(href)").getall()
        outcomes.add_total(self.crawler.stats, len(items))
        for href in items:
            yield response.follow(href, callback=self.parse_item)
        for href in response.css("nav a::attr(href)").getall():
            yield response.follow(href, callback=self.parse_page)

    def parse_item(self, response):
        outcomes.done(self.crawler.stats)
        yield {
            "id": response.css("h1::attr(data-id)").get(),
            "name": response.css("h1::text").get(),
            "price": float(response.css("span.price::text").get()),
        }
        for href in response.css("a.related::attr(href)").getall():
            yield response.follow(href, callback=self.parse_item)
