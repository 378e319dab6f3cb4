"""Latency and faults, applied in front of every site (SITES.md: "Every site may...")."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from aiohttp import web

from sandbox.site import SITE_KEY

CONTROL_PREFIX = "/_sandbox/"


def reset_connection(request: web.Request) -> None:
    """Close with RST (SO_LINGER 0), as a crashed server or middlebox would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


@web.middleware
async def faults_middleware(request: web.Request, handler):
    if request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    site = request.app[SITE_KEY]
    knobs = site.knobs
    site.count("requests")
    # Every draw of this request is made at once, before any await: the Nth request to
    # arrive meets the Nth latency and fault of the seed's sequence, however requests
    # interleave, so a test can count on the faults a seed brings.
    rng = site.fault_rng
    delay = max(0.0, rng.gauss(knobs.latency_ms, knobs.jitter_ms)) / 1000
    roll, status = rng.random(), rng.choice((500, 502, 503))
    if delay:
        await asyncio.sleep(delay)
    if site.exempt(request):
        return await handler(request)
    edge = knobs.fault_429
    if roll < edge:
        site.count("fault_429")
        return web.Response(
            status=429,
            text="Too Many Requests",
            headers={"Retry-After": f"{knobs.retry_after:g}"},
        )
    edge += knobs.fault_5xx
    if roll < edge:
        site.count(f"fault_{status}")
        return web.Response(status=status, text="Server Error")
    edge += knobs.fault_reset
    if roll < edge:
        site.count("fault_reset")
        reset_connection(request)
        return web.Response(status=500)
    edge += knobs.fault_hang
    if roll < edge:
        site.count("fault_hang")
        await asyncio.sleep(knobs.hang_seconds)
        reset_connection(request)
        return web.Response(status=500)
    return await handler(request)
