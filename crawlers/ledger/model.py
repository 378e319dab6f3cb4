"""What the businesses ledger holds: one target per (state, city, search terms)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

PLANNED = "planned"
IN_PROGRESS = "in_progress"
DONE = "done"
FAILED = "failed"
STATUSES = (PLANNED, IN_PROGRESS, DONE, FAILED)


@dataclass(frozen=True)
class Target:
    state: str
    city: str
    search_terms: str
    priority: int = 0  # larger first: the city's population
    id: int | None = None
    attempts: int = 0

    @property
    def stored_id(self) -> int:
        """The id the ledger gave this target (every claimed target has one)."""
        if self.id is None:
            raise ValueError(f"target {self.label} is not in a ledger")
        return self.id

    @property
    def location(self) -> str:
        return f"{self.city}, {self.state}"

    @property
    def label(self) -> str:
        return f"{self.search_terms} @ {self.location}"


@dataclass
class StateCounts:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    stuck: int = 0  # in progress with an expired lease: its node died
    accepted: int = 0
    rejected: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def remaining(self) -> int:
        return self.counts[PLANNED] + self.counts[IN_PROGRESS]

    def add(self, other: StateCounts) -> None:
        for key, n in other.counts.items():
            self.counts[key] += n
        self.stuck += other.stuck
        self.accepted += other.accepted
        self.rejected += other.rejected


@dataclass
class LedgerStatus:
    states: dict[str, StateCounts]
    finished_recently: int  # targets done or failed within `window` seconds
    window: float
    failure_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def overall(self) -> StateCounts:
        total = StateCounts()
        for counts in self.states.values():
            total.add(counts)
        return total

    @property
    def per_minute(self) -> float:
        return self.finished_recently * 60.0 / self.window if self.window else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Remaining targets at the recent pace; None when nothing finished lately."""
        remaining = self.overall.remaining
        if remaining == 0:
            return 0.0
        if not self.finished_recently:
            return None
        return remaining / (self.finished_recently / self.window)


class Ledger(Protocol):
    """The same contract for the embedded store and PostgreSQL.

    A claim is a lease: the node renews it while it works on the target, and a target whose
    lease expired (its node died) can be claimed again. Finishing, failing and releasing
    only count for the node holding the lease.
    """

    def generate(self, targets: Iterable[Target]) -> int: ...

    def claim(
        self, node: str, limit: int, lease_seconds: float, states: Sequence[str] | None = None
    ) -> list[Target]: ...

    def renew(self, node: str, ids: Sequence[int], lease_seconds: float) -> set[int]: ...

    def finish(
        self, node: str, target_id: int, accepted: int, rejected: int, pages: int
    ) -> bool: ...

    def fail(
        self,
        node: str,
        target_id: int,
        reason: str,
        accepted: int = 0,
        rejected: int = 0,
        pages: int = 0,
    ) -> bool: ...

    def release(self, node: str, ids: Sequence[int]) -> int: ...

    def reset(self, *, failed: bool = False, stuck: bool = False) -> int: ...

    def pending(self, states: Sequence[str] | None = None) -> int: ...

    def leased_by_others(self, node: str, states: Sequence[str] | None = None) -> int: ...

    def status(
        self, states: Sequence[str] | None = None, window: float = 900.0
    ) -> LedgerStatus: ...

    def close(self) -> None: ...
