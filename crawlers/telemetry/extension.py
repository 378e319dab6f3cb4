"""TELEMETRY_INTERVAL: each node publishes a snapshot of its crawl (see store.py).

With REDIS_URL (or TELEMETRY_REDIS_URL) to Redis, keyed by job and node (crawlers/jobs.py),
otherwise to DATA_DIR/jobs/<job>.json, each snapshot under the run it belongs to: the cluster's
run token for the job, or, without one, a run named after the crawl's start that nodes of the
job starting while it runs join (see store.py). A last snapshot marked "finished" is published when
the crawl closes; a node killed outright stops publishing and readers call it silent.
Each snapshot carries the node's last TELEMETRY_FAILED_UNITS (500) failed units (see
crawlers/outcomes.py), so a run's record keeps which units failed and why, bounded per node.
Telemetry never stops a crawl: when Redis cannot be reached, the node logs one warning and
tries again at the next interval; snapshots are sent from a worker thread, with short
timeouts, so a slow Redis does not stall the crawl either.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import AsyncioLoopingCall, create_looping_call
from twisted.internet import threads
from twisted.internet.task import LoopingCall

from crawlers import outcomes
from crawlers.cluster.scheduler import run_token
from crawlers.errors import ConfigError
from crawlers.jobs import job_id, node_id
from crawlers.progress_math import RateWindow, counts_from_stats
from crawlers.telemetry import store_from_settings
from crawlers.telemetry.merge import FINISHED, RUNNING
from crawlers.telemetry.settings import number_setting
from crawlers.telemetry.snapshot import RecentErrors, build_snapshot, clean_message
from crawlers.telemetry.store import local_run

logger = logging.getLogger(__name__)

TOTAL_SCOPES = ("job", "node")


class TelemetryPublisher:
    def __init__(self, crawler, interval: float, total_scope: str):
        self.crawler = crawler
        self.interval = interval
        settings = crawler.settings
        self.silent_after = number_setting(settings, "TELEMETRY_SILENT_AFTER", 300.0)
        self.series_interval = number_setting(settings, "TELEMETRY_SERIES_INTERVAL", 30.0)
        self.failed_units = int(
            number_setting(settings, "TELEMETRY_FAILED_UNITS", outcomes.DEFAULT_FAILED_UNITS)
        )
        self.total_scope = total_scope
        self.store = store_from_settings(crawler.settings, timeout=2.0)
        self.window = RateWindow(
            number_setting(crawler.settings, "PROGRESS_RATE_WINDOW", 300.0, allow_zero=False)
        )
        self.errors = RecentErrors()
        self.node = node_id(crawler.settings)
        self.job = ""
        self.run = ""
        self.cluster_run = ""
        self.last_point = 0.0
        self.started = time.time()
        self.failing = False
        self.task: AsyncioLoopingCall | LoopingCall | None = None
        self.busy = False
        self.closed = False
        self.lock = threading.Lock()

    @classmethod
    def from_crawler(cls, crawler):
        interval = number_setting(crawler.settings, "TELEMETRY_INTERVAL", 10.0)
        if interval == 0:
            raise NotConfigured
        scope = crawler.settings.get("PROGRESS_TOTAL_SCOPE", "job")
        if scope not in TOTAL_SCOPES:
            raise ConfigError(f"PROGRESS_TOTAL_SCOPE must be 'job' or 'node', not {scope!r}")
        ext = cls(crawler, interval, scope)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        self.job = job_id(self.crawler)
        self.started = time.time()
        # The scheduler opened before this signal: a cluster node knows its run already.
        self.cluster_run = run_token(self.crawler)
        outcomes.failed_units(self.crawler.stats, keep=self.failed_units)
        logging.getLogger().addHandler(self.errors)
        self.task = create_looping_call(self.tick)
        self.task.start(self.interval, now=True)

    def snapshot(self, state: str, reason: str | None = None) -> dict:
        stats = self.crawler.stats.get_stats()
        now = time.time()
        self.window.add(now, counts_from_stats(stats).worked)
        return build_snapshot(
            stats,
            job=self.job,
            node=self.node,
            spider=self.crawler.spider.name,
            pid=os.getpid(),
            started=self.started,
            now=now,
            state=state,
            rate=self.window.rate(),
            total_scope=self.total_scope,
            finish_reason=reason,
            recent_errors=list(self.errors.records),
            failed_units=list(outcomes.failed_units(self.crawler.stats)),
        )

    def tick(self) -> None:
        """Built here, sent from a worker thread: a slow Redis must not stall the crawl."""
        if self.busy:
            return
        self.busy = True
        sent = threads.deferToThread(self.send, self.snapshot(RUNNING))
        sent.addBoth(self._idle)

    def _idle(self, _) -> None:
        self.busy = False

    def _resolve_run(self) -> str:
        """On the worker thread, at the first snapshot that gets through: joining a run may
        need Redis, which must not hold up the crawl."""
        if not self.run:
            self.run = self.cluster_run or self.store.join(
                self.job, self.node, local_run(self.started), time.time(), self.silent_after
            )
        return self.run

    def send(self, snapshot: dict) -> None:
        # The lock keeps a late "running" snapshot from overwriting the final one.
        with self.lock:
            if self.closed and snapshot["state"] != FINISHED:
                return
            try:
                snapshot["run"] = self._resolve_run()
                point = (
                    snapshot["state"] == FINISHED
                    or snapshot["last_seen"] - self.last_point >= self.series_interval
                )
                self.store.publish(snapshot, point=point)
                if point:
                    self.last_point = snapshot["last_seen"]
            except Exception as exc:  # Redis down or a full disk: the crawl goes on
                if not self.failing:
                    logger.warning(
                        "telemetry: cannot publish to %s: %s",
                        self.store.describe(),
                        clean_message(str(exc)),
                    )
                self.failing = True
            else:
                if self.failing:
                    logger.info("telemetry: publishing to %s again", self.store.describe())
                self.failing = False

    def spider_closed(self, spider, reason) -> None:
        if not self.job:  # closed before it opened: nothing was published
            return
        if self.task is not None and self.task.running:
            self.task.stop()
        logging.getLogger().removeHandler(self.errors)
        self.closed = True
        self.send(self.snapshot(FINISHED, reason))
