"""Retries that back off: Retry-After when the site gives one, exponential with jitter if not.

Scrapy's RetryMiddleware re-queues at once, which turns a 429 into a storm of 429s. The
wait happens inside the downloader (an asyncio sleep, no CPU), so a site that pushes back
also sees fewer requests in flight while the wait lasts.

Pages the page check rejected (a block page, a page not rendered: crawlers/middlewares/
page_check.py) are retried the same way whatever their status, and once the retries are
spent they reach the request's errback as `PageRejected(reason)`, never its callback.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request, Response
from scrapy.utils.response import response_status_message

from crawlers.internals.engine import retry_request
from crawlers.middlewares.page_check import PageRejected, page_problem


def parse_retry_after(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": between half and all of base * 2^(attempt-1)."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    uniform = rng.uniform if rng is not None else random.uniform
    return ceiling / 2 + uniform(0, ceiling / 2)


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 0.5)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX", 300.0)

    # Scrapy takes coroutine methods in downloader middlewares (2.13+), but RetryMiddleware
    # annotates the plain ones, which mypy holds an override to.
    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ):
        problem = page_problem(request)
        if problem is not None:
            return await self._retry_rejected(request, response, problem)
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = retry_request(self, request, response_status_message(response.status))
        if retry is None:
            return response
        await self._wait(retry, parse_retry_after(response.headers.get(b"Retry-After")))
        return retry

    async def _retry_rejected(self, request: Request, response: Response, problem: str):
        retry = None
        if not request.meta.get("dont_retry", False):
            retry = retry_request(self, request, f"page {problem}")
        if retry is None:
            self.crawler.stats.inc_value(f"pages/gave_up/{problem}")
            raise PageRejected(problem, response.url)
        await self._wait(retry, parse_retry_after(response.headers.get(b"Retry-After")))
        return retry

    async def process_exception(  # type: ignore[override]  # coroutine: see process_response
        self, request: Request, exception: Exception
    ):
        if request.meta.get("dont_retry", False) or not isinstance(
            exception, self.exceptions_to_retry
        ):
            return None
        retry = retry_request(self, request, exception)
        if retry is None:
            return None
        await self._wait(retry, None)
        return retry

    async def _wait(self, retry: Request, retry_after: float | None) -> None:
        if retry_after is not None:
            delay = min(retry_after, self.retry_after_max)
            self.crawler.stats.inc_value("retry/retry_after_honoured")
        else:
            delay = backoff_delay(retry.meta.get("retry_times", 1), self.base, self.cap)
        self.crawler.stats.inc_value("retry/backoff_seconds", round(delay, 3))
        if delay > 0:
            await asyncio.sleep(delay)
