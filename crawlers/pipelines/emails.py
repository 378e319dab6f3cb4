"""Store each distinct address: PostgreSQL in COPY batches when DATABASE_URL is set.

Without DATABASE_URL the items go to the crawl's feed (the spider adds a default one).
With it, rows collect in memory and every EMAILS_DB_BATCH rows (or EMAILS_DB_FLUSH_SECONDS)
one batch is written by a single writer thread while the crawl goes on:
COPY into a temporary staging table, then `INSERT ... ON CONFLICT (email) DO NOTHING`,
so a batch written twice, a second run or a second node never duplicates an address and
the first sighting is the one kept. One batch is in flight at a time; the next waits for
it, which bounds memory when the database is slower than the crawl.

On a cluster node (REDIS_URL) the pipeline holds the acks of the pages whose rows it keeps
(crawlers/cluster/scheduler.py, AckHold) and lets them go once their batch is committed:
a node killed with rows in memory leaves those pages leased, their leases expire, and
another node crawls them again (the address book gives a page its own addresses again).

`progress/done` counts the addresses of this crawl that were written (a row already in
the table from an earlier run counts too: the unit is done); `emails/db_rows_inserted`
counts rows that were new to the table. If PostgreSQL fails mid-crawl, the batch and every
later address go to `DATA_DIR/emails/unsaved-<time>.jsonl` and the crawl stops with one line
naming that file, so nothing collected is lost.
"""

from __future__ import annotations

import json
import logging
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psycopg
from scrapy.utils.asyncio import create_looping_call

from crawlers import db, outcomes
from crawlers.cluster.scheduler import AckHold, hold_acks
from crawlers.env import redact_url
from crawlers.errors import EXIT_FAILED, ConfigError, first_line, stop_crawl
from crawlers.items import ItemBatch

logger = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
Row = tuple[str, str, str, str]


class EmailStorePipeline:
    def __init__(self, crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.url = settings.get("DATABASE_URL") or ""
        self.table = settings.get("EMAILS_TABLE") or "emails"
        if not _IDENTIFIER.match(self.table):
            raise ConfigError(f"EMAILS_TABLE {self.table!r} is not a plain SQL table name")
        self.batch_size = max(1, settings.getint("EMAILS_DB_BATCH", 20_000))
        self.flush_seconds = settings.getfloat("EMAILS_DB_FLUSH_SECONDS", 2.0)
        self.data_dir = Path(settings.get("DATA_DIR") or "data")
        self.rows: list[Row] = []
        self.conn: psycopg.Connection | None = None
        self.executor: ThreadPoolExecutor | None = None
        # The batch being written, its rows, and the acks its commit lets go.
        self.pending: tuple[Future[int], list[Row], list[str]] | None = None
        self.hold: AckHold | None = None
        self.unsaved: Path | None = None
        self.timer = None
        if self.url:
            # Here rather than in open_spider: an error raised before the engine starts
            # ends the crawl with its one line and no torn-down engine behind it.
            self._prepare_table()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _prepare_table(self) -> None:
        self.conn = db.connect(self.url, autocommit=True)
        try:
            db.create_schema(
                self.conn,
                self.table,
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "email text PRIMARY KEY, site text NOT NULL, page text NOT NULL, "
                "first_seen timestamptz NOT NULL)",
            )
            self.conn.execute(
                f"CREATE TEMP TABLE {self.table}_stage (LIKE {self.table}) ON COMMIT DELETE ROWS"
            )
        except psycopg.Error as exc:
            self.conn.close()
            raise ConfigError(
                f"cannot prepare table {self.table!r} at {redact_url(self.url)}: {first_line(exc)}"
            ) from None

    # -- lifecycle ----------------------------------------------------------------------
    def open_spider(self) -> None:
        if self.conn is None:
            return
        self.hold = hold_acks(self.crawler)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="emails-db")
        self.timer = create_looping_call(self.flush)
        self.timer.start(self.flush_seconds, now=False)

    def process_item(self, item):
        records = item.records if isinstance(item, ItemBatch) else [item]
        if self.conn is None:
            outcomes.done(self.stats, len(records))
            return item
        self.rows.extend((r.email, r.site, r.page, r.first_seen) for r in records)
        if len(self.rows) >= self.batch_size:
            self.flush()
        return item

    def close_spider(self) -> None:
        if self.conn is None:
            return
        if self.timer is not None and self.timer.running:
            self.timer.stop()
        self.flush()
        self._harvest(wait=True)
        if self.rows:  # left after a failure
            self._save_unsaved(self.rows)
            self.rows = []
        if self.executor is not None:  # open_spider made it
            self.executor.shutdown(wait=True)
        self.conn.close()

    # -- batches ------------------------------------------------------------------------
    def flush(self) -> None:
        self._harvest(wait=False)
        if not self.rows:
            self._release_idle()
            return
        if self.unsaved is not None:
            self._save_unsaved(self.rows)
            self.rows = []
            return
        if self.pending is not None:
            self._harvest(wait=True)
            if self.unsaved is not None:
                return self.flush()
        rows, self.rows = self.rows, []
        # Cut after the previous batch was harvested and with this one's rows in hand:
        # every page finished by now has all its rows here or in a committed batch.
        mark = self.hold.cut() if self.hold is not None else []
        assert self.executor is not None  # rows come only with a database (open_spider)
        self.pending = (self.executor.submit(self._write, rows), rows, mark)

    def _release_idle(self) -> None:
        """No rows buffered: pages finished since the last batch (pages without a new
        address, mostly) wait for the batch in flight, if any, and for nothing else."""
        if self.hold is None or self.unsaved is not None:
            return
        mark = self.hold.cut()
        if self.pending is not None:
            self.pending[2].extend(mark)
        else:
            self.hold.commit(mark)

    def _harvest(self, wait: bool) -> None:
        if self.pending is None:
            return
        future, rows, mark = self.pending
        if not wait and not future.done():
            return
        self.pending = None
        try:
            inserted = future.result()
        except psycopg.Error as exc:
            self._failed(rows, exc)
            return
        outcomes.done(self.stats, len(rows))
        self.stats.inc_value("emails/db_rows_inserted", inserted)
        self.stats.inc_value("emails/db_batches")
        if self.hold is not None:
            self.hold.commit(mark)

    def _write(self, rows: list[Row]) -> int:
        """In the writer thread: one batch, one transaction. Returns rows new to the table."""
        started = time.perf_counter()
        conn = self.conn
        assert conn is not None  # batches are written only with a database
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(
                f"COPY {self.table}_stage (email, site, page, first_seen) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                f"INSERT INTO {self.table} SELECT * FROM {self.table}_stage "
                "ON CONFLICT (email) DO NOTHING"
            )
            inserted = cur.rowcount
        logger.debug("wrote %d addresses in %.3fs", len(rows), time.perf_counter() - started)
        return inserted

    # -- failure: keep everything on disk and stop ---------------------------------------
    def _failed(self, rows: list[Row], exc: Exception) -> None:
        self._save_unsaved(rows)
        stop_crawl(
            self.crawler,
            f"cannot write to PostgreSQL at {redact_url(self.url)}: {first_line(exc)}; "
            f"addresses not stored are in {self.unsaved}",
            reason="database_error",
            exit_code=EXIT_FAILED,
        )

    def _save_unsaved(self, rows: list[Row]) -> None:
        if self.unsaved is None:
            folder = self.data_dir / "emails"
            folder.mkdir(parents=True, exist_ok=True)
            self.unsaved = folder / f"unsaved-{time.strftime('%Y%m%dT%H%M%S')}.jsonl"
        with self.unsaved.open("a", encoding="utf-8") as fh:
            for email, site, page, first_seen in rows:
                record = {"email": email, "site": site, "page": page, "first_seen": first_seen}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stats.inc_value("emails/unsaved", len(rows))
