"""The proxy list: one proxy a line, in the forms proxy sellers export.

    host:port
    host:port:user:password              (Webshare's "download" format)
    scheme://user:password@host:port     (scheme http or https)

Blank lines are skipped, and `#` starts a comment where it begins the line or follows a
space or tab (`203.0.113.7:8080   # office`); a `#` inside the proxy is part of it, so
`host:80:user:pa#ss` keeps its password. In the URL form a `#` of a password is written `%23`
(a bare one would start the URL's fragment). A line that is none of these is a `ConfigError`
naming the file and line number; the line itself is never repeated, because it may hold a
password.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from crawlers.errors import ConfigError

# Scrapy speaks only HTTP(S) to a proxy (no SOCKS), so the list is held to the same.
SCHEMES = ("http", "https")
COMMENT = re.compile(r"(?:^|\s)#.*$")
FORMS = "host:port, host:port:user:password or http://user:password@host:port"


@dataclass(frozen=True)
class Proxy:
    scheme: str
    host: str
    port: int
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)

    @property
    def label(self) -> str:
        """How logs name the proxy: never with its credentials; accounts sharing one
        gateway (host:port) are told apart by their id."""
        if self.username:
            return f"{self.host}:{self.port}#{self.id[:6]}"
        return f"{self.host}:{self.port}"

    @property
    def id(self) -> str:
        """Stable across nodes and runs, distinct for two accounts on one gateway
        (Webshare lists many users on p.webshare.io:80); the password is not part of it."""
        key = f"{self.scheme}://{self.username}@{self.host}:{self.port}"
        return hashlib.sha1(key.encode()).hexdigest()[:10]

    @property
    def server(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """For Scrapy's meta["proxy"]: HttpProxyMiddleware turns the credentials into a
        Proxy-Authorization header and removes them from the meta."""
        if not self.username:
            return self.server
        creds = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}"
        return f"{self.scheme}://{creds}@{self.host}:{self.port}"

    def playwright(self) -> dict[str, str]:
        """For Playwright's `proxy` context option."""
        option = {"server": self.server}
        if self.username:
            option.update(username=self.username, password=self.password)
        return option


def _port(text: str) -> int | None:
    if not text.isdigit():
        return None
    port = int(text)
    return port if 0 < port < 65536 else None


def _valid_host(host: str) -> bool:
    return bool(host) and not any(c in host for c in "/@ \t")


def parse_line(line: str) -> Proxy | None:
    """The proxy on one line, or None if the line is not one of the accepted forms."""
    line = line.strip()
    if "://" in line:
        try:
            parts = urlsplit(line)
            port = parts.port
        except ValueError:
            return None
        if parts.scheme.lower() not in SCHEMES or not port or parts.path not in ("", "/"):
            return None
        host = parts.hostname or ""
        if not _valid_host(host) or (parts.username is None) != (parts.password is None):
            return None
        return Proxy(
            parts.scheme.lower(),
            host,
            port,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
        )
    fields = line.split(":", 3)
    if len(fields) not in (2, 4):
        return None
    host, port = fields[0], _port(fields[1])
    if not _valid_host(host) or port is None:
        return None
    if len(fields) == 2:
        return Proxy("http", host, port)
    user, password = fields[2], fields[3]
    if not user or not password:
        return None
    return Proxy("http", host, port, user, password)


def strip_comment(line: str) -> str:
    """The line without its comment, stripped."""
    return COMMENT.sub("", line).strip()


def parse_proxies(lines: list[str], source: str = "proxy list") -> list[Proxy]:
    proxies: dict[str, Proxy] = {}
    for number, line in enumerate(lines, start=1):
        text = strip_comment(line)
        if not text:
            continue
        proxy = parse_line(text)
        if proxy is None:
            raise ConfigError(f"{source} line {number}: not a proxy (expected {FORMS})")
        proxies.setdefault(proxy.id, proxy)
    return list(proxies.values())


def load_proxies(path: str | Path) -> list[Proxy]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"proxy list {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"proxy list {path} cannot be read: not UTF-8 text (byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"proxy list {path} cannot be read ({type(exc).__name__})") from None
    proxies = parse_proxies(text.splitlines(), source=f"proxy list {path}")
    if not proxies:
        raise ConfigError(f"proxy list {path} holds no proxy")
    return proxies
