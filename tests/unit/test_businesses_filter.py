"""The listing filter's rules, and the shipped rules file."""

import json

import pytest

from crawlers.errors import ConfigError
from crawlers.pipelines.businesses import ListingFilter


def test_reject_by_category_and_by_whole_words_of_the_name():
    rules = ListingFilter.from_rules(
        {"reject": {"categories": ["Adult Entertainment"], "name_words": ["closed", "do not use"]}}
    )
    assert rules.reason("Joe's Plumbing", ["Plumbers"]) is None
    assert rules.reason("Joe's", ["plumbers", "ADULT   entertainment"]) == "category"
    assert rules.reason("Joe's (CLOSED)", []) == "name"
    assert rules.reason("Joe's - Do Not Use", []) == "name"
    assert rules.reason("Enclosed Spaces Storage", []) is None  # not a whole word


def test_accept_lists_when_given_must_match():
    rules = ListingFilter.from_rules(
        {
            "accept": {"categories": ["Plumbers"], "name_words": ["plumbing"]},
            "reject": {"name_words": ["closed"]},
        }
    )
    assert rules.reason("A-1", ["Plumbers", "Water Heaters"]) is None
    assert rules.reason("A-1 Plumbing", ["Hardware"]) is None
    assert rules.reason("A-1 Hardware", ["Hardware"]) == "not_accepted"
    assert rules.reason("A-1 Plumbing (closed)", ["Plumbers"]) == "name"


def test_no_rules_accept_everything():
    assert ListingFilter.from_rules({}).reason("anything", []) is None


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"reject": {"categories": "Adult"}}),
        json.dumps({"rejects": {}}),
        json.dumps({"reject": {"words": ["x"]}}),
        json.dumps([1, 2]),
    ],
)
def test_bad_rules_file_is_a_config_error(tmp_path, text):
    path = tmp_path / "rules.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match="bad filter file"):
        ListingFilter.from_file(path)


def test_missing_rules_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read filter file"):
        ListingFilter.from_file(tmp_path / "nope.json")


def test_shipped_rules():
    rules = ListingFilter.from_file(None)
    assert rules.reason("Dover Plumbing", ["Plumbers"]) is None
    assert rules.reason("Dover Post Office", ["Post Offices"]) == "category"
    assert rules.reason("Dover Plumbing - Permanently Closed", ["Plumbers"]) == "name"
