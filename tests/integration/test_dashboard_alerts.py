"""Alerts from two dashboards on one Redis to a local webhook: one call per alert."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crawlers.env import PROJECT_ROOT
from sandbox.services import free_port
from tests.integration.test_dashboard import Dashboard
from tests.integration.test_progress_crawl import FAST, NO_BROWSER, spider_command, spider_env

pytestmark = pytest.mark.integration


class Listener:
    """An HTTP server on loopback keeping every JSON body posted to it."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?key=s3cret-hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self, job: str) -> list[str]:
        return sorted(a["alert"] for a in self.received if a["job"] == job)


def wait_for(check, timeout: float = 120, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def test_failure_share_stall_and_a_dead_node_each_alert_once(sandbox_factory, redis_url, tmp_path):
    hook = Listener()
    sb = sandbox_factory(["probe"])
    env = spider_env(tmp_path / "data", TELEMETRY_REDIS_URL=redis_url)
    settings = (
        "-s", "DASHBOARD_ALERT_CHECK=0.3", "-s", "DASHBOARD_STALL_MINUTES=0.1",
        "-s", "TELEMETRY_SILENT_AFTER=3", "-s", "DASHBOARD_ALERT_FAILED_SHARE=0.2",
    )  # fmt: skip
    dashboards = [Dashboard({**env, "DASHBOARD_ALERT_WEBHOOK": hook.url}, *settings)]
    dashboards.append(Dashboard({**env, "DASHBOARD_ALERT_WEBHOOK": hook.url}, *settings))
    crawl = None
    try:
        # Half its units fail (0, 2, 4, ...): more than the 20% allowed.
        args = {"base_url": sb.url("probe"), "units": 10, "fail_every": 2}
        done = subprocess.run(
            spider_command(args, {**FAST, **NO_BROWSER, "CRAWL_JOB": "shaky"}),
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        wait_for(lambda: hook.kinds("shaky"), what="the failure share alert")
        (alert,) = [a for a in hook.received if a["job"] == "shaky"]
        assert alert["alert"] == "failure_share"
        assert alert["message"] == "job shaky ended with 50% of its units failed (5 of 10)"
        assert alert["failures"] == {"http_404": 5} and alert["run"]

        # A crawl whose pages hang: no unit finishes, then its node is killed.
        sb.set_knobs("probe", latency_ms=60_000)
        args = {"base_url": sb.url("probe"), "units": 4}
        crawl = subprocess.Popen(
            spider_command(args, {**FAST, **NO_BROWSER, "CRAWL_JOB": "stuck"}),
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: hook.kinds("stuck") == ["stalled"], what="the stall alert")
        crawl.send_signal(signal.SIGKILL)
        crawl.wait(30)
        wait_for(lambda: len(hook.kinds("stuck")) == 2, what="the dead node's alert")
        assert hook.kinds("stuck") == ["failed", "stalled"]
        failed = next(a for a in hook.received if a["alert"] == "failed" and a["job"] == "stuck")
        assert failed["message"].startswith("job stuck: node(s) ") and failed["state"] == "silent"
        # Both dashboards kept looking: still one call per alert.
        time.sleep(2)
        assert hook.kinds("shaky") == ["failure_share"]
        assert hook.kinds("stuck") == ["failed", "stalled"]
    finally:
        if crawl is not None and crawl.poll() is None:
            crawl.kill()
            crawl.wait(30)
        for dash in dashboards:
            dash.proc.terminate()
            _, err = dash.proc.communicate(timeout=30)
            assert "s3cret-hook" not in err
        hook.server.shutdown()
