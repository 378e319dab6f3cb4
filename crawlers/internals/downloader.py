"""Scrapy's downloader with per-site limits that hold under the asyncio reactor, and shared
by every node of a job when CLUSTER_SITE_CONCURRENCY or CLUSTER_SITE_RATE is set.

Written for Scrapy 2.19.0 (the fingerprints of what it relies on: crawlers/internals/
__init__.py). Scrapy 2.19's `Downloader._process_queue` starts each queued download as an
asyncio task, and the task marks its request "transferring" only when it first runs: by
then the loop that checks `free_transfer_slots()` has emptied the whole queue. So with the
asyncio reactor (which scrapy-playwright needs) CONCURRENT_REQUESTS_PER_DOMAIN is not enforced:
measured here, 14 requests in flight to one site with CONCURRENT_REQUESTS_PER_DOMAIN=2
(scrapy/scrapy#6982 reports the symptom). This is Scrapy's method with the request marked
before its task is scheduled; `_download` adds it again (a set) and removes it when done.

With the shared pace on (crawlers/pace/), it decides instead of the slot's concurrency and
delay: a site's requests in flight and their rate over all nodes, adapted to the site's
latency and 429s (so AutoThrottle's delay, one node's view, is not applied on top).
"""

from __future__ import annotations

from time import monotonic

from scrapy.core import downloader as scrapy_downloader

from crawlers.pace.node import Paces


class PacedDownloader(scrapy_downloader.Downloader):
    def __init__(self, crawler):
        super().__init__(crawler)
        self.paces = Paces.from_crawler(crawler)
        if self.paces is not None:
            self.paces.downloader = self

    def _process_queue(self, slot) -> None:
        if slot.latercall:
            return
        if self.paces is not None:
            self._process_paced(slot)
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
            self._start(slot)
            if delay:
                self._process_queue(slot)
                break

    def _process_paced(self, slot) -> None:
        paces = self.paces
        assert paces is not None  # called only with paces
        while slot.queue:
            # _enqueue_request names the slot in each request's meta before queueing it.
            site = slot.queue[0][0].meta.get(self.DOWNLOAD_SLOT, "")
            wait = paces.admit(site, slot)
            if wait is None:
                return
            if wait > 0:
                slot.latercall = scrapy_downloader.call_later(wait, self._latercall, slot)
                return
            slot.lastseen = monotonic()
            self._start(slot)

    def _start(self, slot) -> None:
        request, queue_dfd = slot.queue.popleft()
        slot.transferring.add(request)
        scrapy_downloader._schedule_coro(self._wait_for_download(slot, request, queue_dfd))
