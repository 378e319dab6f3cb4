"""Merged job views in Prometheus' text exposition format (version 0.0.4), written by
prometheus-client.

Everything is a gauge: a job's counts are sums over nodes that come and go, so they are not
monotonic counters in Prometheus' sense. Each job shows its current run only, with no run
label: a label value per run would leave one series per past run in Prometheus for ever.
`crawl_run_started_seconds` changes when a new run starts (the counts then start again).
The views are read afresh for each scrape, so the families are built per request (a
collector of the request's own) rather than kept in the process-wide registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class _Families(Collector):
    def __init__(self) -> None:
        self.families: dict[str, GaugeMetricFamily] = {}

    def add(self, name: str, help_text: str, labels: dict[str, Any], value: float | None):
        if value is None:
            return
        family = self.families.get(name)
        if family is None:
            family = GaugeMetricFamily(name, help_text, labels=list(labels))
            self.families[name] = family
        family.add_metric([str(v) for v in labels.values()], value)

    def collect(self) -> Iterable[Metric]:
        return self.families.values()

    def text(self) -> str:
        return generate_latest(self).decode("utf-8")


def render(jobs: list[dict[str, Any]]) -> str:
    out = _Families()
    for view in jobs:
        job = {"job": view["job"]}
        progress = view["progress"]
        out.add(
            "crawl_run_started_seconds",
            "Start of the job's current run (Unix time); the counts below are that run's.",
            job,
            round(view["started"], 3),
        )
        for state in ("running", "silent", "finished"):
            out.add(
                "crawl_job_state",
                "1 for the job's state (running, silent, finished).",
                {**job, "state": state},
                1 if view["state"] == state else 0,
            )
        for outcome in ("done", "skipped", "failed"):
            out.add(
                "crawl_units",
                "Units of work finished, by outcome, summed over nodes.",
                {**job, "outcome": outcome},
                progress[outcome],
            )
        out.add("crawl_units_planned", "Units planned (the job's total).", job, progress["total"])
        out.add("crawl_units_remaining", "Units not finished yet.", job, progress["remaining"])
        out.add("crawl_rate_units_per_second", "Current rate of running nodes.", job, view["rate"])
        out.add(
            "crawl_eta_seconds",
            "Seconds until the job finishes at its rate.",
            job,
            view["eta_seconds"],
        )
        for reason, count in view["failures"].items():
            out.add(
                "crawl_failures",
                "Failed units by reason.",
                {**job, "reason": reason},
                count,
            )
        for node in view["nodes"]:
            labels = {**job, "node": node["node"], "host": node.get("host", "")}
            used = node.get("resources") or {}
            out.add(
                "crawl_node_up",
                "1 while the node reports and runs, 0 once silent or finished.",
                labels,
                1 if node["state"] == "running" else 0,
            )
            out.add(
                "crawl_node_silent",
                "1 when the node stopped reporting without finishing.",
                labels,
                1 if node["state"] == "silent" else 0,
            )
            out.add(
                "crawl_node_units_done",
                "Units done by this node.",
                labels,
                node["progress"].get("done", 0),
            )
            out.add(
                "crawl_node_last_seen_seconds",
                "Seconds since the node last reported.",
                labels,
                node["seen_ago"],
            )
            out.add(
                "crawl_node_memory_bytes",
                "PSS (or RSS) of the node's process tree.",
                labels,
                used.get("memory_bytes"),
            )
            out.add(
                "crawl_node_memory_peak_bytes",
                "Largest memory sample of the node.",
                labels,
                used.get("memory_peak_bytes"),
            )
            out.add(
                "crawl_node_cpu_seconds",
                "CPU time of the node's process tree.",
                labels,
                used.get("cpu_seconds"),
            )
    return out.text()
