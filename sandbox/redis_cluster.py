"""A private three-master Redis Cluster on loopback, for tests and benchmarks.

Three `redis-server --cluster-enabled yes` on free ports in one temporary folder, joined by
`redis-cli --cluster create` (no replicas), stopped and removed by `stop()` (or by the
watchers of sandbox.services if the process that started them dies first).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sandbox.services import ServiceError, _end_watch, free_port, stop_if_orphaned, wait_for_port


class RedisClusterServer:
    def __init__(self, masters: int = 3):
        self.ports = [free_port() for _ in range(masters)]
        # The cluster bus: by default port + 10000, which may be taken or past 65535.
        self.bus_ports = [free_port() for _ in range(masters)]
        self.dir = Path(tempfile.mkdtemp(prefix="redis-cluster-"))
        self.procs: list[subprocess.Popen] = []
        self._watches: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        """What REDIS_URL takes for a cluster (crawlers/cluster/connection.py): one node is
        enough, the client discovers the others."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> RedisClusterServer:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if not binary or not cli:
            raise ServiceError("redis-server or redis-cli not found (apt-get install redis)")
        for port, bus in zip(self.ports, self.bus_ports, strict=True):
            proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.dir),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    f"nodes-{port}.conf",
                    "--cluster-port",
                    str(bus),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.procs.append(proc)
            self._watches.append(stop_if_orphaned(self.dir, ["kill", "-9", str(proc.pid)]))
        for port, proc in zip(self.ports, self.procs, strict=True):
            wait_for_port(port, proc=proc)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        created = subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if created.returncode != 0:
            self.stop()
            raise ServiceError(f"redis-cli --cluster create failed: {created.stdout[-500:]}")
        self._wait_ok(cli)
        return self

    def _wait_ok(self, cli: str, timeout: float = 30.0) -> None:
        """Until every node sees all slots served (the nodes agree a moment after create)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [
                subprocess.run(
                    [cli, "-p", str(port), "cluster", "info"], capture_output=True, text=True
                ).stdout
                for port in self.ports
            ]
            if all("cluster_state:ok" in state for state in states):
                return
            time.sleep(0.1)
        self.stop()
        raise ServiceError(f"Redis Cluster on {self.ports} not ok after {timeout:.0f}s")

    def flush(self) -> None:
        """Empty every master (a test's clean slate)."""
        import redis

        for port in self.ports:
            with redis.Redis(host="127.0.0.1", port=port) as node:
                node.flushall()

    def stop(self) -> None:
        for watch in self._watches:
            _end_watch(watch)
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
