"""The Redis client of a node, and the one-line error when the server cannot be reached."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from crawlers.env import redact_url
from crawlers.errors import ConfigError

# Errors that mean "the server is not answering right now", as opposed to a bad command.
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def client(settings) -> redis.Redis:
    """A client for REDIS_URL (it connects on first use).

    Commands run on the reactor's thread, so a call must fail fast when the server is gone:
    no built-in retries (the scheduler waits and retries between calls instead) and short
    timeouts. REDIS_PARAMS (a dict) overrides the client's keyword arguments (TLS, ...).
    """
    url = settings.get("REDIS_URL")
    params = {
        "socket_connect_timeout": 5,
        "socket_timeout": 15,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 30,
        **settings.getdict("REDIS_PARAMS"),
    }
    try:
        return redis.Redis.from_url(url, **params)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL {redact_url(url)!r} is not a Redis URL: {exc}") from None


def check(settings) -> None:
    """ConfigError naming the server (never its password) unless it answers a PING."""
    url = settings.get("REDIS_URL")
    server = client(settings)
    try:
        server.ping()
    except redis.exceptions.RedisError as exc:
        raise ConfigError(
            f"cannot reach Redis at {redact_url(url)}: {describe(exc, url)}"
        ) from None
    finally:
        server.close()


def describe(exc: Exception, url: str) -> str:
    """The error in one line of ASCII, without the URL's password."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    password = redis.connection.parse_url(url).get("password") if url else None
    if password:
        text = text.replace(password, "***")
    return text.encode("ascii", "replace").decode()
