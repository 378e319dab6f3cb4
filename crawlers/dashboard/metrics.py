"""Merged job views in Prometheus' text exposition format (version 0.0.4).

Everything is a gauge: a job's counts are sums over nodes that come and go, so they are not
monotonic counters in Prometheus' sense. Each job shows its current run only, with no run
label: a label value per run would leave one series per past run in Prometheus for ever.
`crawl_run_started_seconds` changes when a new run starts (the counts then start again).
"""

from __future__ import annotations

from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: Any) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(int(value))


class _Families:
    def __init__(self):
        self.families: dict[str, tuple[str, list[str]]] = {}

    def add(self, name: str, help_text: str, labels: dict[str, Any], value: float | None):
        if value is None:
            return
        _, samples = self.families.setdefault(name, (help_text, []))
        pairs = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        samples.append(f"{name}{{{pairs}}} {_number(value)}")

    def text(self) -> str:
        lines = []
        for name, (help_text, samples) in self.families.items():
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
            lines.extend(samples)
        return "\n".join(lines) + "\n"


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
