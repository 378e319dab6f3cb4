"""The cluster switch, as a Scrapy add-on: REDIS_URL (or scrapy-redis' REDIS_HOST) set
(environment, settings or `-s`) turns any spider into a node of a shared crawl; unset,
nothing changes."""

from __future__ import annotations

import logging

from crawlers.cluster import connection
from crawlers.cluster.scheduler import seen_filter_settings, serializer

logger = logging.getLogger(__name__)

SCHEDULER = "crawlers.cluster.scheduler.Scheduler"

# scrapy-redis settings whose meaning does not fit a queue with leases, and what a
# scrapy-redis user gets here instead (README, "Several nodes": the full table).
NOT_HONOURED = {
    "SCHEDULER_PERSIST": "the queue always persists until the whole job has no work left",
    "SCHEDULER_FLUSH_ON_START": "a node joining a job never wipes it; a new CRAWL_JOB starts"
    " afresh",
    "SCHEDULER_IDLE_BEFORE_CLOSE": "idle nodes look for work every CLUSTER_POLL_INTERVAL and"
    " close after CLUSTER_IDLE_GRACE",
    "SCHEDULER_QUEUE_KEY": "the queue's keys are cluster:{<CRAWL_JOB>}:*",
    "SCHEDULER_QUEUE_CLASS": "one queue by priority, first in first out within one",
    "SCHEDULER_DUPEFILTER_KEY": "fingerprints are in cluster:{<CRAWL_JOB>}:seen",
    "SCHEDULER_DUPEFILTER_CLASS": "the queue's own script filters duplicates",
    "DUPEFILTER_KEY": "fingerprints are in cluster:{<CRAWL_JOB>}:seen",
    "REDIS_DECODE_RESPONSES": "queued requests are binary",
    "MAX_IDLE_TIME_BEFORE_CLOSE": "nodes close after CLUSTER_IDLE_GRACE without work anywhere",
}


class Cluster:
    @classmethod
    def from_crawler(cls, crawler):
        return cls()

    def update_settings(self, settings) -> None:
        if not connection.configured(settings):
            return
        if not settings.get("REDIS_URL"):
            # The rest of the project (and its docs) know one switch: REDIS_URL.
            priority = max(settings.getpriority("REDIS_URL") or 0, 15)  # 15: "addon"
            settings.set("REDIS_URL", connection.url_of(settings), priority=priority)
        # Add-ons run before the engine exists, the one place where an unreachable server
        # can still end the crawl with one line instead of a torn-down engine's tracebacks.
        connection.check(settings)
        serializer(settings)  # a bad SCHEDULER_SERIALIZER, one line before anything starts
        seen_filter_settings(settings)
        settings.set("SCHEDULER", SCHEDULER, priority="addon")
        for name, instead in NOT_HONOURED.items():
            if settings.get(name) is not None:
                logger.warning("%s is a scrapy-redis setting not used here: %s", name, instead)
