"""The seen filter's size and its settings."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

from crawlers.cluster.queue import MAX_FILTER_BITS, seen_filter
from crawlers.cluster.scheduler import seen_filter_settings
from crawlers.errors import ConfigError


def test_the_textbook_size():
    # m = -n ln p / (ln 2)^2, k = m / n ln 2
    assert seen_filter(1_000_000, 0.001) == (14_377_588, 10)
    assert seen_filter(10_000_000, 0.01) == (95_850_584, 7)


def test_one_bitmap_is_the_limit():
    bits, _ = seen_filter(290_000_000, 0.001)
    assert bits <= MAX_FILTER_BITS
    with pytest.raises(ValueError, match="more than one Redis bitmap holds"):
        seen_filter(300_000_000, 0.001)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"CLUSTER_SEEN_FILTER_CAPACITY": -1}, "must be 0"),
        ({"CLUSTER_SEEN_FILTER_CAPACITY": 10, "CLUSTER_SEEN_FILTER_ERROR": 1.5}, "between 0"),
        ({"CLUSTER_SEEN_FILTER_CAPACITY": 10**10}, "raise the error rate"),
    ],
)
def test_bad_settings_are_one_line(values, expected):
    with pytest.raises(ConfigError, match=expected):
        seen_filter_settings(Settings(values))


def test_off_by_default():
    assert seen_filter_settings(Settings()) == (0, 0.001)
