"""The deals crawl's capacity report: what a node measured of each unit, the report it
saves at the end (DATA_DIR/reports/deals-capacity-<time>.json) and the lines a user reads.
On a cluster each node reports what it measured itself."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from crawlers.deals import capacity
from crawlers.progress_math import format_duration


class Tally:
    """Kept by the spider as its units end: the browser time of each explore page and
    expansion (every attempt counted, failed ones included) and how each unit ended."""

    def __init__(
        self,
        origins: list[str],
        regions: list[str],
        top: int,
        *,
        capacity_origins: int,
        within: float | None,
    ):
        self.origins = origins
        self.regions = regions  # names, in the order of the arguments
        self.top = top
        self.capacity_origins = capacity_origins
        self.within = within
        self.started = time.monotonic()
        self.failed_regions: dict[str, dict[str, str]] = defaultdict(dict)
        self.explore_times: list[float] = []  # browser seconds per explore page, done or not
        self.explore_done = 0
        self.expansions: list[dict[str, Any]] = []
        self.expansions_planned = 0

    def explore_measured(self, seconds: float) -> None:
        self.explore_times.append(seconds)

    def region_in(self, origin: str, region: str, failed: str = "") -> None:
        """An explore page recorded for the first time, `failed` its reason if given up."""
        if failed:
            self.failed_regions[origin][region] = failed
        else:
            self.explore_done += 1

    def expansions_queued(self, n: int) -> None:
        self.expansions_planned += n

    def expansion_ended(self, deal: dict[str, Any], meta: dict[str, Any], failed: str) -> float:
        """One expansion's times from its request's clocks; returns its browser seconds."""
        now = time.monotonic()
        busy = meta.get("deals_busy", 0.0)
        first = meta.get("deals_t0", now)
        self.expansions.append(
            {
                "origin": deal["origin"],
                "destination_id": deal["destination_id"],
                "rank": deal["rank"],
                "seconds": round(busy, 3),
                "wall_seconds": round(now - first, 3),
                "outcome": f"failed:{failed}" if failed else "ok",
                "started_at": round(first - self.started, 3),
                "finished_at": round(now - self.started, 3),
            }
        )
        return busy

    def report(self, reason: str, stats) -> dict[str, Any]:
        done = [e for e in self.expansions if e["outcome"] == "ok"]
        failures = Counter(e["outcome"].split(":", 1)[1] for e in self.expansions if e not in done)
        explore_failures = Counter(
            reason for regions in self.failed_regions.values() for reason in regions.values()
        )
        # Browser time per unit over every unit, failed ones included: they cost it too.
        plan = capacity.plan(
            explore_seconds=capacity.summarize(self.explore_times).mean or 0.0,
            expansion_seconds=capacity.summarize(e["seconds"] for e in self.expansions).mean or 0.0,
            explore_pages_per_origin=len(self.regions),
            expansions_per_origin=self.top,
            origins=self.capacity_origins,
            within_seconds=self.within,
        )
        finished = len(self.expansions)
        return {
            "finish_reason": reason,
            "origins": self.origins,
            "regions": self.regions,
            "top": self.top,
            # The old tool watched for these: how hard the site pushed back.
            "responses_429": stats.get_value("downloader/response_status_count/429", 0),
            "retry_after_honoured": stats.get_value("retry/retry_after_honoured", 0),
            "explore": {
                "planned": len(self.origins) * len(self.regions),
                "done": self.explore_done,
                "failed": dict(explore_failures),
                "failed_regions": {o: dict(r) for o, r in self.failed_regions.items()},
                "seconds": asdict(capacity.summarize(self.explore_times)),
                "attempts": stats.get_value("deals/attempts/explore", 0),
            },
            "expansions": {
                "planned": self.expansions_planned,
                "done": len(done),
                "failed": dict(failures),
                "success_rate": round(len(done) / finished, 4) if finished else None,
                "seconds": asdict(capacity.summarize(e["seconds"] for e in done)),
                "wall_seconds": asdict(capacity.summarize(e["wall_seconds"] for e in done)),
                "attempts": stats.get_value("deals/attempts/expansion", 0),
                "each": self.expansions,
            },
            # Nothing finished, nothing measured: no plan rather than one of zeros.
            "plan": plan.as_dict() if self.explore_times or self.expansions else None,
        }


def save(report: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"deals-capacity-{stamp}.json"
    path.write_text(json.dumps(report, indent=1, ensure_ascii=True))
    return path


def format_report(report: dict) -> str:
    """The spider's end-of-run summary as plain ASCII lines."""
    explore, expansions, p = report["explore"], report["expansions"], report["plan"]

    def span(seconds: float | None) -> str:
        # Page times are seconds and their fractions: tenths shown.
        return format_duration(seconds, tenths=True)

    def failed(counts: dict) -> str:
        total = sum(counts.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        return f"{total} failed" + (f" ({detail})" if detail else "")

    def times(summary: dict) -> str:
        return (
            " ".join(f"{k} {span(summary[k])}" for k in ("mean", "median", "p95"))
            + f" (n={summary['count']})"
        )

    rate = expansions["success_rate"]
    lines = [
        f"deals: {len(report['origins'])} origins x {len(report['regions'])} regions, "
        f"top {report['top']} ({report['finish_reason']})",
        f"  explore pages: {explore['planned']} planned, {explore['done']} done, "
        f"{failed(explore['failed'])}; browser time {times(explore['seconds'])}",
        f"  expansions: {expansions['planned']} planned, {expansions['done']} done, "
        f"{failed(expansions['failed'])}; success rate "
        + ("-" if rate is None else f"{rate * 100:.1f}%"),
        f"  expansion time (browser, all attempts): {times(expansions['seconds'])}",
        f"  expansion wait (queued to result):      {times(expansions['wall_seconds'])}",
        f"  429 answers: {report.get('responses_429', 0)} "
        f"(Retry-After honoured {report.get('retry_after_honoured', 0)} times)",
    ]
    for origin, regions in sorted(explore["failed_regions"].items()):
        given_up = ", ".join(f"{r} ({why})" for r, why in sorted(regions.items()))
        lines.append(f"  {origin}: ranked without {given_up}")
    if p is None:
        lines.append("  capacity plan: nothing was measured")
    else:
        lines += [
            f"  capacity plan: {p['explore_pages_per_origin']} explore pages x "
            f"{span(p['explore_seconds'])} + {p['expansions_per_origin']} expansions x "
            f"{span(p['expansion_seconds'])} = "
            f"{span(p['browser_seconds_per_origin'])} of browser time per origin",
            f"  {p['origins']} origins at concurrency "
            + "  ".join(f"{c}: {span(s)}" for c, s in p["runtime_seconds"].items()),
        ]
        if p["within_seconds"]:
            lines.append(
                f"  to finish {p['origins']} origins within "
                f"{span(p['within_seconds'])}: concurrency {p['concurrency_needed']}"
            )
    return "\n".join(line.encode("ascii", "replace").decode() for line in lines)
