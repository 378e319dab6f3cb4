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
    if knobs.latency_ms or knobs.jitter_ms:
        delay = max(0.0, site.fault_rng.gauss(knobs.latency_ms, knobs.jitter_ms)) / 1000
        await asyncio.sleep(delay)
    if site.exempt(request):
        return await handler(request)
    roll = site.fault_rng.random()
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
        status = site.fault_rng.choice((500, 502, 503))
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
