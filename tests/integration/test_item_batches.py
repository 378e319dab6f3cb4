"""A page's records as one item (crawlers/batches.py): what users see is per record, the
same as with one item per record (`ITEM_BATCHES=false`), which a per-record pipeline or
item_scraped handler of their own needs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from crawlers import settings as project_settings
from tests import helpers
from tests.integration.test_businesses import CATEGORIES, RULES, SETTINGS, rejected_by_rules
from tests.integration.test_emails import FAST, start

pytestmark = pytest.mark.integration

COUNTS = ("item_scraped_count", "item_dropped_count", "progress/done")
OPTIONS = {"states": "DE", "categories": CATEGORIES}


def businesses_crawl(crawl, sb, tmp_path: Path, name: str, **settings):
    truth = sb.truth("businesses")
    targets = helpers.write_targets(tmp_path / "targets.tsv", truth["searches"])
    rules = tmp_path / "rules.json"
    rules.write_text(RULES)
    out = tmp_path / name
    result = crawl(
        "businesses",
        workdir=out,
        args={"targets_file": str(targets)},
        settings={
            **SETTINGS,
            "BUSINESSES_BASE_URL": sb.url("businesses"),
            "BUSINESSES_FILTER_FILE": str(rules),
            "FEEDS": {
                str(out / "items.jsonl"): {"format": "jsonlines"},
                str(out / "items.csv"): {"format": "csv"},
                str(out / "items.json"): {"format": "json"},
            },
            **settings,
        },
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result, out


# Which search's copy of a business found by two is kept depends on the order of pages,
# which differs from run to run: the fields of that search are left out of the comparison.
SOURCE = {"search_terms", "search_location", "target_id", "rank"}


def feeds(out: Path) -> dict[str, list]:
    """Each feed's records, sorted, without the fields of the search that found them."""

    def plain(record: dict) -> str:
        return json.dumps({k: v for k, v in record.items() if k not in SOURCE}, sort_keys=True)

    lines = (out / "items.jsonl").read_text(encoding="utf-8").splitlines()
    with (out / "items.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    exported = json.loads((out / "items.json").read_text(encoding="utf-8"))
    return {
        "jsonlines": sorted(plain(json.loads(line)) for line in lines),
        "csv": sorted(plain(r) for r in rows),
        "json": sorted(plain(r) for r in exported),
    }


def test_businesses_feeds_and_counts_are_per_record_as_without_batches(
    sandbox_factory, crawl, tmp_path
):
    # No faults: both runs see the same pages, so the same records.
    sb = sandbox_factory(["businesses"], knobs={"businesses": {"options": OPTIONS}})
    truth = sb.truth("businesses")
    batched, out_b = businesses_crawl(crawl, sb, tmp_path, "batched")
    single, out_s = businesses_crawl(crawl, sb, tmp_path, "single", ITEM_BATCHES=False)

    kept = set(truth["businesses"]) - rejected_by_rules(truth)
    for out in (out_b, out_s):
        ypids = [json.loads(line)["ypid"] for line in feeds(out)["json"]]
        assert sorted(ypids) == sorted(kept)
    assert feeds(out_b) == feeds(out_s)
    assert len(feeds(out_b)["csv"]) == len(feeds(out_b)["json"]) == len(kept)
    for name in COUNTS:
        assert batched.stats.get(name) == single.stats.get(name), name
    assert batched.stats["item_scraped_count"] == len(kept)
    reasons = {k: v for k, v in batched.stats.items() if k.startswith("item_dropped_reasons")}
    assert reasons == {
        k: v for k, v in single.stats.items() if k.startswith("item_dropped_reasons")
    }
    # At least once each: the filter runs before the dedupe, so a rejected business that
    # two searches found is rejected twice.
    rejected = reasons["item_dropped_reasons_count/RejectedListing"]
    assert rejected >= len(rejected_by_rules(truth))
    assert batched.stats["businesses/rejected"] == single.stats["businesses/rejected"]


def test_closespider_itemcount_counts_addresses(sandbox_factory, crawl):
    # 40 people on each of 5 directory pages a site: about 1,270 addresses in all.
    _, site, env = start(
        sandbox_factory, size=6, faults=False, options={"team_pages": 5, "per_page": 40}
    )
    limit = 300
    result = crawl(
        "emails",
        args={"urls": ",".join(site.seeds())},
        settings={**FAST, "CLOSESPIDER_ITEMCOUNT": limit},
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stats["finish_reason"] == "closespider_itemcount"
    assert result.stats["item_scraped_count"] == len(result.items) >= limit
    # Stopped on the count, not at the end of the sites' addresses.
    assert len(result.items) < site.count_addresses()


@pytest.mark.parametrize("batches", [False, True])
def test_own_pipeline_and_item_scraped_handler(sandbox_factory, crawl, batches):
    _, site, env = start(sandbox_factory, size=3, faults=False)
    result = crawl(
        "emails",
        args={"urls": ",".join(site.seeds())},
        settings={
            **FAST,
            "ITEM_BATCHES": batches,
            "ITEM_PIPELINES": {
                "crawlers.pipelines.emails.EmailStorePipeline": 300,
                "tests.spiders.record_hooks.RecordPipeline": 400,
            },
            "EXTENSIONS": {
                **project_settings.EXTENSIONS,
                "tests.spiders.record_hooks.RecordHandler": 500,
            },
        },
        env=env,
        timeout=300,
    )
    stats = result.stats
    if not batches:
        # One item per record: the user's pipeline and handler see every address.
        assert result.returncode == 0, result.stderr[-3000:]
        assert site.score(result.items)["recall"] == 1.0
        assert stats["test/pipeline_records"] == stats["test/handler_records"] == len(result.items)
        assert "test/handler_others" not in stats
    else:
        # Batches: the pipeline is handed pages, which is what the setting is there for.
        assert "test/pipeline_records" not in stats
        assert stats["log_count/ERROR"] >= 1
        assert result.items == []
