"""The dashboard's writes: starting, stopping, resuming and discarding jobs on scrapyd nodes.

  GET  /api/nodes                 each node: answers or not, its jobs, our project's version
  GET  /api/started               the jobs started from the dashboard, each node's state
  POST /api/jobs                  {"spider", "args", "settings", "nodes", "job"?} -> 201
  POST /api/jobs/<job>/stop       SIGINT; again after DASHBOARD_STOP_GRACE: SIGTERM
  POST /api/jobs/<job>/resume     schedule a stopped job again on its nodes
  POST /api/jobs/<job>/discard    forget a stopped job, its queue and state
  POST /api/jobs/<job>/retry-failed  put its failed units back (businesses), run it again
  GET  /api/schedules             the schedules, each with its next slot
  POST /api/schedules             {"name", "cron", "spider", "args", "settings", "nodes"} -> 201
  POST /api/schedules/<name>/pause, .../unpause, .../delete

Starting a job runs code on the nodes, so every write needs the dashboard's token, on
localhost too, and only in the Authorization header (a token in a link must not be enough).
Writes take a JSON body (Content-Type: application/json): a cross-site form cannot send one
without a CORS preflight, which the dashboard never answers, and a request whose Origin is
another site is refused; so a page elsewhere cannot make a viewer's browser start a job.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from urllib.parse import urlsplit

from aiohttp import web

from crawlers.dashboard.control import Control, StartError
from crawlers.dashboard.schedules import Scheduler

CONTROL = web.AppKey("control", Control)
SCHEDULER = web.AppKey("scheduler", Scheduler)
READ_METHODS = frozenset({"GET", "HEAD"})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def write_guard(token: str):
    expected = token.encode()

    @web.middleware
    async def guard(request: web.Request, handler):
        if request.method in READ_METHODS:
            return await handler(request)
        if not token:
            return _error(
                403, "writes need a token: start the dashboard with --token or DASHBOARD_TOKEN"
            )
        header = request.headers.get("Authorization", "")
        given = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        if not hmac.compare_digest(given.encode(), expected):
            return _error(401, "a write needs the token in an Authorization: Bearer header")
        # The host only: behind a TLS proxy the page's https origin reaches us as http.
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            return _error(403, "a write from another site is refused")
        if request.content_type != "application/json":
            return _error(415, "a write takes a JSON body (Content-Type: application/json)")
        return await handler(request)

    return guard


def _control(request: web.Request) -> Control:
    control = request.app.get(CONTROL)
    if control is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": "no scrapyd node is configured (DASHBOARD_SCRAPYD_NODES)"}),
            content_type="application/json",
        )
    return control


async def _body(request: web.Request):
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "the body is not JSON"}), content_type="application/json"
        ) from None


async def nodes(request: web.Request) -> web.Response:
    control = _control(request)
    scrapyd = control.scrapyd
    found = await asyncio.gather(*(scrapyd.status(n) for n in scrapyd.nodes.values()))
    return web.json_response({"project": scrapyd.project, "nodes": found})


async def started(request: web.Request) -> web.Response:
    return web.json_response({"jobs": await _control(request).views()})


async def _act(request: web.Request, action, status: int = 200) -> web.Response:
    try:
        return web.json_response(await action, status=status)
    except StartError as exc:
        return _error(exc.status, str(exc))
    except LookupError:
        return _error(404, "no such job or schedule started from the dashboard")


async def start(request: web.Request) -> web.Response:
    control = _control(request)
    body = await _body(request)
    return await _act(request, control.start(body), status=201)


async def stop(request: web.Request) -> web.Response:
    return await _act(request, _control(request).stop(request.match_info["job"]))


async def resume(request: web.Request) -> web.Response:
    return await _act(request, _control(request).resume(request.match_info["job"]))


async def retry_failed(request: web.Request) -> web.Response:
    return await _act(request, _control(request).retry_failed(request.match_info["job"]))


async def discard(request: web.Request) -> web.Response:
    return await _act(request, _control(request).discard(request.match_info["job"]))


def _scheduler(request: web.Request) -> Scheduler:
    _control(request)
    return request.app[SCHEDULER]


async def schedules(request: web.Request) -> web.Response:
    return web.json_response({"schedules": await _scheduler(request).views()})


async def add_schedule(request: web.Request) -> web.Response:
    scheduler = _scheduler(request)
    return await _act(request, scheduler.create(await _body(request)), status=201)


async def schedule_action(request: web.Request) -> web.Response:
    scheduler, name = _scheduler(request), request.match_info["name"]
    action = request.match_info["action"]
    if action == "delete":
        return await _act(request, scheduler.delete(name))
    if action in ("pause", "unpause"):
        return await _act(request, scheduler.pause(name, action == "pause"))
    return _error(404, "pause, unpause or delete")


ROUTES = [
    web.get("/api/schedules", schedules),
    web.post("/api/schedules", add_schedule),
    web.post("/api/schedules/{name}/{action}", schedule_action),
    web.get("/api/nodes", nodes),
    web.get("/api/started", started),
    web.post("/api/jobs", start),
    web.post("/api/jobs/{job}/stop", stop),
    web.post("/api/jobs/{job}/resume", resume),
    web.post("/api/jobs/{job}/discard", discard),
    web.post("/api/jobs/{job}/retry-failed", retry_failed),
]
