"""Alerts to a webhook (DASHBOARD_ALERT_WEBHOOK) about the current run of every job.

Each dashboard looks every DASHBOARD_ALERT_CHECK seconds (15) at every job's current run:
- failed: a node ended with a finish reason other than finished or shutdown (a stop), or
  went silent (killed, or its machine gone);
- stalled: the run is running and no unit of it finished for DASHBOARD_STALL_MINUTES (30);
- failure share: the run ended with more than DASHBOARD_ALERT_FAILED_SHARE (0.2) of its
  worked units failed.
An alert is sent once per run and kind however many dashboards look: the first to claim it
in Redis (SET NX on `dashboard:alert:<job>:<run>:<kind>`) posts it; a post that fails gives
the claim back, so the next look tries again. The body is JSON: alert, job, run, message,
state, progress, failures. The webhook's URL is never logged (it often carries a token).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp

from crawlers.telemetry.snapshot import clean_message

logger = logging.getLogger(__name__)

CLEAN_ENDS = frozenset({"finished", "shutdown"})
CLAIM_SECONDS = 30 * 86400


class RedisClaims:
    def __init__(self, client, prefix: str = "dashboard"):
        self.client = client
        self.prefix = prefix

    def _key(self, job: str, run: str, kind: str) -> str:
        return f"{self.prefix}:alert:{job}:{run}:{kind}"

    def claim(self, job: str, run: str, kind: str) -> bool:
        return bool(self.client.set(self._key(job, run, kind), "1", nx=True, ex=CLAIM_SECONDS))

    def release(self, job: str, run: str, kind: str) -> None:
        self.client.delete(self._key(job, run, kind))


class LocalClaims:
    """One dashboard without Redis: its own memory."""

    def __init__(self):
        self.claimed: set[tuple[str, str, str]] = set()

    def claim(self, job: str, run: str, kind: str) -> bool:
        if (job, run, kind) in self.claimed:
            return False
        self.claimed.add((job, run, kind))
        return True

    def release(self, job: str, run: str, kind: str) -> None:
        self.claimed.discard((job, run, kind))


def problems(
    view: dict[str, Any], stalled_for: float, stall_after: float, failed_share: float
) -> list[tuple[str, str]]:
    """(kind, message) for what is wrong with a run's view right now."""
    out = []
    bad_ends = sorted(
        {n["finish_reason"] for n in view["nodes"] if n.get("finish_reason")} - CLEAN_ENDS
    )
    if bad_ends:
        out.append(("failed", f"job {view['job']} ended: {', '.join(bad_ends)}"))
    elif view["silent_nodes"]:
        nodes = ", ".join(view["silent_nodes"])
        out.append(("failed", f"job {view['job']}: node(s) {nodes} stopped reporting"))
    if view["state"] == "running" and stalled_for >= stall_after:
        minutes = stalled_for / 60
        out.append(("stalled", f"job {view['job']}: no unit finished for {minutes:.1f} min"))
    progress = view["progress"]
    worked = progress["done"] + progress["failed"]
    if view["state"] == "finished" and worked and progress["failed"] / worked > failed_share:
        out.append(
            (
                "failure_share",
                f"job {view['job']} ended with {progress['failed'] / worked:.0%} of its units "
                f"failed ({progress['failed']:,} of {worked:,})",
            )
        )
    return out


class Alerts:
    def __init__(
        self,
        webhook: str,
        claims: RedisClaims | LocalClaims,
        read_views,
        check_every: float = 15.0,
        stall_minutes: float = 30.0,
        failed_share: float = 0.2,
    ):
        self.webhook = webhook
        self.claims = claims
        self.read_views = read_views  # () -> the current run view of every job (blocking)
        self.check_every = check_every
        self.stall_after = stall_minutes * 60
        self.failed_share = failed_share
        # (job, run) -> (units finished, when that count was first seen): a stall is how
        # long the count stayed the same while this dashboard watched.
        self.progress: dict[tuple[str, str], tuple[int, float]] = {}

    def _stalled_for(self, view: dict[str, Any], now: float) -> float:
        key = (view["job"], view["run"])
        finished = view["progress"]["finished"]
        seen = self.progress.get(key)
        if seen is None or seen[0] != finished:
            self.progress[key] = (finished, now)
            return 0.0
        return now - seen[1]

    async def _blocking(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    async def check(self, session: aiohttp.ClientSession, now: float | None = None) -> list[dict]:
        now = time.time() if now is None else now
        sent = []
        for view in await self._blocking(self.read_views):
            stalled = self._stalled_for(view, now)
            for kind, message in problems(view, stalled, self.stall_after, self.failed_share):
                job, run = view["job"], view["run"]
                if not await self._blocking(self.claims.claim, job, run, kind):
                    continue
                body = {
                    "alert": kind,
                    "job": job,
                    "run": run,
                    "message": message,
                    "state": view["state"],
                    "progress": view["progress"],
                    "failures": view["failures"],
                }
                if await self._post(session, body):
                    sent.append(body)
                else:
                    await self._blocking(self.claims.release, job, run, kind)
        return sent

    async def _post(self, session: aiohttp.ClientSession, body: dict) -> bool:
        try:
            async with session.post(self.webhook, json=body) as resp:
                if resp.status < 300:
                    logger.info("alert sent: %s", body["message"])
                    return True
                reason = f"HTTP {resp.status}"
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = clean_message(f"{type(exc).__name__}", 100)
        logger.warning("alert webhook failed (%s); trying again: %s", reason, body["message"])
        return False

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    await self.check(session)
                except Exception as exc:  # the store away: the next look tries again
                    logger.warning("alerts: %s", clean_message(f"{type(exc).__name__}: {exc}"))
                await asyncio.sleep(self.check_every)
