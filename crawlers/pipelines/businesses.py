"""Businesses: accept or reject each listing by rules in a data file, keep one per ypid, and
store them (the feed by default; an upsert keyed by ypid in PostgreSQL when DATABASE_URL).

Order in ITEM_PIPELINES: filter, then dedupe, then the store. A rejected listing is dropped
with `RejectedListing`, a repeat with `DuplicateListing`, so the spider can count each per
target: from the item_dropped signal, or, for a page's batch (crawlers/batches.py), from
the batch's `dropped` records.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from itemadapter import ItemAdapter
from scrapy.exceptions import NotConfigured
from scrapy.extensions.feedexport import FileFeedStorage

from crawlers.batches import keep_records
from crawlers.db import connect, create_schema
from crawlers.errors import ConfigError, first_line
from crawlers.inputs import input_label, read_input
from crawlers.items import BusinessItem, DuplicateListing, ItemBatch, RejectedListing


class UnbufferedFileFeedStorage(FileFeedStorage):
    """Local feeds written through at once (one write call per item, no buffer in the
    process): a target is marked done after its items reach the feed, and a node killed
    outright must not take buffered items of done targets with it."""

    def open(self, spider):
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return Path(self.path).open(self.write_mode, buffering=0)


class StoreError(RuntimeError):
    """Businesses that could not be written: their target fails (store_error)."""


@dataclass(frozen=True)
class ListingFilter:
    """Rules: `{"reject": {"categories": [...], "name_words": [...]},
    "accept": {"categories": [...], "name_words": [...]}}`, all case-insensitive.

    A listing is rejected when one of its categories or a word of its name is on the reject
    lists. When the accept lists are not empty, it must also match one of them.
    """

    reject_categories: frozenset[str] = frozenset()
    reject_words: re.Pattern | None = None
    accept_categories: frozenset[str] = frozenset()
    accept_words: re.Pattern | None = None

    @classmethod
    def from_rules(cls, rules: dict) -> ListingFilter:
        if not isinstance(rules, dict) or set(rules) - {"reject", "accept", "comment"}:
            raise ValueError("expected an object with 'reject' and/or 'accept'")
        reject, accept = rules.get("reject") or {}, rules.get("accept") or {}
        for part in (reject, accept):
            if not isinstance(part, dict) or set(part) - {"categories", "name_words"}:
                raise ValueError("'reject' and 'accept' hold 'categories' and 'name_words' lists")
            if not all(
                isinstance(v, list) and all(isinstance(s, str) for s in v) for v in part.values()
            ):
                raise ValueError("'categories' and 'name_words' must be lists of strings")
        return cls(
            _folded(reject.get("categories")),
            _words(reject.get("name_words")),
            _folded(accept.get("categories")),
            _words(accept.get("name_words")),
        )

    @classmethod
    def from_file(cls, path: str | Path | None) -> ListingFilter:
        """The rules of `path`, or the shipped business_filter.json when it is None."""
        label = input_label(path, "business_filter.json")
        try:
            return cls.from_rules(json.loads(read_input(path, "business_filter.json")))
        except OSError as exc:
            raise ConfigError(f"cannot read filter file {label}: {exc.strerror}") from None
        except ValueError as exc:  # JSONDecodeError is one
            raise ConfigError(f"bad filter file {label}: {exc}") from None

    def reason(self, name: str, categories: list[str]) -> str | None:
        """None when the listing is accepted, else why it is not."""
        folded = {" ".join(c.split()).casefold() for c in categories}
        if folded & self.reject_categories:
            return "category"
        if self.reject_words and self.reject_words.search(name):
            return "name"
        if not (self.accept_categories or self.accept_words):
            return None
        if folded & self.accept_categories:
            return None
        if self.accept_words and self.accept_words.search(name):
            return None
        return "not_accepted"


def _folded(values) -> frozenset[str]:
    return frozenset(" ".join(v.split()).casefold() for v in values or () if v.strip())


def _words(values) -> re.Pattern | None:
    words = [re.escape(" ".join(v.split())) for v in values or () if v.strip()]
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.IGNORECASE)


class BusinessFilterPipeline:
    def __init__(self, crawler, rules: ListingFilter):
        self.stats = crawler.stats
        self.rules = rules

    @classmethod
    def from_crawler(cls, crawler):
        path = crawler.settings.get("BUSINESSES_FILTER_FILE")
        if path == "":  # None (unset) is the shipped rules
            raise NotConfigured
        return cls(crawler, ListingFilter.from_file(path))

    def process_item(self, item):
        if isinstance(item, ItemBatch):
            return keep_records(item, self.stats, self.check)
        return self.check(item)

    def check(self, item):
        if not isinstance(item, BusinessItem):
            return item
        reason = self.rules.reason(item.name, item.categories)
        if reason is not None:
            self.stats.inc_value("businesses/rejected")
            self.stats.inc_value(f"businesses/rejected/{reason}")
            raise RejectedListing(f"filter: {reason}")
        self.stats.inc_value("businesses/accepted")
        return item


class BusinessDedupePipeline:
    """One item per ypid per crawl; across crawls the PostgreSQL upsert keeps one row."""

    def __init__(self, crawler):
        self.stats = crawler.stats
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        if isinstance(item, ItemBatch):
            return keep_records(item, self.stats, self.check)
        return self.check(item)

    def check(self, item):
        if not isinstance(item, BusinessItem):
            return item
        if item.ypid in self.seen:
            self.stats.inc_value("businesses/duplicates")
            raise DuplicateListing(f"ypid {item.ypid} already kept")
        self.seen.add(item.ypid)
        return item


SCHEMA = """
CREATE TABLE IF NOT EXISTS businesses (
    ypid text PRIMARY KEY,
    name text NOT NULL,
    state text NOT NULL DEFAULT '',
    city text NOT NULL DEFAULT '',
    postal_code text NOT NULL DEFAULT '',
    categories text[] NOT NULL DEFAULT '{}',
    phone text NOT NULL DEFAULT '',
    street text NOT NULL DEFAULT '',
    locality text NOT NULL DEFAULT '',
    website text NOT NULL DEFAULT '',
    rating real,
    review_count integer,
    years_in_business integer,
    detail_url text NOT NULL DEFAULT '',
    rank integer,
    search_terms text NOT NULL DEFAULT '',
    search_location text NOT NULL DEFAULT '',
    target_id bigint,
    first_seen timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""
COLUMNS = [f for f in BusinessItem.__dataclass_fields__]
# The first search that found a business stays its source; the listing itself is refreshed.
_KEEP = {"ypid", "search_terms", "search_location", "target_id"}
UPSERT = (
    f"INSERT INTO businesses ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    " ON CONFLICT (ypid) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c not in _KEEP)
    + ", updated_at = now()"
)


class BusinessPostgresPipeline:
    """Upserts in batches; an item (a business, or a page's batch of them) counts as
    processed only once its batch is committed, so the spider marks a target done only
    when its businesses are really stored."""

    def __init__(self, crawler, url: str, batch_size: int, interval: float, wait: float):
        self.stats = crawler.stats
        self.url = url
        self.batch_size = batch_size
        self.interval = interval
        self.wait = wait
        self.rows: list[tuple] = []
        self.batch: asyncio.Future | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.writing: set[asyncio.Future] = set()
        self.db: psycopg.Connection | None = None

    @classmethod
    def from_crawler(cls, crawler):
        url = crawler.settings.get("DATABASE_URL")
        if not url:
            raise NotConfigured
        return cls(
            crawler,
            url,
            crawler.settings.getint("BUSINESSES_DB_BATCH", 200),
            crawler.settings.getfloat("BUSINESSES_DB_FLUSH_SECONDS", 0.2),
            crawler.settings.getfloat("BUSINESSES_STORE_WAIT", 300),
        )

    def open_spider(self):
        self.db = connect(self.url, autocommit=True)
        create_schema(self.db, "businesses", SCHEMA)

    async def process_item(self, item):
        records = item.records if isinstance(item, ItemBatch) else [item]
        businesses = [r for r in records if isinstance(r, BusinessItem)]
        if not businesses:
            return item
        for business in businesses:
            adapter = ItemAdapter(business)
            self.rows.append(tuple(adapter.get(c) for c in COLUMNS))
        loop = asyncio.get_running_loop()
        if self.batch is None:
            self.batch = loop.create_future()
        batch = self.batch
        if len(self.rows) >= self.batch_size:
            self._flush()
        elif self.timer is None:
            self.timer = loop.call_later(self.interval, self._flush)
        await batch
        return item

    def _flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        rows, batch = self.rows, self.batch
        self.rows, self.batch = [], None
        if rows and batch is not None:
            self.writing.add(batch)
            batch.add_done_callback(self.writing.discard)
            self._write(rows, batch, time.monotonic(), 0)

    def _write(self, rows: list[tuple], batch: asyncio.Future, since: float, attempt: int):
        try:
            self._upsert(rows)
        except (psycopg.OperationalError, ConfigError) as exc:
            # The server is down or restarting: the items wait (their targets stay open and
            # leased) and the batch is tried again, up to BUSINESSES_STORE_WAIT.
            if time.monotonic() - since < self.wait:
                self.stats.inc_value("businesses/store_retries")
                delay = min(5.0, 0.5 * 2**attempt)
                loop = asyncio.get_running_loop()
                loop.call_later(delay, self._write, rows, batch, since, attempt + 1)
                return
            self._failed(rows, batch, exc)
        except psycopg.Error as exc:
            self._failed(rows, batch, exc)
        else:
            self.stats.inc_value("businesses/stored", len(rows))
            if not batch.done():
                batch.set_result(None)

    def _failed(self, rows: list[tuple], batch: asyncio.Future, exc: Exception) -> None:
        self.stats.inc_value("businesses/store_errors", len(rows))
        if not batch.done():
            batch.set_exception(StoreError(f"storing businesses failed: {first_line(exc)}"))

    def _upsert(self, rows: list[tuple]) -> None:
        if self.db is None or self.db.broken or self.db.closed:
            self.db = connect(self.url, autocommit=True)
        try:
            with self.db.transaction(), self.db.cursor() as cur:
                cur.executemany(UPSERT, rows)
        except psycopg.OperationalError:
            if self.db.broken:
                self.db.close()
            raise

    async def close_spider(self):
        self._flush()
        if self.writing:
            await asyncio.wait(list(self.writing))
        if self.db is not None:
            self.db.close()
