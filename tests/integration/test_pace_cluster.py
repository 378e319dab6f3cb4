"""A site's pace shared by three `scrapy crawl` nodes (CLUSTER_SITE_CONCURRENCY,
CLUSTER_SITE_RATE), against the sandbox catalog recording every request in flight."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.helpers import start_node

pytestmark = pytest.mark.integration

SITE = "127.0.0.1"
NODE_SETTINGS = {
    "SPIDER_MODULES": "tests.spiders.catalog_spider",
    "CONCURRENT_REQUESTS": 8,  # per node: 24 at once without the shared pace
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "DOWNLOAD_TIMEOUT": 15,
    "CLUSTER_POLL_INTERVAL": 0.5,
    "CLUSTER_IDLE_GRACE": 2,
    "CLUSTER_LEASE_SECONDS": 5,
    "CLUSTER_SITE_LEASE_SECONDS": 3,
    "LOGSTATS_INTERVAL": 0,
    "PROGRESS_INTERVAL": 1,
}


@pytest.fixture
def site(sandbox_factory):
    def make(size: int, latency_ms: float = 300, **options):
        knobs = {"size": size, "latency_ms": latency_ms, "record": True, **options}
        sb = sandbox_factory(["catalog"], knobs={"catalog": knobs})
        return sb, sb.site("catalog")

    return make


def start_nodes(sb, tmp_path, settings: dict, names=("n0", "n1", "n2"), start_pages=1):
    nodes = {}
    for name in names:
        nodes[name] = start_node(
            "catalog",
            name,
            tmp_path / name,
            args={"base_url": sb.url("catalog"), "start_pages": start_pages},
            settings={**NODE_SETTINGS, "USER_AGENT": f"pace-test {name}", **settings},
        )
    return nodes


def finish(nodes: dict, tmp_path, timeout: float = 240) -> dict[str, int]:
    codes = {}
    for name, proc in nodes.items():
        try:
            codes[name] = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"node {name} did not finish:\n{log(tmp_path, name)[-3000:]}")
    return codes


def log(tmp_path, name: str) -> str:
    return (tmp_path / name / "log.txt").read_text(errors="replace")


def stats(tmp_path, name: str) -> dict:
    return json.loads((tmp_path / name / "stats.json").read_text())


def wait_for(condition, nodes: dict, tmp_path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if all(p.poll() is not None for p in nodes.values()):
            pytest.fail(
                "nodes exited early:\n" + "\n".join(log(tmp_path, n)[-2000:] for n in nodes)
            )
        time.sleep(0.1)
    pytest.fail("condition not reached in time")


def now_on(site) -> float:
    """The site's clock (the sandbox runs in this process): seconds since it started."""
    return time.monotonic() - site.started


def in_flight_max(arrivals, since: float = 0.0, until: float = float("inf"), agents=None) -> int:
    return max(
        (
            n
            for t, agent, n, _ in arrivals
            if since <= t < until and (agents is None or any(a in agent for a in agents))
        ),
        default=0,
    )


def test_three_nodes_stay_within_the_shared_limit_and_a_dead_nodes_share_comes_back(
    site, redis_url, tmp_path
):
    sb, catalog = site(240)
    truth = sb.truth("catalog")
    settings = {"REDIS_URL": redis_url, "CRAWL_JOB": "pace-kill", "CLUSTER_SITE_CONCURRENCY": 6}
    nodes = start_nodes(sb, tmp_path, settings)
    victim = nodes["n0"]
    # Every node at work: each has had requests answered.
    wait_for(
        lambda: (
            all(any(name in agent for _, agent, _, _ in catalog.arrivals) for name in nodes)
            and len(catalog.arrivals) >= 60
        ),
        nodes,
        tmp_path,
    )
    killed_at = now_on(catalog)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL
    codes = finish({n: p for n, p in nodes.items() if n != "n0"}, tmp_path)
    assert codes == {"n1": 0, "n2": 0}, "\n".join(log(tmp_path, n)[-3000:] for n in codes)

    arrivals = list(catalog.arrivals)
    # Never more than the shared limit at once, over all nodes, before and after the kill.
    assert catalog.stats["in_flight_max"] <= 6
    # And the limit was used: all three together reached it.
    assert in_flight_max(arrivals, until=killed_at) == 6
    # Once the victim's lease ran out (3 s), the two survivors alone reached the whole
    # limit: its share came back to them (each had a third of it before).
    after = killed_at + 3 + 2
    assert any(t >= after for t, *_ in arrivals), "the crawl ended before the share came back"
    assert in_flight_max(arrivals, since=after, agents=("n1", "n2")) == 6
    # The crawl is whole: every item fetched.
    assert all(catalog.stats.get(f"item:{i['id']}", 0) >= 1 for i in truth["items"])
    for name in ("n1", "n2"):
        s = stats(tmp_path, name)
        assert s["pace/ceiling"] == 6
        assert s[f"pace/{SITE}/limit"] == 6
        assert "pace 127.0.0.1 " in log(tmp_path, name)
        assert "Traceback" not in log(tmp_path, name)


def test_a_429_burst_seen_by_one_node_slows_every_node(site, redis_url, tmp_path):
    sb, catalog = site(300, retry_after=3)
    settings = {"REDIS_URL": redis_url, "CRAWL_JOB": "pace-429", "CLUSTER_SITE_CONCURRENCY": 6}
    nodes = start_nodes(sb, tmp_path, settings)
    wait_for(lambda: len(catalog.arrivals) >= 60, nodes, tmp_path)
    # The next three requests of n0, and only n0's, are answered 429 with Retry-After 3 s.
    sb.set_knobs("catalog", burst_agent="n0", burst_429=3)
    wait_for(lambda: catalog.stats.get("burst_429", 0) >= 1, nodes, tmp_path)
    codes = finish(nodes, tmp_path)
    assert codes == {"n0": 0, "n1": 0, "n2": 0}, "\n".join(log(tmp_path, n)[-3000:] for n in nodes)

    arrivals = list(catalog.arrivals)
    first_429 = min(t for t, _, _, status in arrivals if status == 429)
    others = [t for t, agent, _, _ in arrivals if "n0" not in agent]

    def count(since: float, until: float) -> int:
        return sum(since <= t < until for t in others)

    # The other nodes never got a 429, yet they held off the site with n0: within the
    # Retry-After they sent a fraction of what they sent just before it.
    before, during = count(first_429 - 2, first_429), count(first_429 + 1, first_429 + 3)
    assert before >= 8
    assert during * 4 <= before, (before, during)
    for name in ("n1", "n2"):
        s = stats(tmp_path, name)
        assert s.get("downloader/response_status_count/429", 0) == 0
        assert s.get(f"pace/{SITE}/held_off", 0) >= 1
        assert s.get(f"pace/{SITE}/slowdowns", 0) >= 1
    assert stats(tmp_path, "n0")[f"pace/{SITE}/responses_429"] >= 1
    # Good answers let it grow back: the limit is whole again, and used, at the end.
    assert catalog.stats["in_flight_max"] <= 6
    assert in_flight_max(arrivals, since=first_429 + 6) == 6
    assert all(stats(tmp_path, n)[f"pace/{SITE}/limit"] == 6 for n in nodes)


def test_three_nodes_send_no_more_than_the_shared_rate(site, redis_url, tmp_path):
    sb, catalog = site(70, latency_ms=50)
    rate = 8
    settings = {"REDIS_URL": redis_url, "CRAWL_JOB": "pace-rate", "CLUSTER_SITE_RATE": rate}
    nodes = start_nodes(sb, tmp_path, settings)
    codes = finish(nodes, tmp_path)
    assert codes == {"n0": 0, "n1": 0, "n2": 0}, "\n".join(log(tmp_path, n)[-3000:] for n in nodes)

    times = sorted(t for t, *_ in catalog.arrivals)
    assert len(times) >= 70
    # Any two seconds: at most twice the rate (one more for a node's clock being read a
    # moment apart from the others').
    busiest = max(sum(t <= u < t + 2 for u in times) for t in times)
    assert busiest <= 2 * rate + 1, busiest
    assert busiest >= rate  # and the rate was used
    assert len({agent for _, agent, _, _ in catalog.arrivals}) == 3
    assert all(stats(tmp_path, n)["pace/rate_ceiling"] == rate for n in nodes)


def test_one_node_without_redis_keeps_the_same_limit(site, tmp_path):
    sb, catalog = site(60)
    nodes = start_nodes(sb, tmp_path, {"CLUSTER_SITE_CONCURRENCY": 3}, names=("solo",))
    assert finish(nodes, tmp_path) == {"solo": 0}, log(tmp_path, "solo")[-3000:]
    assert catalog.stats["in_flight_max"] == 3
    s = stats(tmp_path, "solo")
    assert s[f"pace/{SITE}/limit"] == 3 and s[f"pace/{SITE}/nodes"] == 1
    assert "cluster/job" not in s


@pytest.mark.parametrize(
    ("setting", "value", "line"),
    [
        ("CLUSTER_SITE_RATE", "-1", "error: CLUSTER_SITE_RATE must be 0 or more"),
        (
            "CLUSTER_SITE_SYNC_INTERVAL",
            "0",
            "error: CLUSTER_SITE_SYNC_INTERVAL must be more than 0",
        ),
    ],
)
def test_a_bad_pace_setting_is_one_error_line(crawl, setting, value, line):
    result = crawl(
        "catalog",
        args={"base_url": "http://127.0.0.1:9"},
        settings={"SPIDER_MODULES": "tests.spiders.catalog_spider", setting: value},
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == line
    assert "Traceback" not in result.log
