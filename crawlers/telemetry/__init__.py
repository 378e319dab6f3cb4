"""Live state of every crawl: each node publishes a snapshot, readers merge them per job.

From Python (the cluster tools and the dashboard use the same calls):
    store = store_from_settings(settings)       # Redis when REDIS_URL is set, else files
    read_jobs(store)                            # every job, newest first
    read_job(redis.Redis.from_url(url), "nightly-1122")   # one job, merged, or None
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from crawlers.telemetry.merge import merge_job
from crawlers.telemetry.settings import number_setting
from crawlers.telemetry.store import DEFAULT_PREFIX, DEFAULT_TTL, FileStore, RedisStore

DEFAULT_SILENT_AFTER = 300.0

__all__ = ["FileStore", "RedisStore", "read_job", "read_jobs", "store_from_settings"]


def _store(source) -> RedisStore | FileStore:
    if isinstance(source, RedisStore | FileStore):
        return source
    return RedisStore(source)


def store_from_settings(settings, timeout: float = 5.0) -> RedisStore | FileStore:
    url = settings.get("TELEMETRY_REDIS_URL") or settings.get("REDIS_URL")
    if url:
        return RedisStore.from_url(
            url,
            timeout=timeout,
            prefix=settings.get("TELEMETRY_PREFIX") or DEFAULT_PREFIX,
            ttl=int(number_setting(settings, "TELEMETRY_TTL", DEFAULT_TTL, allow_zero=False)),
        )
    return FileStore(Path(settings.get("DATA_DIR") or "data") / "jobs")


def read_job(
    source, job: str, silent_after: float = DEFAULT_SILENT_AFTER, now: float | None = None
) -> dict[str, Any] | None:
    """The merged view of `job` (see merge.py), or None if no node reported it.

    `source` is a store or a redis client (default key prefix)."""
    snapshots = _store(source).nodes(job)
    if not snapshots:
        return None
    return merge_job(job, snapshots, time.time() if now is None else now, silent_after)


def read_jobs(
    source, silent_after: float = DEFAULT_SILENT_AFTER, now: float | None = None
) -> list[dict[str, Any]]:
    store = _store(source)
    now = time.time() if now is None else now
    views = (read_job(store, job, silent_after, now) for job in store.job_names())
    return [view for view in views if view is not None]
