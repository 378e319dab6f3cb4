"""Where node snapshots live: Redis for a cluster, a file per job for a single machine.

Redis layout (PREFIX is TELEMETRY_PREFIX, default "telemetry"):
  PREFIX:JOB:node:NODE   the node's latest snapshot (JSON), expiring after TELEMETRY_TTL
  PREFIX:JOB:nodes       sorted set of the job's nodes, scored by last report
  PREFIX:jobs            sorted set of jobs, scored by last report
The indexes let a reader list jobs and nodes without SCAN; entries whose snapshot expired
are dropped when read. The TTL outlives the silence timeout, so a dead node is shown as
silent for a while before it disappears.

Without Redis the last local crawl of each job is DATA_DIR/jobs/<job>.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_PREFIX = "telemetry"
DEFAULT_TTL = 24 * 3600


def _text(value: bytes | str) -> str:
    """Names as str, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    def __init__(self, client, prefix: str = DEFAULT_PREFIX, ttl: int = DEFAULT_TTL):
        self.client = client
        self.prefix = prefix
        self.ttl = int(ttl)

    @classmethod
    def from_url(cls, url: str, timeout: float = 5.0, **kwargs) -> RedisStore:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, **kwargs)

    def _node_key(self, job: str, node: str) -> str:
        return f"{self.prefix}:{job}:node:{node}"

    def _nodes_key(self, job: str) -> str:
        return f"{self.prefix}:{job}:nodes"

    @property
    def _jobs_key(self) -> str:
        return f"{self.prefix}:jobs"

    def publish(self, snapshot: dict[str, Any]) -> None:
        job, node, seen = snapshot["job"], snapshot["node"], snapshot["last_seen"]
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self._node_key(job, node), json.dumps(snapshot), ex=self.ttl)
        pipe.zadd(self._nodes_key(job), {node: seen})
        pipe.expire(self._nodes_key(job), self.ttl)
        pipe.zadd(self._jobs_key, {job: seen})
        pipe.expire(self._jobs_key, self.ttl)
        pipe.execute()

    def nodes(self, job: str) -> list[dict[str, Any]]:
        names = [_text(n) for n in self.client.zrange(self._nodes_key(job), 0, -1)]
        if not names:
            return []
        raw = self.client.mget([self._node_key(job, n) for n in names])
        expired = [n for n, value in zip(names, raw, strict=True) if value is None]
        if expired:
            self.client.zrem(self._nodes_key(job), *expired)
            if len(expired) == len(names):
                self.client.zrem(self._jobs_key, job)
        return [json.loads(value) for value in raw if value is not None]

    def job_names(self) -> list[str]:
        names = [_text(j) for j in self.client.zrevrange(self._jobs_key, 0, -1)]
        gone = [j for j in names if not self.client.exists(self._nodes_key(j))]
        if gone:
            self.client.zrem(self._jobs_key, *gone)
        return [j for j in names if j not in gone]

    def describe(self) -> str:
        kwargs = self.client.connection_pool.connection_kwargs
        return f"redis {kwargs.get('host', '?')}:{kwargs.get('port', '?')}"


class FileStore:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _path(self, job: str) -> Path:
        return self.directory / f"{job}.json"

    def publish(self, snapshot: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(snapshot["job"])
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(snapshot, indent=1))
        os.replace(tmp, path)

    def nodes(self, job: str) -> list[dict[str, Any]]:
        try:
            return [json.loads(self._path(job).read_text())]
        except (FileNotFoundError, json.JSONDecodeError):
            return []

    def job_names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        files = sorted(self.directory.glob("*.json"), key=lambda p: -p.stat().st_mtime)
        return [p.stem for p in files]

    def describe(self) -> str:
        return f"files in {self.directory}"
