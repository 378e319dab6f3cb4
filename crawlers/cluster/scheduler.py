"""The scheduler of a cluster node (chosen by crawlers.cluster.addon when REDIS_URL is set).

Each `scrapy crawl <spider>` process is a node of the job named by
CRAWL_JOB (default: the spider's name); nodes share one queue and one set of fingerprints:
- every node runs its spider's start(); the shared fingerprints let each start request in
  once, so start work is queued once however many nodes start, and none is lost if the
  node that queued it first dies before its start() ends;
- a request a node takes is leased (CLUSTER_LEASE_SECONDS, renewed while the node lives)
  and acked only when its response or failure has been fully handled: what its callback
  yielded is queued and its items have left the item pipelines, or, for a pipeline that
  writes in batches and holds acks (`hold_acks`), once the batch with its items is committed;
- the queue and fingerprints outlive every node; a node closes when the whole job has no
  request pending or leased and no node is still starting, for CLUSTER_IDLE_GRACE seconds;
  the last check marks the run done, so the next crawl of the same job starts fresh;
- if Redis stops answering, new requests and acks wait on the node (in order) and are sent
  when it is back; after CLUSTER_REDIS_WAIT seconds the node stops with an error, leaving
  the work queued (what it held unacked comes back when its leases expire).
"""

from __future__ import annotations

import importlib
import logging
import pickle
import time
from collections import deque
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.core.scheduler import BaseScheduler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.request import request_from_dict

from crawlers.cluster import connection, keys
from crawlers.cluster.connection import UNAVAILABLE, describe
from crawlers.cluster.queue import LeasedQueue, RunOver, seen_filter
from crawlers.env import redact_url
from crawlers.errors import EXIT_FAILED, ConfigError, stop_crawl
from crawlers.internals.engine import on_request_done, set_idle_poll
from crawlers.jobs import job_id, node_id

if TYPE_CHECKING:
    from scrapy.utils.asyncio import AsyncioLoopingCall
    from twisted.internet.task import LoopingCall

logger = logging.getLogger(__name__)


class _Pickle:
    """Requests pickled as Scrapy's disk queues do (protocol 4: Python 3.4 and later)."""

    @staticmethod
    def dumps(obj) -> bytes:
        return pickle.dumps(obj, protocol=4)

    loads = staticmethod(pickle.loads)


def seen_filter_settings(settings) -> tuple[int, float]:
    """CLUSTER_SEEN_FILTER_CAPACITY and _ERROR, checked (ConfigError: one line)."""
    capacity = settings.getint("CLUSTER_SEEN_FILTER_CAPACITY", 0)
    error = settings.getfloat("CLUSTER_SEEN_FILTER_ERROR", 0.001)
    if capacity < 0:
        raise ConfigError("CLUSTER_SEEN_FILTER_CAPACITY must be 0 (a set) or more")
    if capacity:
        try:
            seen_filter(capacity, error)
        except ValueError as exc:
            raise ConfigError(f"CLUSTER_SEEN_FILTER_CAPACITY/_ERROR: {exc}") from None
    return capacity, error


def serializer(settings):
    """SCHEDULER_SERIALIZER as scrapy-redis reads it (a module path, or an object with
    `dumps` and `loads`); default: pickle. Every node of a job must use the same."""
    chosen = settings.get("SCHEDULER_SERIALIZER")
    if not chosen:
        return _Pickle
    if isinstance(chosen, str):
        try:
            chosen = importlib.import_module(chosen)
        except ImportError as exc:
            raise ConfigError(
                f"SCHEDULER_SERIALIZER {chosen!r} cannot be imported: {exc}"
            ) from None
    if not (callable(getattr(chosen, "dumps", None)) and callable(getattr(chosen, "loads", None))):
        raise ConfigError("SCHEDULER_SERIALIZER must have dumps() and loads()")
    return chosen


class Scheduler(BaseScheduler):
    """This node's view of the job's shared queue."""

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def __init__(self, crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.url = settings.get("REDIS_URL")
        self.client = connection.client(settings)
        self.lease_seconds = settings.getfloat("CLUSTER_LEASE_SECONDS", 60.0)
        self.poll_interval = settings.getfloat("CLUSTER_POLL_INTERVAL", 1.0)
        self.idle_grace = settings.getfloat("CLUSTER_IDLE_GRACE", 3.0)
        self.redis_wait = settings.getfloat("CLUSTER_REDIS_WAIT", 300.0)
        self.ack_delay = settings.getfloat("CLUSTER_ACK_DELAY", 0.0)
        self.debug_dupes = settings.getbool("DUPEFILTER_DEBUG")
        self.serializer = serializer(settings)
        self.node = node_id(settings)
        self.queue: LeasedQueue | None = None
        self.spider = None
        # Requests handed to the engine, by object: the engine gives the same object back
        # when it is done with it.
        self._leased: dict[Request, str] = {}
        # Requests that cannot be serialized (say, a lambda callback) stay on this node,
        # as Scrapy's own scheduler keeps them in memory.
        self._local: deque[Request] = deque()
        # Fingerprints this node knows to be in the job's set, which only grows during a run:
        # a duplicate found here costs no round trip (Scrapy's own filter keeps such a set).
        self._seen_here: set[str] = set()
        # ("push", fingerprint, score, payload) / ("ack", id), in order, while Redis is away.
        self._backlog: deque[tuple] = deque()
        # (when, lease): acks held back CLUSTER_ACK_DELAY seconds, for pipelines that write
        # in batches; the requests stay leased (and renewed) until then.
        self._delayed: deque[tuple[float, str]] = deque()
        # Pipelines holding acks until they commit (AckHold), and lease -> how many of them
        # have not committed that request's items yet; held requests stay leased (renewed).
        self._holds: list[AckHold] = []
        self._held: dict[str, int] = {}
        self._down_since: float | None = None
        self._quiet_since: float | None = None
        self._start_done = False
        self._last_renew = 0.0
        self._logged_dupe = False
        self._logged_local = False
        self._ticker: AsyncioLoopingCall | LoopingCall | None = None

    @property
    def run(self) -> str:
        """The token of the job's run this node joined ('' before open()). Shared state kept
        beside the queue (the emails' address book, the deals' ranking) carries it in its
        keys, so that an earlier run's state is never taken for this one's."""
        return self.queue.run if self.queue is not None else ""

    def hold_acks(self) -> AckHold:
        """Hold the acks of finished requests until the caller commits them (see AckHold).
        Call it before the first request finishes (a pipeline's open_spider). With a hold,
        CLUSTER_ACK_DELAY no longer applies: the commit is the moment it stood in for."""
        hold = AckHold(self)
        self._holds.append(hold)
        return hold

    @property
    def _queue(self) -> LeasedQueue:
        # The engine calls the rest of the interface only between open() and close().
        if self.queue is None:
            raise RuntimeError("the cluster scheduler is used before open()")
        return self.queue

    def lease_of(self, request: Request) -> str:
        """The id under which this node leased `request` from the shared queue ('' if it
        did not: a request kept on this node, or one already handed back)."""
        return self._leased.get(request, "")

    # -- Scrapy's scheduler interface ---------------------------------------------------
    def open(self, spider):
        self.spider = spider
        job = job_id(self.crawler)
        capacity, error = seen_filter_settings(self.crawler.settings)
        self.queue = LeasedQueue(self.client, job, self.node, self.lease_seconds, capacity, error)
        run = self.queue.open()
        engine = self.crawler.engine
        # Once the response (or failure) and everything the callback produced are
        # handled: the moment to ack.
        on_request_done(engine, self._request_done)
        # An idle node looks for shared work at each engine heartbeat (5 s by default).
        set_idle_poll(engine, self.poll_interval)
        self.crawler.signals.connect(self._spider_idle, signals.spider_idle, weak=False)
        self._ticker = create_looping_call(self._tick)
        self._ticker.start(self.poll_interval, now=False)
        self.stats.set_value("cluster/job", job)
        self.stats.set_value("cluster/node", self.node)
        pending = self.queue.pending()
        logger.info(
            "Cluster: node %s joined job %s (run %s) on %s; %d requests pending",
            self.node,
            job,
            run,
            redact_url(self.url),
            pending,
        )

    def close(self, reason):
        if self.queue is None:
            return
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        self.crawler.signals.disconnect(self._spider_idle, signals.spider_idle)
        try:
            # The item pipelines have closed (and flushed) by now.
            if due := self._due_acks(None):
                self._send_acks(due)
            self._flush()
            if self._held:
                # Their items were never committed (a failed write): done again, elsewhere
                # or by the next run, rather than lost.
                logger.warning(
                    "Cluster: %d handled requests whose items were not committed go back "
                    "to the queue",
                    len(self._held),
                )
                self.stats.inc_value("cluster/uncommitted_released", len(self._held))
            self.queue.release([*self._leased.values(), *self._held])
            self.queue.leave()
            status = self.queue.status()
            logger.info(
                "Cluster: node %s leaves job %s: %d pending, %d leased",
                self.node,
                self.queue.job,
                status.pending,
                status.leased,
            )
        except UNAVAILABLE as exc:
            logger.warning(
                "Cluster: Redis at %s unreachable while closing (%s); %d requests this node "
                "held come back when their leases expire",
                redact_url(self.url),
                describe(exc, self.url),
                len(self._leased) + len(self._held),
            )
        except RunOver:
            pass

    def has_pending_requests(self) -> bool:
        if self._local or self._backlog or self._down_since is not None:
            return True
        try:
            return self._queue.pending() > 0
        except UNAVAILABLE as exc:
            self._went_down(exc)
            return True
        except RunOver:
            return False

    def __len__(self) -> int:
        try:
            return len(self._local) + self._queue.pending()
        except UNAVAILABLE:
            return len(self._local) + len(self._backlog)

    def enqueue_request(self, request: Request) -> bool:
        fingerprint = "" if request.dont_filter else self._fingerprint(request)
        if fingerprint in self._seen_here:
            return self._counted(request, False)
        try:
            payload = self.serializer.dumps(request.to_dict(spider=self.spider))
        except (ValueError, TypeError, AttributeError, pickle.PicklingError) as exc:
            return self._enqueue_local(request, fingerprint, exc)
        if self._down_since is None:
            try:
                queued = self._queue.push(fingerprint, -request.priority, payload)
            except UNAVAILABLE as exc:
                self._went_down(exc)
            except RunOver:
                return False
            else:
                self._seen(fingerprint)
                return self._counted(request, queued)
        self._seen(fingerprint)
        self._backlog.append(("push", fingerprint, -request.priority, payload))
        self.stats.inc_value("scheduler/enqueued")
        self.stats.inc_value("cluster/backlogged")
        return True

    def next_request(self) -> Request | None:
        if self._local:
            self.stats.inc_value("scheduler/dequeued")
            self.stats.inc_value("scheduler/dequeued/memory")
            return self._local.popleft()
        if self._down_since is not None:
            return None
        while True:
            try:
                claimed = self._queue.claim()
            except UNAVAILABLE as exc:
                self._went_down(exc)
                return None
            except RunOver:
                return None
            if claimed is None:
                return None
            lease, payload = claimed
            try:
                request = request_from_dict(self.serializer.loads(payload), spider=self.spider)
            except Exception as exc:
                # From another version of the spider, say; leased forever it would come
                # back again and again.
                logger.error("Cluster: dropping a queued request this spider cannot load: %s", exc)
                self.stats.inc_value("cluster/undecodable")
                self._ack(lease)
                continue
            self._leased[request] = lease
            self.stats.inc_value("scheduler/dequeued")
            self.stats.inc_value("scheduler/dequeued/redis")
            return request

    # -- internals ------------------------------------------------------------------------
    def _request_done(self, request: Request) -> None:
        lease = self._leased.pop(request, None)
        if lease is not None:
            self._ack(lease)

    def _fingerprint(self, request: Request) -> str:
        return self.crawler.request_fingerprinter.fingerprint(request).hex()

    def _seen(self, fingerprint: str) -> None:
        if fingerprint:  # '' (dont_filter) is never filtered
            self._seen_here.add(fingerprint)

    def _counted(self, request: Request, queued: bool) -> bool:
        if queued:
            self.stats.inc_value("scheduler/enqueued")
            self.stats.inc_value("scheduler/enqueued/redis")
            return True
        self.stats.inc_value("dupefilter/filtered")
        if self.debug_dupes or not self._logged_dupe:
            self._logged_dupe = True
            logger.debug(
                "Filtered duplicate request: %(request)s%(more)s",
                {
                    "request": request,
                    "more": "" if self.debug_dupes else " - no more duplicates will be shown",
                },
            )
        return False

    def _enqueue_local(self, request: Request, fingerprint: str, exc: Exception) -> bool:
        if fingerprint:
            try:
                new = self._queue.see(fingerprint)
                self._seen(fingerprint)
                if not new:
                    return self._counted(request, False)
            except UNAVAILABLE as down:
                self._went_down(down)
            except RunOver:
                return False
        if not self._logged_local:
            self._logged_local = True
            logger.warning(
                "Cluster: %s cannot be serialized (%s); such requests run on this node only",
                request,
                exc,
            )
        self.stats.inc_value("scheduler/unserializable")
        self.stats.inc_value("scheduler/enqueued")
        self.stats.inc_value("scheduler/enqueued/memory")
        self._local.append(request)
        return True

    def _ack(self, lease: str) -> None:
        if self._holds:
            self._held[lease] = len(self._holds)
            for hold in self._holds:
                hold._finished.append(lease)
        elif self.ack_delay:
            self._delayed.append((time.monotonic() + self.ack_delay, lease))
        else:
            self._send_acks([lease])

    def _committed(self, leases: list[str]) -> None:
        due = []
        for lease in leases:
            left = self._held.pop(lease, 0) - 1
            if left > 0:
                self._held[lease] = left
            elif left == 0:
                due.append(lease)
        if due:
            self._send_acks(due)

    def _send_acks(self, leases: list[str]) -> None:
        self.stats.inc_value("cluster/acked", len(leases))
        if self._down_since is None and not self._backlog:
            try:
                self._queue.ack(leases)
                return
            except UNAVAILABLE as exc:
                self._went_down(exc)
        self._backlog.extend(("ack", lease) for lease in leases)

    def _due_acks(self, now: float | None) -> list[str]:
        """Delayed acks whose time has come; all of them when `now` is None."""
        due = []
        while self._delayed and (now is None or self._delayed[0][0] <= now):
            due.append(self._delayed.popleft()[1])
        return due

    def _went_down(self, exc: Exception) -> float:
        """Note that Redis is away; returns since when (monotonic)."""
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.stats.inc_value("cluster/redis_outages")
            logger.warning(
                "Cluster: Redis at %s unreachable (%s); waiting up to %.0fs for it, "
                "new requests wait on this node meanwhile",
                redact_url(self.url),
                describe(exc, self.url),
                self.redis_wait,
            )
        return self._down_since

    def _flush(self) -> None:
        """Send what waited on this node, in order. Raises if Redis is still away."""
        if self._down_since is not None:
            self.client.ping()
        sent = 0
        while self._backlog:
            op = self._backlog[0]
            try:
                if op[0] == "push":
                    self._queue.push(*op[1:])
                else:
                    self._queue.ack([op[1]])
            except RunOver:
                # The run ended while Redis was away; what waited belongs to no run.
                self._backlog.clear()
                break
            self._backlog.popleft()
            sent += 1
        if self._down_since is not None:
            logger.info(
                "Cluster: Redis at %s is back after %.0fs; %d waiting operations sent",
                redact_url(self.url),
                time.monotonic() - self._down_since,
                sent,
            )
            self._down_since = None

    def _tick(self) -> None:
        """Every CLUSTER_POLL_INTERVAL: reconnect and catch up, or renew this node's leases."""
        now = time.monotonic()
        try:
            if self._down_since is not None or self._backlog:
                self._flush()
            if due := self._due_acks(now):
                self._send_acks(due)
            if now - self._last_renew >= min(self.lease_seconds / 4, 10.0):
                held = [
                    *self._leased.values(),
                    *(lease for _, lease in self._delayed),
                    *self._held,
                ]
                self._queue.renew(held)
                self._last_renew = now
        except UNAVAILABLE as exc:
            if now - self._went_down(exc) > self.redis_wait:
                self._stop_ticker()
                stop_crawl(
                    self.crawler,
                    f"Redis at {redact_url(self.url)} unreachable for {self.redis_wait:.0f}s;"
                    " stopped, the crawl's work stays queued there (run again to resume)",
                    reason="redis_unavailable",
                    exit_code=EXIT_FAILED,
                )
        except RunOver as over:
            self._stop_ticker()
            if over.lost:
                self._lost()

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()

    def _lost(self) -> None:
        stop_crawl(
            self.crawler,
            f"Redis at {redact_url(self.url)} no longer holds job {self._queue.job}'s run"
            " (restarted without persistence, or its keys were deleted)",
            reason="redis_lost_job",
            exit_code=EXIT_FAILED,
        )

    def _spider_idle(self, spider):
        """Keep an idle node open until the whole job has no work left for a grace period."""
        if self._down_since is not None or self._backlog:
            raise DontCloseSpider
        try:
            if not self._start_done:
                # The engine only goes idle once the spider's start() is exhausted.
                self._queue.started()
                self._start_done = True
            status = self._queue.status()
        except UNAVAILABLE as exc:
            self._went_down(exc)
            raise DontCloseSpider from None
        except RunOver as over:
            if over.lost:
                self._lost()
            else:
                logger.info("Cluster: job %s's run has ended", self._queue.job)
            return
        if status.done:
            return
        now = time.monotonic()
        if status.busy or self._quiet_since is None:
            self._quiet_since = None if status.busy else now
            raise DontCloseSpider
        if now - self._quiet_since < self.idle_grace:
            raise DontCloseSpider
        try:
            done = self._queue.mark_done()
        except UNAVAILABLE as exc:
            self._went_down(exc)
            raise DontCloseSpider from None
        except RunOver:
            done = True
        if not done:
            self._quiet_since = None
            raise DontCloseSpider
        logger.info("Cluster: job %s has no work left on any node", self._queue.job)


class AckHold:
    """A pipeline's hold on the acks of finished requests, for a pipeline that keeps items
    in memory and commits them in batches.

    Why: a request is acked once its items have left the pipelines, but such a pipeline
    still holds them in memory; a node killed before the commit would lose them for good
    (the request is gone from the queue, and shared state such as the emails' address book
    says they were found). Held, the request stays leased until the commit, and a node that
    dies before it lets the lease expire, so another node does the request again (the
    writes must be idempotent: ON CONFLICT, upserts).

    Protocol: `mark = hold.cut()` when the pipeline takes a batch from its buffer (every
    request finished by then has all its items in that batch or an earlier one), then
    `hold.commit(mark)` once that batch and all earlier ones are committed. A mark never
    committed (the write failed) puts its requests back in the queue when the node closes.
    """

    def __init__(self, scheduler: Scheduler):
        self._scheduler = scheduler
        self._finished: list[str] = []

    def cut(self) -> list[str]:
        """The requests finished since the last cut (an opaque mark for `commit`)."""
        mark, self._finished = self._finished, []
        return mark

    def commit(self, mark: list[str]) -> None:
        """The items of these requests are committed: their acks may go (once every hold
        has committed them)."""
        if mark:
            self._scheduler._committed(mark)


def node_scheduler(crawler) -> Scheduler | None:
    """The crawler's cluster scheduler once the engine has opened the spider; None when the
    crawl is not a cluster node (no REDIS_URL, or the spider chose another scheduler)."""
    try:
        engine = crawler.engine
    except RuntimeError:  # Scrapy's "not set yet", before the crawl starts
        return None
    scheduler = getattr(engine, "scheduler", None)  # public since Scrapy 2.19
    # Not isinstance(): BaseScheduler's metaclass makes any scheduler-shaped object pass.
    return scheduler if Scheduler in type(scheduler).__mro__ else None


def hold_acks(crawler) -> AckHold | None:
    """For a batching pipeline's open_spider: an AckHold on a cluster node, None otherwise
    (acks then go out as the requests finish, nothing to hold)."""
    scheduler = node_scheduler(crawler)
    return scheduler.hold_acks() if scheduler is not None else None


def run_token(crawler) -> str:
    """The cluster run this node joined ('' when not a cluster node)."""
    scheduler = node_scheduler(crawler)
    return scheduler.run if scheduler is not None else ""


def run_key(crawler, kind: str, name: str) -> str:
    """The Redis key of state kept beside the queue for this run (`<kind>:{<job>}:<name>:
    <run>`): an earlier run's state of the same job is never taken for this one's. Look it
    up once the scheduler has opened the run (not while the spider is being built)."""
    return keys.run_key(job_id(crawler), kind, name, run_token(crawler))
