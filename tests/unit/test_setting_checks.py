from crawlers.setting_checks import check_overrides, check_value


def test_numbers_booleans_and_log_levels_are_checked():
    assert check_value("RETRY_TIMES", "lots", 6) == "-s RETRY_TIMES=lots: not a number"
    assert check_value("DOWNLOAD_DELAY", "0.5", 0) is None  # int default read as a float
    assert check_value("AUTOTHROTTLE_ENABLED", "maybe", True) == (
        "-s AUTOTHROTTLE_ENABLED=maybe: not true or false"
    )
    assert check_value("AUTOTHROTTLE_ENABLED", "False", True) is None
    assert check_value("LOG_LEVEL", "LOUD", "INFO").startswith("-s LOG_LEVEL=LOUD: not a log")
    assert check_value("LOG_LEVEL", "debug", "INFO") is None


def test_unknown_and_text_settings_pass():
    assert check_value("MY_OWN", "anything", None) is None
    assert check_value("FILES_STORE", "/x", "data/pdfs") is None


def test_first_problem_is_reported():
    defaults = {"CONCURRENT_REQUESTS": 16, "HEADLESS": True}
    assert check_overrides({"CONCURRENT_REQUESTS": "7"}, defaults) is None
    assert check_overrides({"CONCURRENT_REQUESTS": "eight"}, defaults) == (
        "-s CONCURRENT_REQUESTS=eight: not a number"
    )
