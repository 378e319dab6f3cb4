"""`-a targets_file=FILE`: the same contract as a ledger, in memory, touching no store."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from pathlib import Path

from crawlers.ledger.model import (
    DONE,
    FAILED,
    IN_PROGRESS,
    PLANNED,
    LedgerStatus,
    StateCounts,
    Target,
)
from crawlers.ledger.regions import read_targets_file


class FileTargets:
    def __init__(self, path: str | Path):
        self.targets = {t.id: t for t in read_targets_file(path)}
        self.state = dict.fromkeys(self.targets, PLANNED)
        self.queue = deque(self.targets)  # planned, in file order

    def claim(self, node, limit, lease_seconds, states=None):
        chosen: list[Target] = []
        skipped: list[int | None] = []
        while self.queue and len(chosen) < limit:
            target = self.targets[self.queue.popleft()]
            if states and target.state not in states:
                skipped.append(target.id)
                continue
            self.state[target.id] = IN_PROGRESS
            chosen.append(target)
        self.queue.extendleft(reversed(skipped))
        return chosen

    def renew(self, node, ids, lease_seconds):
        return {i for i in ids if self.state.get(i) == IN_PROGRESS}

    def finish(self, node, target_id, accepted, rejected, pages):
        return self._end(target_id, DONE)

    def fail(self, node, target_id, reason, accepted=0, rejected=0, pages=0):
        return self._end(target_id, FAILED)

    def _end(self, target_id, status) -> bool:
        if self.state.get(target_id) != IN_PROGRESS:
            return False
        self.state[target_id] = status
        return True

    def release(self, node, ids):
        held = [i for i in ids if self.state.get(i) == IN_PROGRESS]
        for i in held:
            self.state[i] = PLANNED
        self.queue.extendleft(reversed(held))
        return len(held)

    def pending(self, states: Sequence[str] | None = None) -> int:
        return sum(
            1
            for i, t in self.targets.items()
            if self.state[i] == PLANNED and (not states or t.state in states)
        )

    def leased_by_others(self, node, states=None) -> int:
        return 0

    def status(self, states=None, window: float = 900.0) -> LedgerStatus:
        per_state: dict[str, StateCounts] = {}
        for i, t in self.targets.items():
            per_state.setdefault(t.state, StateCounts()).counts[self.state[i]] += 1
        return LedgerStatus(per_state, 0, window)

    def close(self) -> None:
        pass
