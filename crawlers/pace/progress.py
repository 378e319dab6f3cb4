"""The shared pace in the progress line: `pace 127.0.0.1 6/8 4.0/s` for one site (its
limit now over CLUSTER_SITE_CONCURRENCY, its rate now), `pace 40 sites, 3 slowed` for more."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def pace_part(stats: Mapping[str, Any]) -> str | None:
    """None when the crawl has no shared pace (or has not asked it yet)."""
    sites: dict[str, dict[str, Any]] = {}
    for key, value in stats.items():
        if key.startswith("pace/") and key.count("/") == 2:
            _, site, name = key.split("/")
            sites.setdefault(site, {})[name] = value
    sites = {site: v for site, v in sites.items() if "nodes" in v}
    if not sites:
        return None
    ceiling = stats.get("pace/ceiling", 0)
    rate_ceiling = stats.get("pace/rate_ceiling", 0)

    def slowed(v: dict) -> bool:
        return (ceiling and v.get("limit", ceiling) < ceiling) or (
            rate_ceiling and v.get("rate", rate_ceiling) < rate_ceiling
        )

    if len(sites) > 1:
        return f"pace {len(sites)} sites, {sum(map(slowed, sites.values()))} slowed"
    site, v = next(iter(sites.items()))
    parts = [f"pace {site}"]
    if ceiling:
        parts.append(f"{v.get('limit', ceiling)}/{ceiling}")
    if rate_ceiling:
        parts.append(f"{v.get('rate', rate_ceiling):.1f}/s")
    if v.get("nodes", 1) > 1:
        parts.append(f"{v['nodes']} nodes")
    return " ".join(parts)
