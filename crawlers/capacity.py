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


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    minutes = seconds / 60
    return f"{minutes:.1f}m" if minutes < 120 else f"{minutes / 60:.1f}h"


def format_report(report: dict) -> str:
    """The spider's end-of-run summary as plain ASCII lines."""
    explore, expansions, p = report["explore"], report["expansions"], report["plan"]

    def failed(counts: dict) -> str:
        total = sum(counts.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        return f"{total} failed" + (f" ({detail})" if detail else "")

    def times(summary: dict) -> str:
        return (
            " ".join(f"{k} {fmt_seconds(summary[k])}" for k in ("mean", "median", "p95"))
            + f" (n={summary['count']})"
        )

    rate = expansions["success_rate"]
    lines = [
        f"deals: {len(report['origins'])} origins x {len(report['regions'])} regions, "
        f"top {report['top']} ({report['finish_reason']})",
        f"  explore pages: {explore['planned']} planned, {explore['done']} done, "
        f"{failed(explore['failed'])}; browser time {times(explore['seconds'])}",
        f"  expansions: {expansions['planned']} planned, {expansions['done']} done, "
        f"{failed(expansions['failed'])}; success rate "
        + ("-" if rate is None else f"{rate * 100:.1f}%"),
        f"  expansion time (browser, all attempts): {times(expansions['seconds'])}",
        f"  expansion wait (queued to result):      {times(expansions['wall_seconds'])}",
        f"  429 answers: {report.get('responses_429', 0)} "
        f"(Retry-After honoured {report.get('retry_after_honoured', 0)} times)",
    ]
    for origin, regions in sorted(explore["failed_regions"].items()):
        given_up = ", ".join(f"{r} ({why})" for r, why in sorted(regions.items()))
        lines.append(f"  {origin}: ranked without {given_up}")
    if p is None:
        lines.append("  capacity plan: nothing was measured")
    else:
        lines += [
            f"  capacity plan: {p['explore_pages_per_origin']} explore pages x "
            f"{fmt_seconds(p['explore_seconds'])} + {p['expansions_per_origin']} expansions x "
            f"{fmt_seconds(p['expansion_seconds'])} = "
            f"{fmt_seconds(p['browser_seconds_per_origin'])} of browser time per origin",
            f"  {p['origins']} origins at concurrency "
            + "  ".join(f"{c}: {fmt_seconds(s)}" for c, s in p["runtime_seconds"].items()),
        ]
        if p["within_seconds"]:
            lines.append(
                f"  to finish {p['origins']} origins within "
                f"{fmt_seconds(p['within_seconds'])}: concurrency {p['concurrency_needed']}"
            )
    return "\n".join(line.encode("ascii", "replace").decode() for line in lines)
