"""The ledger in PostgreSQL: nodes claim with FOR UPDATE SKIP LOCKED; time is the server's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from crawlers.db import connect, create_schema
from crawlers.ledger.base import SqlLedger, claimed_targets, ledger_status
from crawlers.ledger.model import FAILED, LedgerStatus, Target

SCHEMA = """
CREATE TABLE IF NOT EXISTS business_targets (
    id bigserial PRIMARY KEY,
    state text NOT NULL,
    city text NOT NULL,
    search_terms text NOT NULL,
    priority bigint NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'planned',
    lease_owner text,
    lease_until timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    reason text NOT NULL DEFAULT '',
    accepted integer NOT NULL DEFAULT 0,
    rejected integer NOT NULL DEFAULT 0,
    pages integer NOT NULL DEFAULT 0,
    finished_at timestamptz,
    UNIQUE (state, city, search_terms)
);
CREATE INDEX IF NOT EXISTS business_targets_claim
    ON business_targets (status, priority DESC, id);
CREATE INDEX IF NOT EXISTS business_targets_finished ON business_targets (finished_at);
"""

CLAIMABLE = "(status = 'planned' OR (status = 'in_progress' AND lease_until < now()))"
SCOPE = " AND (%(states)s::text[] IS NULL OR state = ANY(%(states)s::text[]))"
HELD = " WHERE id = ANY(%(ids)s) AND status = 'in_progress' AND lease_owner = %(node)s"


class PostgresLedger(SqlLedger):
    def __init__(self, url: str):
        self.url = url
        self.db = connect(url, autocommit=True)
        create_schema(self.db, "business_targets", SCHEMA)

    @staticmethod
    def exists(url: str) -> bool:
        with connect(url, autocommit=True) as db:
            return _value(db.execute("SELECT to_regclass('business_targets')")) is not None

    def close(self) -> None:
        self.db.close()

    def _execute(self, sql: str, params: dict | None = None) -> psycopg.Cursor:
        """One statement; on a lost connection (server restart, idle timeout), one more try
        on a new one. Every statement here is its own transaction and safe to repeat: a
        claim whose answer was lost leaves targets leased to nobody working on them, and
        they come back when the lease expires."""
        try:
            return self.db.execute(sql, params)
        except psycopg.OperationalError:
            if not self.db.broken:
                raise
        self.db = connect(self.url, autocommit=True)
        return self.db.execute(sql, params)

    def generate(self, targets: Iterable[Target]) -> int:
        with self.db.transaction():
            self.db.execute(
                "CREATE TEMP TABLE new_targets (state text, city text, search_terms text,"
                " priority bigint) ON COMMIT DROP"
            )
            with self.db.cursor().copy(
                "COPY new_targets (state, city, search_terms, priority) FROM STDIN"
            ) as copy:
                for t in targets:
                    copy.write_row((t.state, t.city, t.search_terms, t.priority))
            cur = self.db.execute(
                "INSERT INTO business_targets (state, city, search_terms, priority)"
                " SELECT state, city, search_terms, priority FROM new_targets"
                " ORDER BY priority DESC ON CONFLICT DO NOTHING"
            )
            return cur.rowcount

    def claim(
        self, node: str, limit: int, lease_seconds: float, states: Sequence[str] | None = None
    ) -> list[Target]:
        if limit <= 0:
            return []
        rows = self._execute(
            f"""UPDATE business_targets
            SET status = 'in_progress', lease_owner = %(node)s, attempts = attempts + 1,
                lease_until = now() + make_interval(secs => %(lease)s)
            WHERE id IN (SELECT id FROM business_targets WHERE {CLAIMABLE}{SCOPE}
                         ORDER BY priority DESC, id LIMIT %(limit)s
                         FOR UPDATE SKIP LOCKED)
            RETURNING id, state, city, search_terms, priority, attempts""",
            {"node": node, "lease": lease_seconds, "limit": limit, "states": _arr(states)},
        ).fetchall()
        return claimed_targets(rows)

    def renew(self, node: str, ids: Sequence[int], lease_seconds: float) -> set[int]:
        if not ids:
            return set()
        rows = self._execute(
            "UPDATE business_targets SET lease_until = now() + make_interval(secs => %(lease)s)"
            f"{HELD} RETURNING id",
            {"lease": lease_seconds, "ids": list(ids), "node": node},
        ).fetchall()
        return {r[0] for r in rows}

    def _end(self, node, target_id, status, reason, accepted, rejected, pages) -> bool:
        cur = self._execute(
            "UPDATE business_targets SET status = %(status)s, reason = %(reason)s,"
            " accepted = %(accepted)s, rejected = %(rejected)s, pages = %(pages)s,"
            f" lease_owner = NULL, lease_until = NULL, finished_at = now(){HELD}",
            {
                "status": status,
                "reason": reason,
                "accepted": accepted,
                "rejected": rejected,
                "pages": pages,
                "ids": [target_id],
                "node": node,
            },
        )
        return cur.rowcount == 1

    def release(self, node: str, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        cur = self._execute(
            "UPDATE business_targets SET status = 'planned', lease_owner = NULL,"
            f" lease_until = NULL, attempts = greatest(attempts - 1, 0){HELD}",
            {"ids": list(ids), "node": node},
        )
        return cur.rowcount

    def reset(self, *, failed: bool = False, stuck: bool = False) -> int:
        clauses = []
        if failed:
            clauses.append("status = 'failed'")
        if stuck:
            clauses.append("(status = 'in_progress' AND lease_until < now())")
        if not clauses:
            return 0
        cur = self._execute(
            "UPDATE business_targets SET status = 'planned', reason = '', lease_owner = NULL,"
            f" lease_until = NULL, finished_at = NULL WHERE {' OR '.join(clauses)}"
        )
        return cur.rowcount

    def pending(self, states: Sequence[str] | None = None) -> int:
        return _value(
            self._execute(
                f"SELECT count(*) FROM business_targets WHERE {CLAIMABLE}{SCOPE}",
                {"states": _arr(states)},
            )
        )

    def leased_by_others(self, node: str, states: Sequence[str] | None = None) -> int:
        return _value(
            self._execute(
                "SELECT count(*) FROM business_targets WHERE status = 'in_progress'"
                f" AND lease_until >= now() AND lease_owner <> %(node)s{SCOPE}",
                {"node": node, "states": _arr(states)},
            )
        )

    def status(self, states: Sequence[str] | None = None, window: float = 900.0) -> LedgerStatus:
        params = {"states": _arr(states), "window": window}
        rows = self._execute(
            "SELECT state, status, count(*), count(*) FILTER (WHERE lease_until < now()),"
            " sum(accepted), sum(rejected) FROM business_targets"
            f" WHERE true{SCOPE} GROUP BY state, status",
            params,
        ).fetchall()
        recent = _value(
            self._execute(
                "SELECT count(*) FROM business_targets"
                f" WHERE finished_at >= now() - make_interval(secs => %(window)s){SCOPE}",
                params,
            )
        )
        reasons: dict[str, int] = dict(
            self._execute(
                f"SELECT reason, count(*) FROM business_targets WHERE status = '{FAILED}'"
                f"{SCOPE} GROUP BY reason ORDER BY 2 DESC",
                params,
            ).fetchall()
        )
        return ledger_status(rows, recent, window, reasons)


def _value(cur: psycopg.Cursor) -> Any:
    """The value of a query that always returns one row (an aggregate, to_regclass)."""
    row = cur.fetchone()
    if row is None:
        raise psycopg.ProgrammingError("the query returned no row")
    return row[0]


def _arr(states: Sequence[str] | None) -> list[str] | None:
    return list(states) if states else None
