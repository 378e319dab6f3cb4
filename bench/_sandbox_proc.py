"""The sandbox in a process of its own, for benchmarks: its CPU is then not counted as the
crawl's, and the crawl does not share its event loop.

(The leading underscore keeps it out of `python -m bench`'s list of benchmarks.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from crawlers.env import PROJECT_ROOT


class SandboxProcess:
    """`python -m sandbox --sites SITES [options]`, listening once the constructor returns.

    Its output goes to workdir/sandbox.log; `urls` maps each site to its base URL, read from
    the ports file the sandbox writes (atomically) once it listens.
    """

    def __init__(
        self,
        sites: Iterable[str],
        workdir: Path,
        options: Iterable[str] = (),
        *,
        who: str = "bench",
        timeout: float = 120,
    ):
        workdir.mkdir(parents=True, exist_ok=True)
        self.ports_file = workdir / "sandbox-ports.json"
        self.ports_file.unlink(missing_ok=True)  # written anew once the sandbox listens
        cmd = [sys.executable, "-m", "sandbox", "--sites", ",".join(sites), *options]
        cmd += ["--ports-file", str(self.ports_file)]
        self.log_path = workdir / "sandbox.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            cmd,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not self.ports_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(
                    f"{who}: the sandbox did not start: {self._last_line() or 'no output'}"
                    f" (log: {self.log_path})"
                )
            time.sleep(0.1)
        self.urls: dict[str, str] = json.loads(self.ports_file.read_text())

    def _last_line(self) -> str:
        # The log may sit in a temporary folder that is gone by the time anyone looks.
        text = self.log_path.read_bytes().decode("utf-8", "replace")
        lines = text.encode("ascii", "replace").decode().strip().splitlines()
        return lines[-1] if lines else ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def get_json(self, site: str, path: str):
        with urllib.request.urlopen(self.urls[site] + path, timeout=300) as resp:
            return json.load(resp)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
