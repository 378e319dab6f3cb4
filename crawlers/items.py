"""One item class per thing we keep. Dataclasses: typed, cheap, and itemadapter-friendly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scrapy.exceptions import DropItem


@dataclass
class VehicleItem:
    ref: str
    vin: str = ""
    year: int | None = None
    make: str = ""
    model: str = ""
    trim: str = ""
    mileage: int | None = None
    price: float | None = None
    status: str = "downloaded"  # downloaded | skipped | failed
    reason: str = ""  # why it failed
    pdf_path: str = ""
    pdf_size: int = 0
    pdf_sha256: str = ""


@dataclass
class DealItem:
    origin: str
    destination: str
    destination_id: str = ""  # from the flights link (IATA code or /m/ id), else the name
    price: float | None = None
    currency: str = ""  # ISO code as the page says it (whatever `curr` asked), "" if not
    outbound_date: str = ""
    return_date: str = ""
    duration: str = ""
    regions: list[str] = field(default_factory=list)
    flights_url: str = ""
    rank: int = 0
    # Each: airline, times, duration, stops, price (None: "Price unavailable"), currency.
    options: list[dict[str, Any]] = field(default_factory=list)
    expansion_seconds: float | None = None
    expansion_status: str = ""  # ok | failed:<reason>


@dataclass
class BusinessItem:
    ypid: str
    name: str
    state: str = ""  # address parts, from the card's locality line
    city: str = ""
    postal_code: str = ""
    categories: list[str] = field(default_factory=list)
    phone: str = ""
    street: str = ""
    locality: str = ""
    website: str = ""
    rating: float | None = None
    review_count: int | None = None
    years_in_business: int | None = None
    detail_url: str = ""
    rank: int | None = None
    search_terms: str = ""  # the source target: its search and where
    search_location: str = ""
    target_id: int | None = None


# Why a BusinessItem was dropped (crawlers/pipelines/businesses.py): the spider counts
# each per target.
class RejectedListing(DropItem):
    """The filter rules turned the listing down."""


class DuplicateListing(DropItem):
    """A listing already kept in this crawl (same ypid)."""


@dataclass
class EmailItem:
    email: str
    site: str
    page: str
    first_seen: str  # ISO 8601, UTC


@dataclass
class ItemBatch:
    """The records of one page, as one item through Scrapy (crawlers/batches.py): its
    pipelines, signals and feed see a page, users see the records."""

    records: list[Any]
    key: Any = None  # what the spider that made it knows it by (a target's id, say)
    # (record, DropItem) for each record a pipeline dropped from the batch
    dropped: list[tuple[Any, Exception]] = field(default_factory=list)
