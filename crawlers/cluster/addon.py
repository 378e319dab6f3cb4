"""The cluster switch, as a Scrapy add-on: REDIS_URL set (environment, settings or `-s`)
turns any spider into a node of a shared crawl; unset, nothing changes."""

from __future__ import annotations

from crawlers.cluster import connection

SCHEDULER = "crawlers.cluster.scheduler.Scheduler"


class Cluster:
    @classmethod
    def from_crawler(cls, crawler):
        return cls()

    def update_settings(self, settings) -> None:
        if not settings.get("REDIS_URL"):
            return
        # Add-ons run before the engine exists, the one place where an unreachable server
        # can still end the crawl with one line instead of a torn-down engine's tracebacks.
        connection.check(settings)
        settings.set("SCHEDULER", SCHEDULER, priority="addon")
