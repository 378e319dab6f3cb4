"""Real pages saved from the real sites, read from ../shared/real-pages beside the clone.

They are not part of the project (a user's clone has none, and they must not be copied
into it): every test that reads one skips when the folder is absent. REAL_PAGES_DIR
points elsewhere.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from crawlers.env import PROJECT_ROOT

REAL_PAGES = Path(os.environ.get("REAL_PAGES_DIR") or PROJECT_ROOT.parent / "shared" / "real-pages")


def real_path(relative: str) -> Path:
    """The path of a real page or file, or a skip when the folder (or the file) is absent."""
    path = REAL_PAGES / relative
    if not path.is_file():
        pytest.skip(f"real page {relative} not here ({REAL_PAGES} absent)")
    return path


def real_page(relative: str) -> bytes:
    """The bytes of a real page (`.gz` files come uncompressed)."""
    data = real_path(relative).read_bytes()
    return gzip.decompress(data) if relative.endswith(".gz") else data


def real_pages(folder: str, pattern: str = "*") -> list[str]:
    """Relative names of the real pages in `folder`, for parametrize ([] when absent: the
    test then has nothing to run and is reported as skipped by pytest)."""
    root = REAL_PAGES / folder
    return (
        sorted(str(p.relative_to(REAL_PAGES)) for p in root.glob(pattern)) if root.is_dir() else []
    )
