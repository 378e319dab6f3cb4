"""Which crawl (job) and which node a process is, for shared state in Redis and reports.

A job is one logical crawl shared by every node that runs it: `-s CRAWL_JOB=nightly-1122`
on each node (default: the spider's name, one crawl per spider at a time). A node is one
`scrapy crawl` process: `NODE_ID` (default: host name and process id).
"""

from __future__ import annotations

import os
import re
import socket

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(value: str) -> str:
    return _SAFE.sub("_", value).strip("_")[:80] or "job"


def job_id(crawler) -> str:
    configured = crawler.settings.get("CRAWL_JOB") or ""
    spider = getattr(crawler, "spider", None)
    name = spider.name if spider is not None else (crawler.spidercls.name or "crawl")
    return safe_name(configured or name)


def node_id(settings=None) -> str:
    configured = settings.get("NODE_ID") if settings is not None else ""
    return safe_name(configured or f"{socket.gethostname()}-{os.getpid()}")
