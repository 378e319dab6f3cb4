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
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from scrapy.utils.misc import load_object
from scrapy_redis.connection import SETTINGS_PARAMS_MAP, get_redis

from crawlers.env import redact_url
from crawlers.errors import ConfigError

# Errors that mean "the server is not answering right now", as opposed to a bad command.
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

# Commands run on the reactor's thread, so a call must fail fast when the server is gone:
# no built-in retries (the callers wait and retry between calls instead) and short timeouts.
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 15.0


def configured(settings) -> bool:
    """Whether the settings name a Redis server (a cluster node): REDIS_URL, or REDIS_HOST
    as scrapy-redis users set it."""
    return bool(settings.get("REDIS_URL") or settings.get("REDIS_HOST"))


def url_of(settings) -> str:
    """REDIS_URL, else the URL REDIS_HOST, REDIS_PORT and REDIS_DB describe ('' if none)."""
    url = settings.get("REDIS_URL") or ""
    host = settings.get("REDIS_HOST") or ""
    if url or not host:
        return url
    shown = f"[{host}]" if ":" in host else host
    return f"redis://{shown}:{settings.get('REDIS_PORT') or 6379}/{settings.get('REDIS_DB') or 0}"


def client(settings, url: str | None = None, timeout: float | None = None) -> redis.Redis:
    """A client (it connects on first use) for `url`, default REDIS_URL or REDIS_HOST.

    `timeout` replaces our command timeout (and the connect timeout, if shorter) for a
    caller that must give up sooner; REDIS_PARAMS, a dict of redis-py keyword arguments
    (TLS, `password`, `username`, ...), overrides both. Responses are never decoded: the
    queue's payloads are pickles, so REDIS_DECODE_RESPONSES is not honoured.
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
    if url:
        params["url"] = url
    params["decode_responses"] = False
    if isinstance(params.get("redis_cls"), str):
        params["redis_cls"] = load_object(params["redis_cls"])
    params.setdefault("redis_cls", redis.Redis)
    try:
        return get_redis(**params)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL {redact_url(url)!r} is not a Redis URL: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"REDIS_PARAMS is not accepted by redis-py: {exc}") from None


def check(settings, url: str | None = None, what: str = "Redis") -> None:
    """ConfigError naming the server (never its password) unless it answers a PING."""
    url = url or url_of(settings)
    server = client(settings, url)
    try:
        server.ping()
    except redis.exceptions.RedisError as exc:
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
    passwords = [redis.connection.parse_url(url).get("password") if url else None]
    if settings is not None:
        passwords.append(settings.getdict("REDIS_PARAMS").get("password"))
    for password in passwords:
        if password:
            text = text.replace(str(password), "***")
    return text.encode("ascii", "replace").decode()
