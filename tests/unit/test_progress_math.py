"""Rate, ETA and progress-line arithmetic (crawlers/progress_math.py, progress.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawlers.extensions.progress import progress_line
from crawlers.progress_math import (
    Counts,
    RateWindow,
    counts_from_stats,
    eta_seconds,
    format_bytes,
    format_duration,
    format_rate,
)


def test_rate_is_the_slope_across_the_window():
    window = RateWindow(window=60)
    for t, count in [(0, 0), (10, 50), (20, 100)]:
        window.add(t, count)
    assert window.rate() == pytest.approx(5.0)


def test_rate_forgets_what_is_older_than_the_window():
    window = RateWindow(window=10)
    # A burst at the start (100 units in 10 s), then 1 unit/s.
    for t, count in [(0, 0), (10, 100), (20, 110), (30, 120)]:
        window.add(t, count)
    assert window.rate() == pytest.approx(1.0)
    assert window.samples[0] == (20, 110)


def test_rate_keeps_a_sample_at_the_window_start_so_the_span_stays_full():
    window = RateWindow(window=10)
    for t, count in [(0, 0), (6, 6), (12, 12), (18, 30)]:
        window.add(t, count)
    # Window start is 8: the sample at 6 is the newest at or before it, so it stays.
    assert window.samples[0] == (6, 6)
    assert window.rate() == pytest.approx(24 / 12)


def test_rate_unknown_until_two_samples_and_same_time_replaces():
    window = RateWindow(window=10)
    assert window.rate() is None
    window.add(5, 1)
    assert window.rate() is None
    window.add(5, 3)
    assert list(window.samples) == [(5, 3)]
    window.add(7, 7)
    assert window.rate() == pytest.approx(2.0)


def test_rate_window_must_be_positive():
    with pytest.raises(ValueError):
        RateWindow(window=0)


@given(
    rate=st.floats(min_value=0.01, max_value=1e4),
    start=st.integers(min_value=0, max_value=10**6),
    steps=st.integers(min_value=2, max_value=50),
)
def test_steady_rate_is_measured_exactly(rate, start, steps):
    window = RateWindow(window=30)
    for i in range(steps):
        window.add(float(i * 5), start + rate * i * 5)
    assert window.rate() == pytest.approx(rate, rel=1e-6)


def test_eta():
    assert eta_seconds(100, 4.0) == pytest.approx(25.0)
    assert eta_seconds(0, 0.0) == 0.0
    assert eta_seconds(0, None) == 0.0
    assert eta_seconds(10, 0.0) is None
    assert eta_seconds(10, None) is None
    assert eta_seconds(None, 3.0) is None


@given(
    remaining=st.integers(min_value=1, max_value=10**9),
    rate=st.floats(min_value=1e-3, max_value=1e6),
)
def test_eta_times_rate_is_what_remains(remaining, rate):
    assert eta_seconds(remaining, rate) * rate == pytest.approx(remaining)


def test_counts_from_stats():
    stats = {
        "progress/total": 50,
        "progress/done": 10,
        "progress/skipped": 4,
        "progress/failed": 3,
        "progress/failed/http_404": 2,
        "progress/failed/timeout": 1,
        "item_scraped_count": 99,
    }
    counts = counts_from_stats(stats)
    assert counts.total == 50
    assert counts.finished == 17
    assert counts.worked == 13  # skipped units cost no work and do not feed the rate
    assert counts.remaining == 33
    assert counts.percent == pytest.approx(34.0)
    assert counts.failures == {"http_404": 2, "timeout": 1}


def test_counts_without_total_and_beyond_it():
    assert counts_from_stats({"progress/done": 3}).total is None
    assert counts_from_stats({"progress/done": 3}).percent is None
    assert counts_from_stats({"progress/done": 3}).remaining is None
    over = Counts(total=10, done=12)
    assert over.remaining == 0
    assert over.percent == 100.0
    assert Counts(total=0).percent is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "--"),
        (0, "0s"),
        (59.4, "59s"),
        (61, "1m01s"),
        (3599, "59m59s"),
        (3600, "1h00m"),
        (3 * 3600 + 5 * 60, "3h05m"),
        (86399, "23h59m"),
        (90061, "1d01h"),
        (8 * 86400 + 3600, "8d01h"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "--"),
        (0.3, "0.3s"),
        (4.24, "4.2s"),
        (59.94, "59.9s"),
        # What rounds to a whole minute is shown as minutes, never as "60.0s".
        (59.96, "1m00s"),
        (150, "2m30s"),
        (5400, "1h30m"),
    ],
)
def test_format_duration_with_tenths(seconds, text):
    assert format_duration(seconds, tenths=True) == text


def test_format_bytes_and_rate():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(5 * 1024**3) == "5.0 GiB"
    assert format_bytes(None) == "--"
    assert format_rate(None) == "--"
    assert format_rate(3.14159) == "3.14/s"
    assert format_rate(123.45) == "123.5/s"


def test_progress_line_with_total():
    stats = {
        "progress/total": 500,
        "progress/done": 110,
        "progress/failed": 5,
        "retry/count": 12,
        "resources/memory_bytes": 812 * 1024**2,
        "resources/memory_kind": "pss",
        "resources/processes": 14,
        "resources/cpu_percent": 85.2,
    }
    line = progress_line(stats, rate=4.0)
    assert line.startswith("Progress: 115/500 (23.0%) done 110 skipped 0 failed 5")
    assert "rate 4.00/s ETA 1m36s" in line  # 385 remaining at 4/s
    assert "retries 12" in line
    assert "mem 812.0 MiB pss, 14 procs" in line
    assert "cpu 85%" in line
    assert line.isascii() and "\n" not in line


def test_progress_line_without_total_shows_done_and_rate_only():
    line = progress_line({"progress/done": 7}, rate=None)
    assert line.startswith("Progress: done 7 failed 0 | rate --")
    assert "ETA" not in line
    assert "%" not in line
