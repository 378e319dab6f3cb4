"""Private Redis and PostgreSQL servers on free ports, for tests, the demo and benchmarks.

Never a shared server: each instance lives in its own temporary folder and is stopped (and
the folder removed) by `stop()`, or by a watcher if the process that started it dies first.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class ServiceError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"process exited with {proc.returncode} before listening")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise ServiceError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")


# Runs detached beside each server: when the process that started the server dies without
# stopping it (pytest killed by a CI timeout, say), it stops the server and removes its
# folder, so no server outlives its test run.
_WATCH = """
import os, shutil, subprocess, sys, time
parent, folder, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    time.sleep(0.5)
subprocess.run(command, capture_output=True, timeout=120)
shutil.rmtree(folder, ignore_errors=True)
"""


def stop_if_orphaned(folder: Path, command: list[str]) -> subprocess.Popen:
    """Start the watcher; terminate it once the server is stopped the normal way."""
    return subprocess.Popen(
        [sys.executable, "-c", _WATCH, str(os.getpid()), str(folder), *command],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _end_watch(watch: subprocess.Popen | None) -> None:
    if watch is not None and watch.poll() is None:
        watch.terminate()
        watch.wait()


class RedisServer:
    """`durable=True` writes every command to an append-only file before answering, so the
    data survives `stop(keep_data=True)` and `start()`; otherwise nothing is kept."""

    def __init__(self, port: int | None = None, durable: bool = False):
        self.port = port or free_port()
        self.durable = durable
        self.dir = Path(tempfile.mkdtemp(prefix="redis-aof-" if durable else "redis-"))
        self.proc: subprocess.Popen | None = None
        self._watch: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if not binary:
            raise ServiceError("redis-server not found (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                *(
                    ["--appendonly", "yes", "--appendfsync", "always"]
                    if self.durable
                    else ["--appendonly", "no"]
                ),
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._watch = stop_if_orphaned(self.dir, ["kill", "-9", str(self.proc.pid)])
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self, keep_data: bool = False) -> None:
        """`keep_data=True` leaves the folder for a later `start()` (an outage, not an end)."""
        _end_watch(self._watch)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                # A durable server flushes its append-only file on the way out.
                self.proc.wait(20 if self.durable else 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not keep_data:
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start on the same port; only a durable server keeps its data."""
        self.stop(keep_data=True)
        self.start()


def postgres_bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServiceError("PostgreSQL server binaries not found (apt-get install postgresql)")


class PostgresServer:
    """A throw-away cluster. `initdb` refuses root, so as root it runs as `postgres`."""

    user = "postgres"

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.password = "pg-" + secrets.token_hex(8)
        self.dir = Path(tempfile.mkdtemp(prefix="pg-"))
        self.bindir = postgres_bindir()
        self._watch: subprocess.Popen | None = None
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def url_for(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise ServiceError(f"{Path(args[0]).name} failed: {result.stderr.strip()[-500:]}")

    def start(self) -> PostgresServer:
        data = self.dir / "data"
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_user:
            owner = pwd.getpwnam("postgres")
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            self.user,
            "--pwfile",
            str(pwfile),
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C.UTF-8",
        )
        pwfile.unlink()
        stop = [*self._as_user, str(self.bindir / "pg_ctl"), "-D", str(data), "-m", "immediate"]
        self._watch = stop_if_orphaned(self.dir, [*stop, "-w", "stop"])
        self._start_server()
        return self

    def _start_server(self) -> None:
        data = self.dir / "data"
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def _stop_server(self, mode: str = "fast") -> None:
        data = self.dir / "data"
        if data.exists():
            subprocess.run(
                [
                    *self._as_user,
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    mode,
                    "-w",
                    "stop",
                ],
                capture_output=True,
                timeout=120,
            )

    def restart(self) -> None:
        self._stop_server()
        self._start_server()

    def stop(self) -> None:
        _end_watch(self._watch)
        self._stop_server("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)
