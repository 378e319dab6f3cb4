"""Deals into PostgreSQL when DATABASE_URL is set (otherwise the feed alone keeps them).

One row per origin, destination and dates, upserted: a later run refreshes price, rank and
options. A failed expansion never wipes options an earlier run found for the same deal.
Options are kept as the spider read them, in jsonb: each with its own `currency` (and
`price` null for "Price unavailable"); options of rows written before they had a currency
have none, and the row's `currency` is theirs.
"""

from __future__ import annotations

import psycopg
from itemadapter import ItemAdapter
from psycopg.types.json import Jsonb
from scrapy.exceptions import NotConfigured

from crawlers.db import connect, create_schema
from crawlers.items import DealItem

SCHEMA = """
CREATE TABLE IF NOT EXISTS deals (
    origin            text NOT NULL,
    destination_id    text NOT NULL,
    outbound_date     text NOT NULL,
    return_date       text NOT NULL,
    destination       text NOT NULL,
    price             numeric,
    currency          text,
    duration          text,
    regions           text[],
    flights_url       text,
    rank              integer,
    options           jsonb NOT NULL DEFAULT '[]',
    expansion_seconds double precision,
    expansion_status  text,
    scraped_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, destination_id, outbound_date, return_date)
)
"""

UPSERT = """
INSERT INTO deals (origin, destination_id, outbound_date, return_date, destination, price,
                   currency, duration, regions, flights_url, rank, options,
                   expansion_seconds, expansion_status)
VALUES (%(origin)s, %(destination_id)s, %(outbound_date)s, %(return_date)s, %(destination)s,
        %(price)s, %(currency)s, %(duration)s, %(regions)s, %(flights_url)s, %(rank)s,
        %(options)s, %(expansion_seconds)s, %(expansion_status)s)
ON CONFLICT (origin, destination_id, outbound_date, return_date) DO UPDATE SET
    destination = EXCLUDED.destination,
    price = EXCLUDED.price,
    currency = EXCLUDED.currency,
    duration = EXCLUDED.duration,
    regions = EXCLUDED.regions,
    flights_url = EXCLUDED.flights_url,
    rank = EXCLUDED.rank,
    options = CASE WHEN EXCLUDED.expansion_status = 'ok' THEN EXCLUDED.options
                   ELSE deals.options END,
    expansion_seconds = EXCLUDED.expansion_seconds,
    expansion_status = CASE WHEN EXCLUDED.expansion_status = 'ok' OR deals.expansion_status <> 'ok'
                            THEN EXCLUDED.expansion_status ELSE deals.expansion_status END,
    scraped_at = now()
"""


class DealsPostgresPipeline:
    def __init__(self, url: str):
        self.url = url
        self.conn: psycopg.Connection | None = None

    @classmethod
    def from_crawler(cls, crawler):
        url = crawler.settings.get("DATABASE_URL")
        if not url:
            # No message: the feed alone is the normal case, not worth a warning.
            raise NotConfigured
        return cls(url)

    def open_spider(self, spider=None) -> None:
        self.conn = connect(self.url, autocommit=True)
        create_schema(self.conn, "deals", SCHEMA)

    def close_spider(self, spider=None) -> None:
        if self.conn is not None:
            self.conn.close()

    def process_item(self, item, spider=None):
        if isinstance(item, DealItem):
            assert self.conn is not None  # open_spider connected
            row = ItemAdapter(item).asdict()
            row["options"] = Jsonb(row["options"])
            self.conn.execute(UPSERT, row)
        return item
