"""The businesses target ledger: embedded (SQLite in DATA_DIR) or PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

from pathlib import Path

from crawlers.ledger.model import (
    DONE,
    FAILED,
    IN_PROGRESS,
    PLANNED,
    Ledger,
    LedgerStatus,
    StateCounts,
    Target,
)

LEDGER_FILE = "businesses-ledger.sqlite"


def ledger_exists(settings) -> bool:
    """Whether a ledger was ever created where open_ledger() would open it, without
    creating one (opening creates it: right for generate and a crawl, not for a look)."""
    url = settings.get("DATABASE_URL")
    if url:
        from crawlers.ledger.postgres import PostgresLedger

        return PostgresLedger.exists(url)
    return (Path(settings.get("DATA_DIR")) / LEDGER_FILE).exists()


def open_ledger(settings) -> Ledger:
    """PostgreSQL when DATABASE_URL is set, else the embedded store in DATA_DIR."""
    url = settings.get("DATABASE_URL")
    if url:
        from crawlers.ledger.postgres import PostgresLedger

        return PostgresLedger(url)
    from crawlers.ledger.sqlite import SqliteLedger

    return SqliteLedger(Path(settings.get("DATA_DIR")) / LEDGER_FILE)


__all__ = [
    "DONE",
    "FAILED",
    "IN_PROGRESS",
    "LEDGER_FILE",
    "PLANNED",
    "Ledger",
    "LedgerStatus",
    "StateCounts",
    "Target",
    "ledger_exists",
    "open_ledger",
]
