"""Numeric settings of progress, telemetry and the dashboard, with one-line errors."""

from __future__ import annotations

from crawlers.errors import ConfigError


def number_setting(settings, name: str, default: float, allow_zero: bool = True) -> float:
    """`settings[name]` as a float >= 0 (> 0 unless allow_zero); bad input is a ConfigError."""
    raw = settings.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'0 or more' if allow_zero else 'more than 0'}")
    return value
