"""Inputs that ship inside the package (crawlers/data/), or a file a user names instead.

The shipped ones are read through importlib.resources: scrapyd imports its egg as a zip
file, where a filesystem path into the package does not open.
"""

from __future__ import annotations

import os
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path


def shipped(name: str) -> Traversable:
    return files("crawlers").joinpath("data", name)


def read_input(path: str | os.PathLike | None, name: str) -> str:
    """The text of the file at `path`; of the shipped crawlers/data/<name> when it is None."""
    if path is None:
        return shipped(name).read_text(encoding="utf-8")
    return Path(path).read_text(encoding="utf-8")


def input_label(path: str | os.PathLike | None, name: str) -> str:
    """How error messages name the input."""
    return f"crawlers/data/{name} (shipped)" if path is None else str(path)
