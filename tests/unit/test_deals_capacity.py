"""Capacity plan arithmetic and the report's text."""

import pytest

from crawlers.deals import capacity
from crawlers.deals.report import format_report


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60m", 3600), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("3600", 3600), ("2 h", 7200)],
)
def test_durations(text, seconds):
    assert capacity.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "60x", "0m", "-5m", "m"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        capacity.parse_duration(text)


def test_summary_and_percentile():
    s = capacity.summarize([4, 1, 3, 2])
    assert (s.count, s.mean, s.median) == (4, 2.5, 2.5)
    assert s.p95 == pytest.approx(3.85)
    assert capacity.summarize([]).mean is None
    assert capacity.summarize([7]).p95 == 7


def test_plan_reproduces_the_old_tools_estimate():
    # The old tool: 5 expansions of about 75 s per origin, 100 origins, 12 browsers: ~52 min.
    plan = capacity.plan(
        explore_seconds=0.0,
        expansion_seconds=75.0,
        explore_pages_per_origin=10,
        expansions_per_origin=5,
        origins=100,
        within_seconds=3600,
    )
    assert plan.browser_seconds_per_origin == 375
    assert plan.runtime_seconds[12] == pytest.approx(37500 / 12)
    assert plan.runtime_seconds[1] == 37500
    assert plan.concurrency_needed == 11  # 37500 / 3600 = 10.4
    assert set(plan.runtime_seconds) == {1, 2, 4, 8, 10, 12}


def test_report_text_is_ascii_and_names_the_plan():
    plan = capacity.plan(
        explore_seconds=2,
        expansion_seconds=3,
        explore_pages_per_origin=3,
        expansions_per_origin=5,
        within_seconds=600,
    )
    summary = {"count": 2, "mean": 3.0, "median": 3.0, "p95": 3.9}
    report = {
        "finish_reason": "finished",
        "origins": ["PHX", "DFW"],
        "regions": ["anywhere", "europe", "asia"],
        "top": 5,
        "explore": {
            "planned": 6,
            "done": 5,
            "failed": {"http_503": 1},
            "failed_regions": {"PHX": {"europe": "http_503"}},
            "seconds": summary,
        },
        "expansions": {
            "planned": 2,
            "done": 2,
            "failed": {},
            "success_rate": 1.0,
            "seconds": summary,
            "wall_seconds": summary,
        },
        "plan": plan.as_dict(),
    }
    text = format_report(report)
    text.encode("ascii")
    assert "success rate 100.0%" in text
    assert "PHX: ranked without europe (http_503)" in text
    assert "within 10m00s: concurrency 4" in text  # 100 origins x 21 s / 600 s = 3.5
    assert "3 explore pages x 2.0s + 5 expansions x 3.0s = 21.0s of browser time" in text
    report["plan"] = None
    assert format_report(report).endswith("capacity plan: nothing was measured")
