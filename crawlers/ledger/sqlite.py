"""The embedded ledger: one SQLite file in DATA_DIR (WAL, so several local processes share it)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from crawlers.errors import ConfigError
from crawlers.ledger.base import SqlLedger, claimed_targets, ledger_status
from crawlers.ledger.model import FAILED, LedgerStatus, Target

SCHEMA = """
CREATE TABLE IF NOT EXISTS business_targets (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    city TEXT NOT NULL,
    search_terms TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'planned',
    lease_owner TEXT,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    accepted INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    pages INTEGER NOT NULL DEFAULT 0,
    finished_at REAL,
    UNIQUE (state, city, search_terms)
);
CREATE INDEX IF NOT EXISTS business_targets_claim
    ON business_targets (status, priority DESC, id);
CREATE INDEX IF NOT EXISTS business_targets_finished ON business_targets (finished_at);
"""

CLAIMABLE = "(status = 'planned' OR (status = 'in_progress' AND lease_until < :now))"


class SqliteLedger(SqlLedger):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit, with explicit BEGIN IMMEDIATE where a read decides a write.
            self.db = sqlite3.connect(
                self.path, timeout=60, isolation_level=None, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the ledger {self.path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def _scope(self, states: Sequence[str] | None, params: dict) -> str:
        if not states:
            return ""
        names = []
        for i, state in enumerate(states):
            params[f"s{i}"] = state
            names.append(f":s{i}")
        return f" AND state IN ({', '.join(names)})"

    def generate(self, targets: Iterable[Target]) -> int:
        before = self.db.total_changes
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT OR IGNORE INTO business_targets (state, city, search_terms, priority)"
                " VALUES (?, ?, ?, ?)",
                ((t.state, t.city, t.search_terms, t.priority) for t in targets),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.db.total_changes - before

    def claim(
        self, node: str, limit: int, lease_seconds: float, states: Sequence[str] | None = None
    ) -> list[Target]:
        if limit <= 0:
            return []
        now = time.time()
        params = {"now": now, "limit": limit, "node": node, "until": now + lease_seconds}
        scope = self._scope(states, params)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            rows = self.db.execute(
                f"""UPDATE business_targets
                SET status = 'in_progress', lease_owner = :node, lease_until = :until,
                    attempts = attempts + 1
                WHERE id IN (SELECT id FROM business_targets WHERE {CLAIMABLE}{scope}
                             ORDER BY priority DESC, id LIMIT :limit)
                RETURNING id, state, city, search_terms, priority, attempts""",
                params,
            ).fetchall()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return claimed_targets(rows)

    def _held(self, sql: str, node: str, ids: Sequence[int], params: dict) -> set[int]:
        held: set[int] = set()
        for target_id in ids:
            cur = self.db.execute(
                f"{sql} WHERE id = :id AND status = 'in_progress' AND lease_owner = :node"
                " RETURNING id",
                {**params, "id": target_id, "node": node},
            )
            held.update(r[0] for r in cur.fetchall())
        return held

    def renew(self, node: str, ids: Sequence[int], lease_seconds: float) -> set[int]:
        if not ids:
            return set()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            held = self._held(
                "UPDATE business_targets SET lease_until = :until",
                node,
                ids,
                {"until": time.time() + lease_seconds},
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return held

    def _end(self, node, target_id, status, reason, accepted, rejected, pages) -> bool:
        return bool(
            self._held(
                "UPDATE business_targets SET status = :status, reason = :reason,"
                " accepted = :accepted, rejected = :rejected, pages = :pages,"
                " lease_owner = NULL, lease_until = NULL, finished_at = :now",
                node,
                [target_id],
                {
                    "status": status,
                    "reason": reason,
                    "accepted": accepted,
                    "rejected": rejected,
                    "pages": pages,
                    "now": time.time(),
                },
            )
        )

    def release(self, node: str, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        self.db.execute("BEGIN IMMEDIATE")
        try:
            held = self._held(
                "UPDATE business_targets SET status = 'planned', lease_owner = NULL,"
                " lease_until = NULL, attempts = max(attempts - 1, 0)",
                node,
                ids,
                {},
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return len(held)

    def reset(self, *, failed: bool = False, stuck: bool = False) -> int:
        clauses = []
        if failed:
            clauses.append("status = 'failed'")
        if stuck:
            clauses.append("(status = 'in_progress' AND lease_until < :now)")
        if not clauses:
            return 0
        cur = self.db.execute(
            "UPDATE business_targets SET status = 'planned', reason = '', lease_owner = NULL,"
            f" lease_until = NULL, finished_at = NULL WHERE {' OR '.join(clauses)}",
            {"now": time.time()},
        )
        return cur.rowcount

    def pending(self, states: Sequence[str] | None = None) -> int:
        params: dict = {"now": time.time()}
        scope = self._scope(states, params)
        sql = f"SELECT count(*) FROM business_targets WHERE {CLAIMABLE}{scope}"
        return self.db.execute(sql, params).fetchone()[0]

    def leased_by_others(self, node: str, states: Sequence[str] | None = None) -> int:
        params: dict = {"now": time.time(), "node": node}
        scope = self._scope(states, params)
        return self.db.execute(
            "SELECT count(*) FROM business_targets WHERE status = 'in_progress'"
            f" AND lease_until >= :now AND lease_owner != :node{scope}",
            params,
        ).fetchone()[0]

    def status(self, states: Sequence[str] | None = None, window: float = 900.0) -> LedgerStatus:
        now = time.time()
        params: dict = {"now": now, "since": now - window}
        scope = self._scope(states, params)
        rows = self.db.execute(
            "SELECT state, status, count(*), sum(lease_until < :now), sum(accepted),"
            f" sum(rejected) FROM business_targets WHERE 1 = 1{scope} GROUP BY state, status",
            params,
        ).fetchall()
        recent = self.db.execute(
            f"SELECT count(*) FROM business_targets WHERE finished_at >= :since{scope}", params
        ).fetchone()[0]
        reasons = dict(
            self.db.execute(
                f"SELECT reason, count(*) FROM business_targets WHERE status = '{FAILED}'{scope}"
                " GROUP BY reason ORDER BY 2 DESC",
                params,
            ).fetchall()
        )
        return ledger_status(rows, recent, window, reasons)
