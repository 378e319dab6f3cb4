"""Fixtures: the sandbox, a private Redis (and Redis Cluster) and PostgreSQL, and real crawls
in subprocesses.

A test marked `redis_cluster` runs twice, `[redis]` and `[redis-cluster]`: its `redis_url`
is first a single server's, then a three-master Redis Cluster's (`redis+cluster://`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crawlers.browser import chromium_executable
from sandbox import Sandbox
from sandbox.crawl import CrawlResult, run_crawl
from sandbox.redis_cluster import RedisClusterServer
from sandbox.services import PostgresServer, RedisServer, free_port

PAGES = Path(__file__).parent / "pages"


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """`sandbox_factory(["vehicles"], knobs={...}, common={...})`, stopped after the test."""
    started: list[Sandbox] = []

    def make(names: list[str], **kwargs) -> Sandbox:
        sb = Sandbox(names, **kwargs).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def free_tcp_port() -> int:
    """A port nothing listens on (for "unreachable server" cases)."""
    return free_port()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster_server() -> Iterator[RedisClusterServer]:
    server = RedisClusterServer().start()
    yield server
    server.stop()


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "redis_cluster: run once on a single Redis, once on a Redis Cluster"
    )


def pytest_generate_tests(metafunc) -> None:
    if "redis_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "redis_cluster"
    ):
        metafunc.parametrize("redis_url", ["redis", "redis-cluster"], indirect=True)


@pytest.fixture
def redis_url(request) -> str:
    """An empty Redis: a single server, or the cluster for `[redis-cluster]`."""
    if getattr(request, "param", "redis") == "redis-cluster":
        cluster = request.getfixturevalue("redis_cluster_server")
        cluster.flush()
        return cluster.url
    import redis

    server = request.getfixturevalue("redis_server")
    client = redis.Redis.from_url(server.url)
    client.flushall()
    client.close()
    return server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


_db_counter = itertools.count()


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database per test on the session's private cluster."""
    return postgres_server.create_database(f"test_{next(_db_counter)}")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_executable()
    assert path, "no Chromium found: run `make system` (installs Debian's chromium)"
    return path


@pytest.fixture
def crawl(tmp_path: Path) -> Callable[..., CrawlResult]:
    """`crawl("vehicles", args={...}, settings={...}, env={...})` -> CrawlResult.

    Each call gets its own folder under tmp_path (DATA_DIR, items feed, stats file).
    """
    counter = itertools.count()

    def run(spider: str, workdir: Path | None = None, **kwargs) -> CrawlResult:
        return run_crawl(spider, workdir or tmp_path / f"crawl{next(counter)}", **kwargs)

    return run


@pytest.fixture
def saved_page() -> Callable[[str], str]:
    """The text of a saved page under tests/pages."""

    def read(name: str) -> str:
        return (PAGES / name).read_text(encoding="utf-8")

    return read
