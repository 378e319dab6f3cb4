"""The dashboard's web app: one HTML page, a JSON API and Prometheus metrics.

  GET /                    the page (refreshes itself from /api/jobs and /api/resources)
  GET /api/jobs            every job, merged across its nodes (crawlers/telemetry/merge.py)
  GET /api/jobs/<job>      one job; 404 when no node reported it
  GET /api/jobs/<job>/eta  its progress, rate and ETA only
  GET /api/jobs/<job>/runs every run of the job kept, newest first, each compared with the
                           run before it (crawlers/dashboard/history.py)
  GET /api/jobs/<job>/runs/<run>  one run, with the series of its chart
  GET /api/jobs/<job>/runs/<run>/failures  its failed units: unit, reason, node, when
                           (each node's last TELEMETRY_FAILED_UNITS), newest first
  GET /api/resources       this host's memory and load, and each node's process tree
  GET /metrics             Prometheus text format
With a token every route needs it, as `Authorization: Bearer <token>` or `?token=<token>`.
The writes (crawlers/dashboard/writes.py) need it always, in the header only.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import time
from typing import Any

from aiohttp import web

from crawlers.dashboard import metrics, writes
from crawlers.dashboard.alerts import Alerts
from crawlers.dashboard.history import DEFAULT_SHARE, history
from crawlers.dashboard.page import render_page
from crawlers.telemetry import read_failures, read_job, read_jobs, read_runs
from crawlers.telemetry.resources import host_resources

CONFIG = web.AppKey("config", dict)


def _token_middleware(token: str):
    expected = token.encode()

    @web.middleware
    async def check(request: web.Request, handler):
        given = request.query.get("token", "")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[len("Bearer ") :]
        if not hmac.compare_digest(given.encode(), expected):
            return web.json_response({"error": "a valid token is required"}, status=401)
        return await handler(request)

    return check


async def _read(request: web.Request, func, *args) -> Any:
    """Run a blocking store read off the event loop; a store error becomes a 503."""
    config = request.app[CONFIG]
    call = functools.partial(func, config["store"], *args, silent_after=config["silent_after"])
    try:
        return await asyncio.get_running_loop().run_in_executor(None, call)
    except Exception as exc:
        raise web.HTTPServiceUnavailable(
            text=json.dumps(
                {"error": f"cannot read {config['store'].describe()}: {type(exc).__name__}"}
            ),
            content_type="application/json",
        ) from exc


async def page(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    return web.Response(
        text=render_page(
            config["refresh"], config["silent_after"], control=writes.CONTROL in request.app
        ),
        content_type="text/html",
    )


async def jobs(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    views = await _read(request, read_jobs)
    return web.json_response(
        {
            "source": config["store"].describe(),
            "now": time.time(),
            "silent_after": config["silent_after"],
            "jobs": views,
        }
    )


async def job(request: web.Request) -> web.Response:
    view = await _read(request, read_job, request.match_info["job"])
    if view is None:
        return web.json_response({"error": "no such job"}, status=404)
    return web.json_response(view)


async def job_eta(request: web.Request) -> web.Response:
    view = await _read(request, read_job, request.match_info["job"])
    if view is None:
        return web.json_response({"error": "no such job"}, status=404)
    keys = ("job", "state", "progress", "rate", "eta_seconds", "eta_at", "elapsed_seconds")
    return web.json_response({key: view[key] for key in keys})


async def job_runs(request: web.Request) -> web.Response:
    name = request.match_info["job"]
    views = await _read(request, read_runs, name)
    if not views:
        return web.json_response({"error": "no such job"}, status=404)
    share = request.app[CONFIG]["compare_share"]
    return web.json_response({"job": name, "runs": history(views, share)})


async def job_run(request: web.Request) -> web.Response:
    name, run = request.match_info["job"], request.match_info["run"]
    view = await _read(request, _run_view, name, run)
    if view is None:
        return web.json_response({"error": "no such run"}, status=404)
    series = await _read(request, _series, name, run)
    return web.json_response({**view, "series": series})


async def run_failures(request: web.Request) -> web.Response:
    name, run = request.match_info["job"], request.match_info["run"]
    units = await _read(request, _failures, name, run)
    if units is None:
        return web.json_response({"error": "no such run"}, status=404)
    return web.json_response({"job": name, "run": run, "failures": units})


def _failures(store, job: str, run: str, silent_after: float) -> list | None:
    return read_failures(store, job, run)


def _run_view(store, job: str, run: str, silent_after: float) -> dict | None:
    return read_job(store, job, silent_after, run=run)


def _series(store, job: str, run: str, silent_after: float) -> list:
    return store.series(job, run)


async def resources(request: web.Request) -> web.Response:
    views = await _read(request, read_jobs)
    nodes = [
        {
            "job": view["job"],
            "node": node["node"],
            "host": node.get("host"),
            "pid": node.get("pid"),
            "state": node["state"],
            **(node.get("resources") or {}),
        }
        for view in views
        for node in view["nodes"]
    ]
    running = [n for n in nodes if n["state"] == "running"]
    return web.json_response(
        {
            "host": host_resources(),
            "crawls": {
                "running_nodes": len(running),
                "memory_bytes": sum(n.get("memory_bytes") or 0 for n in running),
                "memory_peak_bytes": max(
                    (n.get("memory_peak_bytes") or 0 for n in nodes), default=0
                ),
            },
            "nodes": nodes,
        }
    )


async def prometheus(request: web.Request) -> web.Response:
    views = await _read(request, read_jobs)
    return web.Response(
        body=metrics.render(views).encode(), headers={"Content-Type": metrics.CONTENT_TYPE}
    )


def create_app(
    store,
    *,
    token: str = "",
    silent_after: float = 300.0,
    refresh: float = 2.0,
    control: writes.Control | None = None,
    scheduler: writes.Scheduler | None = None,
    alerts: Alerts | None = None,
    compare_share: float = DEFAULT_SHARE,
) -> web.Application:
    middlewares = [writes.write_guard(token)]
    if token:
        middlewares.append(_token_middleware(token))
    app = web.Application(middlewares=middlewares)
    app[CONFIG] = {
        "store": store,
        "silent_after": silent_after,
        "refresh": refresh,
        "compare_share": compare_share,
    }
    if control is not None:
        app[writes.CONTROL] = control

        async def close_sessions(_app) -> None:
            await control.scrapyd.close()

        app.on_cleanup.append(close_sessions)
    if control is not None and scheduler is not None:
        app[writes.SCHEDULER] = scheduler

        async def run_schedules(_app):
            task = asyncio.create_task(scheduler.run())
            yield
            task.cancel()

        app.cleanup_ctx.append(run_schedules)
    if alerts is not None:

        async def run_alerts(_app):
            task = asyncio.create_task(alerts.run())
            yield
            task.cancel()

        app.cleanup_ctx.append(run_alerts)
    app.add_routes(
        [
            web.get("/", page),
            web.get("/api/jobs", jobs),
            web.get("/api/jobs/{job}", job),
            web.get("/api/jobs/{job}/eta", job_eta),
            web.get("/api/jobs/{job}/runs", job_runs),
            web.get("/api/jobs/{job}/runs/{run}", job_run),
            web.get("/api/jobs/{job}/runs/{run}/failures", run_failures),
            web.get("/api/resources", resources),
            web.get("/metrics", prometheus),
            *writes.ROUTES,
        ]
    )
    return app
