"""PostgreSQL connections (psycopg 3) with errors that name the server, never the password."""

from __future__ import annotations

import psycopg

from crawlers.env import redact_url
from crawlers.errors import ConfigError, first_line


def connect(url: str, *, autocommit: bool = False, timeout: float = 10.0) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=int(timeout))
    except psycopg.Error as exc:
        raise ConfigError(
            f"cannot reach PostgreSQL at {redact_url(url)}: {first_line(exc)}"
        ) from None


def create_schema(conn: psycopg.Connection, name: str, sql: str) -> None:
    """Run `CREATE ... IF NOT EXISTS` statements that several nodes may run at once: IF NOT
    EXISTS alone races (two sessions both find no table, and the second fails on the
    catalog's unique index), so they run serialised on an advisory lock named for `name`."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
        conn.execute(sql)
