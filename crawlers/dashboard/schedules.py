"""Jobs started at set times (cron, UTC), once per slot however many dashboards run.

A schedule is a start (spider, arguments, settings, nodes: what POST /api/jobs takes) and a
cron expression (crawlers/dashboard/cron.py). Each dashboard looks every
DASHBOARD_SCHEDULE_CHECK seconds (10) for a slot that came due, at most
DASHBOARD_SCHEDULE_LATE seconds ago (600: a dashboard down at 03:00 that is back at 03:05
still starts the 03:00 run; one back at 04:00 does not start it late); the first dashboard to
claim the slot in Redis (SET NX on `dashboard:schedule:<id>:<slot>`) starts the job, named
`<schedule>-<slot time>`, the others see the claim and do nothing. Without Redis the claims
are in the schedules file, which only one dashboard should use.

Kept in Redis (`dashboard:schedules`) or DATA_DIR/dashboard/schedules.json.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from pathlib import Path

from crawlers.dashboard.control import Conflict, Control, StartError
from crawlers.dashboard.cron import Cron, CronError
from crawlers.telemetry.snapshot import clean_message

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 7 * 86400
NAME = re.compile(r"[A-Za-z0-9_.-]{1,60}")


class RedisSchedules:
    def __init__(self, client, prefix: str = "dashboard"):
        self.client = client
        self.prefix = prefix
        self.key = f"{prefix}:schedules"

    def all(self) -> list[dict]:
        records = [json.loads(v) for v in self.client.hvals(self.key)]
        return sorted(records, key=lambda r: r["name"])

    def get(self, name: str) -> dict | None:
        raw = self.client.hget(self.key, name)
        return json.loads(raw) if raw else None

    def add(self, record: dict) -> bool:
        return bool(self.client.hsetnx(self.key, record["name"], json.dumps(record)))

    def put(self, record: dict) -> None:
        self.client.hset(self.key, record["name"], json.dumps(record))

    def delete(self, name: str) -> None:
        self.client.hdel(self.key, name)

    def claim(self, name: str, slot: float) -> bool:
        key = f"{self.prefix}:schedule:{name}:{int(slot)}"
        return bool(self.client.set(key, str(os.getpid()), nx=True, ex=CLAIM_SECONDS))


class FileSchedules:
    def __init__(self, path: Path):
        self.path = path

    def _load(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {"schedules": {}, "claims": {}}

    def _save(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)

    def all(self) -> list[dict]:
        return sorted(self._load()["schedules"].values(), key=lambda r: r["name"])

    def get(self, name: str) -> dict | None:
        return self._load()["schedules"].get(name)

    def add(self, record: dict) -> bool:
        data = self._load()
        if record["name"] in data["schedules"]:
            return False
        data["schedules"][record["name"]] = record
        self._save(data)
        return True

    def put(self, record: dict) -> None:
        data = self._load()
        data["schedules"][record["name"]] = record
        self._save(data)

    def delete(self, name: str) -> None:
        data = self._load()
        data["schedules"].pop(name, None)
        self._save(data)

    def claim(self, name: str, slot: float) -> bool:
        data = self._load()
        if data["claims"].get(name, 0) >= slot:
            return False
        data["claims"][name] = slot
        self._save(data)
        return True


def slot_name(slot: float) -> str:
    return time.strftime("%Y%m%dT%H%MZ", time.gmtime(slot))


class Scheduler:
    def __init__(
        self,
        control: Control,
        store: RedisSchedules | FileSchedules,
        check_every: float = 10.0,
        late: float = 600.0,
    ):
        self.control = control
        self.store = store
        self.check_every = check_every
        self.late = late
        self.task: asyncio.Task | None = None

    async def _blocking(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    async def create(self, body) -> dict:
        if not isinstance(body, dict):
            raise StartError("the body must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise StartError("name: letters, digits, '.', '_' and '-' (up to 60)")
        try:
            cron = Cron.parse(body.get("cron"))
        except CronError as exc:
            raise StartError(str(exc)) from None
        start = {k: body[k] for k in ("spider", "args", "settings", "nodes") if k in body}
        plan = await self.control.check({**start, "job": name})
        record = {
            "name": name,
            "cron": cron.text,
            "start": {
                "spider": plan["spider"],
                "args": plan["args"],
                "settings": plan["settings"],
                "nodes": start.get("nodes"),
            },
            "paused": False,
            "created": time.time(),
            "fired": [],
        }
        if not await self._blocking(self.store.add, record):
            raise Conflict(f"schedule {name!r} exists already")
        return self.view(record)

    def view(self, record: dict, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        upcoming = None if record["paused"] else Cron.parse(record["cron"]).next_slot(now)
        return {**record, "next": upcoming}

    async def views(self) -> list[dict]:
        now = time.time()
        return [self.view(r, now) for r in await self._blocking(self.store.all)]

    async def _get(self, name: str) -> dict:
        record = await self._blocking(self.store.get, name)
        if record is None:
            raise LookupError(name)
        return record

    async def pause(self, name: str, paused: bool) -> dict:
        record = await self._get(name)
        record["paused"] = paused
        await self._blocking(self.store.put, record)
        return self.view(record)

    async def delete(self, name: str) -> dict:
        await self._get(name)
        await self._blocking(self.store.delete, name)
        return {"name": name, "deleted": True}

    async def fire_due(self, now: float | None = None) -> list[str]:
        """Start each schedule whose slot came due and that no dashboard claimed yet."""
        now = time.time() if now is None else now
        started = []
        for record in await self._blocking(self.store.all):
            if record["paused"]:
                continue
            slot = Cron.parse(record["cron"]).last_slot(now, self.late)
            if slot is None or slot < record["created"]:  # not a slot from before it existed
                continue
            if not await self._blocking(self.store.claim, record["name"], slot):
                continue
            job = f"{record['name']}-{slot_name(slot)}"
            try:
                await self.control.start({**record["start"], "job": job}, origin=record["name"])
                outcome = {"slot": slot, "job": job, "error": None}
                started.append(job)
            except StartError as exc:
                outcome = {"slot": slot, "job": job, "error": clean_message(str(exc))}
                logger.warning("schedule %s: %s not started: %s", record["name"], job, exc)
            current = await self._blocking(self.store.get, record["name"])
            if current is not None:
                current["fired"] = [*current.get("fired", []), outcome][-20:]
                await self._blocking(self.store.put, current)
        return started

    async def run(self) -> None:
        while True:
            try:
                await self.fire_due()
            except Exception as exc:  # Redis or a node away: the next look tries again
                logger.warning("schedules: %s", clean_message(f"{type(exc).__name__}: {exc}"))
            await asyncio.sleep(self.check_every)
