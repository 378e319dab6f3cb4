"""Crawls through local forward proxies, some dead, some refusing (403/429), some serving
block pages or nothing, one slow: every request goes through a proxy (the proxies' own
logs against the site's count), bans rest and recover, no page is lost, no credential
is printed, and the site sees the per-site concurrency whatever the number of proxies."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import redis

from crawlers.proxies.proxylist import parse_line
from sandbox.proxy import ProxyFarm

pytestmark = pytest.mark.integration

PASSWORDS = ("pw-alice-7f3a91", "pw-bob-55e0c2")
FAST = {
    "SPIDER_MODULES": "tests.spiders.proxied_spider",
    "PROXY_BAN_THRESHOLD": 2,
    "PROXY_REST_SECONDS": 1.5,
    "PROXY_REST_MAX_SECONDS": 3,
    "PROXY_HEALTH_REFRESH_SECONDS": 0.5,
    "ROTATING_PROXY_PAGE_RETRY_TIMES": 10,
    "ROTATING_PROXY_LOGSTATS_INTERVAL": 5,
    "DOWNLOAD_TIMEOUT": 15,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "AUTOTHROTTLE_ENABLED": False,
    "RETRY_TIMES": 1,
    "RETRY_BACKOFF_BASE": 0.05,
}


@pytest.fixture
def farm():
    proxies = ProxyFarm().start()
    yield proxies
    proxies.stop()


def add_good(farm: ProxyFarm):
    return [
        farm.add("ok", username="alice", password=PASSWORDS[0]),
        farm.add("ok", username="bob", password=PASSWORDS[1]),
    ]


def forwarded_total(farm: ProxyFarm) -> int:
    return sum(len(p.forwarded()) for p in farm.proxies)


def assert_no_credentials(result, workdir: Path) -> None:
    """Not in the log, the stats, the items, nor any file the crawl wrote (reports)."""
    texts = [result.log, json.dumps(result.stats), json.dumps(result.items)]
    texts += [p.read_text(errors="replace") for p in workdir.rglob("*") if p.is_file()]
    for password in PASSWORDS:
        assert not any(password in text for text in texts)


def assert_health_counts(stats: dict, total: int) -> None:
    counts = [stats.get(f"proxies/{name}", 0) for name in ("alive", "banned", "resting")]
    assert stats["proxies/total"] == total
    assert sum(counts) == total


def pages_of(result) -> Counter:
    return Counter(item["page"] for item in result.items)


def test_plain_crawl_through_good_bad_and_slow_proxies(sandbox_factory, farm, crawl, tmp_path):
    sb = sandbox_factory(["probe"])
    good = add_good(farm)
    slow = farm.add("slow", delay=1.0)
    bad = [farm.add(mode) for mode in ("dead", "403", "429", "captcha", "empty")]
    proxy_list = farm.write_list(tmp_path / "proxies.txt")
    workdir = tmp_path / "crawl"
    result = crawl(
        "proxied",
        workdir=workdir,
        args={"base_url": sb.url("probe"), "pages": 30},
        settings={**FAST, "PROXY_LIST": str(proxy_list)},
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.log
    # No work lost, none done twice; the site's own 404 and 500 reached the spider.
    expected = {str(i) for i in range(30)} | {"site-404", "site-500"}
    assert pages_of(result) == Counter(expected)
    statuses = {item["page"]: item["status"] for item in result.items}
    assert (statuses["site-404"], statuses["site-500"]) == (404, 500)
    assert result.stats["progress/done"] == len(expected)
    # Every request the site served came through one of the proxies.
    assert sb.stats("probe")["requests"] == forwarded_total(farm) > 0
    assert all(p.forwarded() for p in [*good, slow])
    assert not any(p.forwarded() for p in bad)
    # What bans look like was told apart from the site's errors.
    stats = result.stats
    assert stats["bans/status/403"] >= 2 and stats["bans/status/429"] >= 2
    assert stats["bans/status/200"] >= 4  # captcha pages and empty pages
    assert stats["bans/error/scrapy.exceptions.DownloadConnectionRefusedError"] >= 2
    assert not any(key.startswith(("bans/status/404", "bans/status/500")) for key in stats)
    assert stats["proxies/rests"] >= len(bad)
    assert_health_counts(stats, total=8)
    # Pacing is per site: never more in flight to it than CONCURRENT_REQUESTS_PER_DOMAIN.
    site = sb.url("probe").removeprefix("http://")
    assert 1 <= farm.max_in_flight[site] <= FAST["CONCURRENT_REQUESTS_PER_DOMAIN"]
    assert_no_credentials(result, workdir)


def test_when_every_proxy_rests_after_pages_got_through_the_crawl_waits_then_goes_on(
    sandbox_factory, farm, crawl, tmp_path
):
    sb = sandbox_factory(["probe"])
    # Each serves one page, then refuses two requests: both rest at once, then recover.
    proxies = [farm.add("ok", serve_first=1, ban_first=2) for _ in range(2)]
    proxy_list = farm.write_list(tmp_path / "proxies.txt")
    result = crawl(
        "proxied",
        args={"base_url": sb.url("probe"), "pages": 8, "site_errors": 0},
        # A request takes its proxy as it enters the downloader: with two at a time, none
        # holds a proxy from before the rests when the proxies come back.
        settings={**FAST, "PROXY_LIST": str(proxy_list), "CONCURRENT_REQUESTS": 2},
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert pages_of(result) == Counter(str(i) for i in range(8))
    assert "All 2 proxies are resting: the crawl waits" in result.log
    assert "the crawl goes on" in result.log
    stats = result.stats
    assert stats["proxies/waits"] >= 1 and stats["proxies/wait_seconds"] > 0
    assert stats["proxies/rests"] >= 2 and stats["proxies/returned"] >= 2
    assert stats["proxies/alive"] == 2  # recovered: their later answers were good
    for proxy in proxies:
        outcomes = [entry.outcome for entry in proxy.log()]
        assert outcomes[:3] == ["forwarded", "answered-403", "answered-403"]
        assert set(outcomes[3:]) == {"forwarded"}
    assert sb.stats("probe")["requests"] == forwarded_total(farm)


@pytest.mark.parametrize("shared", [False, True], ids=["one-node", "redis"])
def test_every_proxy_resting_before_any_page_got_through_is_an_error(
    sandbox_factory, farm, crawl, tmp_path, request, shared
):
    """The issue's list: one proxy dead, the others refusing (for as long as a crawl
    would care): an error at once, not a rest's length of idling at 0 pages/s."""
    sb = sandbox_factory(["probe"])
    farm.add("dead")
    farm.add("ok", username="alice", password=PASSWORDS[0], ban_first=1000)
    farm.add("403", username="bob", password=PASSWORDS[1])
    proxy_list = farm.write_list(tmp_path / "proxies.txt")
    settings = {**FAST, "PROXY_LIST": str(proxy_list), "PROXY_REST_SECONDS": 3600}
    if shared:
        settings |= {"REDIS_URL": request.getfixturevalue("redis_url"), "CRAWL_JOB": "dead-list"}
    workdir = tmp_path / "crawl"
    # Without the check the crawl idles for PROXY_REST_SECONDS and the timeout fails it.
    result = crawl(
        "proxied",
        workdir=workdir,
        args={"base_url": sb.url("probe"), "pages": 6, "site_errors": 0},
        settings=settings,
        timeout=180,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: proxies: all 3 proxies of {proxy_list} are resting and no page has got "
        "through any of them (2 answering 403, 1 unreachable): check the list (addresses, "
        "credentials) and whether the site refuses them; once pages get through, a crawl "
        "with every proxy resting waits instead"
    ]
    assert "Traceback" not in result.log
    assert "All 3 proxies are resting: the crawl waits" not in result.log
    assert sb.stats("probe").get("requests", 0) == 0
    assert result.items == []
    assert result.stats["finish_reason"] == "proxies_unusable"
    assert_no_credentials(result, workdir)


def test_browser_crawl_through_a_context_per_proxy(
    sandbox_factory, farm, crawl, chromium, tmp_path
):
    sb = sandbox_factory(["probe"])
    good = add_good(farm)
    dead, refusing = farm.add("dead"), farm.add("403")
    proxy_list = farm.write_list(tmp_path / "proxies.txt")
    workdir = tmp_path / "crawl"
    result = crawl(
        "proxied",
        workdir=workdir,
        args={
            "base_url": sb.url("probe"),
            "pages": 5,
            "browser": 1,
            "session": 3,
            "site_errors": 0,
        },
        # One context slot fewer than the proxies and the session need: the session's
        # context is opened by closing an idle proxy context.
        settings={**FAST, "PROXY_LIST": str(proxy_list), "PLAYWRIGHT_MAX_CONTEXTS": 4},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = {str(i) for i in range(5)} | {f"session-{i}" for i in range(3)}
    assert pages_of(result) == Counter(expected)
    assert {item["text"] for item in result.items} == {"rendered 42"}
    # Chromium went through the proxies for every page (and its favicon requests).
    assert sb.stats("probe")["requests"] == forwarded_total(farm) > 0
    assert not dead.forwarded() and not refusing.forwarded()
    stats = result.stats
    assert stats["bans/error/playwright._impl._errors.Error"] >= 1  # ERR_PROXY_CONNECTION_FAILED
    assert stats["bans/status/403"] >= 1
    assert stats["playwright/context_count/max_concurrent"] <= 4
    assert stats["proxies/contexts_closed"] >= 1
    # The named session context stayed with one proxy.
    carriers = [p for p in good if any("session=" in e.url for e in p.forwarded())]
    assert len(carriers) == 1
    assert_health_counts(stats, total=4)
    assert_no_credentials(result, workdir)


def test_a_malformed_list_is_a_one_line_error(sandbox_factory, crawl, tmp_path):
    sb = sandbox_factory(["probe"])
    proxy_list = tmp_path / "proxies.txt"
    proxy_list.write_text(f"127.0.0.1:9\nhost:80:alice:{PASSWORDS[0]}:\n127.0.0.1:{PASSWORDS[1]}\n")
    result = crawl(
        "proxied",
        args={"base_url": sb.url("probe"), "pages": 1},
        settings={**FAST, "PROXY_LIST": str(proxy_list)},
        timeout=120,
    )
    assert result.returncode == 2
    assert f"error: proxy list {proxy_list} line 3: not a proxy" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(password in result.log for password in PASSWORDS)
    assert sb.stats("probe").get("requests", 0) == 0


def test_health_is_kept_in_redis_for_the_job(sandbox_factory, farm, crawl, redis_url, tmp_path):
    sb = sandbox_factory(["probe"])
    farm.add("ok")
    refusing = farm.add("403")
    proxy_list = farm.write_list(tmp_path / "proxies.txt")
    result = crawl(
        "proxied",
        args={"base_url": sb.url("probe"), "pages": 6, "site_errors": 0},
        settings={
            **FAST,
            "PROXY_LIST": str(proxy_list),
            "REDIS_URL": redis_url,
            "CRAWL_JOB": "proxy-job",
            "PROXY_REST_SECONDS": 600,
        },
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert pages_of(result) == Counter(str(i) for i in range(6))
    assert "health shared through Redis" in result.log
    client = redis.Redis.from_url(redis_url)
    fields = client.hgetall("crawlers:proxy-job:proxy-health")
    refusing_id = parse_line(refusing.line).id
    _failures, rests, until = fields[refusing_id.encode()].decode().split()
    assert int(rests) >= 1 and float(until) > 0
    # The good proxy needs no entry; the run's pages got through (for nodes that join).
    proxies = {k for k in fields if not k.startswith(b"served ")}
    assert proxies == {refusing_id.encode()}
    assert len(fields) == 2
