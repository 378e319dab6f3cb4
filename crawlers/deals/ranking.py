"""Choosing an origin's best deals from what its regions showed."""

from __future__ import annotations

from typing import Any


def rank_key(deal: dict[str, Any]) -> tuple:
    """Lowest price first; ties by destination name (case-folded, then as shown), then
    dates, then the destination id, so equal inputs always give the same order."""
    name = deal["destination"]
    return (
        deal["price"],
        name.casefold(),
        name,
        deal["outbound_date"],
        deal["return_date"],
        deal["destination_id"],
    )


def best_deals(deals: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """The `top` best deals, a destination seen in several regions counted once: its best
    deal is kept and the regions it was seen in are united."""
    best: dict[str, dict[str, Any]] = {}
    for deal in deals:
        key = deal["destination_id"]
        kept = best.get(key)
        if kept is None:
            best[key] = dict(deal, regions=list(deal["regions"]))
            continue
        regions = sorted({*kept["regions"], *deal["regions"]})
        if rank_key(deal) < rank_key(kept):
            best[key] = dict(deal)
        best[key]["regions"] = regions
    return sorted(best.values(), key=rank_key)[:top]
