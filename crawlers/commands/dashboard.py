"""`scrapy dashboard [--host H] [--port P] [--token T]`: serve the live dashboard.

Reads the telemetry of every crawl from Redis when REDIS_URL (or TELEMETRY_REDIS_URL) is set,
else the last local crawls from DATA_DIR/jobs. Bound to 127.0.0.1 unless told otherwise;
bound anywhere else it refuses to start without a token (--token or DASHBOARD_TOKEN).
With DASHBOARD_SCRAPYD_NODES it also starts, stops and discards jobs on those scrapyd nodes
(crawlers/dashboard/control.py), which always needs the token.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import signal
import sys
from pathlib import Path

from aiohttp import web
from scrapy.commands import ScrapyCommand

from crawlers.dashboard.alerts import Alerts, LocalClaims, RedisClaims
from crawlers.dashboard.app import create_app
from crawlers.dashboard.checks import failed_redoer, spider_checker
from crawlers.dashboard.control import Control, FileJobs, RedisJobs
from crawlers.dashboard.schedules import FileSchedules, RedisSchedules, Scheduler
from crawlers.dashboard.scrapyd import DEFAULT_PROJECT, Scrapyd, parse_nodes
from crawlers.env import redact_url
from crawlers.errors import EXIT_CONFIG, ConfigError
from crawlers.telemetry import read_jobs, store_from_settings
from crawlers.telemetry.settings import number_setting
from crawlers.telemetry.store import RedisStore


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(app: web.Application, host: str, port: int, source: str) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = runner.addresses[0][1]
    shown = f"[{host}]" if ":" in host else host
    print(f"dashboard: http://{shown}:{bound}/ (reading {source})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_LEVEL": "WARNING"}

    def syntax(self) -> str:
        return "[--host HOST] [--port PORT] [--token TOKEN]"

    def short_desc(self) -> str:
        return "Serve the live dashboard of every crawl (progress, nodes, resources)"

    def add_options(self, parser) -> None:
        super().add_options(parser)
        parser.add_argument("--host", help="address to bind (default: DASHBOARD_HOST)")
        parser.add_argument("--port", type=int, help="port (default: DASHBOARD_PORT; 0: any)")
        parser.add_argument("--token", help="token required by every request (DASHBOARD_TOKEN)")

    def run(self, args, opts) -> None:
        try:
            self._run(opts)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            self.exitcode = EXIT_CONFIG

    def _run(self, opts) -> None:
        settings = self.settings
        assert settings is not None  # set by scrapy.cmdline before it runs a command
        host = opts.host or settings.get("DASHBOARD_HOST") or "127.0.0.1"
        port = opts.port
        if port is None:
            port = number_setting(settings, "DASHBOARD_PORT", 8750)
        if port != int(port) or not 0 <= port <= 65535:
            raise ConfigError(f"the port must be a whole number from 0 to 65535, not {port}")
        token = opts.token or settings.get("DASHBOARD_TOKEN") or ""
        if not is_loopback(host) and not token:
            raise ConfigError(
                f"the dashboard bound to {host} needs a token: --token or DASHBOARD_TOKEN"
            )
        store = store_from_settings(settings)
        if isinstance(store, RedisStore):
            url = settings.get("TELEMETRY_REDIS_URL") or settings.get("REDIS_URL")
            try:
                store.client.ping()
            except Exception as exc:
                raise ConfigError(
                    f"cannot reach Redis at {redact_url(url)}: {type(exc).__name__}"
                ) from None
        control = self._control(settings, store)
        app = create_app(
            store,
            token=token,
            silent_after=number_setting(settings, "TELEMETRY_SILENT_AFTER", 300.0),
            refresh=number_setting(settings, "DASHBOARD_REFRESH", 2.0, allow_zero=False),
            control=control,
            scheduler=self._scheduler(settings, store, control),
            alerts=self._alerts(settings, store),
            compare_share=number_setting(settings, "DASHBOARD_COMPARE_SHARE", 0.10),
        )
        asyncio.run(serve(app, host, int(port), store.describe()))

    def _control(self, settings, store) -> Control | None:
        nodes = parse_nodes(settings.get("DASHBOARD_SCRAPYD_NODES"))
        if not nodes:
            return None
        jobs: RedisJobs | FileJobs
        if isinstance(store, RedisStore):
            jobs = RedisJobs(store.client)
        else:
            jobs = FileJobs(Path(settings.get("DATA_DIR") or "data") / "dashboard" / "jobs.json")
        return Control(
            Scrapyd(nodes, settings.get("DASHBOARD_SCRAPYD_PROJECT") or DEFAULT_PROJECT),
            jobs,
            spider_checker(settings),
            stop_grace=number_setting(settings, "DASHBOARD_STOP_GRACE", 30.0),
            redo_failed=failed_redoer(settings),
        )

    def _scheduler(self, settings, store, control: Control | None) -> Scheduler | None:
        if control is None:
            return None
        kept: RedisSchedules | FileSchedules
        if isinstance(store, RedisStore):
            kept = RedisSchedules(store.client)
        else:
            folder = Path(settings.get("DATA_DIR") or "data") / "dashboard"
            kept = FileSchedules(folder / "schedules.json")
        return Scheduler(
            control,
            kept,
            check_every=number_setting(settings, "DASHBOARD_SCHEDULE_CHECK", 10.0, False),
            late=number_setting(settings, "DASHBOARD_SCHEDULE_LATE", 600.0),
        )

    def _alerts(self, settings, store) -> Alerts | None:
        webhook = settings.get("DASHBOARD_ALERT_WEBHOOK")
        if not webhook:
            return None
        if not webhook.startswith(("http://", "https://")):
            raise ConfigError("DASHBOARD_ALERT_WEBHOOK must be an http(s) URL")
        silent_after = number_setting(settings, "TELEMETRY_SILENT_AFTER", 300.0)
        claims = RedisClaims(store.client) if isinstance(store, RedisStore) else LocalClaims()
        return Alerts(
            webhook,
            claims,
            functools.partial(read_jobs, store, silent_after=silent_after),
            check_every=number_setting(settings, "DASHBOARD_ALERT_CHECK", 15.0, False),
            stall_minutes=number_setting(settings, "DASHBOARD_STALL_MINUTES", 30.0, False),
            failed_share=number_setting(settings, "DASHBOARD_ALERT_FAILED_SHARE", 0.2),
        )
