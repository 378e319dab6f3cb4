"""What a log line or an error line shows of an exception."""

import pytest

from crawlers.errors import first_line


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (ValueError("bad port\nTraceback (most recent call last):\n  ..."), "bad port"),
        (OSError("\n  connection refused  \nmore"), "connection refused"),
        (ConnectionError("one\r\ntwo"), "one"),
        (TimeoutError(), "TimeoutError"),
        (RuntimeError("   \n "), "RuntimeError"),
        ("a text\nof two lines", "a text"),
        ("", ""),
    ],
)
def test_the_first_line_or_the_class_name(error, line):
    assert first_line(error) == line


def test_cut_to_the_limit_unless_none():
    long = ValueError("x" * 500 + "\nsecond")
    assert first_line(long) == "x" * 200
    assert first_line(long, limit=20) == "x" * 20
    assert first_line(long, limit=None) == "x" * 500
