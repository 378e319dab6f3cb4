"""Inputs that ship inside the package (crawlers/data/), or a file a user names instead.

The shipped ones are read through importlib.resources: scrapyd imports its egg as a zip
file, where a filesystem path into the package does not open.
"""

from __future__ import annotations

import os
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from crawlers.errors import ConfigError


def shipped(name: str) -> Traversable:
    return files("crawlers").joinpath("data", name)


def read_input(path: str | os.PathLike | None, name: str) -> str:
    """The text of the file at `path`; of the shipped crawlers/data/<name> when it is None.
    OSError when it cannot be opened; ConfigError (one line) when it is not UTF-8 text."""
    source = shipped(name) if path is None else Path(path)
    try:
        return source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        label = input_label(path, name)
        raise ConfigError(
            f"cannot read {label}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None


def input_label(path: str | os.PathLike | None, name: str) -> str:
    """How error messages name the input."""
    return f"crawlers/data/{name} (shipped)" if path is None else str(path)
