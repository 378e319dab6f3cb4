"""Cron expressions of the dashboard's schedules (UTC)."""

from __future__ import annotations

import calendar

import pytest

from crawlers.dashboard.cron import Cron, CronError


def at(text: str) -> float:
    """'2026-12-08 03:00' as a UTC epoch."""
    day, clock = text.split()
    y, mo, d = map(int, day.split("-"))
    h, mi = map(int, clock.split(":"))
    return float(calendar.timegm((y, mo, d, h, mi, 0)))


def test_daily_at_three():
    cron = Cron.parse("0 3 * * *")
    assert cron.next_slot(at("2026-12-07 01:30")) == at("2026-12-07 03:00")
    assert cron.next_slot(at("2026-12-07 03:00")) == at("2026-12-08 03:00")
    assert cron.last_slot(at("2026-12-07 03:04") + 30, within=600) == at("2026-12-07 03:00")
    # Too late: a dashboard back an hour after the slot does not start it.
    assert cron.last_slot(at("2026-12-07 04:00"), within=600) is None
    assert Cron.parse("@daily").next_slot(at("2026-12-07 01:30")) == at("2026-12-08 00:00")


def test_steps_ranges_lists_and_weekdays():
    cron = Cron.parse("*/15 9-17 * * 1-5")  # every quarter hour, office hours, weekdays
    # 2026-12-05 is a Saturday: the next slot is Monday 09:00.
    assert cron.next_slot(at("2026-12-05 12:00")) == at("2026-12-07 09:00")
    assert cron.next_slot(at("2026-12-07 09:00")) == at("2026-12-07 09:15")
    sunday = Cron.parse("30 2 * * 7")
    assert sunday.next_slot(at("2026-12-07 00:00")) == at("2026-12-13 02:30")
    # Both day fields restricted: either matches, as in cron.
    either = Cron.parse("0 0 1 * 1")
    assert either.next_slot(at("2026-12-01 00:00")) == at("2026-12-07 00:00")
    assert either.next_slot(at("2026-12-28 00:00")) == at("2027-01-01 00:00")
    assert Cron.parse("0 0 1,15 2 *").next_slot(at("2026-12-07 00:00")) == at("2027-02-01 00:00")
    assert Cron.parse("0 0 30 2 *").next_slot(at("2026-12-07 00:00")) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 3 * *", "five fields"),
        ("60 3 * * *", "cron minute: '60' is outside 0-59"),
        ("0 3 * * mon", "cron weekday: 'mon' is not a number"),
        ("*/0 * * * *", "outside"),
        ("0 5-3 * * *", "outside"),
    ],
)
def test_bad_expressions_are_one_line(text, message):
    with pytest.raises(CronError) as error:
        Cron.parse(text)
    assert message in str(error.value) and "\n" not in str(error.value)
