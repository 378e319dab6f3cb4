"""The scrapyd nodes the dashboard drives (DASHBOARD_SCRAPYD_NODES) and the calls it makes.

DASHBOARD_SCRAPYD_NODES lists the nodes, separated by commas or whitespace, each `URL` or
`NAME=URL`: `node1=http://user:pass@10.0.0.5:6800, http://10.0.0.6:6800`. A URL's user
and password are scrapyd's basic-auth credentials: they go into the Authorization header of
each call and nowhere else (a node is shown by its name and its URL without them, and an
error names the node, never its URL as given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

from crawlers.errors import ConfigError
from crawlers.jobs import safe_name
from crawlers.telemetry.snapshot import clean_message

DEFAULT_PROJECT = "crawlers"
TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
# listspiders.json starts a Python process that loads the egg: seconds on a busy node.
SLOW_TIMEOUT = aiohttp.ClientTimeout(total=120, connect=5)


class NodeError(Exception):
    """A node that cannot be reached or refused a call; the message names the node only."""


@dataclass(frozen=True)
class Node:
    name: str
    url: str  # without credentials: what pages and errors may show
    authorization: str | None = field(default=None, repr=False)  # never in a repr either

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.authorization} if self.authorization else {}

    def public(self) -> dict[str, str]:
        return {"name": self.name, "url": self.url}


def parse_nodes(value: str | list | None) -> list[Node]:
    """The nodes of DASHBOARD_SCRAPYD_NODES; ConfigError (without credentials) for bad ones."""
    items = value if isinstance(value, list | tuple) else re.split(r"[\s,]+", value or "")
    nodes: list[Node] = []
    for position, item in enumerate((i.strip() for i in items if i and i.strip()), 1):
        name, sep, url = item.partition("=")
        if not sep or "://" in name:
            name, url = "", item
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"DASHBOARD_SCRAPYD_NODES: node {position} is not an http(s) URL of scrapyd"
            )
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        auth = None
        if parts.username is not None:
            auth = aiohttp.encode_basic_auth(unquote(parts.username), unquote(parts.password or ""))
        public = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        node = Node(safe_name(name or host.replace(":", "-")), public, auth)
        if any(n.name == node.name for n in nodes):
            raise ConfigError(f"DASHBOARD_SCRAPYD_NODES: two nodes are named {node.name!r}")
        nodes.append(node)
    return nodes


class Scrapyd:
    """scrapyd's JSON API on each node, through one aiohttp session."""

    def __init__(self, nodes: list[Node], project: str = DEFAULT_PROJECT):
        self.nodes = {n.name: n for n in nodes}
        self.project = project
        self._session: aiohttp.ClientSession | None = None
        # (node, version) -> its spiders: a version's spiders do not change.
        self._spiders: dict[tuple[str, str], list[str]] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(
        self,
        node: Node,
        endpoint: str,
        params: dict | None = None,
        data: list | None = None,
        timeout: aiohttp.ClientTimeout = TIMEOUT,
    ) -> dict[str, Any]:
        url = f"{node.url}/{endpoint}"
        try:
            if data is None:
                request = self.session.get(
                    url, params=params, headers=node.headers, timeout=timeout
                )
            else:
                request = self.session.post(url, data=data, headers=node.headers, timeout=timeout)
            async with request as resp:
                if resp.status == 401:
                    raise NodeError(f"node {node.name}: scrapyd refused its credentials")
                if resp.status != 200:
                    raise NodeError(f"node {node.name}: {endpoint} answered HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except NodeError:
            raise
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            reason = clean_message(str(exc), 120) if not isinstance(exc, TimeoutError) else ""
            raise NodeError(
                f"node {node.name}: cannot reach scrapyd ({type(exc).__name__}"
                + (f": {reason}" if reason and node.url not in reason else "")
                + ")"
            ) from None
        if body.get("status") != "ok":
            raise NodeError(
                f"node {node.name}: {endpoint}: {clean_message(str(body.get('message', body)))}"
            )
        return body

    async def status(self, node: Node) -> dict[str, Any]:
        """Whether the node answers, its jobs of our project and the project's version."""
        out: dict[str, Any] = {**node.public(), "ok": False, "error": None}
        try:
            daemon = await self.call(node, "daemonstatus.json")
            versions = await self.call(node, "listversions.json", {"project": self.project})
            jobs = await self.call(node, "listjobs.json", {"project": self.project})
            version = (versions.get("versions") or [None])[-1]
            spiders = await self.spiders(node, version) if version else []
        except NodeError as exc:
            return {**out, "error": str(exc)}
        return {
            **out,
            "ok": True,
            "version": version,
            "running": len(jobs.get("running", [])),
            "pending": len(jobs.get("pending", [])),
            "slots_running": daemon.get("running"),
            "spiders": spiders,
        }

    async def spiders(self, node: Node, version: str | None = None) -> list[str]:
        """The spiders of our project on the node (of `version`: cached)."""
        if version and (node.name, version) in self._spiders:
            return self._spiders[node.name, version]
        params = {"project": self.project, **({"_version": version} if version else {})}
        body = await self.call(node, "listspiders.json", params, timeout=SLOW_TIMEOUT)
        spiders = list(body.get("spiders", []))
        if version:
            self._spiders[node.name, version] = spiders
        return spiders

    async def jobs(self, node: Node) -> dict[str, dict[str, Any]]:
        """scrapyd job id -> {"state": pending|running|finished, ...} on the node."""
        body = await self.call(node, "listjobs.json", {"project": self.project})
        out = {}
        for state in ("pending", "running", "finished"):
            for job in body.get(state, []):
                out[job["id"]] = {**job, "state": state}
        return out

    async def schedule(
        self,
        node: Node,
        spider: str,
        jobid: str,
        args: dict[str, str],
        settings: dict[str, str],
    ) -> str:
        fields = [("project", self.project), ("spider", spider), ("jobid", jobid)]
        fields += [(k, v) for k, v in args.items()]
        fields += [("setting", f"{k}={v}") for k, v in settings.items()]
        return (await self.call(node, "schedule.json", data=fields))["jobid"]

    async def cancel(self, node: Node, jobid: str, signal: str) -> str | None:
        fields = [("project", self.project), ("job", jobid), ("signal", signal)]
        return (await self.call(node, "cancel.json", data=fields)).get("prevstate")

    async def log_tail(self, node: Node, log_url: str, size: int = 16384) -> str:
        """The end of a job's log on the node ('' when it cannot be read)."""
        if not log_url:
            return ""
        url = node.url + log_url if log_url.startswith("/") else log_url
        try:
            # The size first: scrapyd's file server fails a suffix range longer than the file.
            async with self.session.head(url, headers=node.headers) as head:
                if head.status != 200:
                    return ""
                length = int(head.headers.get("Content-Length") or 0)
            headers = {
                **node.headers,
                **({"Range": f"bytes={length - size}-"} if length > size else {}),
            }
            async with self.session.get(url, headers=headers) as resp:
                if resp.status not in (200, 206):
                    return ""
                return (await resp.read()).decode("utf-8", "replace")
        except (TimeoutError, ValueError, aiohttp.ClientError):
            return ""
