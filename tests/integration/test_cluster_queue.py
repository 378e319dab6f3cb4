"""The leased queue's rules, on a private Redis: leases, acks, expiry, runs, seen sets."""

import time

import pytest
from scrapy.settings import Settings

from crawlers.cluster.addon import SCHEDULER, Cluster
from crawlers.cluster.queue import LeasedQueue, RunOver
from tests.redis_clients import redis_client

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


@pytest.fixture
def client(redis_url):
    conn = redis_client(redis_url)
    yield conn
    conn.close()


def node(client, name, job="job1", lease=30.0) -> LeasedQueue:
    queue = LeasedQueue(client, job, name, lease)
    queue.open()
    return queue


def test_claim_leases_and_ack_forgets(client):
    a = node(client, "a")
    assert a.push("fp1", 0, b"one")
    assert a.push("fp2", 0, b"two")
    first = a.claim()
    assert first[1] == b"one"  # FIFO within a priority
    status = a.status()
    assert (status.pending, status.leased) == (1, 1)
    a.ack([first[0]])
    second = a.claim()
    assert second[1] == b"two"
    a.ack([second[0]])
    assert a.claim() is None
    assert not a.status().pending and not a.status().leased


def test_fingerprints_are_shared_by_the_nodes_of_a_run(client):
    a, b = node(client, "a"), node(client, "b")
    assert a.run == b.run
    assert a.push("fp1", 0, b"one")
    assert not b.push("fp1", 0, b"one again")
    assert not a.see("fp1")
    assert b.see("fp-local")
    # An empty fingerprint (dont_filter) is always queued.
    assert a.push("", 0, b"x") and b.push("", 0, b"x")
    assert a.status().pending == 3


def test_higher_priority_first(client):
    a = node(client, "a")
    a.push("low", 0, b"low")
    a.push("high", -5, b"high")
    assert a.claim()[1] == b"high"


def test_expired_lease_comes_back_and_renewal_keeps_it(client):
    a = node(client, "a", lease=1.0)
    b = node(client, "b", lease=1.0)
    a.push("fp1", 0, b"kept")
    a.push("fp2", 0, b"lost")
    kept, lost = a.claim(), a.claim()
    for _ in range(8):
        time.sleep(0.2)
        a.renew([kept[0]])
    # `lost` was not renewed: another node gets it; `kept` stays with a.
    assert b.claim() == lost
    assert b.claim() is None
    assert int(client.hget(a.keys["meta"], "requeued")) == 1
    a.ack([kept[0]])
    assert b.status().leased == 1


def test_acking_a_request_taken_back_removes_it_everywhere(client):
    a = node(client, "a", lease=0.2)
    a.push("fp1", 0, b"slow")
    slow = a.claim()
    time.sleep(0.3)
    assert a.status().pending == 1  # taken back
    a.ack([slow[0]])  # ...but the slow node finished it after all
    assert a.claim() is None


def test_release_gives_leases_back_at_once(client):
    a, b = node(client, "a"), node(client, "b")
    a.push("fp1", 0, b"one")
    held = a.claim()
    a.release([held[0]])
    assert b.claim() == held


def test_nodes_still_starting_keep_the_job_busy(client):
    a, b = node(client, "a"), node(client, "b")
    assert a.status().starting == 2
    a.started()
    assert a.status().busy
    b.started()
    assert not a.status().busy


def test_dead_starting_node_does_not_hold_the_job(client):
    a = node(client, "a", lease=0.2)
    node(client, "ghost", lease=0.2)
    a.started()
    time.sleep(0.3)
    a.renew([])
    assert a.status().starting == 0


def test_a_finished_run_is_replaced_by_the_next_crawl(client):
    a = node(client, "a")
    a.push("fp1", 0, b"one")
    a.ack([a.claim()[0]])
    assert not a.mark_done()  # a is still in its start()
    a.started()
    assert a.mark_done()
    fresh = node(client, "b")
    assert fresh.run != a.run
    assert fresh.push("fp1", 0, b"one")  # a new crawl starts with no fingerprints
    with pytest.raises(RunOver) as over:
        a.claim()
    assert not over.value.lost


def test_a_run_with_work_left_is_not_marked_done(client):
    a = node(client, "a")
    a.started()
    a.push("fp1", 0, b"one")
    assert not a.mark_done()
    held = a.claim()
    assert not a.mark_done()
    a.ack([held[0]])
    assert a.mark_done()
    assert a.status().done


def test_an_unfinished_run_is_joined_not_replaced(client):
    a = node(client, "a")
    a.push("fp1", 0, b"one")
    a.leave()
    later = node(client, "b")
    assert later.run == a.run
    assert later.claim()[1] == b"one"


def test_jobs_are_kept_apart(client):
    a = node(client, "a", job="job1")
    other = node(client, "a", job="job2")
    a.push("fp1", 0, b"one")
    assert other.push("fp1", 0, b"one")
    assert other.claim()[1] == b"one"
    assert a.status().pending == 1


def test_lost_state_is_reported_as_lost(client):
    a = node(client, "a")
    client.flushall()
    with pytest.raises(RunOver) as over:
        a.push("fp1", 0, b"one")
    assert over.value.lost


def test_a_reachable_redis_switches_the_scheduler(redis_url):
    settings = Settings({"REDIS_URL": redis_url})
    Cluster().update_settings(settings)
    assert settings["SCHEDULER"] == SCHEDULER
