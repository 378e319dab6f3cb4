"""A job's runs side by side: each run's figures, and what got worse since the run before.

A run is flagged against the one before it (the next older run kept) when it stored fewer
items (DASHBOARD_COMPARE_SHARE less, 10%), failed a larger share of its units (by more than
that share, in points), or was slower (units per second of its elapsed time). A run still
going is compared too, as it stands: its flags can go away as it catches up.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

DEFAULT_SHARE = 0.10


def summary(view: dict[str, Any]) -> dict[str, Any]:
    """The figures a history row shows, from a merged run view (crawlers/telemetry/merge.py)."""
    progress = view["progress"]
    elapsed = view["elapsed_seconds"] or 0.0
    worked = progress["done"] + progress["failed"]
    return {
        "run": view["run"],
        "state": view["state"],
        "started": view["started"],
        "ended": view["last_seen"] if view["state"] != "running" else None,
        "elapsed_seconds": elapsed,
        "finish_reasons": view.get("finish_reasons", []),
        "done": progress["done"],
        "skipped": progress["skipped"],
        "failed": progress["failed"],
        "failures": view["failures"],
        "items": int(view["counters"].get("items", 0)),
        "rate": round(worked / elapsed, 4) if elapsed > 0 else None,
        "failed_share": round(progress["failed"] / worked, 4) if worked else 0.0,
        "memory_peak_bytes": view["resources"]["memory_peak_bytes"],
        "nodes": len(view["nodes"]),
    }


def flags(run: dict[str, Any], before: dict[str, Any], share: float = DEFAULT_SHARE) -> list[str]:
    """What is worse in `run` than in `before` (two summaries)."""
    out = []
    if before["items"] and run["items"] < before["items"] * (1 - share):
        out.append(f"fewer items: {run['items']:,} against {before['items']:,}")
    if run["failed_share"] > before["failed_share"] + share:
        out.append(
            f"more failures: {run['failed_share']:.0%} of units against "
            f"{before['failed_share']:.0%}"
        )
    if before["rate"] and run["rate"] is not None and run["rate"] < before["rate"] * (1 - share):
        out.append(f"slower: {run['rate']:.2f}/s against {before['rate']:.2f}/s")
    return out


def history(views: list[dict[str, Any]], share: float = DEFAULT_SHARE) -> list[dict[str, Any]]:
    """Each run's summary, newest first, with its flags against the run before it."""
    rows = [summary(v) for v in views]
    for row, before in pairwise(rows):
        row["previous"] = before["run"]
        row["flags"] = flags(row, before, share)
    if rows:
        rows[-1]["previous"] = None
        rows[-1]["flags"] = []
    return rows
