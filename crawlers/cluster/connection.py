"""Every Redis client of the project, and the one-line error when the server cannot be reached.

One factory for the cluster's queue, the shared state beside it (emails, deals, reported
units), proxy health and telemetry, so that what a user sets for Redis (TLS, a password,
another database) reaches all of them. It reads the settings scrapy-redis reads, as it
reads them (scrapy_redis.connection.SETTINGS_PARAMS_MAP: REDIS_URL, REDIS_HOST,
REDIS_PORT, REDIS_DB, REDIS_ENCODING, then REDIS_PARAMS below them), and builds the client
with scrapy-redis' own `get_redis` (so REDIS_PARAMS' `redis_cls` works too). Not through
its `get_redis_from_settings`: that one puts scrapy-redis' defaults under REDIS_PARAMS
(`retry_on_timeout`, deprecated by redis-py 6 and a DeprecationWarning per client, and
30 s timeouts), which REDIS_PARAMS can override but not remove.

Redis Cluster: a REDIS_URL whose scheme is `redis+cluster://` (`rediss+cluster://` for TLS)
names one node of a cluster (any: the client learns the others and the slots from it) and
gets a redis-py RedisCluster. The project's keys are hash-tagged per job (keys.py), so every
script and multi-key command of a job lands on one slot. A cluster has only database 0.
"""

from __future__ import annotations

from typing import cast

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.connection import Encoder
from redis.retry import Retry
from scrapy.utils.misc import load_object
from scrapy_redis.connection import SETTINGS_PARAMS_MAP, get_redis

from crawlers.env import redact_url
from crawlers.errors import ConfigError

# Errors that mean "the server is not answering right now", as opposed to a bad command
# (on a cluster also: a master down, or no node reachable to learn the slots from).
UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.RedisClusterUnreachableError,
    redis.exceptions.SlotNotCoveredError,
)

# A cluster URL's scheme -> the scheme redis-py reads for a node of it.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

# Commands run on the reactor's thread, so a call must fail fast when the server is gone:
# no built-in retries (the callers wait and retry between calls instead) and short timeouts.
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 15.0


def configured(settings) -> bool:
    """Whether the settings name a Redis server (a cluster node): REDIS_URL, or REDIS_HOST
    as scrapy-redis users set it."""
    return bool(settings.get("REDIS_URL") or settings.get("REDIS_HOST"))


def node_url(url: str) -> str | None:
    """The plain URL of the node a cluster URL names, or None if `url` is not a cluster's."""
    scheme, sep, rest = (url or "").partition("://")
    plain = CLUSTER_SCHEMES.get(scheme.lower()) if sep else None
    return f"{plain}://{rest}" if plain else None


def url_of(settings) -> str:
    """REDIS_URL, else the URL REDIS_HOST, REDIS_PORT and REDIS_DB describe ('' if none)."""
    url = settings.get("REDIS_URL") or ""
    host = settings.get("REDIS_HOST") or ""
    if url or not host:
        return url
    shown = f"[{host}]" if ":" in host else host
    return f"redis://{shown}:{settings.get('REDIS_PORT') or 6379}/{settings.get('REDIS_DB') or 0}"


def client(settings, url: str | None = None, timeout: float | None = None):
    """A client (it connects on first use) for `url`, default REDIS_URL or REDIS_HOST.

    `timeout` replaces our command timeout (and the connect timeout, if shorter) for a
    caller that must give up sooner; REDIS_PARAMS, a dict of redis-py keyword arguments
    (TLS, `password`, `username`, ...), overrides both. Responses are never decoded: the
    queue's payloads are pickles, so REDIS_DECODE_RESPONSES is not honoured. A cluster URL
    gives a RedisCluster (behind LazyCluster, so that it too connects on first use).
    """
    params = {
        "socket_connect_timeout": min(CONNECT_TIMEOUT, timeout or CONNECT_TIMEOUT),
        "socket_timeout": timeout or COMMAND_TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 30,
        **settings.getdict("REDIS_PARAMS"),
    }
    for name, param in SETTINGS_PARAMS_MAP.items():
        value = settings.get(name)
        if value and name not in ("REDIS_URL", "REDIS_DECODE_RESPONSES"):
            params[param] = value
    url = url or settings.get("REDIS_URL")
    node = node_url(url) if url else None
    if url:
        params["url"] = node or url
    params["decode_responses"] = False
    if isinstance(params.get("redis_cls"), str):
        params["redis_cls"] = load_object(params["redis_cls"])
    if node is None:
        params.setdefault("redis_cls", redis.Redis)
        return _build(params, url)
    params.setdefault("redis_cls", RedisCluster)
    if str(params.pop("db", 0)) != "0":
        raise ConfigError("REDIS_DB: a Redis Cluster has only database 0")
    _check_cluster_url(node, url)
    return LazyCluster(lambda: _build(params, url))


def _build(params: dict, url: str | None):
    try:
        return get_redis(**params)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL {redact_url(url)!r} is not a Redis URL: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"REDIS_PARAMS is not accepted by redis-py: {exc}") from None
    except redis.exceptions.RedisClusterUnreachableError as exc:
        raise redis.exceptions.ConnectionError(str(exc)) from None
    except redis.exceptions.RedisClusterException as exc:
        raise ConfigError(f"REDIS_URL {redact_url(url)!r}: {exc}") from None


def _check_cluster_url(node: str, url: str) -> None:
    """What RedisCluster would only find out when it first connects."""
    try:
        options = redis.connection.parse_url(node)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL {redact_url(url)!r} is not a Redis URL: {exc}") from None
    if options.get("path"):
        raise ConfigError(f"REDIS_URL {redact_url(url)!r}: a Redis Cluster is reached over TCP")
    if options.get("db", 0) != 0:
        raise ConfigError(f"REDIS_URL {redact_url(url)!r}: a Redis Cluster has only database 0")


class LazyCluster:
    """A RedisCluster made on first use. RedisCluster connects in its constructor (to learn
    the slots), where redis.Redis connects on its first command: this keeps the second
    behaviour, so that an unreachable cluster is a ConnectionError where the callers
    already expect one (the scheduler waits for Redis, telemetry goes on without it), and
    a failed first attempt is tried again on the next use."""

    def __init__(self, build):
        self._build = build
        self._client = None

    def _get(self):
        if self._client is None:
            self._client = self._build()
        return self._client

    def __getattr__(self, name: str):
        return getattr(self._get(), name)

    def get_encoder(self):
        # Script() hashes its source with the client's encoder: no connection needed yet.
        return Encoder("utf-8", "strict", False)

    def register_script(self, source):
        # Script only hashes the source with get_encoder() now, and runs it on the client
        # later: this stands in for the RedisCluster it makes.
        return Script(cast(RedisCluster, self), source)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def check(settings, url: str | None = None, what: str = "Redis") -> None:
    """ConfigError naming the server (never its password) unless it answers a PING."""
    url = url or url_of(settings)
    server = client(settings, url)
    try:
        server.ping()
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException) as exc:
        raise ConfigError(
            f"cannot reach {what} at {redact_url(url)}: {describe(exc, url, settings)}"
        ) from None
    except TypeError as exc:  # an unknown keyword in REDIS_PARAMS, met when connecting
        raise ConfigError(f"REDIS_PARAMS is not accepted by redis-py: {exc}") from None
    finally:
        server.close()


def describe(exc: Exception, url: str, settings=None) -> str:
    """The error in one line of ASCII, without the password of the URL or REDIS_PARAMS."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    passwords = [redis.connection.parse_url(node_url(url) or url).get("password") if url else None]
    if settings is not None:
        passwords.append(settings.getdict("REDIS_PARAMS").get("password"))
    for password in passwords:
        if password:
            text = text.replace(str(password), "***")
    return text.encode("ascii", "replace").decode()
