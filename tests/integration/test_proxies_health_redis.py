"""Proxy health shared by the nodes of a job through Redis: the same rule as in one process."""

import logging

import pytest
import redis

from crawlers.proxies.health import ALIVE, BANNED, RESTING, LocalHealth, RedisHealth
from sandbox.services import free_port
from tests.redis_clients import redis_client

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

KEY = "crawlers:job-1:proxy-health"


class Clock:
    def __init__(self):
        self.now = 2_000_000.0

    def __call__(self):
        return self.now


def node(client, clock, key=KEY):
    return RedisHealth(
        ["a", "b"], client, key, threshold=2, rest_base=60, rest_max=100, clock=clock
    )


@pytest.fixture
def client(redis_url):
    conn = redis_client(redis_url)
    yield conn
    conn.close()


def test_bans_from_two_nodes_add_up_and_both_see_the_rest(client):
    clock = Clock()
    one, two = node(client, clock), node(client, clock)
    assert one.ban("a") is None
    assert two.ban("a") == 60  # the second ban in a row, from another node
    one.refresh()
    assert one.status("a") == RESTING and one.usable() == ["b"]
    assert one.next_return() == 60
    clock.now += 60
    assert one.status("a") == BANNED  # back on probation, for every node
    assert one.ban("a") == 100  # 120 capped at 100
    two.refresh()
    assert two.status("a") == RESTING


def test_a_good_answer_on_one_node_clears_it_for_all(client):
    clock = Clock()
    one, two = node(client, clock), node(client, clock)
    one.ban("b")
    two.refresh()
    assert two.status("b") == BANNED
    two.good("b")
    one.refresh()
    assert one.status("b") == ALIVE
    assert client.hgetall(KEY) == {}


def test_late_answers_during_a_rest_change_nothing(client):
    clock = Clock()
    one, two = node(client, clock), node(client, clock)
    one.ban("a")
    one.ban("a")
    clock.now += 10
    two.refresh()
    two.good("a")
    assert two.ban("a") is None
    one.refresh()
    assert one.status("a") == RESTING and one.next_return() == 50


def test_jobs_keep_their_own_view(client):
    clock = Clock()
    one, other_job = node(client, clock), node(client, clock, key="crawlers:job-2:proxy-health")
    one.ban("a")
    one.ban("a")
    other_job.refresh()
    assert other_job.status("a") == ALIVE


def test_same_rule_as_a_single_process(client):
    clock = Clock()
    shared = node(client, clock, key="crawlers:same-rule:proxy-health")
    local = LocalHealth(["a", "b"], threshold=2, rest_base=60, rest_max=100, clock=clock)
    steps = ["ban", "ban", "+30", "ban", "+31", "ban", "+100", "ban", "good", "+1000", "ban"]
    for step in steps:
        if step.startswith("+"):
            clock.now += float(step[1:])
            continue
        assert getattr(shared, step)("a") == getattr(local, step)("a")
        assert shared.states["a"] == local.states["a"]


def test_an_unreachable_redis_leaves_the_node_its_own_view(caplog):
    down = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    clock = Clock()
    health = node(down, clock)
    with caplog.at_level(logging.WARNING):
        assert health.ban("a") is None
        assert health.ban("a") == 60
        health.refresh()
    assert health.status("a") == RESTING
    warnings = [r.message for r in caplog.records if "Redis unreachable" in r.message]
    assert len(warnings) == 1


def test_a_page_served_on_one_node_is_known_to_the_run_not_to_the_next_run(client):
    clock = Clock()
    one, two, next_run = node(client, clock), node(client, clock), node(client, clock)
    one.join_run("run-1")
    two.join_run("run-1")
    next_run.join_run("run-2")
    two.refresh()
    assert not two.served
    one.page_served()
    for other in (two, next_run):
        other.refresh()
    assert two.served
    assert not next_run.served
    # The flag is no proxy: the proxies' health reads the same as before.
    assert two.counts() == {ALIVE: 2, BANNED: 0, RESTING: 0}


def test_without_a_run_a_page_served_stays_in_the_process(client):
    clock = Clock()
    one, two = node(client, clock), node(client, clock)
    one.join_run("")
    two.join_run("")
    one.page_served()
    two.refresh()
    assert one.served and not two.served
    assert client.hgetall(KEY) == {}


def test_a_node_whose_proxies_all_rest_keeps_waiting_when_another_node_got_pages(
    client, redis_url, tmp_path
):
    """The rotation middleware's decision reads the run's flag from Redis."""
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from crawlers.middlewares.proxies import ProxyRotationMiddleware

    class Dummy(Spider):
        name = "dummy"

    path = tmp_path / "proxies.txt"
    path.write_text("a.example:1001\nb.example:1002\n")

    def make(job):
        settings = {
            "PROXY_LIST": str(path),
            "PROXY_BAN_THRESHOLD": 1,
            "REDIS_URL": redis_url,
            "CRAWL_JOB": job,
        }
        crawler = get_crawler(Dummy, settings)
        crawler.spider = Dummy()
        mw = ProxyRotationMiddleware.from_crawler(crawler)
        mw.health.join_run("run-7")
        return mw

    for job, other_node_served in (("job-served", True), ("job-unserved", False)):
        mw = make(job)
        if other_node_served:
            other = make(job)
            other.health.page_served()
        for pid in mw.proxies:
            mw.health.ban(pid)
        assert not mw.health.usable()
        assert mw._nothing_got_through() is not other_node_served
