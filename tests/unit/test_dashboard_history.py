"""A job's history: each run's figures and the flags against the run before it."""

from __future__ import annotations

from crawlers.dashboard.history import history


def view(run: str, done: int, failed: int, items: int, elapsed: float, state="finished"):
    return {
        "run": run,
        "state": state,
        "started": 1000.0,
        "last_seen": 1000.0 + elapsed,
        "elapsed_seconds": elapsed,
        "finish_reasons": ["finished"],
        "progress": {"done": done, "skipped": 0, "failed": failed},
        "failures": {"http_404": failed} if failed else {},
        "counters": {"items": items},
        "resources": {"memory_peak_bytes": 5},
        "nodes": [{}, {}],
    }


def test_a_run_like_the_one_before_is_not_flagged():
    rows = history([view("b", 100, 1, 100, 10.0), view("a", 100, 0, 104, 10.5)])
    assert [r["run"] for r in rows] == ["b", "a"]
    assert rows[0]["previous"] == "a" and rows[0]["flags"] == []
    assert rows[1]["previous"] is None and rows[1]["flags"] == []
    assert rows[0]["rate"] == 10.1 and rows[0]["failed_share"] == 0.0099
    assert rows[0]["nodes"] == 2 and rows[0]["ended"] == 1010.0


def test_fewer_items_more_failures_and_slower_are_flagged():
    rows = history([view("b", 60, 40, 60, 20.0), view("a", 100, 0, 100, 10.0)])
    assert rows[0]["flags"] == [
        "fewer items: 60 against 100",
        "more failures: 40% of units against 0%",
        "slower: 5.00/s against 10.00/s",
    ]


def test_a_running_run_has_no_end_and_the_share_is_a_setting():
    rows = history(
        [view("b", 95, 0, 95, 10.0, state="running"), view("a", 100, 0, 100, 10.0)], share=0.01
    )
    assert rows[0]["ended"] is None
    assert rows[0]["flags"] == ["fewer items: 95 against 100", "slower: 9.50/s against 10.00/s"]
