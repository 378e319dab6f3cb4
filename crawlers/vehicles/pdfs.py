"""Whether bytes are a vehicle's complete report, and the report an earlier run saved.

A PDF counts only if it is one (magic bytes), complete (its Content-Length, and a PDF
trailer), readable, and its text names the vehicle (ref, and VIN when known): so a body cut
short, an HTML error page served as a PDF, or another vehicle's report never lands under a
vehicle's name. The spider asks `pdf_problem` to decide whether to fetch again; the
pipeline (crawlers/pipelines/pdfs.py) asks again before writing, because it is the only
writer and trusts no one.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from crawlers.extraction.vehicles import is_safe_ref
from crawlers.items import VehicleItem

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
