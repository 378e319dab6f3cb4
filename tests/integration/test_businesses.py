"""The businesses spider against the sandbox directory, with faults on: targets files, the
embedded ledger, PostgreSQL, two nodes sharing one ledger, a node killed, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from crawlers.env import PROJECT_ROOT
from crawlers.ledger import LEDGER_FILE
from tests import helpers

pytestmark = pytest.mark.integration

CATEGORIES = "plumbers,dentists,auto repair"
FAULTS = {
    "fault_429": 0.04,
    "fault_5xx": 0.04,
    "fault_reset": 0.02,
    "fault_hang": 0.005,
    "hang_seconds": 20,
    "retry_after": 0.3,
}
SETTINGS = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_TIMEOUT": 2,
    "RETRY_TIMES": 8,
    "RETRY_BACKOFF_BASE": 0.1,
    "RETRY_BACKOFF_MAX": 1,
    "LOG_LEVEL": "INFO",
}
# Rules for the tests: the sandbox's "Repair" category and the word "Summit" are rejected.
RULES = '{"reject": {"categories": ["Repair"], "name_words": ["summit"]}}'


def site_knobs(**extra):
    return {
        "businesses": {
            **FAULTS,
            "options": {
                "states": "DE",
                "categories": CATEGORIES,
                "burst_429": 0.02,
                "burst_len": 4,
                **extra,
            },
        }
    }


def rejected_by_rules(truth) -> set[str]:
    return {
        ypid
        for ypid, b in truth["businesses"].items()
        if "Repair" in b["categories"] or re.search(r"\bsummit\b", b["name"], re.IGNORECASE)
    }


def run_targets(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "targets", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def generate(env: dict, tmp_path: Path) -> int:
    categories = tmp_path / "categories.txt"
    categories.write_text("\n".join(CATEGORIES.split(",")) + "\n")
    out = run_targets("generate", "--states", "DE", "--categories", str(categories), env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("targets: 15 new, 0 already there (5 cities x 3 categories)")
    return 15


def ledger_rows(env: dict) -> list[dict]:
    columns = "id, state, city, search_terms, status, reason, attempts, accepted, rejected"
    if "DATABASE_URL" in env:
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            cur = conn.execute(f"SELECT {columns} FROM business_targets")
            names = [d.name for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    with sqlite3.connect(Path(env["DATA_DIR"]) / LEDGER_FILE) as conn:
        cur = conn.execute(f"SELECT {columns} FROM business_targets")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def by_search(truth) -> dict[tuple[str, str], list[str]]:
    return {(s["search_terms"], s["location"]): s["ypids"] for s in truth["searches"]}


def stored_businesses(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT ypid, name, search_terms, target_id FROM businesses").fetchall()


def test_targets_file_collects_every_organic_business_once(sandbox_factory, crawl, tmp_path):
    # Block pages (with 200 and with 403) for a quarter of the search pages, pages that are
    # not the directory's for one in ten, and the faults.
    sb = sandbox_factory(["businesses"], knobs=site_knobs(block_rate=0.25, odd_rate=0.1))
    truth = sb.truth("businesses")
    targets = helpers.write_targets(
        tmp_path / "targets.tsv", truth["searches"], header="# searches to check\n"
    )
    result = crawl(
        "businesses",
        args={"targets_file": str(targets)},
        settings={
            **SETTINGS,
            "BUSINESSES_BASE_URL": sb.url("businesses"),
            "BUSINESSES_FILTER_FILE": "",
        },
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ypids = [item["ypid"] for item in result.items]
    assert len(ypids) == len(set(ypids))
    assert set(ypids) == set(truth["businesses"])
    assert not set(ypids) & set(truth["ads"])
    assert result.stats["progress/total"] == len(truth["searches"])
    assert result.stats["progress/done"] == len(truth["searches"])
    site = sb.stats("businesses")
    assert sum(n for k, n in site.items() if k.startswith(("fault_", "burst_"))) > 0
    # Every block page was seen for what it is, retried, and the crawl still complete.
    assert site["block_200"] > 0 and site["block_403"] > 0
    assert result.stats["pages/rejected/blocked"] == site["block_200"] + site["block_403"]
    assert result.stats["pages/rejected/unrecognised_page"] == site["odd_page"] > 0
    assert "progress/failed" not in result.stats
    # Every field comes through as the site shows it, whichever markup showed it.
    for item in result.items:
        want = truth["businesses"][item["ypid"]]
        assert {k: item[k] for k in want} == want, item
    shown = {b.ypid: b for s in sb.site("businesses").searches.values() for b in s.results}
    badges_2025 = [b for b in shown.values() if b.years is not None and b.years_2025]
    badges_old = [b for b in shown.values() if b.years is not None and not b.years_2025]
    into_directory = [b for b in shown.values() if b.directory_link and not b.website]
    assert badges_2025 and badges_old and into_directory
    by_ypid = {i["ypid"]: i for i in result.items}
    assert all(by_ypid[b.ypid]["years_in_business"] == b.years for b in badges_2025)
    assert all(by_ypid[b.ypid]["website"] == "" for b in into_directory)
    assert not (tmp_path / "crawl0" / "data" / LEDGER_FILE).exists()


def test_a_search_blocked_every_time_fails_blocked_and_is_redone(sandbox_factory, crawl, tmp_path):
    """One search gets nothing but block pages; another is blocked from its last page on,
    after its first pages gave businesses. Neither is marked done; both come back with
    `targets reset --failed` and finish once the site lets the crawler in."""
    # No other faults: each blocked page fails for being blocked, not for a 503 drawn on its
    # last try.
    knobs = site_knobs(burst_429=0)
    knobs["businesses"].update(fault_429=0, fault_5xx=0, fault_reset=0, fault_hang=0)
    sb = sandbox_factory(["businesses"], knobs=knobs)
    site = sb.site("businesses")
    dover = ("dentists", "Dover, DE")
    searches = [s for s in site.searches.values() if (s.terms, s.location) != dover]
    longest = max(searches, key=lambda s: len(s.pages))
    assert len(longest.pages) >= 2, "some search must have several pages"
    cut = len(longest.pages)  # its last page
    blocked = f"dentists|Dover, DE;{longest.terms}|{longest.location}|{cut}"
    sb.set_knobs("businesses", options={"blocked": blocked})
    env = {"DATA_DIR": str(tmp_path / "data")}
    generate(env, tmp_path)
    settings = {**SETTINGS, "BUSINESSES_BASE_URL": sb.url("businesses"), "RETRY_TIMES": 3}
    settings["BUSINESSES_FILTER_FILE"] = ""
    result = crawl("businesses", args={"states": "DE"}, settings=settings, env=env)
    assert result.returncode == 0, result.stderr[-3000:]

    rows = {(r["search_terms"], f"{r['city']}, {r['state']}"): r for r in ledger_rows(env)}
    partial = rows.pop((longest.terms, longest.location))
    failed = rows.pop(dover)
    assert (failed["status"], failed["reason"], failed["accepted"]) == ("failed", "blocked", 0)
    assert (partial["status"], partial["reason"]) == ("failed", "blocked")
    # What the pages before the blocked one gave is stored and counted, not marked done.
    before = {b.ypid for page in longest.pages[: cut - 1] for b in page}
    assert partial["accepted"] == len(before)
    assert before <= {i["ypid"] for i in result.items}
    assert {r["status"] for r in rows.values()} == {"done"}
    assert result.stats["progress/failed/blocked"] == 2
    assert result.stats["progress/done"] == len(rows) == 13
    assert result.stats["pages/gave_up/blocked"] == 2

    sb.set_knobs("businesses", options={"blocked": ""})
    reset = run_targets("reset", "--failed", env=env)
    assert reset.stdout.strip() == "targets: 2 put back to planned"
    again = crawl("businesses", args={"states": "DE"}, settings=settings, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stats["progress/done"] == 2
    assert {r["status"] for r in ledger_rows(env)} == {"done"}
    want = {b.ypid for b in longest.results} | set(by_search(sb.truth("businesses"))[dover])
    assert {i["ypid"] for i in again.items} == want


def test_embedded_ledger_filter_failures_and_reset(sandbox_factory, crawl, tmp_path):
    broken = "dentists|Dover, DE"
    sb = sandbox_factory(["businesses"], knobs=site_knobs(broken=broken))
    truth = sb.truth("businesses")
    env = {"DATA_DIR": str(tmp_path / "data")}
    generate(env, tmp_path)
    rules = tmp_path / "rules.json"
    rules.write_text(RULES)
    settings = {
        **SETTINGS,
        "BUSINESSES_BASE_URL": sb.url("businesses"),
        "BUSINESSES_FILTER_FILE": str(rules),
        "BUSINESSES_TARGETS_IN_FLIGHT": 4,
        "BUSINESSES_CLAIM_BATCH": 2,
    }
    result = crawl("businesses", args={"states": "DE"}, settings=settings, env=env)
    assert result.returncode == 0, result.stderr[-3000:]

    rows = ledger_rows(env)
    assert len(rows) == 15
    failed = [r for r in rows if r["status"] == "failed"]
    assert [(r["search_terms"], r["city"], r["reason"]) for r in failed] == [
        ("dentists", "Dover", "http_503")
    ]
    assert all(r["status"] == "done" for r in rows if r not in failed)
    assert result.stats["progress/done"] == 14
    assert result.stats["progress/failed/http_503"] == 1

    searches = by_search(truth)
    rejected = rejected_by_rules(truth)
    assert rejected, "the rules should reject some of the site's businesses"
    crawled = {k: v for k, v in searches.items() if k != ("dentists", "Dover, DE")}
    want = set().union(*crawled.values()) - rejected
    ypids = [item["ypid"] for item in result.items]
    assert len(ypids) == len(set(ypids))
    assert set(ypids) == want
    assert not set(ypids) & set(truth["ads"])
    for row in rows:
        if row["status"] != "done":
            continue
        listed = searches[(row["search_terms"], f"{row['city']}, {row['state']}")]
        assert row["rejected"] == len(set(listed) & rejected)
        assert row["accepted"] == len(set(listed) - rejected)

    status = run_targets("status", env=env)
    assert status.returncode == 0
    assert re.search(r"all\s+0\s+0\s+0\s+14\s+1\s+15\s+100.0%", status.stdout), status.stdout
    assert "http_503 1" in status.stdout

    # The site recovers; the failed target is planned again and finishes.
    sb.set_knobs("businesses", options={"broken": ""})
    reset = run_targets("reset", "--failed", env=env)
    assert reset.stdout.strip() == "targets: 1 put back to planned"
    again = crawl("businesses", args={"states": "DE"}, settings=settings, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stats["progress/total"] == 1
    assert again.stats["progress/done"] == 1
    assert {r["status"] for r in ledger_rows(env)} == {"done"}
    dover = set(searches[("dentists", "Dover, DE")]) - rejected
    assert {i["ypid"] for i in again.items} == dover


def test_postgres_ledger_and_upsert(sandbox_factory, crawl, tmp_path, database_url):
    sb = sandbox_factory(["businesses"], knobs=site_knobs())
    truth = sb.truth("businesses")
    env = {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data")}
    generate(env, tmp_path)
    rules = tmp_path / "rules.json"
    rules.write_text(RULES)
    settings = {
        **SETTINGS,
        "BUSINESSES_BASE_URL": sb.url("businesses"),
        "BUSINESSES_FILTER_FILE": str(rules),
        "BUSINESSES_DB_BATCH": 7,
    }
    result = crawl("businesses", settings=settings, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = ledger_rows(env)
    assert {r["status"] for r in rows} == {"done"}
    assert result.stats["progress/done"] == 15
    rejected = rejected_by_rules(truth)
    stored = stored_businesses(database_url)
    assert {r[0] for r in stored} == set(truth["businesses"]) - rejected
    assert result.stats["businesses/stored"] == len(stored)
    assert sum(r["accepted"] for r in rows) == sum(
        len(set(ypids) - rejected) for ypids in by_search(truth).values()
    )
    # No password anywhere in what the crawl printed.
    password = psycopg.conninfo.conninfo_to_dict(database_url)["password"]
    assert password not in result.log


def start_node(name: str, sb, env: dict, workdir: Path, settings: dict) -> subprocess.Popen:
    settings = {
        **SETTINGS,
        "BUSINESSES_BASE_URL": sb.url("businesses"),
        "BUSINESSES_FILTER_FILE": "",
        **settings,
    }
    return helpers.start_node("businesses", name, workdir, settings=settings, env=env)


def slow_site_knobs():
    knobs = site_knobs()
    # Slow enough that a node is caught with targets in flight.
    knobs["businesses"].update(latency_ms=300, jitter_ms=50)
    return knobs


def test_two_nodes_share_one_ledger_without_crawling_a_target_twice(
    sandbox_factory, tmp_path, database_url
):
    sb = sandbox_factory(["businesses"], knobs=slow_site_knobs())
    truth = sb.truth("businesses")
    env = {"DATABASE_URL": database_url}
    total = generate(env, tmp_path)
    node_settings = {"BUSINESSES_TARGETS_IN_FLIGHT": 3, "BUSINESSES_CLAIM_BATCH": 1}
    nodes = [start_node(n, sb, env, tmp_path / n, node_settings) for n in ("node-a", "node-b")]
    for proc in nodes:
        assert proc.wait(240) == 0, (tmp_path / "node-a" / "log.txt").read_text()[-3000:]
    rows = ledger_rows(env)
    assert len(rows) == total
    assert {r["status"] for r in rows} == {"done"}
    assert {r["attempts"] for r in rows} == {1}  # each target claimed exactly once
    stored = stored_businesses(database_url)
    assert {r[0] for r in stored} == set(truth["businesses"])
    done = [
        json.loads((tmp_path / n / "stats.json").read_text())["progress/done"]
        for n in ("node-a", "node-b")
    ]
    assert sum(done) == total
    assert min(done) > 0, "both nodes should have worked"


def test_killed_node_targets_finish_on_another(sandbox_factory, tmp_path, database_url):
    sb = sandbox_factory(["businesses"], knobs=slow_site_knobs())
    truth = sb.truth("businesses")
    env = {"DATABASE_URL": database_url}
    total = generate(env, tmp_path)
    short_lease = {"BUSINESSES_LEASE_SECONDS": 3, "BUSINESSES_TARGETS_IN_FLIGHT": 3}
    victim = start_node("victim", sb, env, tmp_path / "victim", short_lease)
    held: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None:
        rows = ledger_rows(env)
        held = [r["id"] for r in rows if r["status"] == "in_progress"]
        if held and any(r["status"] == "done" for r in rows):
            break
        time.sleep(0.2)
    assert held, (tmp_path / "victim" / "log.txt").read_text()[-3000:]
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    with psycopg.connect(database_url) as conn:
        orphaned = {
            r[0]
            for r in conn.execute(
                "SELECT id FROM business_targets WHERE status = 'in_progress'"
                " AND lease_owner = 'victim'"
            )
        }
    assert orphaned

    survivor = start_node("survivor", sb, env, tmp_path / "survivor", {})
    assert survivor.wait(240) == 0, (tmp_path / "survivor" / "log.txt").read_text()[-3000:]
    rows = {r["id"]: r for r in ledger_rows(env)}
    assert len(rows) == total
    assert {r["status"] for r in rows.values()} == {"done"}
    assert all(rows[i]["attempts"] == 2 for i in orphaned)
    assert {r[0] for r in stored_businesses(database_url)} == set(truth["businesses"])


def test_ctrl_c_puts_unfinished_targets_back(sandbox_factory, tmp_path):
    sb = sandbox_factory(["businesses"], knobs=slow_site_knobs())
    truth = sb.truth("businesses")
    env = {"DATA_DIR": str(tmp_path / "data")}
    total = generate(env, tmp_path)
    feed = tmp_path / "data" / "businesses.jsonl"  # the default output
    settings = {"BUSINESSES_TARGETS_IN_FLIGHT": 4}
    first = start_node("first", sb, env, tmp_path / "first", settings)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        if sum(r["status"] == "done" for r in ledger_rows(env)) >= 3:
            break
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    assert first.wait(120) == 0, (tmp_path / "first" / "log.txt").read_text()[-3000:]
    rows = ledger_rows(env)
    statuses = [r["status"] for r in rows]
    assert "in_progress" not in statuses
    assert 0 < statuses.count("done") < total
    kept = {item["ypid"] for item in helpers.read_jsonl(feed)}
    searches = by_search(truth)
    for row in rows:
        if row["status"] == "done":
            assert set(searches[(row["search_terms"], f"{row['city']}, {row['state']}")]) <= kept
    stats = json.loads((tmp_path / "first" / "stats.json").read_text())
    assert stats["businesses/targets_released"] == statuses.count("planned") - (
        total - stats["businesses/targets_claimed"]
    )

    second = start_node("second", sb, env, tmp_path / "second", settings)
    assert second.wait(240) == 0, (tmp_path / "second" / "log.txt").read_text()[-3000:]
    assert {r["status"] for r in ledger_rows(env)} == {"done"}
    everything = {item["ypid"] for item in helpers.read_jsonl(feed)}
    assert everything == set(truth["businesses"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"states": "CA,XX"}, "error: unknown state XX"),
        ({"targets_file": "{tmp}/bad.tsv"}, "bad.tsv line 2: expected 'search terms<TAB>City, ST'"),
        ({"states": "MT"}, "the ledger has no targets for MT: run `scrapy targets generate`"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(crawl, tmp_path, args, message):
    (tmp_path / "bad.tsv").write_text("plumbers\tDover, DE\nplumbers in Dover DE\n")
    args = {k: v.format(tmp=tmp_path) for k, v in args.items()}
    result = crawl("businesses", args=args, settings={"BUSINESSES_BASE_URL": "http://127.0.0.1:9"})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.log
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_postgres_restart_mid_crawl_loses_nothing(
    sandbox_factory, tmp_path, database_url, postgres_server
):
    """The node waits for the server, keeps its targets, and finishes the job itself."""
    sb = sandbox_factory(["businesses"], knobs=slow_site_knobs())
    truth = sb.truth("businesses")
    env = {"DATABASE_URL": database_url}
    total = generate(env, tmp_path)
    node = start_node("first", sb, env, tmp_path / "first", {"BUSINESSES_TARGETS_IN_FLIGHT": 4})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and node.poll() is None:
        if sum(r["status"] == "done" for r in ledger_rows(env)) >= 3:
            break
        time.sleep(0.2)
    postgres_server.restart()
    assert node.wait(240) == 0, (tmp_path / "first" / "log.txt").read_text()[-3000:]
    log = (tmp_path / "first" / "log.txt").read_text()
    assert "Traceback" not in log
    stats = json.loads((tmp_path / "first" / "stats.json").read_text())
    assert stats.get("businesses/store_retries", 0) + stats.get("businesses/ledger_errors", 0)
    rows = ledger_rows(env)
    assert len(rows) == total
    assert {r["status"] for r in rows} == {"done"}
    assert {r[0] for r in stored_businesses(database_url)} == set(truth["businesses"])
