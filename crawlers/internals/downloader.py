"""Scrapy's downloader with per-site concurrency that holds under the asyncio reactor.

Written for Scrapy 2.19.0 (the fingerprints of what it relies on: crawlers/internals/
__init__.py). Scrapy 2.19's `Downloader._process_queue` starts each queued download as an
asyncio task, and the task marks its request "transferring" only when it first runs: by
then the loop that checks `free_transfer_slots()` has emptied the whole queue. So with the
asyncio reactor (which scrapy-playwright needs) CONCURRENT_REQUESTS_PER_DOMAIN is not enforced:
measured here, 14 requests in flight to one site with CONCURRENT_REQUESTS_PER_DOMAIN=2
(scrapy/scrapy#6982 reports the symptom). This is Scrapy's method with the request marked
before its task is scheduled; `_download` adds it again (a set) and removes it when done.
"""

from __future__ import annotations

from time import monotonic

from scrapy.core import downloader as scrapy_downloader


class PacedDownloader(scrapy_downloader.Downloader):
    def _process_queue(self, slot) -> None:
        if slot.latercall:
            return
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = scrapy_downloader.call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)
            scrapy_downloader._schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break
