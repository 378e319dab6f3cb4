"""Targets from shipped data: states, cities by population, categories and targets files."""

import pytest

from crawlers.errors import ConfigError
from crawlers.ledger.regions import (
    STATES,
    build_targets,
    cities,
    parse_states,
    read_categories,
    read_targets_file,
)


def test_fifty_states_and_dc():
    assert len(STATES) == 51
    assert "DC" in STATES and "PR" not in STATES


def test_parse_states():
    assert parse_states("all") is None
    assert parse_states(None) is None
    assert parse_states(" mt, CA ,CA") == ["CA", "MT"]
    with pytest.raises(ConfigError, match="unknown state XX, PR"):
        parse_states("CA,XX,PR")


def test_population_threshold_chooses_cities():
    big = cities(["DE"], 30000)
    assert [(s, c) for s, c, _ in big] == [("DE", "Dover"), ("DE", "Newark"), ("DE", "Wilmington")]
    assert all(pop >= 30000 for _, _, pop in big)
    more = cities(["DE"], 5000)
    assert len(more) > len(cities(["DE"], 15000)) > len(big)
    with pytest.raises(ConfigError):
        cities(["DE"], 10)


def test_every_state_has_cities_at_the_default_threshold():
    found = {s for s, _, _ in cities(None, 15000)}
    assert found == set(STATES)


def test_shipped_categories_make_the_old_ledgers_size():
    categories = read_categories(None)
    assert len(categories) == len(set(categories)) > 50
    targets = build_targets(None, 15000, categories)
    assert 300_000 < len(targets) < 320_000
    assert len({(t.state, t.city, t.search_terms) for t in targets}) == len(targets)


def test_categories_file(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("# comment\nplumbers\n\n  auto   repair  # trailing\nplumbers\n")
    assert read_categories(path) == ["plumbers", "auto repair"]
    path.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="lists no categories"):
        read_categories(path)


def test_targets_file(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("plumbers\tDover, DE\n# skip\n\nauto  repair\tWinston-Salem,nc\n")
    targets = read_targets_file(path)
    assert [(t.search_terms, t.location, t.id) for t in targets] == [
        ("plumbers", "Dover, DE", 1),
        ("auto repair", "Winston-Salem, NC", 4),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plumbers\tDover, DE\nplumbers Dover, DE\n", "line 2: expected"),
        ("plumbers\tDover DE\n", "line 1: expected"),
        ("\tDover, DE\n", "line 1: expected"),
        ("plumbers\tDover, ZZ\n", "line 1: unknown state 'ZZ'"),
        ("# only a comment\n", "lists no searches"),
    ],
)
def test_bad_targets_file(tmp_path, text, message):
    path = tmp_path / "t.tsv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_targets_file(path)
