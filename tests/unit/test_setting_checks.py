import re
from pathlib import Path

import pytest
import scrapy
from scrapy.settings import BaseSettings
from scrapy.utils.project import get_project_settings

import crawlers
from crawlers.env import env_bool
from crawlers.setting_checks import (
    FRACTIONS_ALLOWED,
    SettingError,
    check_overrides,
    convert_overrides,
    convert_value,
)


def check_value(name, raw, default):
    """The error line for `raw`, or None when it converts."""
    try:
        convert_value(name, raw, default)
    except SettingError as exc:
        return str(exc)
    return None


def test_numbers_booleans_and_log_levels_are_checked():
    assert check_value("RETRY_TIMES", "lots", 6) == "-s RETRY_TIMES=lots: not a number"
    assert check_value("DOWNLOAD_DELAY", "0.5", 0) is None  # int default read as a float
    assert check_value("AUTOTHROTTLE_ENABLED", "maybe", True) == (
        "-s AUTOTHROTTLE_ENABLED=maybe: not true or false (true/false, yes/no, on/off or 1/0)"
    )
    assert check_value("AUTOTHROTTLE_ENABLED", "False", True) is None
    assert check_value("LOG_LEVEL", "LOUD", "INFO").startswith("-s LOG_LEVEL=LOUD: not a log")
    assert check_value("LOG_LEVEL", "debug", "INFO") is None


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("yes", True),
        ("Yes", True),
        ("ON", True),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        (" no ", False),
        ("off", False),
        ("False", False),
        ("0", False),
    ],
)
def test_boolean_words_become_booleans(typed, value):
    # Scrapy's getbool refuses yes/no/on/off and TRUE: converted here, every reader agrees.
    converted = convert_value("AUTOTHROTTLE_ENABLED", typed, True)
    assert converted is value
    settings = BaseSettings({"AUTOTHROTTLE_ENABLED": converted})
    assert settings.getbool("AUTOTHROTTLE_ENABLED") is value


def test_whole_numbers_and_fractions():
    assert convert_value("RETRY_TIMES", "3", 6) == 3
    assert convert_value("RETRY_TIMES", "-1", 6) == -1
    assert check_value("RETRY_TIMES", "1.5", 6) == "-s RETRY_TIMES=1.5: not a whole number"
    assert convert_value("DOWNLOAD_TIMEOUT", "7.5", 30) == 7.5
    assert convert_value("RETRY_BACKOFF_BASE", "2", 0.5) == 2.0
    assert check_value("RETRY_BACKOFF_BASE", "fast", 0.5) == (
        "-s RETRY_BACKOFF_BASE=fast: not a number"
    )


def test_lists_take_commas_or_json_and_keep_their_element_type():
    assert convert_value("RETRY_HTTP_CODES", "500, 502", [429, 500]) == [500, 502]
    assert convert_value("RETRY_HTTP_CODES", "[503]", [429, 500]) == [503]
    assert convert_value("RETRY_HTTP_CODES", "", [429, 500]) == []
    for bad in ("foo", "500,x", "[500, ", '{"a": 1}', '["a"]'):
        assert "RETRY_HTTP_CODES" in check_value("RETRY_HTTP_CODES", bad, [429, 500]), bad
    # Strings where the default holds strings (or nothing to tell by).
    assert convert_value("BLOCK_PAGE_MARKERS", "a b,c", []) == ["a b", "c"]
    assert convert_value("LOG_VERSIONS", '["lxml"]', ["lxml", "twisted"]) == ["lxml"]


def test_dicts_are_json_objects():
    assert convert_value("FEEDS", '{"x.jsonl": {"format": "jsonlines"}}', {}) == {
        "x.jsonl": {"format": "jsonlines"}
    }
    for bad in ("x.jsonl", "[1]", '{"x": '):
        assert check_value("FEEDS", bad, {}) == (
            '-s FEEDS=...: not a JSON object (like {"key": "value"})'
        )
    # Component dicts are BaseSettings in Scrapy's defaults.
    assert check_value("DOWNLOADER_MIDDLEWARES", "off", BaseSettings({"a": 1})) is not None


def test_unknown_and_text_settings_pass():
    assert check_value("MY_OWN", "anything", None) is None
    assert check_value("FILES_STORE", "/x", "data/pdfs") is None


def test_first_problem_is_reported():
    defaults = {"CONCURRENT_REQUESTS": 16, "HEADLESS": True}
    assert check_overrides({"CONCURRENT_REQUESTS": "7"}, defaults) is None
    assert check_overrides({"CONCURRENT_REQUESTS": "eight"}, defaults) == (
        "-s CONCURRENT_REQUESTS=eight: not a number"
    )
    assert convert_overrides({"CONCURRENT_REQUESTS": "7", "HEADLESS": "no"}, defaults) == {
        "CONCURRENT_REQUESTS": 7,
        "HEADLESS": False,
    }


# getfloat("NAME"), and scrapy-playwright's own _get_float_setting(settings, "NAME").
READ_AS_FLOAT = re.compile(r'(?:getfloat|_get_float_setting)\(\s*(?:settings,\s*)?"([A-Z0-9_]+)"')


def test_every_whole_number_default_read_as_a_float_allows_fractions():
    """FRACTIONS_ALLOWED is the list of settings with a whole-number default that the
    project, Scrapy or a plugin reads with getfloat: found again here in their sources."""
    defaults = get_project_settings()
    roots = [Path(crawlers.__file__).parent, Path(scrapy.__file__).parent]
    for plugin in ("scrapy_playwright", "scrapy_redis", "rotating_proxies"):
        roots.append(Path(__import__(plugin).__file__).parent)
    read_as_float = set()
    for root in roots:
        for source in root.rglob("*.py"):
            read_as_float |= set(READ_AS_FLOAT.findall(source.read_text()))
    whole = {
        name
        for name in read_as_float
        if isinstance(defaults.get(name), int) and not isinstance(defaults.get(name), bool)
    }
    assert whole <= FRACTIONS_ALLOWED, whole - FRACTIONS_ALLOWED
    # The scan finds what it should.
    assert {"DOWNLOAD_DELAY", "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT"} <= whole


def test_env_booleans_take_the_same_words_and_note_the_rest(monkeypatch):
    monkeypatch.setattr("crawlers.env.ENV_PROBLEMS", problems := [])
    for typed, value in (("yes", True), ("Off", False), ("0", False), ("", True)):
        monkeypatch.setenv("P4_FLAG", typed)
        assert env_bool("P4_FLAG", True) is value
    assert problems == []
    monkeypatch.setenv("P4_FLAG", "perhaps")
    assert env_bool("P4_FLAG", True) is True
    assert problems == [
        "P4_FLAG=perhaps (environment): not true or false (true/false, yes/no, on/off or 1/0)"
    ]
