"""Serve sandbox sites on 127.0.0.1, one port per site, in a thread or in the foreground."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from typing import Any

from aiohttp import web

from sandbox import sites
from sandbox.knobs import Knobs


class Sandbox:
    """Start with `start()` (background thread) or as a context manager; `stop()` ends it."""

    def __init__(
        self,
        names: list[str] | None = None,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        knobs: dict[str, dict[str, Any] | Knobs] | None = None,
        common: dict[str, Any] | None = None,
    ):
        self.names = list(names or sites.available())
        self.host = host
        self.ports = dict(ports or {})
        self.sites = {}
        for name in self.names:
            site_knobs = Knobs()
            site_knobs.update(**(common or {}))
            given = (knobs or {}).get(name)
            if isinstance(given, Knobs):
                site_knobs = given
            elif given:
                site_knobs.update(**given)
            self.sites[name] = sites.site_class(name)(site_knobs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle --------------------------------------------------------------------
    async def _start_async(self) -> None:
        for name, site in self.sites.items():
            runner = web.AppRunner(site.app(), access_log=None, handle_signals=False)
            await runner.setup()
            tcp = web.TCPSite(runner, self.host, self.ports.get(name, 0), backlog=1024)
            await tcp.start()
            port = tcp._server.sockets[0].getsockname()[1]
            self.ports[name] = port
            site.url = f"http://{self.host}:{port}"
            self._runners.append(runner)

    async def _stop_async(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    def start(self) -> Sandbox:
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._start_async())
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._stop_async())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="sandbox", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    async def serve_forever(self) -> None:
        await self._start_async()
        try:
            await asyncio.Event().wait()
        finally:
            await self._stop_async()

    # -- access -----------------------------------------------------------------------
    def url(self, name: str) -> str:
        return self.sites[name].url

    def site(self, name: str):
        return self.sites[name]

    def truth(self, name: str) -> Any:
        return self._get_json(name, "/_sandbox/truth")

    def stats(self, name: str) -> dict[str, int]:
        return self._get_json(name, "/_sandbox/stats")

    def set_knobs(self, name: str, **values: Any) -> dict[str, Any]:
        body = json.dumps(values).encode()
        req = urllib.request.Request(
            self.url(name) + "/_sandbox/knobs",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def _get_json(self, name: str, path: str) -> Any:
        # Over HTTP rather than from memory: the same call works against a sandbox
        # running in another process (benchmarks, `python -m sandbox`).
        with urllib.request.urlopen(self.url(name) + path, timeout=30) as resp:
            return json.load(resp)
