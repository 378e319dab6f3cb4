"""Numeric settings of progress and telemetry: bad values are one-line ConfigErrors."""

import pytest
from scrapy.settings import Settings

from crawlers.errors import ConfigError
from crawlers.telemetry.settings import number_setting


def test_numbers_and_defaults():
    settings = Settings({"PROGRESS_INTERVAL": "2.5", "TELEMETRY_INTERVAL": 0})
    assert number_setting(settings, "PROGRESS_INTERVAL", 30.0) == 2.5
    assert number_setting(settings, "TELEMETRY_INTERVAL", 10.0) == 0.0
    assert number_setting(settings, "RESOURCES_INTERVAL", 10.0) == 10.0


@pytest.mark.parametrize(
    ("value", "allow_zero", "message"),
    [
        ("abc", True, "PROGRESS_INTERVAL must be a number, not 'abc'"),
        ("-1", True, "PROGRESS_INTERVAL must be 0 or more"),
        ("0", False, "PROGRESS_INTERVAL must be more than 0"),
    ],
)
def test_bad_values(value, allow_zero, message):
    with pytest.raises(ConfigError) as err:
        number_setting(
            Settings({"PROGRESS_INTERVAL": value}), "PROGRESS_INTERVAL", 30.0, allow_zero
        )
    assert str(err.value) == message
