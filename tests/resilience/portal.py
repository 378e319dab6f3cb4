"""The dealer portal (vehicles) as the suite uses it: the suite's account, fast retries,
and the checks of what a vehicles crawl stored."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from crawlers.extraction.vehicles import is_safe_ref
from tests.resilience.checks import assert_accounted, assert_once
from tests.resilience.conftest import PORTAL_PASSWORD, PORTAL_USER

SETTINGS = {
    "CONCURRENT_REQUESTS": 6,
    "RETRY_TIMES": 12,
    "RETRY_BACKOFF_BASE": 0.1,
    "RETRY_BACKOFF_MAX": 1,
    "DOWNLOAD_TIMEOUT": 3,
    "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 15000,
    "VEHICLES_PER_PAGE": 10,
    "LOG_LEVEL": "INFO",
}


def knobs(size: int, **extra: Any) -> dict[str, Any]:
    return {
        "size": size,
        "options": {"username": PORTAL_USER, "password": PORTAL_PASSWORD},
        **extra,
    }


def env(sb) -> dict[str, str]:
    return {
        "VEHICLES_BASE_URL": sb.url("vehicles"),
        "VEHICLES_USERNAME": PORTAL_USER,
        "VEHICLES_PASSWORD": PORTAL_PASSWORD,
    }


def pdf_text(path: Path) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


def check_vehicles(
    items: list[dict[str, Any]], stats: dict[str, Any], truth: dict[str, Any], store: Path
) -> dict[str, dict[str, Any]]:
    """One item per listed vehicle, each downloaded (the right, whole PDF, in the store) or
    failed with a reason; the store holds those PDFs and nothing else."""
    assert_once((i["ref"] for i in items), "vehicle")
    by_ref = {i["ref"]: i for i in items}
    vehicles = {v["ref"]: v for v in truth["vehicles"]}
    assert set(by_ref) <= set(vehicles), set(by_ref) - set(vehicles)
    for ref, vehicle in vehicles.items():
        if not vehicle["sold"]:
            assert ref in by_ref, f"vehicle {ref!r} was never reported"
    saved = set()
    for ref, item in by_ref.items():
        assert item["status"] in ("downloaded", "skipped", "failed"), item
        if item["status"] == "failed":
            assert item["reason"], item
            continue
        path = Path(item["pdf_path"])
        assert path == store / f"{ref}.pdf", item
        text = pdf_text(path)
        assert f"Ref: {ref}\n" in text + "\n", (ref, text[:200])
        assert f"VIN: {vehicles[ref]['vin']}\n" in text + "\n", (ref, text[:200])
        assert path.stat().st_size == item["pdf_size"]
        saved.add(ref)
    on_disk = {p.name for p in store.iterdir()} if store.exists() else set()
    assert on_disk == {f"{ref}.pdf" for ref in saved}, on_disk ^ {f"{r}.pdf" for r in saved}
    assert all(is_safe_ref(r) for r in saved)
    assert_accounted(stats)
    assert stats["progress/total"] == len(items)
    return by_ref
