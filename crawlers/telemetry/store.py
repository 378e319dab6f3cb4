"""Where node snapshots live: Redis for a cluster, files for a single machine; per run.

A run is one crawl of a job from its start to its end, however many nodes join it. Its
identity is the run token the cluster scheduler keeps for the job (crawlers/cluster/queue.py:
every node of one run has the same; a job resumed after a stop keeps it), and without one
(no REDIS_URL, or a spider with a scheduler of its own) the crawl's own start. A run's
figures are its own: the next run of the job starts from zero, and a finished run keeps
what it showed.

Redis layout (PREFIX is TELEMETRY_PREFIX, default "telemetry"; a job's keys share the hash
tag {PREFIX:JOB}, so the join script runs on Redis Cluster too):
  PREFIX:jobs                        sorted set: job -> last report (the live list)
  {PREFIX:JOB}:runs                  sorted set: run -> its start (the job's history)
  {PREFIX:JOB}:run:RUN               hash: node -> the node's latest snapshot (JSON)
  {PREFIX:JOB}:run:RUN:series        list: progress points of the run's nodes, for its chart
  {PREFIX:JOB}:run:RUN:live          sorted set: node -> last report, while running
  {PREFIX:JOB}:current               the run nodes without a cluster token join (see join)
A job leaves the live list TELEMETRY_TTL after its last report; its runs are kept
TELEMETRY_HISTORY_DAYS (0: for ever), and at most TELEMETRY_HISTORY_RUNS of them.

Without Redis, DATA_DIR/jobs/<job>.json is the last local crawl of the job and
DATA_DIR/jobs/<job>/runs/<run>.json the ones before it.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawlers import redis_scripts

DEFAULT_PREFIX = "telemetry"
DEFAULT_TTL = 24 * 3600
DEFAULT_HISTORY_DAYS = 90.0
DEFAULT_HISTORY_RUNS = 200
SERIES_POINTS = 5000  # a point per node per TELEMETRY_SERIES_INTERVAL: days of a big run


def _text(value: bytes | str) -> str:
    """Names as str, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else value


def local_run(started: float) -> str:
    """A run named after the crawl's start (UTC), unique among nodes starting together."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    return f"{stamp}-{secrets.token_hex(3)}"


def series_point(snapshot: dict[str, Any]) -> dict[str, Any]:
    progress = snapshot["progress"]
    return {
        "t": round(snapshot["last_seen"], 1),
        "node": snapshot["node"],
        "done": progress.get("done", 0),
        "failed": progress.get("failed", 0),
        "rate": snapshot.get("rate"),
    }


class RedisStore:
    def __init__(
        self,
        client,
        prefix: str = DEFAULT_PREFIX,
        ttl: int = DEFAULT_TTL,
        history_days: float = DEFAULT_HISTORY_DAYS,
        history_runs: int = DEFAULT_HISTORY_RUNS,
        where: str = "",
    ):
        self.client = client
        self.where = where
        self.prefix = prefix
        self.ttl = int(ttl)
        self.history_seconds = int(history_days * 86400)
        self.history_runs = int(history_runs)
        self._join = redis_scripts.script(client, "telemetry_join")

    @classmethod
    def from_settings(cls, settings, url: str, timeout: float = 5.0, **kwargs) -> RedisStore:
        """A store on `url` through the project's client (REDIS_PARAMS: TLS, a password)."""
        from crawlers.cluster import connection

        # Named from the URL: a cluster client has no one connection pool to ask.
        parts = urlsplit(url)
        kind = "redis cluster" if connection.node_url(url) else "redis"
        where = f"{kind} {parts.hostname or '?'}:{parts.port or 6379}"
        return cls(connection.client(settings, url, timeout=timeout), where=where, **kwargs)

    def _job_key(self, job: str) -> str:
        # A tag of its own, not the queue's {job}: the dashboard's Discard deletes every key
        # of the job's tag, and a job's telemetry history outlives that.
        return f"{{{self.prefix}:{job}}}"

    def _runs_key(self, job: str) -> str:
        return f"{self._job_key(job)}:runs"

    def _run_key(self, job: str, run: str, part: str = "") -> str:
        return f"{self._job_key(job)}:run:{run}" + (f":{part}" if part else "")

    @property
    def _jobs_key(self) -> str:
        return f"{self.prefix}:jobs"

    def _keep(self, pipe, key: str) -> None:
        if self.history_seconds:
            pipe.expire(key, self.history_seconds)

    def join(self, job: str, node: str, proposed: str, now: float, silent_after: float) -> str:
        """The run a node without a cluster token belongs to: the job's current one while a
        node of it runs (nodes sharing a ledger, started together), else `proposed`."""
        current = f"{self._job_key(job)}:current"
        seen = _text(self.client.get(current) or b"")
        while True:
            joined, run = self._join(
                keys=[
                    current,
                    self._run_key(job, seen or proposed, "live"),
                    self._run_key(job, proposed, "live"),
                ],
                args=[node, proposed, now, silent_after, self.ttl, seen],
            )
            if int(joined):
                return _text(run)
            seen = _text(run)

    def publish(self, snapshot: dict[str, Any], point: bool = True) -> None:
        job, run, node = snapshot["job"], snapshot["run"], snapshot["node"]
        seen = snapshot["last_seen"]
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self._run_key(job, run), node, json.dumps(snapshot))
        self._keep(pipe, self._run_key(job, run))
        pipe.zadd(self._runs_key(job), {run: snapshot["started"]}, lt=True)
        self._keep(pipe, self._runs_key(job))
        live = self._run_key(job, run, "live")
        if snapshot["state"] == "running":
            pipe.zadd(live, {node: seen})
            pipe.expire(live, self.ttl)
        else:
            pipe.zrem(live, node)
        if point:
            series = self._run_key(job, run, "series")
            pipe.rpush(series, json.dumps(series_point(snapshot)))
            pipe.ltrim(series, -SERIES_POINTS, -1)
            self._keep(pipe, series)
        pipe.zadd(self._jobs_key, {job: seen}, gt=True)
        pipe.execute()

    def runs(self, job: str) -> list[str]:
        """The job's runs, newest start first (runs beyond the retention are dropped)."""
        key = self._runs_key(job)
        if self.history_seconds:
            self.client.zremrangebyscore(key, "-inf", time.time() - self.history_seconds)
        if self.history_runs:
            old = self.client.zrange(key, 0, -self.history_runs - 1)
            if old:
                self._forget(job, [_text(r) for r in old])
        return [_text(r) for r in self.client.zrevrange(key, 0, -1)]

    def _forget(self, job: str, runs: list[str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.zrem(self._runs_key(job), *runs)
        for run in runs:
            # One DEL a key: a cluster pipeline refuses a DEL of several.
            for part in ("", "series", "live"):
                pipe.delete(self._run_key(job, run, part))
        pipe.execute()

    def nodes(self, job: str, run: str | None = None) -> list[dict[str, Any]]:
        """The latest snapshot of each node of `run` (default: the job's newest run)."""
        if run is None:
            runs = self.runs(job)
            if not runs:
                return []
            run = runs[0]
        raw = self.client.hvals(self._run_key(job, run))
        return sorted((json.loads(v) for v in raw), key=lambda s: s["node"])

    def series(self, job: str, run: str) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.client.lrange(self._run_key(job, run, "series"), 0, -1)]

    def job_names(self) -> list[str]:
        """Jobs reported within TELEMETRY_TTL, most recent first."""
        self.client.zremrangebyscore(self._jobs_key, "-inf", time.time() - self.ttl)
        return [_text(j) for j in self.client.zrevrange(self._jobs_key, 0, -1)]

    def describe(self) -> str:
        if self.where:
            return self.where
        kwargs = self.client.connection_pool.connection_kwargs
        return f"redis {kwargs.get('host', '?')}:{kwargs.get('port', '?')}"


class FileStore:
    """One node per run on a single machine: nothing to join, the run is the crawl."""

    def __init__(self, directory: str | Path, history_runs: int = DEFAULT_HISTORY_RUNS):
        self.directory = Path(directory)
        self.history_runs = int(history_runs)

    def _path(self, job: str) -> Path:
        return self.directory / f"{job}.json"

    def _history(self, job: str) -> Path:
        return self.directory / job / "runs"

    def join(self, job: str, node: str, proposed: str, now: float, silent_after: float) -> str:
        return proposed

    @staticmethod
    def _write(path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)

    def publish(self, snapshot: dict[str, Any], point: bool = True) -> None:
        path = self._path(snapshot["job"])
        previous = self._read(path)
        if previous and previous.get("run") != snapshot.get("run"):
            # The job's last crawl becomes history the moment the next one reports.
            old = self._history(snapshot["job"]) / f"{previous.get('run') or 'earlier'}.json"
            old.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, old)
            self._prune(snapshot["job"])
            previous = None
        series = (previous or {}).get("series", [])
        if point:
            series = [*series, series_point(snapshot)][-SERIES_POINTS:]
        self._write(path, {**snapshot, "series": series})

    def _prune(self, job: str) -> None:
        files = sorted(self._history(job).glob("*.json"), key=lambda p: -p.stat().st_mtime)
        for path in files[max(0, self.history_runs - 1) :] if self.history_runs else []:
            path.unlink(missing_ok=True)

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _run_files(self, job: str) -> list[Path]:
        history = self._history(job)
        older = list(history.glob("*.json")) if history.is_dir() else []
        older.sort(key=lambda p: -p.stat().st_mtime)
        current = self._path(job)
        return ([current] if current.exists() else []) + older

    def runs(self, job: str) -> list[str]:
        found = (self._read(p) for p in self._run_files(job))
        return [data.get("run") or "" for data in found if data]

    def _run_data(self, job: str, run: str | None) -> dict[str, Any] | None:
        for path in self._run_files(job):
            data = self._read(path)
            if data and (run is None or data.get("run", "") == run):
                return data
        return None

    def nodes(self, job: str, run: str | None = None) -> list[dict[str, Any]]:
        data = self._run_data(job, run)
        if data is None:
            return []
        data.pop("series", None)
        return [data]

    def series(self, job: str, run: str) -> list[dict[str, Any]]:
        return (self._run_data(job, run) or {}).get("series", [])

    def job_names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        files = sorted(self.directory.glob("*.json"), key=lambda p: -p.stat().st_mtime)
        return [p.stem for p in files]

    def describe(self) -> str:
        return f"files in {self.directory}"
