"""Fixtures of the resilience suite: a leak scan after every test, crawls started in the
background (to be killed, interrupted or starved while they run), and sandboxes whose
sites are swapped for hostile variants."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from crawlers.env import PROJECT_ROOT
from sandbox import Sandbox
from sandbox.crawl import CrawlResult, crawl_command
from tests.resilience.leaks import LeakScanner

# The portal account of the suite: distinctive, so a leak of it cannot be a coincidence.
PORTAL_USER = "dealer-resilience"
PORTAL_PASSWORD = "pw-Resil-7Qx2-portal"


@pytest.fixture(autouse=True)
def leaks(request, tmp_path: Path) -> Iterator[LeakScanner]:
    """Every file under the test's tmp_path and every captured output, scanned for the
    test's secrets once it ends."""
    scanner = LeakScanner()
    scanner.root(tmp_path)
    scanner.secret(PORTAL_PASSWORD)
    yield scanner
    if "postgres_server" in request.fixturenames:
        scanner.secret(request.getfixturevalue("postgres_server").password)
    found = scanner.findings()
    # A test marked as a known bug checks its own leak in its body, where xfail applies.
    if request.node.get_closest_marker("xfail") is None:
        assert not found, f"secrets leaked into {found}"


@pytest.fixture
def crawl(crawl, leaks: LeakScanner) -> Callable[..., CrawlResult]:
    """The shared `crawl` fixture, its stdout and stderr kept for the leak scan."""

    def run(spider: str, *args, **kwargs) -> CrawlResult:
        result = crawl(spider, *args, **kwargs)
        leaks.text(f"{spider} crawl output", result.log)
        return result

    return run


class Running:
    """`scrapy crawl` in the background, output in `workdir/log.txt`."""

    def __init__(
        self,
        spider: str,
        workdir: Path,
        args: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "log.txt"
        self.items_path = workdir / "items.jsonl"
        self.stats_path = workdir / "stats.json"
        all_settings = {
            "STATS_FILE": str(self.stats_path),
            "FEEDS": {str(self.items_path): {"format": "jsonlines", "encoding": "utf-8"}},
            **(settings or {}),
        }
        full_env = {
            **os.environ,
            "DATA_DIR": str(workdir / "data"),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                crawl_command(spider, args, all_settings),
                cwd=PROJECT_ROOT,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def stats(self) -> dict[str, Any]:
        return json.loads(self.stats_path.read_text()) if self.stats_path.exists() else {}

    @property
    def items(self) -> list[dict[str, Any]]:
        if not self.items_path.exists():
            return []
        lines = self.items_path.read_text(encoding="utf-8").splitlines()
        # A line cut by a kill is not an item.
        out = []
        for line in lines:
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
        return out

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_for(self, condition: Callable[[], bool], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if not self.alive():
                pytest.fail(f"the crawl ended before the moment came:\n{self.log[-3000:]}")
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"the moment never came:\n{self.log[-3000:]}")

    def wait(self, timeout: float = 300) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the crawl hung (killed after {timeout:.0f}s):\n{self.log[-3000:]}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the crawl and everything it started (Chromium runs in groups of its own)."""
        tree = self.tree()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        self.proc.wait(30)

    def tree(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return []


@pytest.fixture
def background(leaks: LeakScanner) -> Iterator[Callable[..., Running]]:
    """`background("vehicles", workdir, args=..., settings=..., env=...)`: a crawl that runs
    while the test acts on it; killed at the end if still running."""
    started: list[Running] = []

    def start(spider: str, workdir: Path, **kwargs) -> Running:
        run = Running(spider, workdir, **kwargs)
        started.append(run)
        return run

    yield start
    for run in started:
        if run.alive():
            run.kill()


@pytest.fixture
def swapped_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """`swapped_sandbox("businesses", SiteClass, knobs={...})`: a sandbox serving a test's
    own variant of a site (a subclass of the sandbox's), stopped after the test."""
    started: list[Sandbox] = []

    def make(name: str, site_class, knobs: dict[str, Any] | None = None) -> Sandbox:
        sb = Sandbox([name], knobs={name: knobs or {}})
        sb.sites[name] = site_class(sb.sites[name].knobs)
        started.append(sb.start())
        return sb

    yield make
    for sb in started:
        sb.stop()
