"""Check `-s NAME=value` overrides before anything starts, against the type of the default,
and hand Scrapy the value already converted.

Scrapy reads a setting with `getbool`/`getint`/`getlist` wherever it is used, so
`-s RETRY_TIMES=lots` or `-s AUTOTHROTTLE_ENABLED=yes` would end in a ValueError traceback
deep inside a component. Checked here, it is one line; converted here, every component reads
the same value (`yes`, `on` and `no`, `off` are booleans everywhere, not only where the
project's own code parses them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off"})
BOOLEAN_WORDS = "true/false, yes/no, on/off or 1/0"

# Settings whose default is a whole number but that are read with getfloat, so a fraction is
# fine (`-s DOWNLOAD_DELAY=0.5`). Every other whole-number default is read with getint, which
# a fraction breaks. tests/unit/test_setting_checks.py keeps this list in step with the code.
FRACTIONS_ALLOWED = frozenset(
    {
        "BUSINESSES_LEASE_SECONDS",
        "BUSINESSES_STORE_WAIT",
        "CLOSESPIDER_TIMEOUT",
        "CLUSTER_ACK_DELAY",
        "CLUSTER_LEASE_SECONDS",
        "CLUSTER_REDIS_WAIT",
        "DNS_TIMEOUT",
        "DOWNLOAD_DELAY",
        "DOWNLOAD_TIMEOUT",
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT",
        "PROXY_REST_MAX_SECONDS",
        "PROXY_REST_SECONDS",
        "ROTATING_PROXY_LOGSTATS_INTERVAL",
    }
)


class SettingError(ValueError):
    """Why a value cannot stand for its setting; the message is the whole error line."""


def parse_bool(text: str) -> bool | None:
    """True or False for the words a user types, None for anything else."""
    word = text.strip().lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    return None


def _number(name: str, raw: str, text: str, whole: bool) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"-s {name}={raw}: not a number") from None
    if not whole:
        return value
    try:
        return int(text)
    except ValueError:
        pass
    if name in FRACTIONS_ALLOWED:
        return value
    raise SettingError(f"-s {name}={raw}: not a whole number")


def _list(name: str, raw: str, text: str, default: list | tuple) -> list:
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            raise SettingError(f"-s {name}={raw[:80]}: not a JSON list") from None
        if not isinstance(items, list):
            raise SettingError(f"-s {name}={raw[:80]}: not a JSON list")
    else:
        items = [part.strip() for part in text.split(",") if part.strip()]
    whole = bool(default) and all(isinstance(d, int) and not isinstance(d, bool) for d in default)
    if not whole:
        return items
    try:
        return [int(item) for item in items]
    except (TypeError, ValueError):
        raise SettingError(
            f"-s {name}={raw[:80]}: not a list of whole numbers (like 500,502 or [500, 502])"
        ) from None


def _dict(name: str, raw: str, text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise SettingError(f'-s {name}=...: not a JSON object (like {{"key": "value"}})')
    return value


def convert_value(name: str, raw: Any, default: Any) -> Any:
    """`raw` as the type of `default`; SettingError when it cannot be one."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if name == "LOG_LEVEL":
        if text.upper() in logging.getLevelNamesMapping():
            return text.upper()
        if text.isdigit():
            return int(text)
        raise SettingError(
            f"-s LOG_LEVEL={raw}: not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)"
        )
    if isinstance(default, bool):
        value = parse_bool(text)
        if value is None:
            raise SettingError(f"-s {name}={raw}: not true or false ({BOOLEAN_WORDS})")
        return value
    if isinstance(default, int | float):
        return _number(name, raw, text, whole=isinstance(default, int))
    if isinstance(default, list | tuple):
        return _list(name, raw, text, default)
    if isinstance(default, Mapping):
        return _dict(name, raw, text)
    return raw


def convert_overrides(given: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides `given`, each converted to its default's type; SettingError on the first
    that cannot be."""
    return {name: convert_value(name, raw, defaults.get(name)) for name, raw in given.items()}


def check_overrides(given: Mapping[str, Any], defaults: Mapping[str, Any]) -> str | None:
    """The first problem among the overrides `given`, or None."""
    try:
        convert_overrides(given, defaults)
    except SettingError as exc:
        return str(exc)
    return None
