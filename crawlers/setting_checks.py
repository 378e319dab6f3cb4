"""Check `-s NAME=value` overrides before anything starts, against the type of the default.

Scrapy reads a setting with `getint`/`getfloat` wherever it is used, so `-s RETRY_TIMES=lots`
would end in a ValueError traceback deep inside a component. Checked here, it is one line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

TRUE_FALSE = {"true", "false", "1", "0", "yes", "no", "on", "off"}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_value(name: str, raw: Any, default: Any) -> str | None:
    """Why `raw` cannot stand for a setting whose default is `default`, or None."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if name == "LOG_LEVEL":
        if text.upper() in logging.getLevelNamesMapping() or text.isdigit():
            return None
        return f"-s LOG_LEVEL={raw}: not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)"
    if isinstance(default, bool):
        if text.lower() in TRUE_FALSE:
            return None
        return f"-s {name}={raw}: not true or false"
    # Many integer defaults are read as floats (DOWNLOAD_DELAY = 0): any number passes here.
    if isinstance(default, int | float) and not _is_number(text):
        return f"-s {name}={raw}: not a number"
    return None


def check_overrides(given: Mapping[str, Any], defaults: Mapping[str, Any]) -> str | None:
    """The first problem among the overrides `given`, or None."""
    for name, raw in given.items():
        problem = check_value(name, raw, defaults.get(name))
        if problem:
            return problem
    return None
