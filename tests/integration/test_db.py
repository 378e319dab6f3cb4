"""crawlers/db.py against a real PostgreSQL: nodes starting at once create a table once."""

from __future__ import annotations

import threading

import pytest

from crawlers import db

pytestmark = pytest.mark.integration

SESSIONS = 6
TABLES = 15


def test_nodes_creating_the_same_tables_at_once_all_succeed(database_url):
    """Plain CREATE TABLE IF NOT EXISTS from several sessions at once fails in all but
    one now and then (duplicate key in pg_type): what several nodes starting together do."""
    conns = [db.connect(database_url, autocommit=True) for _ in range(SESSIONS)]
    errors: list[Exception] = []

    def create(conn, barrier: threading.Barrier, table: str) -> None:
        barrier.wait()
        try:
            db.create_schema(
                conn, table, f"CREATE TABLE IF NOT EXISTS {table} (k text PRIMARY KEY)"
            )
        except Exception as exc:  # collected: the assertion lists them
            errors.append(exc)

    try:
        for n in range(TABLES):
            barrier = threading.Barrier(SESSIONS)
            threads = [
                threading.Thread(target=create, args=(conn, barrier, f"t{n}")) for conn in conns
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
        assert errors == []
        (count,) = (
            conns[0].execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 't%%'").fetchone()
        )
        assert count == TABLES
    finally:
        for conn in conns:
            conn.close()
