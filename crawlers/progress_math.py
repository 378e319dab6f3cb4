"""Progress arithmetic shared by the progress line, the report and the dashboard (no I/O).

A unit is finished once done, skipped or failed (see crawlers/outcomes.py). The rate counts
only units that cost work (done + failed): skipped units were finished by an earlier run and
pass in an instant, so counting them would promise an ETA the crawl cannot keep.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FAILED_PREFIX = "progress/failed/"


@dataclass(frozen=True)
class Counts:
    total: int | None  # None: the spider knows no total
    done: int = 0
    skipped: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        return self.done + self.skipped + self.failed

    @property
    def worked(self) -> int:
        """Units that cost work; the rate is measured on these."""
        return self.done + self.failed

    @property
    def remaining(self) -> int | None:
        if self.total is None:
            return None
        return max(0, self.total - self.finished)

    @property
    def percent(self) -> float | None:
        if not self.total or self.total <= 0:
            return None
        return min(100.0, 100.0 * self.finished / self.total)

    def summary(self) -> dict[str, Any]:
        """The counts as the report and the dashboard's JSON show them."""
        return {
            "total": self.total,
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "finished": self.finished,
            "remaining": self.remaining,
            "percent": None if self.percent is None else round(self.percent, 2),
        }


def counts_from_stats(stats: Mapping[str, Any]) -> Counts:
    total = stats.get("progress/total")
    failures = {
        key[len(FAILED_PREFIX) :]: int(value)
        for key, value in stats.items()
        if key.startswith(FAILED_PREFIX)
    }
    return Counts(
        total=None if total is None else int(total),
        done=int(stats.get("progress/done", 0)),
        skipped=int(stats.get("progress/skipped", 0)),
        failed=int(stats.get("progress/failed", 0)),
        failures=failures,
    )


class RateWindow:
    """Units per second over the last `window` seconds of (time, count) samples.

    A moving window follows the crawl's current pace (a site slowing down, a node joining)
    where the average since the start would lag behind by hours on a long crawl.
    """

    def __init__(self, window: float = 300.0):
        if window <= 0:
            raise ValueError("the rate window must be positive")
        self.window = window
        self.samples: deque[tuple[float, float]] = deque()

    def add(self, when: float, count: float) -> None:
        if self.samples and when <= self.samples[-1][0]:
            self.samples[-1] = (self.samples[-1][0], count)
            return
        self.samples.append((when, count))
        # Keep the newest sample at or before the window's start, so the window spans its
        # full width instead of shrinking to the samples strictly inside it.
        while len(self.samples) > 2 and self.samples[1][0] <= when - self.window:
            self.samples.popleft()

    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, c0), (t1, c1) = self.samples[0], self.samples[-1]
        if t1 <= t0:
            return None
        return max(0.0, (c1 - c0) / (t1 - t0))


def eta_seconds(remaining: int | None, rate: float | None) -> float | None:
    """Seconds until `remaining` units are finished at `rate`; None when unknown."""
    if remaining is None:
        return None
    if remaining <= 0:
        return 0.0
    if not rate or rate <= 0:
        return None
    return remaining / rate


def average_rate(count: float, elapsed: float) -> float | None:
    if elapsed <= 0:
        return None
    return count / elapsed


def format_duration(seconds: float | None, tenths: bool = False) -> str:
    """The one way a duration is shown: `--` unknown, `59s` (`4.2s` with `tenths`, for
    times that are often fractions of a second), `1m01s`, `3h05m`, `1d01h`."""
    if seconds is None:
        return "--"
    if tenths and round(seconds, 1) < 60:
        return f"{seconds:.1f}s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_rate(rate: float | None) -> str:
    if rate is None:
        return "--"
    if rate < 10:
        return f"{rate:.2f}/s"
    return f"{rate:.1f}/s"


def format_bytes(n: float | None) -> str:
    if n is None:
        return "--"
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    step = 0
    while abs(n) >= 1024 and step < len(units) - 1:
        n /= 1024
        step += 1
    return f"{n:.0f} B" if step == 0 else f"{n:.1f} {units[step]}"
