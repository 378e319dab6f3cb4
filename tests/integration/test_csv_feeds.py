"""`-o x.csv` on real crawls: every row read back with the csv module holds what the
jsonlines feed of the same crawl holds, list and dict fields as JSON cells."""

from __future__ import annotations

import csv
import json

import pytest

from tests import helpers

pytestmark = pytest.mark.integration


def feeds(workdir):
    return {
        str(workdir / "items.jsonl"): {"format": "jsonlines"},
        str(workdir / "items.csv"): {"format": "csv"},
    }


def read_back(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def assert_same_items(result, workdir, json_fields):
    rows = read_back(workdir / "items.csv")
    assert len(rows) == len(result.items) > 0
    for row, item in zip(rows, result.items, strict=True):
        assert set(row) == set(item)
        for name in json_fields:
            assert json.loads(row[name]) == item[name], name
        for name, value in item.items():
            if name not in json_fields:
                assert row[name] == ("" if value is None else str(value)), name


def test_businesses_csv(sandbox_factory, crawl, tmp_path):
    sb = sandbox_factory(
        ["businesses"],
        knobs={"businesses": {"options": {"states": "DE", "categories": "plumbers"}}},
    )
    truth = sb.truth("businesses")
    targets = helpers.write_targets(tmp_path / "targets.tsv", truth["searches"][:2])
    workdir = tmp_path / "crawl"
    result = crawl(
        "businesses",
        workdir=workdir,
        args={"targets_file": str(targets)},
        settings={
            "BUSINESSES_BASE_URL": sb.url("businesses"),
            "BUSINESSES_FILTER_FILE": "",
            "FEEDS": feeds(workdir),
        },
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_items(result, workdir, json_fields={"categories"})
    assert any(len(item["categories"]) > 1 for item in result.items)


def test_deals_csv(sandbox_factory, chromium, crawl, tmp_path):
    site = {"destinations": 3, "price_levels": 6, "first_ms": 50, "card_ms": 30}
    sb = sandbox_factory(["deals"], knobs={"deals": {"options": site}})
    workdir = tmp_path / "crawl"
    result = crawl(
        "deals",
        workdir=workdir,
        args={"origins": "PHX", "regions": "anywhere,europe"},
        settings={"DEALS_SETTLE_SECONDS": 0.6, "FEEDS": feeds(workdir)},
        env={"DEALS_BASE_URL": sb.url("deals")},
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_items(result, workdir, json_fields={"regions", "options"})
    assert any(item["options"] for item in result.items)
