"""Live state of every crawl: each node publishes a snapshot, readers merge them per run.

From Python (the cluster tools and the dashboard use the same calls):
    store = store_from_settings(settings)       # Redis when REDIS_URL is set, else files
    read_jobs(store)                            # every job's current run, newest first
    read_job(redis.Redis.from_url(url), "nightly-1122")   # one job's current run, or None
    read_runs(store, "nightly-1122")            # each of its runs, newest first
    read_failures(store, "nightly-1122", run)   # the failed units of a run, or None
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from crawlers.telemetry.merge import failed_units, merge_job
from crawlers.telemetry.settings import number_setting
from crawlers.telemetry.store import (
    DEFAULT_HISTORY_DAYS,
    DEFAULT_HISTORY_RUNS,
    DEFAULT_PREFIX,
    DEFAULT_TTL,
    FileStore,
    RedisStore,
)

DEFAULT_SILENT_AFTER = 300.0

__all__ = [
    "FileStore",
    "RedisStore",
    "read_failures",
    "read_job",
    "read_jobs",
    "read_runs",
    "store_from_settings",
]


def _store(source) -> RedisStore | FileStore:
    if isinstance(source, RedisStore | FileStore):
        return source
    return RedisStore(source)


def store_from_settings(settings, timeout: float = 5.0) -> RedisStore | FileStore:
    url = settings.get("TELEMETRY_REDIS_URL") or settings.get("REDIS_URL")
    runs = int(number_setting(settings, "TELEMETRY_HISTORY_RUNS", DEFAULT_HISTORY_RUNS))
    if url:
        return RedisStore.from_settings(
            settings,
            url,
            timeout=timeout,
            prefix=settings.get("TELEMETRY_PREFIX") or DEFAULT_PREFIX,
            ttl=int(number_setting(settings, "TELEMETRY_TTL", DEFAULT_TTL, allow_zero=False)),
            history_days=number_setting(settings, "TELEMETRY_HISTORY_DAYS", DEFAULT_HISTORY_DAYS),
            history_runs=runs,
        )
    return FileStore(Path(settings.get("DATA_DIR") or "data") / "jobs", history_runs=runs)


def read_job(
    source,
    job: str,
    silent_after: float = DEFAULT_SILENT_AFTER,
    now: float | None = None,
    run: str | None = None,
) -> dict[str, Any] | None:
    """The merged view of one run of `job` (default: its newest, see merge.py), or None if
    no node reported it. `source` is a store or a redis client (default key prefix)."""
    snapshots = _store(source).nodes(job, run)
    if not snapshots:
        return None
    return merge_job(job, snapshots, time.time() if now is None else now, silent_after)


def read_failures(source, job: str, run: str) -> list[dict[str, Any]] | None:
    """The failed units of one run (each node's last TELEMETRY_FAILED_UNITS), newest first,
    each {"unit", "reason", "at", "node"}; None if no node reported that run."""
    snapshots = _store(source).nodes(job, run)
    return None if not snapshots else failed_units(snapshots)


def read_runs(
    source, job: str, silent_after: float = DEFAULT_SILENT_AFTER, now: float | None = None
) -> list[dict[str, Any]]:
    """Every run of `job` kept, newest first, each merged on its own."""
    store = _store(source)
    now = time.time() if now is None else now
    views = (read_job(store, job, silent_after, now, run) for run in store.runs(job))
    return [view for view in views if view is not None]


def read_jobs(
    source, silent_after: float = DEFAULT_SILENT_AFTER, now: float | None = None
) -> list[dict[str, Any]]:
    store = _store(source)
    now = time.time() if now is None else now
    views = (read_job(store, job, silent_after, now) for job in store.job_names())
    return [view for view in views if view is not None]
