"""User-facing errors: one line on stderr and a non-zero exit, never a traceback.

Raise `ConfigError` while a crawl starts (spider arguments, settings, an unreachable
server), or call `stop_crawl()` once it runs: either way what was already collected is
kept, because the crawl closes normally (feeds and pipelines are closed).
The `crawl` command (crawlers/commands/crawl.py) prints the message and sets the exit code.
"""

from __future__ import annotations

import asyncio

EXIT_CONFIG = 2
EXIT_FAILED = 1


class ConfigError(Exception):
    """Bad input or an unreachable service. The message must not hold any secret."""

    exit_code = EXIT_CONFIG


def stop_crawl(crawler, message: str, reason: str = "config_error", exit_code: int = 2) -> None:
    """Close the crawl from anywhere inside it and make the process exit with `message`."""
    if getattr(crawler, "fatal_error", None) is None:
        crawler.fatal_error = (message, exit_code)
        crawler.stats.set_value("fatal_error", message)
    if crawler.engine is not None and crawler.engine.running:
        # Kept on the crawler so the task is not garbage-collected before it runs.
        crawler.stop_task = asyncio.ensure_future(crawler.engine.close_spider_async(reason=reason))
