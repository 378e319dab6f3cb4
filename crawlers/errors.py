"""User-facing errors: one line on stderr and a non-zero exit, never a traceback.

Raise `ConfigError` while a crawl starts (spider arguments, settings, an unreachable
server), or call `stop_crawl()` once it runs: either way what was already collected is
kept, because the crawl closes normally (feeds and pipelines are closed).
The `crawl` command (crawlers/commands/crawl.py) prints the message and sets the exit code.
"""

from __future__ import annotations

import asyncio
from weakref import WeakKeyDictionary

EXIT_CONFIG = 2
EXIT_FAILED = 1


def first_line(error: BaseException | str, limit: int | None = 200) -> str:
    """What a log line, a reason or an error line shows of an exception (or a text): the
    first line of its message, stripped, at most `limit` characters. An exception without
    a message is named by its class."""
    text = str(error).strip()
    if not text:
        return type(error).__name__ if isinstance(error, BaseException) else ""
    line = text.splitlines()[0].rstrip()
    return line if limit is None else line[:limit]


class ConfigError(Exception):
    """Bad input or an unreachable service. The message must not hold any secret."""

    exit_code = EXIT_CONFIG


# Beside each crawler rather than attributes added to Scrapy's Crawler: the first fatal
# error (message, exit code), and the task closing the crawl (kept so that it is not
# garbage-collected before it runs).
_FATAL: WeakKeyDictionary = WeakKeyDictionary()
_STOPPING: WeakKeyDictionary = WeakKeyDictionary()


def fatal_error(crawler) -> tuple[str, int] | None:
    """The (message, exit code) stop_crawl() was first called with, or None."""
    return _FATAL.get(crawler)


def stop_crawl(crawler, message: str, reason: str = "config_error", exit_code: int = 2) -> None:
    """Close the crawl from anywhere inside it and make the process exit with `message`."""
    if crawler not in _FATAL:
        _FATAL[crawler] = (message, exit_code)
        crawler.stats.set_value("fatal_error", message)
    if crawler.engine is not None and crawler.engine.running:
        _STOPPING[crawler] = asyncio.ensure_future(crawler.engine.close_spider_async(reason=reason))
