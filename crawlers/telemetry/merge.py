"""One job's view from its nodes' snapshots: counts summed, each node's share, silent nodes.

Counts (done, skipped, failed, failures per reason, items, requests, retries, CPU seconds)
are each node's own work, so they add up. The total is different: with
PROGRESS_TOTAL_SCOPE = "job" (the default) every node knows the whole job's total (an
inventory size, an address target, the pending targets of a shared ledger), so the job's
total is the largest any node reports: the newest node has the freshest figure and a sum
would count the job once per node. With "node" each node's total counts only the work it
planned itself (expansions it discovered and queued), so the job's total is their sum.
Either way a job's total is never less than the units its nodes have finished.

Every snapshot merged here belongs to one run of the job (crawlers/telemetry/store.py): an
earlier run's nodes are never added to the current one's.

The job's rate is the sum of the rates of its running nodes (a silent or finished node adds
nothing any more), and its ETA is what remains at that rate. A node that has not reported
for `silent_after` seconds and did not say it finished is silent, never running.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from crawlers.progress_math import Counts, eta_seconds

RUNNING, SILENT, FINISHED = "running", "silent", "finished"
RECENT_ERRORS = 20


def node_state(snapshot: dict[str, Any], now: float, silent_after: float) -> str:
    if snapshot.get("state") == FINISHED:
        return FINISHED
    if now - float(snapshot.get("last_seen", 0)) > silent_after:
        return SILENT
    return RUNNING


def _add(into: dict[str, float], values: dict[str, Any] | None) -> None:
    for key, value in (values or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + value


def merged_total(snapshots: list[dict[str, Any]]) -> int | None:
    shared = [
        s["progress"]["total"]
        for s in snapshots
        if s["progress"].get("total") is not None and s.get("total_scope", "job") == "job"
    ]
    own = [
        s["progress"]["total"]
        for s in snapshots
        if s["progress"].get("total") is not None and s.get("total_scope") == "node"
    ]
    if not shared and not own:
        return None
    return max(max(shared, default=0), sum(own))


def failed_units(snapshots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The failed units the run's nodes kept, each with its node, newest first."""
    units = [
        {**unit, "node": snap["node"]}
        for snap in snapshots
        for unit in snap.get("failed_units") or []
    ]
    return sorted(units, key=lambda u: -u.get("at", 0))


def merge_job(
    job: str, snapshots: list[dict[str, Any]], now: float, silent_after: float
) -> dict[str, Any]:
    progress: dict[str, float] = {}
    failures: dict[str, float] = {}
    counters: dict[str, float] = {}
    nodes = []
    rate = 0.0
    memory = 0
    last_memory = 0
    peak = 0
    cpu_seconds = 0.0
    errors = []
    for snap in snapshots:
        state = node_state(snap, now, silent_after)
        _add(progress, {k: v for k, v in snap["progress"].items() if k != "total"})
        _add(failures, snap.get("failures"))
        _add(counters, snap.get("counters"))
        resources = snap.get("resources") or {}
        cpu_seconds += resources.get("cpu_seconds") or 0.0
        peak = max(peak, resources.get("memory_peak_bytes") or 0)
        last_memory += resources.get("memory_bytes") or 0
        if state == RUNNING:
            rate += snap.get("rate") or 0.0
            memory += resources.get("memory_bytes") or 0
        for error in snap.get("recent_errors") or []:
            errors.append({**error, "node": snap["node"]})
        # The failed units are listed on their own (failed_units below): a view stays small.
        node = {k: v for k, v in snap.items() if k not in ("recent_errors", "failed_units")}
        nodes.append(
            {**node, "state": state, "seen_ago": round(max(0.0, now - snap["last_seen"]), 1)}
        )

    counts = Counts(
        total=merged_total(snapshots),
        done=int(progress.get("done", 0)),
        skipped=int(progress.get("skipped", 0)),
        failed=int(progress.get("failed", 0)),
    )
    if counts.total is not None and counts.total < counts.finished:
        counts = replace(counts, total=counts.finished)
    for node in nodes:
        done = node["progress"].get("done", 0)
        node["share_percent"] = round(100.0 * done / counts.done, 1) if counts.done else None

    states = {n["state"] for n in nodes}
    state = RUNNING if RUNNING in states else SILENT if SILENT in states else FINISHED
    started = min((s["started"] for s in snapshots), default=now)
    last_seen = max((s["last_seen"] for s in snapshots), default=now)
    eta = eta_seconds(counts.remaining, rate) if state == RUNNING else None
    if state == FINISHED and counts.remaining == 0:
        eta = 0.0
    errors.sort(key=lambda e: e.get("at", 0), reverse=True)
    reasons = sorted({s["finish_reason"] for s in snapshots if s.get("finish_reason")})
    return {
        "job": job,
        "run": next((s["run"] for s in snapshots if s.get("run")), ""),
        "spiders": sorted({s.get("spider", "") for s in snapshots}),
        "state": state,
        "started": started,
        "last_seen": last_seen,
        "elapsed_seconds": round((now if state == RUNNING else last_seen) - started, 1),
        "progress": counts.summary(),
        "rate": round(rate, 4) if state == RUNNING else None,
        "eta_seconds": None if eta is None else round(eta, 1),
        "eta_at": None if eta is None or state != RUNNING else round(now + eta, 1),
        "failures": {k: int(v) for k, v in sorted(failures.items(), key=lambda kv: -kv[1])},
        "counters": {k: round(v, 3) for k, v in sorted(counters.items())},
        "finish_reasons": reasons,
        "resources": {
            # Running nodes now; once none runs, what each node used at its last report
            # (the figures its row shows), not a 0 that reads as "nothing was used".
            "memory_bytes": memory if state == RUNNING else last_memory,
            "memory_peak_bytes": peak,  # the largest peak of any node
            "cpu_seconds": round(cpu_seconds, 3),
        },
        "nodes": sorted(nodes, key=lambda n: n["node"]),
        "silent_nodes": sorted(n["node"] for n in nodes if n["state"] == SILENT),
        "recent_errors": errors[:RECENT_ERRORS],
    }
