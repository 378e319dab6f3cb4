"""The emails spider against the sandbox: recall and precision with faults and block pages
on, a blocked site reported, dedupe across sites and nodes, the target, PostgreSQL storage,
traps, and bad input."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from crawlers.env import PROJECT_ROOT
from sandbox.crawl import crawl_command

pytestmark = pytest.mark.integration

FAULTS = {
    "fault_429": 0.05,
    "fault_5xx": 0.05,
    "fault_reset": 0.03,
    "fault_hang": 0.02,
    "hang_seconds": 4,
    "retry_after": 0.2,
    "latency_ms": 5,
    "jitter_ms": 5,
}
# Fast retries, so faults cost seconds; RETRY_TIMES high enough that no page is given up
# (but the start page of a blocked site, every time).
FAST = {
    "DOWNLOAD_TIMEOUT": 2,
    "RETRY_BACKOFF_BASE": 0.1,
    "RETRY_BACKOFF_MAX": 1,
    "RETRY_TIMES": 12,
    "LOG_LEVEL": "INFO",
}
# For tests that count pages exactly: no block pages (on by default in the sandbox).
NO_BLOCKS = {"blocked_sites": 0, "block_200": 0, "block_403": 0}


def start(sandbox_factory, size=6, faults=True, blocks=True, **options):
    knobs = {"size": size, **(FAULTS if faults else {}), **options}
    if not blocks:
        knobs["options"] = {**NO_BLOCKS, **knobs.get("options", {})}
    sb = sandbox_factory(["emails"], knobs={"emails": knobs})
    site = sb.site("emails")
    env = {"http_proxy": sb.url("emails"), "no_proxy": ""}
    return sb, site, env


def test_every_address_once_with_faults_on(sandbox_factory, crawl):
    sb, site, env = start(sandbox_factory, size=8)
    result = crawl(
        "emails", args={"urls": ",".join(site.seeds())}, settings=FAST, env=env, timeout=400
    )
    assert result.returncode == 0, result.stderr[-3000:]
    score = site.score(result.items)
    assert score["recall"] == 1.0, score["missed"]
    assert score["precision"] == 1.0, score["extra"]
    assert score["duplicates"] == 0  # shared addresses appear on several sites, kept once
    assert score["wrong_site"] == 0
    served = sb.stats("emails")
    assert sum(v for k, v in served.items() if k.startswith("fault_")) > 0
    for item in result.items:
        assert urlsplit(item["page"]).hostname == item["site"]
        assert datetime.fromisoformat(item["first_seen"]).tzinfo is not None
    assert result.stats["progress/done"] == len(result.items)
    # The one blocked site (the sandbox's default) is the one page given up on (its last
    # try may have met a fault rather than the block page: the reason is the last answer's).
    (blocked,) = site.truth()["blocked_sites"]
    assert result.stats["emails/pages_failed"] == 1
    assert result.stats["emails/sites_failed"] == 1
    assert result.stats["pages/rejected/blocked"] > 0
    assert f"site {blocked} gave nothing" in result.stderr
    assert not [i for i in result.items if i["site"] == blocked]
    # The rarer forms of the real web are in the truth, so recall 1.0 covers them.
    assert {a for a in site.special_addresses(0)} <= {i["email"] for i in result.items}


def test_block_pages_are_retried_and_blocked_sites_are_reported(sandbox_factory, crawl):
    """Block and challenge pages with status 200 and 403 on some pages of every site, and
    two sites that answer nothing else: every block page served is recognised (none is
    read as a page without addresses), the pages behind them are fetched again, and the
    blocked sites are failed units of the crawl, in the stats and in the report."""
    blocks = {"block_200": 0.1, "block_403": 0.1, "blocked_sites": 2}
    sb, site, env = start(sandbox_factory, size=10, faults=False, options=blocks)
    settings = {**FAST, "RETRY_TIMES": 8, "RETRY_BACKOFF_BASE": 0.05, "RETRY_BACKOFF_MAX": 0.5}
    result = crawl("emails", args={"urls": ",".join(site.seeds())}, settings=settings, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    score = site.score(result.items)
    assert (score["recall"], score["precision"], score["wrong_site"]) == (1.0, 1.0, 0), score
    served = sb.stats("emails")
    assert served["block_200"] > 0 and served["block_403"] > 0
    # Each blocked site: its start page, tried 1 + RETRY_TIMES times, then given up on.
    assert served["blocked_site_pages"] == 2 * 9
    stats = result.stats
    assert stats["pages/rejected/blocked"] == (
        served["block_200"] + served["block_403"] + served["blocked_site_pages"]
    )
    assert stats["emails/pages_failed"] == stats["emails/pages_failed/blocked"] == 2
    assert stats["emails/sites_failed"] == stats["emails/sites_failed/blocked"] == 2
    assert stats["progress/failed/site_blocked"] == 2
    blocked = site.truth()["blocked_sites"]
    assert not [i for i in result.items if i["site"] in blocked]
    for host in blocked:
        assert f"site {host} gave nothing: its start page http://{host}/ failed (blocked)" in (
            result.stderr
        )
    report = json.loads(Path(stats["report_file"]).read_text(encoding="utf-8"))
    assert report["failures"] == {"site_blocked": 2}
    assert report["units"]["failed"] == 2


def test_traps_do_not_eat_the_budget(sandbox_factory, crawl):
    sb, site, env = start(sandbox_factory, size=3, faults=False)
    result = crawl(
        "emails",
        args={"urls": ",".join(site.seeds())},
        settings={**FAST, "EMAILS_MAX_PAGES_PER_SITE": 30, "EMAILS_MAX_DEPTH": 6},
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert site.score(result.items)["recall"] == 1.0
    served = sb.stats("emails")
    # Per site: /news and 5 query variants of it, /shop, /docs/ nested twice; no calendar.
    assert served["trap_pages"] <= 3 * 10
    assert result.stats["emails/links_trap"] > 0
    assert served["pages"] <= 3 * 30


def test_page_cap_takes_contact_pages_first_and_depth_cap_holds(sandbox_factory, crawl):
    sb, site, env = start(sandbox_factory, size=3, faults=False, blocks=False)
    capped = crawl(
        "emails",
        args={"urls": ",".join(site.seeds())},
        settings={**FAST, "EMAILS_MAX_PAGES_PER_SITE": 4},
        env=env,
    )
    assert capped.returncode == 0, capped.stderr[-3000:]
    assert sb.stats("emails")["pages"] == 3 * 4
    found = {i["email"] for i in capped.items}
    for i in range(3):
        # The home page links blog and traps before contact; contact-like pages win.
        assert set(site.role_addresses(i)) <= found
        assert set(site.founder_addresses(i)) <= found
        assert not set(site.imprint_addresses(i)) & found  # past the cap
    shallow = crawl(
        "emails",
        args={"urls": ",".join(site.seeds())},
        settings={**FAST, "EMAILS_MAX_DEPTH": 1},
        env=env,
    )
    assert shallow.returncode == 0, shallow.stderr[-3000:]
    pages = {i["page"].split("/", 3)[3] for i in shallow.items}
    assert "team/2" not in pages  # two links deep
    assert {"contact", "team", "imprint"} <= pages


def test_target_stops_after_exactly_n_addresses(sandbox_factory, crawl):
    _, site, env = start(sandbox_factory, size=6, faults=False, blocks=False)
    result = crawl(
        "emails",
        args={"urls": ",".join(site.seeds()), "target": 25},
        settings=FAST,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.items) == 25
    assert len({i["email"] for i in result.items}) == 25
    assert result.stats["finish_reason"] == "target_reached"
    assert result.stats["progress/total"] == 25
    assert result.stats["progress/done"] == 25
    truth = set(site.all_addresses())
    assert all(i["email"] in truth for i in result.items)


def test_postgres_in_batches_and_idempotent(sandbox_factory, crawl, database_url, tmp_path):
    _, site, env = start(sandbox_factory, size=6)
    seeds = tmp_path / "sites.txt"
    seeds.write_text("# sandbox sites\n" + "\n".join(site.seeds()) + "\n")
    settings = {**FAST, "EMAILS_DB_BATCH": 40, "FEEDS": {}}
    env = {**env, "DATABASE_URL": database_url}
    first = crawl("emails", args={"urls_file": str(seeds)}, settings=settings, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.items == []  # no feed: PostgreSQL only
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT email, site, page, first_seen FROM emails").fetchall()
    truth = set(site.all_addresses())
    assert {r[0] for r in rows} == truth
    assert len(rows) == len(truth)
    assert first.stats["progress/done"] == len(truth)
    assert first.stats["emails/db_batches"] >= len(truth) // 40
    assert all(site.score([{"email": r[0], "site": r[1]}])["wrong_site"] == 0 for r in rows)
    # A second run into the same table adds nothing and keeps the first sightings.
    second = crawl("emails", args={"urls_file": str(seeds)}, settings=settings, env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stats["emails/db_rows_inserted"] == 0
    with psycopg.connect(database_url) as conn:
        again = conn.execute("SELECT email, site, page, first_seen FROM emails").fetchall()
    assert sorted(again) == sorted(rows)


def test_database_lost_mid_crawl_keeps_every_address(sandbox_factory, tmp_path):
    """PostgreSQL stops while the crawl runs: what was not stored lands in a file, the
    crawl ends with one line and exit 1, and table + file hold every address found."""
    from sandbox.services import PostgresServer

    _, site, env = start(sandbox_factory, size=10, faults=False, latency_ms=150)
    server = PostgresServer().start()
    try:
        url = server.create_database("lost")
        settings = {**FAST, "EMAILS_DB_BATCH": 20, "EMAILS_DB_FLUSH_SECONDS": 0.2, "FEEDS": {}}
        proc = node(
            {"urls": ",".join(site.seeds())},
            settings,
            {**env, "DATABASE_URL": url},
            tmp_path / "node",
        )
        stored = 0
        deadline = time.monotonic() + 120
        while stored == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            with contextlib.suppress(psycopg.Error), psycopg.connect(url) as conn:
                stored = conn.execute("SELECT count(*) FROM emails").fetchone()[0]
        assert stored > 0
        # "fast": connections are cut, but what the server acknowledged stays (this test
        # server runs with synchronous_commit off, so "immediate" would lose commits).
        server._stop_server("fast")
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err[-3000:]
        assert "error: cannot write to PostgreSQL" in err
        assert server.password not in err
        assert "Traceback" not in err.split("error: ")[-1]
        unsaved = list((tmp_path / "node/data/emails").glob("unsaved-*.jsonl"))
        assert len(unsaved) == 1
        assert str(unsaved[0]) in err
        kept = {i["email"] for i in read_items(unsaved[0])}
        server._start_server()
        with psycopg.connect(url) as conn:
            in_table = {r[0] for r in conn.execute("SELECT email FROM emails")}
        stats = json.loads((tmp_path / "node/stats.json").read_text())
        assert len(in_table | kept) == stats["emails/found"]
        assert (in_table | kept) <= set(site.all_addresses())
    finally:
        server.stop()


def node(spider_args, settings, env, workdir):
    workdir.mkdir(parents=True, exist_ok=True)
    all_settings = {
        "STATS_FILE": str(workdir / "stats.json"),
        "FEEDS": {str(workdir / "items.jsonl"): {"format": "jsonlines"}},
        **settings,
    }
    return subprocess.Popen(
        crawl_command("emails", spider_args, all_settings),
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATA_DIR": str(workdir / "data"), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(nodes, timeout: float = 400) -> list[tuple[int, str]]:
    """Wait for every node: (exit code, stderr) each. Any still running when this ends
    early is killed, rather than left to crawl from the next test's Redis."""
    results = []
    try:
        for proc in nodes:
            _, err = proc.communicate(timeout=timeout)
            results.append((proc.returncode, err))
    finally:
        for proc in nodes:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def read_items(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def test_two_nodes_share_seeds_and_dedupe_through_redis(sandbox_factory, redis_url, tmp_path):
    _, site, env = start(sandbox_factory, size=8)
    client = redis.Redis.from_url(redis_url)
    client.rpush("emails:start_urls", *site.seeds())
    env = {**env, "REDIS_URL": redis_url}
    settings = {**FAST, "CLUSTER_IDLE_GRACE": 2}
    nodes = [node({"target": 0}, settings, env, tmp_path / f"node{n}") for n in (1, 2)]
    for code, err in finish(nodes):
        assert code == 0, err[-3000:]
    items = read_items(tmp_path / "node1/items.jsonl") + read_items(tmp_path / "node2/items.jsonl")
    score = site.score(items)
    assert score["recall"] == 1.0, score["missed"]
    assert score["precision"] == 1.0, score["extra"]
    assert score["duplicates"] == 0  # across both nodes
    assert client.llen("emails:start_urls") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "no start URLs"),
        ({"urls": "http://exa mple.com"}, "not a URL or domain"),
        ({"urls": "ftp://example.com"}, "not a URL or domain"),
        ({"urls": "example.com", "target": "lots"}, "target must be a whole number"),
        ({"urls_file": "/nonexistent/sites.txt"}, "cannot read urls_file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(crawl, args, message):
    result = crawl("emails", args=args, timeout=120)
    assert result.returncode == 2
    assert f"error: {message}" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(crawl):
    url = "postgresql://bob:s3cret-pw@127.0.0.1:9/emails"
    result = crawl("emails", args={"urls": "example.com"}, env={"DATABASE_URL": url})
    assert result.returncode == 2
    assert "error: cannot reach PostgreSQL at postgresql://bob:***@127.0.0.1:9" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_python_m_scrapy_list_names_the_spider():
    out = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert "emails" in out.stdout.split()
