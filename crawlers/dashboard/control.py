"""Jobs the dashboard starts, stops and discards on its scrapyd nodes.

A job started here is one CRAWL_JOB scheduled with the same spider, arguments and settings
on each chosen node (scrapyd `schedule.json`); the nodes share it through Redis as any
cluster job. Its record (spider, arguments, settings, and each node's scrapyd job id) is
kept in Redis (`dashboard:jobs`, a hash) or, without Redis, in DATA_DIR/dashboard/jobs.json,
so another dashboard, or this one restarted, can stop it.

Stop sends SIGINT through scrapyd's `cancel.json` (Scrapy closes cleanly: what a node holds
goes back to the shared queue, and starting the job again resumes it); a second stop, once
DASHBOARD_STOP_GRACE seconds have passed, sends SIGTERM, which Scrapy takes as "shut down
now". Discard forgets a stopped job: its record, and the job's queue and state in Redis.

Before anything is scheduled the start is checked, so that it fails as a whole with one
line rather than on some nodes: the spider is known on every chosen node (listspiders.json),
its arguments are ones it declares, each setting's value fits the setting, and no setting
carries a secret (scrapyd shows a job's settings in listjobs.json and on its command line:
nodes take secrets from their own environment).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from crawlers.dashboard.scrapyd import Node, NodeError, Scrapyd
from crawlers.jobs import safe_name
from crawlers.telemetry.snapshot import clean_message

# Names of settings that hold secrets, and values that carry credentials.
SECRET_NAME = re.compile(r"(?i)(PASS|SECRET|TOKEN|CREDENTIAL|API_?KEY|PRIVATE|AUTH)")
SECRET_VALUE = re.compile(r"(?i)[a-z][a-z0-9+.-]*://[^/\s@]*:[^/\s@]*@")
# Set by the dashboard itself for every node.
RESERVED = frozenset({"CRAWL_JOB", "NODE_ID"})
PENDING, RUNNING, FINISHED = "pending", "running", "finished"


class StartError(ValueError):
    """Why a start, stop or discard was refused: one line for the page and the API."""

    status = 400


class Unavailable(StartError):
    """A node that could not be asked (down, or refusing the dashboard's credentials)."""

    status = 502


class Conflict(StartError):
    """Refused because of the job's state (running, stopping, existing)."""

    status = 409


CLOSED = re.compile(r"Spider closed \(([^)]*)\)")


def log_error(tail: str) -> str | None:
    """Why a node's crawl ended badly, from the end of its log; None if it ended well (an
    error logged along the way, a page that failed, is the crawl's business, not this)."""
    closed = CLOSED.findall(tail)
    if closed and closed[-1] in ("finished", "shutdown"):
        return None
    for line in reversed(tail.splitlines()):
        if line.startswith("error: ") or " ERROR: " in line:
            return clean_message(line, 300)
    if closed:
        return f"the crawl closed: {closed[-1]}"
    return "the crawl ended before its spider closed (the node's scrapyd log says why)"


class RedisJobs:
    def __init__(self, client, prefix: str = "dashboard"):
        self.client = client
        self.key = f"{prefix}:jobs"

    def get(self, job: str) -> dict | None:
        raw = self.client.hget(self.key, job)
        return json.loads(raw) if raw else None

    def put(self, record: dict) -> None:
        self.client.hset(self.key, record["job"], json.dumps(record))

    def add(self, record: dict) -> bool:
        """False if a record of that job exists already."""
        return bool(self.client.hsetnx(self.key, record["job"], json.dumps(record)))

    def delete(self, job: str) -> None:
        self.client.hdel(self.key, job)

    def all(self) -> list[dict]:
        records = [json.loads(v) for v in self.client.hvals(self.key)]
        return sorted(records, key=lambda r: -r["created"])

    def forget_job_state(self, job: str) -> int:
        """Delete the job's queue and the state kept beside it (every key of its hash tag)."""
        keys = list(self.client.scan_iter(match=f"*{{{job}}}*", count=1000))
        return self.client.delete(*keys) if keys else 0


class FileJobs:
    """One dashboard on one machine: the records in a JSON file."""

    def __init__(self, path: Path):
        self.path = path

    def _load(self) -> dict[str, dict]:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _save(self, records: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(records, indent=1))
        os.replace(tmp, self.path)

    def get(self, job: str) -> dict | None:
        return self._load().get(job)

    def put(self, record: dict) -> None:
        records = self._load()
        records[record["job"]] = record
        self._save(records)

    def add(self, record: dict) -> bool:
        if self.get(record["job"]) is not None:
            return False
        self.put(record)
        return True

    def delete(self, job: str) -> None:
        records = self._load()
        records.pop(job, None)
        self._save(records)

    def all(self) -> list[dict]:
        return sorted(self._load().values(), key=lambda r: -r["created"])

    def forget_job_state(self, job: str) -> int:
        return 0  # no shared state without Redis


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StartError(f"{what} must be an object of NAME: VALUE")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise StartError(f"{what}: {str(key)[:40]!r} is not a name")
        if isinstance(item, bool | int | float):
            item = json.dumps(item)
        if not isinstance(item, str):
            raise StartError(f"{what}: {key} must be a string")
        out[key] = item
    return out


def secret_problem(settings: dict[str, str]) -> str | None:
    for name, value in settings.items():
        if SECRET_NAME.search(name) or SECRET_VALUE.search(value):
            return (
                f"setting {name} carries a secret: scrapyd would show it in listjobs.json and "
                "on the job's command line; set it in each node's environment instead"
            )
    return None


class Control:
    def __init__(
        self,
        scrapyd: Scrapyd,
        jobs: RedisJobs | FileJobs,
        check_spider,
        stop_grace: float = 30.0,
        redo_failed=None,
    ):
        self.scrapyd = scrapyd
        self.jobs = jobs
        # (spider, args, settings) -> a problem or None, from the project's own spiders and
        # settings (the dashboard runs in the project).
        self.check_spider = check_spider
        self.stop_grace = stop_grace
        # spider -> how many failed units were put back for a new run to redo (see
        # checks.failed_redoer); StartError when the spider cannot redo only those.
        self.redo_failed = redo_failed
        self._ended: dict[str, str | None] = {}  # scrapyd job id -> its error, once finished

    async def _blocking(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    def _chosen(self, nodes: Any) -> list[Node]:
        known = self.scrapyd.nodes
        if not known:
            raise StartError("no scrapyd node is configured (DASHBOARD_SCRAPYD_NODES)")
        if nodes is None or nodes == "all":
            return list(known.values())
        if isinstance(nodes, int) and not isinstance(nodes, bool):
            if not 1 <= nodes <= len(known):
                raise StartError(f"nodes: a count from 1 to {len(known)}, not {nodes}")
            return list(known.values())[:nodes]
        if isinstance(nodes, list) and nodes and all(isinstance(n, str) for n in nodes):
            unknown = [n for n in nodes if n not in known]
            if unknown:
                raise StartError(f"no node {unknown[0]!r} (nodes: {', '.join(known)})")
            return [known[n] for n in dict.fromkeys(nodes)]
        raise StartError('nodes: a list of node names, a count, or "all"')

    async def check(self, body: Any) -> dict:
        """The start `body` asks for, checked as a whole; StartError for the first problem."""
        if not isinstance(body, dict):
            raise StartError("the body must be a JSON object")
        spider = body.get("spider")
        if not isinstance(spider, str) or not spider:
            raise StartError("spider: the name of a spider")
        args = _strings(body.get("args"), "args")
        settings = _strings(body.get("settings"), "settings")
        for name in RESERVED & set(settings):
            raise StartError(f"setting {name} is set by the dashboard")
        problem = secret_problem(settings)
        if problem:
            raise StartError(problem)
        nodes = self._chosen(body.get("nodes"))
        job = body.get("job") or f"{spider}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        if not isinstance(job, str) or safe_name(job) != job:
            raise StartError("job: letters, digits, '.', '_' and '-' only")
        problem = await self._blocking(self.check_spider, spider, args, settings)
        if problem:
            raise StartError(problem)
        await self._spider_on(nodes, spider)
        return {"job": job, "spider": spider, "args": args, "settings": settings, "nodes": nodes}

    async def start(self, body: Any, origin: str | None = None) -> dict:
        """Check and schedule a new job; StartError when refused (nothing scheduled)."""
        plan = await self.check(body)
        record = {
            "job": plan["job"],
            "spider": plan["spider"],
            "args": plan["args"],
            "settings": plan["settings"],
            "created": time.time(),
            "nodes": {n.name: {} for n in plan["nodes"]},
            "stops": [],
            "schedule": origin,
        }
        if not await self._blocking(self.jobs.add, record):
            raise Conflict(f"job {plan['job']!r} exists already: resume it, or discard it first")
        return await self._schedule(record, plan["nodes"])

    async def resume(self, job: str) -> dict:
        """Schedule a stopped job again on its nodes: they rejoin its run where it was."""
        record = await self._record(job)
        view = await self.view(record)
        if view["state"] in (PENDING, RUNNING):
            raise Conflict(f"job {job!r} is still {view['state']}")
        nodes = [self.scrapyd.nodes[n] for n in record["nodes"] if n in self.scrapyd.nodes]
        if not nodes:
            raise StartError(f"none of job {job!r}'s nodes is configured any more")
        await self._spider_on(nodes, record["spider"])
        record["stops"] = []
        return await self._schedule(record, nodes)

    async def retry_failed(self, job: str) -> dict:
        """Redo the failed units of an ended job: put back what the spider keeps (the
        businesses ledger), then start it again on its nodes."""
        record = await self._record(job)
        view = await self.view(record)
        if view["state"] in (PENDING, RUNNING):
            raise Conflict(f"job {job!r} is still {view['state']}")
        if self.redo_failed is None:
            raise StartError("retrying failed units is not set up on this dashboard")
        put_back = await self._blocking(self.redo_failed, record["spider"])
        return {**await self.resume(job), "put_back": put_back}

    async def _spider_on(self, nodes: list[Node], spider: str) -> None:
        found = await asyncio.gather(
            *(self.scrapyd.spiders(n) for n in nodes), return_exceptions=True
        )
        for node, spiders in zip(nodes, found, strict=True):
            if isinstance(spiders, NodeError):
                raise Unavailable(str(spiders))
            if isinstance(spiders, BaseException):
                raise spiders
            if spider not in spiders:
                raise StartError(
                    f"node {node.name} has no spider {spider!r} in project "
                    f"{self.scrapyd.project} (deploy it there: scrapyd-deploy)"
                )

    async def _schedule(self, record: dict, nodes: list[Node]) -> dict:
        async def one(node: Node) -> dict:
            jobid = uuid.uuid4().hex
            settings = {
                **record["settings"],
                "CRAWL_JOB": record["job"],
                "NODE_ID": f"{node.name}-{jobid[:6]}",
            }
            try:
                await self.scrapyd.schedule(node, record["spider"], jobid, record["args"], settings)
            except NodeError as exc:
                return {"error": str(exc), "at": time.time()}
            return {"jobid": jobid, "node_id": settings["NODE_ID"], "at": time.time()}

        started = await asyncio.gather(*(one(n) for n in nodes))
        for node, result in zip(nodes, started, strict=True):
            earlier = record["nodes"].get(node.name, {})
            result["jobids"] = [*earlier.get("jobids", []), result.get("jobid")]
            record["nodes"][node.name] = result
        await self._blocking(self.jobs.put, record)
        return await self.view(record)

    async def _record(self, job: str) -> dict:
        record = await self._blocking(self.jobs.get, job)
        if record is None:
            raise LookupError(job)
        return record

    async def stop(self, job: str) -> dict:
        record = await self._record(job)
        view = await self.view(record)
        live = [n for n in view["nodes"] if n["state"] in (PENDING, RUNNING)]
        if not live:
            raise Conflict(f"job {job!r} is not running")
        now = time.time()
        if record["stops"] and now - record["stops"][-1] < self.stop_grace:
            wait = self.stop_grace - (now - record["stops"][-1])
            raise Conflict(
                f"job {job!r} is stopping; a second stop ends it at once, in {wait:.0f}s "
                "(DASHBOARD_STOP_GRACE)"
            )
        signal = "TERM" if record["stops"] else "INT"
        for node in live:
            try:
                await self.scrapyd.cancel(self.scrapyd.nodes[node["name"]], node["jobid"], signal)
            except NodeError as exc:
                record["nodes"][node["name"]]["error"] = str(exc)
        record["stops"].append(now)
        await self._blocking(self.jobs.put, record)
        return {**await self.view(record), "signal": "SIG" + signal}

    async def discard(self, job: str) -> dict:
        record = await self._record(job)
        view = await self.view(record)
        if view["state"] in (PENDING, RUNNING):
            raise Conflict(f"job {job!r} is {view['state']}: stop it first")
        removed = await self._blocking(self.jobs.forget_job_state, job)
        await self._blocking(self.jobs.delete, job)
        return {"job": job, "discarded": True, "keys_removed": removed}

    async def view(self, record: dict, listed: dict | None = None) -> dict:
        """The record with each node's scrapyd state (pending, running, finished, unknown);
        `listed` shares each node's listjobs.json among the views of one page refresh."""
        listed = {} if listed is None else listed

        async def one(name: str, entry: dict) -> dict:
            out = {"name": name, "jobid": entry.get("jobid"), "node_id": entry.get("node_id")}
            out["error"] = entry.get("error")
            node = self.scrapyd.nodes.get(name)
            if node is None or not entry.get("jobid"):
                return {**out, "state": "not started" if entry.get("error") else "unknown"}
            try:
                if name not in listed:
                    listed[name] = asyncio.ensure_future(self.scrapyd.jobs(node))
                jobs = await asyncio.shield(listed[name])
            except NodeError as exc:
                return {**out, "state": "unknown", "error": str(exc)}
            found = jobs.get(entry["jobid"])
            if found is None:
                return {**out, "state": "unknown"}
            out.update(state=found["state"], log_url=found.get("log_url"))
            if found["state"] == FINISHED and not out["error"]:
                if entry["jobid"] not in self._ended:
                    tail = await self.scrapyd.log_tail(node, found.get("log_url") or "")
                    if tail:  # not cached while the log cannot be read
                        self._ended[entry["jobid"]] = log_error(tail)
                out["error"] = self._ended.get(entry["jobid"])
            return out

        nodes = await asyncio.gather(*(one(n, e) for n, e in record["nodes"].items()))
        states = {n["state"] for n in nodes}
        state = next((s for s in (RUNNING, PENDING) if s in states), None)
        if state is None:
            state = "stopped" if record["stops"] else FINISHED
        public = {k: v for k, v in record.items() if k != "nodes"}
        return {**public, "state": state, "stopping": bool(record["stops"]), "nodes": nodes}

    async def views(self) -> list[dict]:
        records = await self._blocking(self.jobs.all)
        listed: dict = {}
        return list(await asyncio.gather(*(self.view(r, listed) for r in records)))

    async def job_view(self, job: str) -> dict:
        return await self.view(await self._record(job))
