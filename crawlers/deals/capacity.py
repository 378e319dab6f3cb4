"""Capacity plan arithmetic: from measured page times to run times at a given concurrency.

The model is the old tool's, made explicit: a crawl of O origins needs, per origin, R
explore pages and N expansions, each holding one browser page for the time measured for
it (every attempt of a unit counted, failed ones included). With C pages at
once the run takes the total browser time divided by C. It assumes the per-page time stays
what was measured as C grows, which holds while the site and network are the limit and
not the machine's CPU (see BENCHMARKS.md for where this machine stops scaling).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

CONCURRENCIES = (1, 2, 4, 8, 10, 12)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)", re.IGNORECASE)
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(value: str) -> float:
    """`60m`, `1h30m`, `90s`, `1.5h` or plain seconds (`3600`) -> seconds (> 0)."""
    text = str(value).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    elif text and _DURATION.sub("", text) == "":
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text))
    else:
        raise ValueError(f"not a duration: {value!r} (use e.g. 60m, 1h30m, 90s)")
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {value!r}")
    return seconds


@dataclass(frozen=True)
class Summary:
    count: int
    mean: float | None
    median: float | None
    p95: float | None


def summarize(values: Iterable[float]) -> Summary:
    data = sorted(float(v) for v in values)
    if not data:
        return Summary(0, None, None, None)
    return Summary(len(data), statistics.fmean(data), statistics.median(data), percentile(data, 95))


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = (len(sorted_values) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass(frozen=True)
class Plan:
    origins: int
    explore_pages_per_origin: int
    expansions_per_origin: int
    explore_seconds: float  # browser time per explore page, attempts included
    expansion_seconds: float  # browser time per expansion, attempts included
    browser_seconds_per_origin: float
    runtime_seconds: dict[int, float]  # concurrency -> estimated run time
    within_seconds: float | None
    concurrency_needed: int | None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["runtime_seconds"] = {str(c): round(s, 1) for c, s in self.runtime_seconds.items()}
        return data


def plan(
    *,
    explore_seconds: float,
    expansion_seconds: float,
    explore_pages_per_origin: int,
    expansions_per_origin: int,
    origins: int = 100,
    concurrencies: Iterable[int] = CONCURRENCIES,
    within_seconds: float | None = None,
) -> Plan:
    per_origin = (
        explore_pages_per_origin * explore_seconds + expansions_per_origin * expansion_seconds
    )
    total = origins * per_origin
    needed = None
    if within_seconds:
        needed = max(1, math.ceil(total / within_seconds)) if total > 0 else 1
    return Plan(
        origins=origins,
        explore_pages_per_origin=explore_pages_per_origin,
        expansions_per_origin=expansions_per_origin,
        explore_seconds=explore_seconds,
        expansion_seconds=expansion_seconds,
        browser_seconds_per_origin=per_origin,
        runtime_seconds={c: total / c for c in concurrencies},
        within_seconds=within_seconds,
        concurrency_needed=needed,
    )
