"""Endpoints and secrets come from the environment or a .env file, never from code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import overload
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dotenv import load_dotenv

from crawlers.setting_checks import BOOLEAN_WORDS, parse_bool

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def load_env() -> None:
    """Load `.env` from the working directory, then the project root; real env wins."""
    load_dotenv(Path.cwd() / ".env", override=False)
    load_dotenv(PROJECT_ROOT / ".env", override=False)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


# What env_bool could not read, as error lines: settings.py reads the environment on import,
# where raising would be a traceback; the crawl command reports the first before it starts.
ENV_PROBLEMS: list[str] = []


def env_bool(name: str, default: bool) -> bool:
    """The same words as `-s` booleans (crawlers/setting_checks.py); anything else is noted
    in ENV_PROBLEMS and the default is used."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    parsed = parse_bool(value)
    if parsed is None:
        shown = value.strip()[:40]
        ENV_PROBLEMS.append(f"{name}={shown} (environment): not true or false ({BOOLEAN_WORDS})")
        return default
    return parsed


# libpq and redis-py both take a password as a query parameter too.
SECRET_PARAMS = frozenset({"password", "passwd", "pwd", "sslpassword"})


@overload
def redact_url(url: str) -> str: ...
@overload
def redact_url(url: None) -> None: ...
def redact_url(url: str | None) -> str | None:
    """The URL with its password replaced, for logs and error messages (None as it is)."""
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        netloc = f"{parts.username or ''}:***@{host}"
    query = parts.query
    params = parse_qsl(query, keep_blank_values=True)
    if any(key.lower() in SECRET_PARAMS for key, _ in params):
        masked = [(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in params]
        query = urlencode(masked, safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
