"""Cron expressions, UTC: `minute hour day-of-month month day-of-week`.

Each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma-separated
list of those; day-of-week runs 0-6 from Sunday (7 is Sunday too). As in cron, when both
day fields are restricted a day matching either one matches. `@daily`, `@hourly` and
`@weekly` stand for `0 0 * * *`, `0 * * * *` and `0 0 * * 0`.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass

ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0"}
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))


class CronError(ValueError):
    pass


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        spec, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if spec == "*":
                first, last = low, high
            elif "-" in spec:
                a, b = spec.split("-", 1)
                first, last = int(a), int(b)
            else:
                first = last = int(spec)
        except ValueError:
            raise CronError(f"cron {name}: {part!r} is not a number, range or step") from None
        if step < 1 or not low <= first <= last <= high:
            raise CronError(f"cron {name}: {part!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: object) -> Cron:  # anything a user sent; checked here
        if not isinstance(text, str):
            raise CronError("cron: a string like '0 3 * * *' (daily at 03:00 UTC)")
        expanded = ALIASES.get(text.strip(), text)
        parts = expanded.split()
        if len(parts) != 5:
            raise CronError(
                f"cron {text!r}: five fields, minute hour day month weekday ('0 3 * * *')"
            )
        minutes, hours, days, months, weekdays = (
            _field(p, *spec) for p, spec in zip(parts, FIELDS, strict=True)
        )
        weekdays = frozenset(d % 7 for d in weekdays)
        return cls(
            text.strip(), minutes, hours, days, months, weekdays, parts[2] == "*", parts[4] == "*"
        )

    def matches(self, moment: float) -> bool:
        t = time.gmtime(moment)
        if t.tm_min not in self.minutes or t.tm_hour not in self.hours:
            return False
        if t.tm_mon not in self.months:
            return False
        day = t.tm_mday in self.days
        weekday = (t.tm_wday + 1) % 7 in self.weekdays  # tm_wday: Monday is 0
        if self.any_day or self.any_weekday:
            return day and weekday
        return day or weekday

    def last_slot(self, now: float, within: float) -> float | None:
        """The latest minute at or before `now`, and not more than `within` seconds before
        it, that matches; None if none does."""
        minute = float(int(now // 60) * 60)
        while now - minute <= within:
            if self.matches(minute):
                return minute
            minute -= 60
        return None

    def next_slot(self, now: float, horizon_days: int = 400) -> float | None:
        """The first matching minute after `now` (None within a horizon: e.g. 30 February)."""
        minute = float(int(now // 60) * 60 + 60)
        end = now + horizon_days * 86400
        while minute < end:
            t = time.gmtime(minute)
            if t.tm_mon not in self.months:  # skip to the next month
                year, month = t.tm_year + (t.tm_mon == 12), t.tm_mon % 12 + 1
                minute = float(calendar.timegm((year, month, 1, 0, 0, 0)))
                continue
            if self.matches(minute):
                return minute
            if t.tm_hour not in self.hours:
                minute += 3600 - t.tm_min * 60
            else:
                minute += 60
        return None
