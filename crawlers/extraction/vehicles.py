"""Reading the dealer portal's pages and API (SITES.md section 1), as plain functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from parsel import Selector

SAFE_REF = re.compile(r"[A-Za-z0-9_-]{4,32}")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def is_safe_ref(ref: Any) -> bool:
    """A ref the contract allows; anything else must never become a file name."""
    return isinstance(ref, str) and SAFE_REF.fullmatch(ref) is not None


def display_number(text: str | None) -> float | None:
    """`171,153`, `$3,500`, `53,939 mi` -> the number; None when there is none."""
    match = _NUMBER.search(text or "")
    return float(match.group().replace(",", "")) if match else None


def login_error(html: str) -> str | None:
    """The message of a refused login (`div.error`), None when the page shows none."""
    sel = Selector(text=html)
    if not sel.css("div.error"):
        return None
    return " ".join(" ".join(sel.css("div.error ::text").getall()).split()) or "login refused"


def csrf_meta(html: str) -> str | None:
    """The inventory page's token for `X-CSRF-Token`."""
    return Selector(text=html).css("meta[name=csrf-token]::attr(content)").get()


@dataclass
class InventoryPage:
    total: int
    page: int
    pages: int
    vehicles: list[dict[str, Any]]


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def inventory_page(data: dict[str, Any]) -> InventoryPage:
    """The JSON of `/api/inventory`, typed. Refs are kept as sent (checked by the caller)."""
    vehicles = []
    for raw in data.get("vehicles") or []:
        if not isinstance(raw, dict) or raw.get("ref") in (None, ""):
            continue
        vehicles.append(
            {
                "ref": str(raw["ref"]),
                "vin": _text(raw.get("vin")),
                "year": _int(raw.get("year")),
                "make": _text(raw.get("make")),
                "model": _text(raw.get("model")),
                "trim": _text(raw.get("trim")),
                "mileage": _int(raw.get("mileage")),
                "price": _float(raw.get("price")),
            }
        )
    return InventoryPage(
        total=_int(data.get("total")) or 0,
        page=_int(data.get("page")) or 0,
        pages=_int(data.get("pages")) or 0,
        vehicles=vehicles,
    )


@dataclass
class VehiclePage:
    title: str
    specs: dict[str, str]
    report_url: str | None

    def fields(self) -> dict[str, Any]:
        """The specs as item fields, display forms turned into numbers."""
        specs = {k.lower(): v for k, v in self.specs.items()}
        year, mileage = display_number(specs.get("year")), display_number(specs.get("mileage"))
        return {
            "vin": specs.get("vin", ""),
            "year": int(year) if year is not None else None,
            "make": specs.get("make", ""),
            "model": specs.get("model", ""),
            "trim": specs.get("trim", ""),
            "mileage": int(mileage) if mileage is not None else None,
            "price": display_number(specs.get("price")),
        }


def vehicle_page(html: str) -> VehiclePage:
    sel = Selector(text=html)
    specs = {}
    for dt in sel.css("dl.specs dt"):
        key = _text(" ".join(dt.css("::text").getall()))
        value = _text(" ".join(dt.xpath("following-sibling::dd[1]//text()").getall()))
        if key:
            specs[key] = value
    link = sel.css("a#download-pdf")
    report_url = link.attrib.get("data-report-url") or link.attrib.get("href") if link else None
    return VehiclePage(
        title=_text(" ".join(sel.css("h1.title ::text").getall())),
        specs=specs,
        report_url=report_url or None,
    )
