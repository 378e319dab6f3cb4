"""Scrapy 2.19.0 engine, retry and stats internals (see crawlers/internals/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable

from scrapy.http import Request


def on_request_done(engine, callback: Callable[[Request], None]) -> None:
    """Call `callback(request)` when the engine is done with a request: its response or
    failure is handled and everything its callback yielded is scheduled or through the item
    pipelines. Scrapy has no signal for that moment; the engine's slot drops the request
    from its in-progress set then (`_Slot.remove_request`). Call once the slot exists (from
    a scheduler's open())."""
    slot = engine._slot
    remove_request = slot.remove_request

    def remove_and_call(request: Request) -> None:
        callback(request)
        remove_request(request)

    slot.remove_request = remove_and_call


def set_idle_poll(engine, seconds: float) -> None:
    """How often an engine with nothing to do asks its scheduler again (Scrapy: 5 s, a class
    constant the heartbeat reads when request processing starts, after the scheduler's
    open())."""
    engine._SLOT_HEARTBEAT_INTERVAL = seconds


def retry_request(middleware, request: Request, reason) -> Request | None:
    """RetryMiddleware's own decision (max_retry_times, priority_adjust, give_up_log_level
    from meta or settings; stats and log lines): the retry request, or None to give up.
    The public get_retry_request() would need those read again here."""
    return middleware._retry(request, reason)


def stats_started(corestats) -> bool:
    """Whether Scrapy's CoreStats saw the spider open (its spider_closed asserts so)."""
    return corestats.start_time is not None and corestats._start_time_mono is not None


def create_crawler(command, spider_name: str):
    """The crawler Scrapy's `crawl` command would build (with its unused-feeds warning)."""
    return command._create_crawler(spider_name)
