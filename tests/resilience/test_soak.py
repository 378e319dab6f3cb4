"""Soak (make test-long): thousands of browser pages in one crawl, the memory of the whole
process tree (Chromium included, crawlers/telemetry/resources.py) sampled from outside as
the pages go by. Memory must level off: the late part of the run may not sit well above
the early part, as it would if browser contexts or pages were never let go."""

from __future__ import annotations

import statistics
import time

import pytest

from crawlers.telemetry.resources import ProcessTree
from tests.resilience import portal

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(3600)]

VEHICLES = 3000
# The late median may exceed the early one by this share at most; a leak of even 10 KB
# per page over 2,000 pages between the two windows (20 MB) shows on a tree of ~300 MB.
GROWTH = 0.25


def test_memory_stays_flat_over_thousands_of_browser_pages(
    sandbox_factory, chromium, background, tmp_path
):
    sb = sandbox_factory(["vehicles"], knobs={"vehicles": portal.knobs(VEHICLES, pdf_kb=1)})
    store = tmp_path / "pdfs"
    run = background(
        "vehicles",
        tmp_path / "soak",
        settings={
            **portal.SETTINGS,
            "CONCURRENT_REQUESTS": 4,
            "VEHICLES_PER_PAGE": 100,
            "VEHICLES_BROWSER_PAGES": True,
            "FILES_STORE": str(store),
            "LOG_LEVEL": "INFO",
        },
        env=portal.env(sb),
    )
    tree = ProcessTree(run.proc.pid)
    samples: list[tuple[int, int]] = []  # (vehicle pages served, PSS of the tree)
    while run.alive():
        time.sleep(5)
        pages = sb.stats("vehicles").get("requests", 0)
        try:
            sample = tree.sample()
        except Exception:  # the crawl ended between the check and the sample
            break
        samples.append((pages, sample.memory_bytes))
    assert run.wait(60) == 0, run.log[-3000:]
    by_ref = portal.check_vehicles(run.items, run.stats, sb.truth("vehicles"), store)
    assert sum(i["status"] == "downloaded" for i in by_ref.values()) == VEHICLES
    assert run.stats["playwright/page_count"] >= VEHICLES

    served = samples[-1][0]

    def window(lo: float, hi: float) -> list[int]:
        return [m for p, m in samples if lo * served <= p < hi * served]

    early, late = window(0.2, 0.4), window(0.75, 1.0)
    assert len(early) >= 3 and len(late) >= 3, samples
    early_mb, late_mb = statistics.median(early) / 2**20, statistics.median(late) / 2**20
    print(
        f"soak: {served} requests, tree PSS median {early_mb:.0f} MB early, {late_mb:.0f} MB late"
    )
    assert late_mb <= early_mb * (1 + GROWTH), (early_mb, late_mb, samples[::10])
