"""REDIS_URL=redis+cluster://...: the client factory gives a RedisCluster that connects on
first use, so the callers meet an unreachable cluster as they meet an unreachable server."""

from __future__ import annotations

import pytest
import redis
from redis.cluster import RedisCluster
from scrapy.settings import Settings

from crawlers.cluster import connection
from crawlers.cluster.queue import LeasedQueue
from crawlers.errors import ConfigError
from sandbox.services import free_port

pytestmark = pytest.mark.integration


def test_a_cluster_url_gives_a_cluster_client_that_reaches_every_master(redis_cluster_server):
    redis_cluster_server.flush()
    settings = Settings({"REDIS_URL": redis_cluster_server.url})
    connection.check(settings)
    client = connection.client(settings)
    # Two jobs' queues: each job's keys on one slot, the jobs (slots 11128 and 2874 of the
    # 16384, split in three) on two masters.
    for job in ("job-a", "job-c"):
        queue = LeasedQueue(client, job, "n1", 30)
        queue.open()
        assert queue.push("fp", 0, b"payload")
        assert queue.claim()[1] == b"payload"
    assert isinstance(client._get(), RedisCluster)
    holders = {
        job: [
            port
            for port in redis_cluster_server.ports
            if redis.Redis(port=port).keys(f"*{{{job}}}*")
        ]
        for job in ("job-a", "job-c")
    }
    assert len(holders["job-a"]) == len(holders["job-c"]) == 1
    assert holders["job-a"] != holders["job-c"]
    client.close()


def test_an_unreachable_cluster_is_one_line_without_the_password():
    url = f"redis+cluster://:pw-secret@127.0.0.1:{free_port()}/0"
    with pytest.raises(ConfigError) as error:
        connection.check(Settings({"REDIS_URL": url}))
    message = str(error.value)
    assert message.startswith("cannot reach Redis at redis+cluster://:***@127.0.0.1:")
    assert "pw-secret" not in message and "\n" not in message


def test_an_unreachable_cluster_fails_on_use_and_is_tried_again(redis_cluster_server):
    port = free_port()
    client = connection.client(Settings({"REDIS_URL": f"redis+cluster://127.0.0.1:{port}/0"}))
    with pytest.raises(connection.UNAVAILABLE):
        client.ping()
    with pytest.raises(connection.UNAVAILABLE):
        client.ping()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"REDIS_URL": "redis+cluster://127.0.0.1:7000/2"}, "has only database 0"),
        ({"REDIS_URL": "redis+cluster://127.0.0.1:7000/0", "REDIS_DB": 3}, "only database 0"),
        ({"REDIS_URL": "redis+cluster://127.0.0.1:notaport/0"}, "is not a Redis URL"),
    ],
)
def test_what_a_cluster_cannot_be_is_a_config_error(values, expected):
    with pytest.raises(ConfigError, match=expected):
        connection.client(Settings(values))


def test_the_scheme_is_read_case_blind_and_plain_urls_are_left_alone():
    assert connection.node_url("REDIS+CLUSTER://h:1/0") == "redis://h:1/0"
    assert connection.node_url("rediss+cluster://:p@h:1") == "rediss://:p@h:1"
    assert connection.node_url("redis://h:1/0") is None
    assert connection.node_url("") is None
