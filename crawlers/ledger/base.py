"""What the embedded and the PostgreSQL ledger share beyond their SQL: finishing and failing
through one `_end`, and turning rows into targets and a status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from crawlers.ledger.model import DONE, FAILED, IN_PROGRESS, LedgerStatus, StateCounts, Target
from crawlers.outcomes import clean_reason


class SqlLedger:
    def _end(self, node, target_id, status, reason, accepted, rejected, pages) -> bool:
        """Set a held target's end state; False when `node` no longer holds its lease."""
        raise NotImplementedError

    def finish(self, node: str, target_id: int, accepted: int, rejected: int, pages: int) -> bool:
        return self._end(node, target_id, DONE, "", accepted, rejected, pages)

    def fail(self, node, target_id, reason, accepted=0, rejected=0, pages=0) -> bool:
        return self._end(node, target_id, FAILED, clean_reason(reason), accepted, rejected, pages)


def claimed_targets(rows: Iterable[Sequence[Any]]) -> list[Target]:
    """Rows of (id, state, city, search_terms, priority, attempts), in claim order:
    RETURNING gives them in no set order."""
    ordered = sorted(rows, key=lambda r: (-r[4], r[0]))
    return [Target(r[1], r[2], r[3], r[4], r[0], r[5]) for r in ordered]


def ledger_status(
    counts: Iterable[Sequence[Any]], recent: int, window: float, reasons: dict[str, int]
) -> LedgerStatus:
    """`counts`: rows of (state, status, targets, stuck, accepted, rejected)."""
    per_state: dict[str, StateCounts] = {}
    for state, status, n, stuck, accepted, rejected in counts:
        state_counts = per_state.setdefault(state, StateCounts())
        state_counts.counts[status] = n
        if status == IN_PROGRESS:
            state_counts.stuck += stuck or 0
        state_counts.accepted += accepted or 0
        state_counts.rejected += rejected or 0
    return LedgerStatus(dict(sorted(per_state.items())), recent, window, reasons)
