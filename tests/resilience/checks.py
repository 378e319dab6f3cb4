"""What every scenario checks at its end: every unit ended done or failed with a reason,
nothing stored twice, nothing stored wrong."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any


def failed_by_reason(stats: dict[str, Any]) -> dict[str, int]:
    return {
        key.removeprefix("progress/failed/"): value
        for key, value in stats.items()
        if key.startswith("progress/failed/") and isinstance(value, int)
    }


def assert_accounted(stats: dict[str, Any], *, total_known: bool = True) -> dict[str, int]:
    """progress/total == done + skipped + failed, and every failure has a named reason."""
    done = stats.get("progress/done", 0)
    skipped = stats.get("progress/skipped", 0)
    failed = stats.get("progress/failed", 0)
    reasons = failed_by_reason(stats)
    assert sum(reasons.values()) == failed, (failed, reasons)
    assert "unknown" not in reasons and "" not in reasons, reasons
    if total_known:
        assert "progress/total" in stats, "the crawl never said how much work it planned"
        assert stats["progress/total"] == done + skipped + failed, {
            "total": stats["progress/total"],
            "done": done,
            "skipped": skipped,
            "failed": reasons,
        }
    return reasons


def assert_all_done(stats: dict[str, Any], total: int | None = None) -> None:
    """Accounted for, none failed, and (given `total`) exactly that many units planned."""
    reasons = assert_accounted(stats)
    if total is not None:
        assert stats["progress/total"] == total, (stats["progress/total"], total)
    assert reasons == {}, reasons


def assert_once(values: Iterable[Any], what: str = "item") -> None:
    counts = Counter(values)
    twice = {v: n for v, n in counts.items() if n > 1}
    assert not twice, f"{what} stored more than once: {list(twice)[:10]}"
