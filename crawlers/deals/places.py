"""Which origins and regions a deals crawl covers, from the spider's arguments."""

from __future__ import annotations

import json
import re
from pathlib import Path

import airportsdata

from crawlers.errors import ConfigError
from crawlers.inputs import input_label, read_input

# The old tool's phases. Phase 3 adds five more of the busiest US hubs with long-haul
# networks: Atlanta, Denver, San Francisco, Seattle, Miami.
PHASES = {
    1: ("PHX", "DFW"),
    2: ("PHX", "DFW", "LAX", "ORD", "JFK"),
    3: ("PHX", "DFW", "LAX", "ORD", "JFK", "ATL", "DEN", "SFO", "SEA", "MIA"),
}
KG_ID = re.compile(r"/[mg]/[0-9a-z_]+")


def load_regions(path: str | Path | None) -> dict[str, str]:
    """Region names to ids from `path`, or from the shipped regions.json when it is None."""
    try:
        data = json.loads(read_input(path, "regions.json"))
    except (OSError, ValueError) as exc:
        label = input_label(path, "regions.json")
        raise ConfigError(f"cannot read the regions file {label}: {exc}") from None
    return {k: v for k, v in data.items() if not k.startswith("_")}


def choose_origins(origins: str, phase: str | int) -> list[str]:
    """IATA codes given (checked, duplicates dropped), or the origins of a phase."""
    if origins and str(phase).strip():
        raise ConfigError("give origins or phase, not both")
    if not origins:
        try:
            return list(PHASES[int(phase or 1)])
        except (KeyError, ValueError):
            raise ConfigError(f"phase must be 1, 2 or 3, got {phase!r}") from None
    codes = [c.strip().upper() for c in origins.split(",") if c.strip()]
    known = airportsdata.load("IATA")
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ConfigError(f"unknown IATA airport code(s): {', '.join(unknown)}")
    if not codes:
        raise ConfigError("origins is empty")
    return list(dict.fromkeys(codes))


def choose_regions(arg: str, path: str | Path | None) -> list[tuple[str, str]]:
    """(name, id) of each region named in `arg` (names, /m/ ids or all), in its order."""
    table = load_regions(path)
    wanted = [r.strip() for r in (arg or "all").split(",") if r.strip()]
    chosen: list[tuple[str, str]] = []
    for value in wanted:
        key = value.lower().replace("_", "-").replace(" ", "-")
        if key == "all":
            chosen.extend(table.items())
        elif key in table:
            chosen.append((key, table[key]))
        elif KG_ID.fullmatch(value):
            name = next((n for n, rid in table.items() if rid == value), value)
            chosen.append((name, value))
        else:
            raise ConfigError(
                f"unknown region {value!r} (known: {', '.join(table)}, all, or a /m/ id)"
            )
    unique = dict((rid, name) for name, rid in reversed(chosen))
    order = list(dict.fromkeys(rid for _, rid in chosen))
    if not order:
        raise ConfigError("regions is empty")
    return [(unique[rid], rid) for rid in order]
