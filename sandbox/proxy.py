"""Local forward HTTP proxies for tests, each with a behaviour, and a log of what they did.

    farm = ProxyFarm().start()
    good = farm.add("ok", username="u1", password="secret-1")
    farm.add("dead"); farm.add("403"); farm.add("429"); farm.add("slow", delay=1.0)
    farm.write_list(path)          # one line per proxy, in the Webshare form
    ...
    good.forwarded()               # the requests it passed on to a site
    farm.stop()

Behaviours (`mode`, changeable while running with `set_mode`):
  ok       forwards absolute-URI requests (and CONNECT tunnels)
  dead     nothing listens on its port (connection refused)
  403/429  answers every request itself with that status (429 with Retry-After: 1)
  captcha  answers 200 with a block page ("unusual traffic")
  empty    answers 200 with an empty body
  slow     forwards after `delay` seconds
`ban_first=N` makes any proxy answer 403 to its first N requests and then behave as its
mode says: a proxy that is banned for a while and then recovers. With `serve_first=M` it
first behaves as its mode says for M requests, and the N refusals come after those.
With a username, requests without the right Basic Proxy-Authorization get a 407.
Every proxy tracks the largest number of exchanges in flight to one site across the farm.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

MODES = ("ok", "dead", "403", "429", "captcha", "empty", "slow")
HOP_BY_HOP = {
    "connection",
    "proxy-connection",
    "proxy-authorization",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
BLOCK_PAGE = (
    b"<html><head><title>Sorry</title></head><body>Our systems have detected unusual "
    b"traffic from your computer network. Please solve the captcha.</body></html>"
)


@dataclass
class Entry:
    when: float
    method: str
    url: str
    outcome: str  # forwarded, tunnel, answered-403, answered-429, captcha, empty, 407, error
    status: int  # what the client got


def _reserve_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ForwardProxy:
    def __init__(
        self,
        farm: ProxyFarm,
        mode: str = "ok",
        username: str = "",
        password: str = "",
        delay: float = 0.0,
        ban_first: int = 0,
        serve_first: int = 0,
    ):
        if mode not in MODES:
            raise ValueError(f"unknown proxy mode {mode!r} (one of {', '.join(MODES)})")
        self.farm = farm
        self.mode = mode
        self.username = username
        self.password = password
        self.delay = delay
        self.ban_first = ban_first
        self.serve_first = serve_first
        self.host = farm.host
        self.port = _reserve_port(self.host)
        self.entries: list[Entry] = []
        self._lock = threading.Lock()
        self._server: asyncio.AbstractServer | None = None

    # -- addresses ----------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def line(self) -> str:
        """This proxy as a line of a proxy list (Webshare's form when it has credentials)."""
        if self.username:
            return f"{self.address}:{self.username}:{self.password}"
        return self.address

    # -- the log ------------------------------------------------------------------------
    def log(self) -> list[Entry]:
        with self._lock:
            return list(self.entries)

    def forwarded(self) -> list[Entry]:
        return [e for e in self.log() if e.outcome in ("forwarded", "tunnel")]

    def outcomes(self) -> Counter[str]:
        return Counter(e.outcome for e in self.log())

    def _record(self, method: str, url: str, outcome: str, status: int) -> None:
        with self._lock:
            self.entries.append(Entry(time.time(), method, url, outcome, status))

    # -- control ------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown proxy mode {mode!r}")
        was_dead, self.mode = self.mode == "dead", mode
        if was_dead != (mode == "dead"):
            self.farm.call(self._listen() if mode != "dead" else self._close())

    async def _listen(self) -> None:
        if self.mode != "dead" and self._server is None:
            self._server = await asyncio.start_server(
                self._handle, self.host, self.port, reuse_address=True
            )

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # -- serving ------------------------------------------------------------------------
    def _authorized(self, headers: dict[str, str]) -> bool:
        if not self.username:
            return True
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return headers.get("proxy-authorization", "") == f"Basic {token}"

    def _next_answer(self) -> str:
        with self._lock:
            if self.serve_first > 0:
                self.serve_first -= 1
                return self.mode
            if self.ban_first > 0:
                self.ban_first -= 1
                return "403"
        return self.mode

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        raw_headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
                raw_headers.append((name.strip(), value.strip()))
        body = b""
        if int(headers.get("content-length", "0") or 0):
            body = await reader.readexactly(int(headers["content-length"]))
        if not self._authorized(headers):
            self._record(method, target, "407", 407)
            await _answer(
                writer, 407, b"proxy auth", {"Proxy-Authenticate": 'Basic realm="sandbox"'}
            )
            return
        answer = self._next_answer()
        if answer in ("403", "429"):
            self._record(method, target, f"answered-{answer}", int(answer))
            extra = {"Retry-After": "1"} if answer == "429" else {}
            await _answer(writer, int(answer), b"refused by proxy", extra)
            return
        if answer == "captcha":
            self._record(method, target, "captcha", 200)
            await _answer(writer, 200, BLOCK_PAGE, {"Content-Type": "text/html"})
            return
        if answer == "empty":
            self._record(method, target, "empty", 200)
            await _answer(writer, 200, b"")
            return
        if answer == "slow" and self.delay:
            await asyncio.sleep(self.delay)
        if method == "CONNECT":
            await self._tunnel(target, reader, writer)
            return
        await self._forward(method, target, raw_headers, body, writer)

    async def _forward(self, method, target, raw_headers, body, writer) -> None:
        url = urlsplit(target)
        if url.scheme != "http" or not url.hostname:
            self._record(method, target, "error", 400)
            await _answer(writer, 400, b"absolute http URI expected")
            return
        port = url.port or 80
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        try:
            up_reader, up_writer = await asyncio.open_connection(url.hostname, port)
        except OSError:
            self._record(method, target, "error", 502)
            await _answer(writer, 502, b"upstream unreachable")
            return
        site = f"{url.hostname}:{port}"
        with self.farm.exchange(site):
            lines = [f"{method} {path} HTTP/1.1", f"Host: {site}", "Connection: close"]
            lines += [
                f"{k}: {v}"
                for k, v in raw_headers
                if k.lower() not in HOP_BY_HOP and k.lower() != "host"
            ]
            up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            await up_writer.drain()
            head = await up_reader.readuntil(b"\r\n\r\n")
            first = head.split(b"\r\n", 1)[0].split()
            status = int(first[1]) if len(first) > 1 else 502
            # Logged before the client sees the answer: a client that reads the log as
            # soon as its response is complete must find the entry there.
            self._record(method, target, "forwarded", status)
            writer.write(head)
            # The exchange ends with the body's last byte (not when the site closes).
            length = 0 if method == "HEAD" or status in (204, 304) else _content_length(head)
            if length is None:
                while chunk := await up_reader.read(65536):
                    writer.write(chunk)
            elif length:
                writer.write(await up_reader.readexactly(length))
            await writer.drain()
            up_writer.close()

    async def _tunnel(self, target, reader, writer) -> None:
        host, _, port = target.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except (OSError, ValueError):
            self._record("CONNECT", target, "error", 502)
            await _answer(writer, 502, b"upstream unreachable")
            return
        self._record("CONNECT", target, "tunnel", 200)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(src, dst):
            try:
                while chunk := await src.read(65536):
                    dst.write(chunk)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


async def _answer(writer, status: int, body: bytes, headers: dict[str, str] | None = None):
    lines = [f"HTTP/1.1 {status} Sandbox", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


class _Exchange:
    def __init__(self, farm: ProxyFarm, site: str):
        self.farm, self.site = farm, site

    def __enter__(self):
        with self.farm._lock:
            self.farm._active[self.site] += 1
            now = self.farm._active[self.site]
            self.farm.max_in_flight[self.site] = max(self.farm.max_in_flight[self.site], now)

    def __exit__(self, *exc):
        with self.farm._lock:
            self.farm._active[self.site] -= 1


class ProxyFarm:
    """Any number of proxies served from one event loop in a background thread."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.proxies: list[ForwardProxy] = []
        # The largest number of requests in flight to each site (host:port) through all
        # the proxies at once: what a site sees of the crawl's pacing.
        self.max_in_flight: Counter[str] = Counter()
        self._active: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ProxyFarm:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="proxy-farm", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def add(self, mode: str = "ok", **kwargs) -> ForwardProxy:
        proxy = ForwardProxy(self, mode, **kwargs)
        self.call(proxy._listen())
        self.proxies.append(proxy)
        return proxy

    def exchange(self, site: str) -> _Exchange:
        return _Exchange(self, site)

    def write_list(self, path: Path) -> Path:
        path.write_text("".join(p.line + "\n" for p in self.proxies), encoding="utf-8")
        return path

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close_all() -> None:
            for proxy in self.proxies:
                await proxy._close()

        self.call(close_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> ProxyFarm:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local forward proxies for trying crawls.")
    parser.add_argument("--modes", default="ok,ok,403,dead", help=f"comma list of {MODES}")
    parser.add_argument("--username", default="", help="Basic auth user for every proxy")
    parser.add_argument("--password", default="")
    parser.add_argument("--delay", type=float, default=2.0, help="seconds, for slow proxies")
    parser.add_argument("--list-file", type=Path, help="write the proxy list here")
    args = parser.parse_args(argv)
    farm = ProxyFarm().start()
    try:
        for mode in filter(None, args.modes.split(",")):
            farm.add(mode, username=args.username, password=args.password, delay=args.delay)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.list_file:
        farm.write_list(args.list_file)
    for proxy in farm.proxies:
        print(f"proxy: {proxy.address} {proxy.mode}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        farm.stop()


if __name__ == "__main__":
    main()
