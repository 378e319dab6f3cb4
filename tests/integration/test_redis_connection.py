"""One Redis client factory for every client: what REDIS_PARAMS (or scrapy-redis' REDIS_HOST
and REDIS_PORT) says reaches the queue, proxy health and telemetry alike. Checked on a real
Redis that requires a password given only through REDIS_PARAMS."""

import logging

import pytest
import redis
from scrapy import Spider
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawlers.cluster import connection
from crawlers.cluster.addon import Cluster
from crawlers.cluster.queue import LeasedQueue
from crawlers.errors import ConfigError
from crawlers.middlewares.proxies import ProxyRotationMiddleware
from crawlers.telemetry import store_from_settings
from crawlers.telemetry.store import RedisStore
from sandbox.services import RedisServer

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-only-in-params"


@pytest.fixture(scope="module")
def locked_redis():
    server = RedisServer().start()
    admin = redis.Redis(host="127.0.0.1", port=server.port)
    admin.config_set("requirepass", PASSWORD)
    admin.close()
    yield server
    server.stop()


@pytest.fixture
def admin(locked_redis):
    client = redis.Redis(host="127.0.0.1", port=locked_redis.port, password=PASSWORD)
    client.flushall()
    yield client
    client.close()


def settings_for(server, **values) -> Settings:
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    base = {"REDIS_URL": server.url, "REDIS_PARAMS": {"password": PASSWORD}}
    settings.update({**base, **values}, priority="cmdline")
    return settings


class Dummy(Spider):
    name = "dummy"


def test_the_server_refuses_a_client_without_the_password(locked_redis):
    """What the other tests rely on: without REDIS_PARAMS no command gets through."""
    settings = settings_for(locked_redis, REDIS_PARAMS={})
    with pytest.raises(redis.exceptions.AuthenticationError):
        connection.client(settings).ping()


def test_the_queue_client_gets_the_password(locked_redis, admin):
    queue = LeasedQueue(connection.client(settings_for(locked_redis)), "locked", "n1", 30)
    run = queue.open()
    assert admin.hget("cluster:{locked}:meta", "run").decode() == run


def test_proxy_health_gets_the_password(locked_redis, admin, tmp_path):
    path = tmp_path / "proxies.txt"
    path.write_text("a.example:1001\n")
    settings = {
        "REDIS_URL": locked_redis.url,
        "REDIS_PARAMS": {"password": PASSWORD},
        "PROXY_LIST": str(path),
        "PROXY_BAN_THRESHOLD": 1,
    }
    crawler = get_crawler(Dummy, settings)
    mw = ProxyRotationMiddleware.from_crawler(crawler)
    (pid,) = mw.proxies
    assert mw.health.ban(pid)  # one ban: a rest, written to the job's hash
    assert admin.hget("crawlers:dummy:proxy-health", pid) is not None


def test_telemetry_gets_the_password(locked_redis, admin):
    store = store_from_settings(settings_for(locked_redis))
    assert isinstance(store, RedisStore)
    assert store.client.ping()
    store.client.set("telemetry-probe", "1")
    assert admin.get("telemetry-probe") == b"1"


def test_the_switch_checks_with_the_password_and_hides_a_wrong_one(locked_redis, caplog):
    settings = settings_for(locked_redis)
    Cluster().update_settings(settings)
    assert settings["SCHEDULER"] == "crawlers.cluster.scheduler.Scheduler"

    wrong = settings_for(locked_redis, REDIS_PARAMS={"password": "not-the-one"})
    with pytest.raises(ConfigError) as err:
        Cluster().update_settings(wrong)
    assert str(err.value).startswith(f"cannot reach Redis at {locked_redis.url}: ")
    assert "not-the-one" not in str(err.value)


def test_redis_host_and_port_as_scrapy_redis_users_set_them(locked_redis, admin):
    settings = settings_for(locked_redis, REDIS_URL="", REDIS_HOST="127.0.0.1")
    settings.set("REDIS_PORT", locked_redis.port, priority="cmdline")
    Cluster().update_settings(settings)
    assert settings["REDIS_URL"] == f"redis://127.0.0.1:{locked_redis.port}/0"
    assert settings["SCHEDULER"] == "crawlers.cluster.scheduler.Scheduler"
    connection.client(settings).set("via-host", "1")
    assert admin.get("via-host") == b"1"


def test_scrapy_redis_settings_that_do_not_fit_say_so_at_start(locked_redis, caplog):
    settings = settings_for(locked_redis, SCHEDULER_PERSIST=True, SCHEDULER_QUEUE_CLASS="x.Lifo")
    with caplog.at_level(logging.WARNING, logger="crawlers.cluster.addon"):
        Cluster().update_settings(settings)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("SCHEDULER_PERSIST is a scrapy-redis setting not used here: ")
    assert lines[1].startswith("SCHEDULER_QUEUE_CLASS is a scrapy-redis setting not used here: ")
