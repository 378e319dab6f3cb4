"""Checked PDFs saved atomically as `<ref>.pdf` under FILES_STORE.

A PDF is kept only if it is one (magic bytes), complete (its Content-Length, and a PDF
trailer), readable, and its text names the vehicle (ref, and VIN when known): so a body cut
short, an HTML error page served as a PDF, or another vehicle's report never lands under a
vehicle's name. The spider asks `pdf_problem` to decide whether to fetch again; the
pipeline asks again before writing, because it is the only writer and trusts no one.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from crawlers import outcomes
from crawlers.errors import ConfigError
from crawlers.extraction.vehicles import is_safe_ref
from crawlers.items import VehicleItem

logger = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
# The trailer is in the last 1024 bytes of a complete file (PDF 1.7, 7.5.5).
TAIL = 1024


class UnsafeRef(ValueError):
    pass


def pdf_path(store: Path, ref: str) -> Path:
    """Where `<ref>.pdf` goes; UnsafeRef for anything that could leave `store`."""
    if not is_safe_ref(ref):
        raise UnsafeRef(f"unsafe ref {ref[:40]!r}")
    path = store / f"{ref}.pdf"
    if path.resolve().parent != store.resolve():
        raise UnsafeRef(f"unsafe ref {ref!r}")
    return path


def _names(text: str, token: str) -> bool:
    """`token` appears in `text` as a whole word: "AB12" is not named by "AB123"."""
    pattern = rf"(?<![A-Za-z0-9_-]){re.escape(token)}(?![A-Za-z0-9_-])"
    return re.search(pattern, text) is not None


def pdf_problem(
    body: bytes, ref: str, vin: str = "", expected_length: int | None = None
) -> str | None:
    """Why `body` is not this vehicle's complete report (a short reason), or None if it is."""
    if expected_length is not None and len(body) != expected_length:
        return "pdf_incomplete"
    if not body.startswith(PDF_MAGIC):
        return "not_a_pdf"
    if b"%%EOF" not in body[-TAIL:]:
        return "pdf_incomplete"
    try:
        reader = PdfReader(io.BytesIO(body))
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError):
        return "pdf_unreadable"
    if not _names(text, ref):
        return "pdf_wrong_vehicle"
    if vin and not _names(text, vin):
        return "pdf_wrong_vehicle"
    return None


@dataclass
class SavedPdf:
    path: Path
    size: int
    sha256: str


def describe(path: Path, body: bytes) -> SavedPdf:
    return SavedPdf(path, len(body), hashlib.sha256(body).hexdigest())


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


def saved_pdf(store: Path, ref: str, vin: str = "") -> SavedPdf | None:
    """The PDF an earlier run saved for this vehicle, if it is there and still valid."""
    try:
        path = pdf_path(store, ref)
        body = path.read_bytes()
    except (UnsafeRef, OSError):
        return None
    if pdf_problem(body, ref, vin) is not None:
        return None
    return describe(path, body)


@dataclass
class PdfDownload:
    """A vehicle with its report's bytes, on the way to PdfPipeline (never exported)."""

    item: VehicleItem
    body: bytes
    expected_length: int | None = None


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
