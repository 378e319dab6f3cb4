"""The REDIS_URL switch and its one-line errors (no server needed: a closed port is enough)."""

import pytest
import redis
from scrapy.settings import Settings

from crawlers.cluster.addon import Cluster
from crawlers.cluster.connection import describe
from crawlers.errors import ConfigError
from sandbox.services import free_port


def project_settings(**values) -> Settings:
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.update(values, priority="cmdline")
    return settings


def test_without_redis_url_scrapy_keeps_its_own_scheduler():
    settings = project_settings(REDIS_URL="")
    Cluster().update_settings(settings)
    assert settings["SCHEDULER"] == "scrapy.core.scheduler.Scheduler"


def test_the_project_enables_the_switch():
    assert "crawlers.cluster.addon.Cluster" in project_settings().getdict("ADDONS")


def test_unreachable_redis_names_the_server_but_not_its_password():
    url = f"redis://crawler:hunter2@127.0.0.1:{free_port()}/3"
    settings = project_settings(REDIS_URL=url)
    with pytest.raises(ConfigError) as err:
        Cluster().update_settings(settings)
    message = str(err.value)
    assert message.startswith(f"cannot reach Redis at redis://crawler:***@{url.split('@')[1]}: ")
    assert "hunter2" not in message
    assert "\n" not in message
    assert settings["SCHEDULER"] == "scrapy.core.scheduler.Scheduler"


def test_a_url_that_is_not_redis_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        Cluster().update_settings(project_settings(REDIS_URL="http://example.com"))
    assert str(err.value).startswith("REDIS_URL 'http://example.com' is not a Redis URL")


def test_errors_are_described_in_one_ascii_line_without_the_password():
    url = "redis://user:s3cr%C3%A9t@host:6379/0"
    exc = redis.exceptions.ConnectionError("auth failed for s3cr\u00e9t\nat host")
    assert describe(exc, url) == "auth failed for *** at host"


def test_scheduler_serializer_is_read_as_scrapy_redis_reads_it():
    import pickle

    from scrapy_redis import picklecompat

    from crawlers.cluster.scheduler import serializer

    request = {"url": "https://example.com/", "body": b"", "meta": {"page": "p1"}}
    default = serializer(Settings())
    assert pickle.loads(default.dumps(request)) == request
    chosen = serializer(Settings({"SCHEDULER_SERIALIZER": "scrapy_redis.picklecompat"}))
    assert chosen is picklecompat
    assert picklecompat.loads(chosen.dumps(request)) == request


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no.such.module", "SCHEDULER_SERIALIZER 'no.such.module' cannot be imported: "),
        ("string", "SCHEDULER_SERIALIZER must have dumps() and loads()"),
    ],
)
def test_a_serializer_that_cannot_serve_is_one_line(value, message):
    from crawlers.cluster.scheduler import serializer

    with pytest.raises(ConfigError) as err:
        serializer(Settings({"SCHEDULER_SERIALIZER": value}))
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)
