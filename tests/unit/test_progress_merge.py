"""Merging node snapshots into a job's view; silent nodes; Prometheus text; the file store."""

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from crawlers.dashboard.metrics import render
from crawlers.telemetry import FileStore, read_job, read_jobs
from crawlers.telemetry.merge import merge_job, merged_total

NOW = 1_000_000.0


def snap(node, *, total=100, done=0, failed=0, skipped=0, rate=None, seen=NOW, **extra):
    return {
        "job": "j",
        "node": node,
        "spider": "s",
        "host": "h",
        "pid": 1,
        "started": NOW - 100,
        "last_seen": seen,
        "state": "running",
        "finish_reason": None,
        "total_scope": "job",
        "progress": {"total": total, "done": done, "skipped": skipped, "failed": failed},
        "failures": {},
        "rate": rate,
        "counters": {"items": done, "retries": 1},
        "resources": {"memory_bytes": 100, "memory_peak_bytes": 150, "cpu_seconds": 2.5},
        "recent_errors": [],
        **extra,
    }


def test_counts_add_up_and_a_shared_total_is_the_largest():
    view = merge_job(
        "j",
        [
            snap("a", total=100, done=30, failed=2, rate=2.0),
            snap("b", total=120, done=10, skipped=5, rate=1.0),
        ],
        NOW,
        silent_after=60,
    )
    p = view["progress"]
    assert (p["total"], p["done"], p["failed"], p["skipped"]) == (120, 40, 2, 5)
    assert p["remaining"] == 120 - 47
    assert view["rate"] == pytest.approx(3.0)
    assert view["eta_seconds"] == pytest.approx(73 / 3.0, abs=0.1)
    assert view["counters"] == {"items": 40, "retries": 2}
    assert view["resources"] == {"memory_bytes": 200, "memory_peak_bytes": 150, "cpu_seconds": 5.0}
    shares = {n["node"]: n["share_percent"] for n in view["nodes"]}
    assert shares == {"a": 75.0, "b": 25.0}
    assert view["state"] == "running"
    assert view["silent_nodes"] == []


def test_node_scoped_totals_are_summed():
    nodes = [snap("a", total=30, total_scope="node"), snap("b", total=20, total_scope="node")]
    assert merged_total(nodes) == 50
    assert merged_total([snap("a", total=None), snap("b", total=None)]) is None
    assert merged_total([snap("a", total=None), snap("b", total=7)]) == 7


def test_the_total_is_never_below_what_is_finished():
    # Shared part known to both nodes (10), expansions each added on its own (5 and 4).
    nodes = [snap("a", total=15, done=12), snap("b", total=14, done=8, failed=1)]
    view = merge_job("j", nodes, NOW, silent_after=60)
    assert view["progress"]["total"] == 21
    assert view["progress"]["remaining"] == 0
    assert view["progress"]["percent"] == 100.0


def test_a_node_gone_quiet_is_silent_and_adds_no_rate():
    view = merge_job(
        "j",
        [snap("a", done=10, rate=2.0), snap("b", done=5, rate=9.0, seen=NOW - 61)],
        NOW,
        silent_after=60,
    )
    states = {n["node"]: n["state"] for n in view["nodes"]}
    assert states == {"a": "running", "b": "silent"}
    assert view["silent_nodes"] == ["b"]
    assert view["state"] == "running"
    assert view["rate"] == pytest.approx(2.0)
    assert view["resources"]["memory_bytes"] == 100
    assert view["progress"]["done"] == 15  # a silent node's work still counts


def test_a_job_with_only_silent_nodes_is_silent_without_eta():
    view = merge_job("j", [snap("a", done=10, rate=2.0, seen=NOW - 500)], NOW, silent_after=60)
    assert view["state"] == "silent"
    assert view["rate"] is None
    assert view["eta_seconds"] is None


def test_finished_nodes_never_turn_silent():
    old = NOW - 10_000
    view = merge_job(
        "j",
        [snap("a", total=10, done=10, seen=old, state="finished", finish_reason="finished")],
        NOW,
        silent_after=60,
    )
    assert view["state"] == "finished"
    assert view["nodes"][0]["state"] == "finished"
    assert view["eta_seconds"] == 0.0
    assert view["elapsed_seconds"] == pytest.approx(old - (NOW - 100))


def test_recent_errors_are_merged_newest_first_with_their_node():
    view = merge_job(
        "j",
        [
            snap("a", recent_errors=[{"at": 1.0, "message": "old"}]),
            snap("b", recent_errors=[{"at": 3.0, "message": "new"}]),
        ],
        NOW,
        silent_after=60,
    )
    assert [(e["node"], e["message"]) for e in view["recent_errors"]] == [
        ("b", "new"),
        ("a", "old"),
    ]
    assert all("recent_errors" not in n for n in view["nodes"])


def test_file_store_round_trip(tmp_path):
    store = FileStore(tmp_path / "jobs")
    assert read_jobs(store) == []
    store.publish(snap("a", done=3, rate=1.0, seen=NOW))
    assert (tmp_path / "jobs" / "j.json").exists()
    view = read_job(store, "j", silent_after=60, now=NOW + 1)
    assert view["progress"]["done"] == 3
    assert view["state"] == "running"
    assert read_job(store, "j", silent_after=60, now=NOW + 61)["state"] == "silent"
    assert read_job(store, "other") is None
    assert [v["job"] for v in read_jobs(store, now=NOW)] == ["j"]


def scraped(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics text, parsed by prometheus-client's own reader:
    (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


SAMPLE = re.compile(r'^[a-z_]+\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\} -?[0-9.e+]+$')


def test_prometheus_text_format():
    view = merge_job(
        "j",
        [snap("a", done=4, rate=1.5, failures={"http_404": 2}), snap('we"ird\\', seen=0)],
        NOW,
        silent_after=60,
    )
    text = render([view])
    lines = text.strip().splitlines()
    assert text.isascii()
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line
    # As a Prometheus server reads them (label order and number format are the writer's).
    read = scraped(text)
    assert read["crawl_units", (("job", "j"), ("outcome", "done"))] == 4
    assert read["crawl_units_planned", (("job", "j"),)] == 100
    assert read["crawl_failures", (("job", "j"), ("reason", "http_404"))] == 2
    assert read["crawl_node_up", (("host", "h"), ("job", "j"), ("node", "a"))] == 1
    assert read["crawl_node_silent", (("host", "h"), ("job", "j"), ("node", 'we"ird\\'))] == 1
    assert read["crawl_job_state", (("job", "j"), ("state", "running"))] == 1
    assert read["crawl_job_state", (("job", "j"), ("state", "silent"))] == 0
    assert {f.type for f in text_string_to_metric_families(text)} == {"gauge"}
    # Every family is announced once, before its samples.
    names = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(names) == len(set(names))


def test_prometheus_labels_outside_ascii_read_back_as_they_are():
    view = merge_job("j", [snap("nœud-1", host="hôte")], NOW, silent_after=60)
    read = scraped(render([view]))
    assert read["crawl_node_up", (("host", "hôte"), ("job", "j"), ("node", "nœud-1"))] == 1


def test_prometheus_leaves_out_what_a_view_does_not_know():
    # No resources sampled and no rate: no memory sample and no ETA, rather than a 0.
    view = merge_job("j", [snap("a", resources={})], NOW, silent_after=60)
    names = {name for name, _ in scraped(render([view]))}
    assert "crawl_node_up" in names
    assert not names & {"crawl_node_memory_bytes", "crawl_eta_seconds", "crawl_node_cpu_seconds"}
