"""The emails spider as a cluster node: the shared address book (claims belong to the page
that made them) and the acks a node holds until PostgreSQL has committed its rows.

A node killed with rows in memory is tests/resilience/test_crashes.py (slow)."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from crawlers.cluster.queue import LeasedQueue
from crawlers.emails.addresses import RedisAddresses, Standing
from crawlers.spiders.emails import EmailsSpider
from tests.integration.test_emails import FAST, finish, node, start
from tests.redis_clients import redis_client

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


def book(redis_url: str, target: int = 0) -> RedisAddresses:
    return RedisAddresses(get_crawler(EmailsSpider, {"REDIS_URL": redis_url}), target)


PAGE_A = Request("https://a.example/team", meta={"page": "n1-1"})
PAGE_B = Request("https://a.example/contact", meta={"page": "n1-2"})


def test_an_address_belongs_to_the_page_that_claimed_it_first(redis_url):
    node_1, node_2 = book(redis_url), book(redis_url)
    assert node_1.claim(["x@a.example", "y@a.example"], PAGE_A) == ["x@a.example", "y@a.example"]
    assert node_1.claim(["y@a.example", "z@a.example"], PAGE_B) == ["z@a.example"]
    # The same page again, on another node and as a retry: its own addresses come back.
    again = PAGE_A.replace(dont_filter=True)
    assert node_2.claim(["y@a.example", "x@a.example"], again) == ["y@a.example", "x@a.example"]
    assert node_2.claim(["z@a.example", "x@a.example"], PAGE_B) == ["z@a.example"]
    assert node_2.count == 3


def test_a_second_visit_of_a_page_under_another_token_is_a_duplicate(redis_url):
    """Say /kontakt, retried (dont_filter), redirects to /contact, already crawled."""
    shared = book(redis_url)
    assert shared.claim(["a@x.com"], PAGE_B) == ["a@x.com"]
    second = Request(PAGE_B.url, meta={"page": "n2-7"}, dont_filter=True)
    assert shared.claim(["a@x.com"], second) == []


def test_the_target_is_never_passed_and_a_page_still_gets_its_own_back(redis_url):
    shared = book(redis_url, target=3)
    assert shared.claim(["a@x.com", "b@x.com"], PAGE_A) == ["a@x.com", "b@x.com"]
    assert shared.claim(["c@x.com", "d@x.com"], PAGE_B) == ["c@x.com"]
    assert shared.full
    assert shared.claim(["e@x.com", "d@x.com"], PAGE_B) == []
    assert shared.claim(["b@x.com", "a@x.com", "e@x.com"], PAGE_A) == ["b@x.com", "a@x.com"]
    assert shared.count == 3


def test_an_address_listed_twice_on_a_page_is_claimed_once(redis_url):
    shared = book(redis_url)
    assert shared.claim(["a@x.com", "a@x.com", "b@x.com"], PAGE_A) == ["a@x.com", "b@x.com"]


def test_two_nodes_writing_in_batches_ack_everything_and_finish(
    sandbox_factory, redis_url, database_url, tmp_path
):
    """Held acks go out once their batch is committed: otherwise the pages would stay leased
    and the nodes would never see the job finished."""
    _, site, env = start(sandbox_factory, size=6, faults=False, latency_ms=20)
    client = redis_client(redis_url)
    client.rpush("emails:start_urls", *site.seeds())
    env = {**env, "REDIS_URL": redis_url, "DATABASE_URL": database_url}
    settings = {**FAST, "CLUSTER_IDLE_GRACE": 2, "EMAILS_DB_FLUSH_SECONDS": 1, "FEEDS": {}}
    nodes = [node({"target": 0}, settings, env, tmp_path / f"node{n}") for n in (1, 2)]
    for code, err in finish(nodes):
        assert code == 0, err[-3000:]
        assert "Traceback" not in err
    with psycopg.connect(database_url) as conn:
        stored = [r[0] for r in conn.execute("SELECT email FROM emails")]
    assert len(stored) == len(set(stored))
    assert set(stored) == set(site.all_addresses())
    assert client.zcard("cluster:{emails}:leases") == 0
    assert client.hexists("cluster:{emails}:meta", "done")
    # The address book lives under the run the scheduler joined.
    run = client.hget("cluster:{emails}:meta", "run").decode()
    assert client.hlen(f"emails:{{emails}}:addresses:{run}") == len(stored)
    for n in (1, 2):
        stats = json.loads((tmp_path / f"node{n}/stats.json").read_text())
        assert stats.get("cluster/acked", 0) == stats.get("scheduler/dequeued/redis", 0)
        assert "cluster/uncommitted_released" not in stats


class QueueView:
    """What the address book asks of its node's scheduler, over a real shared queue."""

    def __init__(self, queue: LeasedQueue):
        self.queue = queue
        self.node = queue.node
        self.leases: dict[Request, str] = {}

    def take(self, page: str, queued: bool = False) -> Request:
        """Lease a page's request (queued first unless it is waiting in the queue already),
        as a node's scheduler does."""
        if not queued:
            self.queue.push("", 0, page.encode())
        lease, payload = self.queue.claim()
        assert payload == page.encode()
        request = Request(f"https://a.example/{page}", meta={"page": page})
        self.leases[request] = lease
        return request

    def lease_of(self, request: Request) -> str:
        return self.leases.get(request, "")


def node_book(redis_url: str, node: str, target: int, lease_seconds: float = 60):
    client = redis_client(redis_url)
    # A job of its own: nothing else (a crawl left running by a failed test) takes from it.
    queue = LeasedQueue(client, "claims", node, lease_seconds)
    queue.open()
    shared = book(redis_url, target)
    view = QueueView(queue)
    shared.scheduler = view
    shared._keys = [
        "emails:{claims}:addresses:test",
        "emails:{claims}:claims:test",
        *(queue.keys[n] for n in ("requests", "leases", "owners")),
    ]
    return shared, view


def test_claims_pending_on_a_live_node_hold_the_target_until_acked(redis_url):
    book_1, node_1 = node_book(redis_url, "n1", target=4)
    book_2, node_2 = node_book(redis_url, "n2", target=4)
    page_1, page_2 = node_1.take("p1"), node_2.take("p2")
    assert book_1.claim(["a@x.com", "b@x.com"], page_1) == ["a@x.com", "b@x.com"]
    assert book_2.claim(["c@x.com", "d@x.com", "e@x.com"], page_2) == ["c@x.com", "d@x.com"]
    assert book_2.full
    # Node 2 counts its own pending page as stored (it commits before it closes), not
    # node 1's: it waits for those two.
    assert book_2.settle() == Standing(claimed=4, pending=2)
    assert book_1.settle() == Standing(claimed=4, pending=2)
    node_1.queue.ack([node_1.lease_of(page_1)])
    assert book_2.settle() == Standing(claimed=4)
    assert book_2.settle().settled == 4


def test_the_claims_of_a_node_that_died_are_given_back_and_its_page_reclaims_them(redis_url):
    book_1, node_1 = node_book(redis_url, "n1", target=3, lease_seconds=1.0)
    book_2, node_2 = node_book(redis_url, "n2", target=3)
    page_1 = node_1.take("p1")
    assert book_1.claim(["a@x.com", "b@x.com"], page_1) == ["a@x.com", "b@x.com"]
    page_2 = node_2.take("p2")
    assert book_2.claim(["c@x.com", "d@x.com"], page_2) == ["c@x.com"]
    assert book_2.settle() == Standing(claimed=3, pending=2)
    # Node 1 dies: its lease runs out without an ack, and its claims are released.
    time.sleep(1.3)
    assert book_2.settle() == Standing(claimed=1, released=2)
    assert not book_2.full
    # Another page may now take one of them; the dead node's page, crawled again under
    # its token, gets back what is left of its own and the room the target has.
    again = node_2.take("p1", queued=True)
    other = node_2.take("p3")
    assert book_2.claim(["b@x.com"], other) == ["b@x.com"]
    assert book_2.claim(["a@x.com", "b@x.com", "z@x.com"], again) == ["a@x.com"]
    assert book_2.count == 3
    assert book_2.settle() == Standing(claimed=3)


def test_without_a_target_claims_are_not_recorded(redis_url):
    shared, node_1 = node_book(redis_url, "n1", target=0)
    assert shared.claim(["a@x.com"], node_1.take("p1")) == ["a@x.com"]
    assert redis_client(redis_url).hlen("emails:{claims}:claims:test") == 0


def test_a_dead_nodes_page_taken_again_is_pending_until_its_new_node_claims(redis_url):
    book_1, node_1 = node_book(redis_url, "n1", target=3, lease_seconds=1.0)
    book_2, node_2 = node_book(redis_url, "n2", target=3)
    assert book_1.claim(["a@x.com", "b@x.com"], node_1.take("p1")) == ["a@x.com", "b@x.com"]
    assert book_2.claim(["c@x.com"], node_2.take("p2")) == ["c@x.com"]
    time.sleep(1.3)
    # Node 2 leases node 1's page before anything is released: the page is node 2's now,
    # but until its callback claims the addresses again, they are not node 2's to commit.
    again = node_2.take("p1", queued=True)
    assert book_2.settle() == Standing(claimed=3, pending=2)
    assert book_2.claim(["b@x.com", "a@x.com"], again) == ["b@x.com", "a@x.com"]
    assert book_2.settle() == Standing(claimed=3)
