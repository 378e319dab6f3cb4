import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from crawlers.middlewares.retry import backoff_delay, parse_retry_after


def test_retry_after_seconds():
    assert parse_retry_after(b"7") == 7.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(b"-3") == 0.0


def test_retry_after_http_date():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == 30.0


def test_retry_after_garbage_is_none():
    for value in (None, b"", b"soon", "Mon, 99 Foo"):
        assert parse_retry_after(value) is None


def test_backoff_grows_and_is_capped():
    rng = random.Random(3)
    delays = [backoff_delay(n, base=1.0, cap=8.0, rng=rng) for n in range(1, 8)]
    assert 0.5 <= delays[0] <= 1.0
    assert 1.0 <= delays[1] <= 2.0
    assert 2.0 <= delays[2] <= 4.0
    assert all(4.0 <= d <= 8.0 for d in delays[3:])
