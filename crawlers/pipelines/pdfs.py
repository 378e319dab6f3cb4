"""Checked PDFs saved atomically as `<ref>.pdf` under FILES_STORE.

Each PdfDownload the vehicles spider yields is checked again (crawlers/vehicles/pdfs.py)
before it is written: this pipeline is the only writer and trusts no one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import tempfile
import time
from pathlib import Path

from crawlers import outcomes
from crawlers.errors import ConfigError
from crawlers.vehicles.pdfs import (
    PdfDownload,
    SavedPdf,
    UnsafeRef,
    describe,
    pdf_path,
    pdf_problem,
)

logger = logging.getLogger(__name__)

# A temporary file's name says which process writes it (`.<ref>.pdf.<host>-<pid>.<random>.part`),
# so a node can tell a file abandoned by a killed writer on its own host from one another
# node, sharing the folder, is writing right now.
HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
PART = re.compile(r"^\..+\.pdf\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)\.[^.]+\.part$")
# Older than this, a temporary file is abandoned whoever wrote it: a write takes milliseconds.
PART_MAX_AGE = 3600.0


def save_atomic(path: Path, body: bytes) -> SavedPdf:
    """Write next to the target, fsync, then rename: a crash leaves the old file or none
    (and a temporary file, which `sweep_parts` removes at the next start)."""
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{HOST}-{os.getpid()}.", suffix=".part"
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return describe(path, body)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep_parts(store: Path, now: float | None = None) -> int:
    """Remove temporary files whose writer died mid-write (SIGKILL, power loss): those of a
    dead process of this host, and any older than PART_MAX_AGE. Returns how many."""
    now = time.time() if now is None else now
    removed = 0
    for path in store.glob(".*.part"):
        match = PART.match(path.name)
        try:
            abandoned = now - path.stat().st_mtime > PART_MAX_AGE or (
                match is not None and match["host"] == HOST and not _alive(int(match["pid"]))
            )
            if abandoned:
                path.unlink()
                removed += 1
        except OSError:  # gone meanwhile (renamed by its writer, or swept by another node)
            continue
    return removed


class PdfPipeline:
    """Turns each PdfDownload into its VehicleItem: saved and `downloaded`, or `failed`."""

    def __init__(self, crawler, store: Path):
        self.crawler = crawler
        self.store = store

    @classmethod
    def from_crawler(cls, crawler):
        store = crawler.settings.get("FILES_STORE")
        if not store:
            raise ConfigError("FILES_STORE is empty: set the folder the PDFs go to")
        return cls(crawler, Path(store))

    def open_spider(self) -> None:
        try:
            self.store.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"FILES_STORE {self.store}: cannot create: {exc.strerror}") from exc
        removed = sweep_parts(self.store)
        if removed:
            logger.info("removed %d temporary files left by an interrupted run", removed)
            self.crawler.stats.set_value("vehicles/partial_files_removed", removed)

    async def process_item(self, item):
        if not isinstance(item, PdfDownload):
            return item
        vehicle = item.item
        # In a thread: an fsync can take hundreds of milliseconds on a busy disk, and the
        # crawl's event loop would stand still meanwhile.
        saved, problem = await asyncio.to_thread(self._save, item)
        if problem is not None:
            vehicle.status, vehicle.reason = "failed", problem
            outcomes.failed(self.crawler.stats, problem)
            return vehicle
        assert saved is not None  # _save gives the saved file or a problem
        vehicle.status, vehicle.reason = "downloaded", ""
        vehicle.pdf_path, vehicle.pdf_size, vehicle.pdf_sha256 = (
            str(saved.path),
            saved.size,
            saved.sha256,
        )
        outcomes.done(self.crawler.stats)
        self.crawler.stats.inc_value("vehicles/pdf_bytes", saved.size)
        return vehicle

    def _save(self, item: PdfDownload) -> tuple[SavedPdf | None, str | None]:
        vehicle = item.item
        try:
            path = pdf_path(self.store, vehicle.ref)
        except UnsafeRef:
            return None, "invalid_ref"
        problem = pdf_problem(item.body, vehicle.ref, vehicle.vin, item.expected_length)
        if problem is not None:
            return None, problem
        try:
            return save_atomic(path, item.body), None
        except OSError as exc:
            logger.error("cannot save %s.pdf: %s", vehicle.ref, exc.strerror)
            return None, "save_failed"
