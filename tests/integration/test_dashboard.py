"""`scrapy dashboard` for real: its JSON API, metrics and token, and the page in Chromium."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from crawlers.browser import launch_options
from crawlers.env import PROJECT_ROOT
from crawlers.telemetry import read_job
from sandbox.services import free_port
from tests.integration.test_progress_crawl import (
    FAST,
    NO_BROWSER,
    run_spider,
    spider_command,
    spider_env,
)

pytestmark = pytest.mark.integration


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


def dashboard_command(*options: str) -> list[str]:
    return [sys.executable, "-m", "scrapy", "dashboard", "--port", "0", *options]


class Dashboard:
    def __init__(self, env: dict[str, str], *options: str):
        self.proc = subprocess.Popen(
            dashboard_command(*options),
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        line = self.proc.stdout.readline()
        match = re.match(r"dashboard: (http://\S+/) \(reading (.+)\)$", line.strip())
        if not match:
            self.stop()
            pytest.fail(f"dashboard did not start: {line!r} {self.proc.stderr.read()[-2000:]}")
        self.url, self.source = match.group(1), match.group(2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@pytest.fixture
def dashboards():
    started: list[Dashboard] = []

    def start(env: dict[str, str], *options: str) -> Dashboard:
        dashboard = Dashboard(env, *options)
        started.append(dashboard)
        return dashboard

    yield start
    for dashboard in started:
        dashboard.stop()


def scraped(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as a Prometheus server reads it: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_api_and_metrics_show_the_last_local_crawl(sandbox_factory, dashboards, tmp_path):
    sb = sandbox_factory(["probe"])
    data = tmp_path / "data"
    args = {"base_url": sb.url("probe"), "units": 6, "fail_every": 5}  # units 0 and 5 fail
    crawl = run_spider(data, args, NO_BROWSER)
    assert crawl.returncode == 0, crawl.stderr[-3000:]

    dash = dashboards(spider_env(data))
    assert dash.source == f"files in {data / 'jobs'}"
    status, _, body = get(dash.url + "api/jobs")
    assert status == 200
    (job,) = json.loads(body)["jobs"]
    assert job["job"] == "progress_probe"
    assert job["state"] == "finished"
    assert job["progress"] == {
        "total": 6,
        "done": 4,
        "skipped": 0,
        "failed": 2,
        "finished": 6,
        "remaining": 0,
        "percent": 100.0,
    }
    assert job["failures"] == {"http_404": 2}
    assert [e["message"] for e in job["recent_errors"]] == [
        "unit 5 failed: http_404",
        "unit 0 failed: http_404",
    ]
    (node,) = job["nodes"]
    assert node["state"] == "finished" and node["share_percent"] == 100.0
    assert node["resources"]["memory_peak_bytes"] > 0

    status, _, body = get(dash.url + "api/jobs/progress_probe")
    assert status == 200 and json.loads(body)["progress"]["done"] == 4
    status, _, body = get(dash.url + "api/jobs/progress_probe/eta")
    assert status == 200
    assert json.loads(body)["eta_seconds"] == 0.0
    assert get(dash.url + "api/jobs/nosuch")[0] == 404

    status, content_type, text = get(dash.url + "metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    read = scraped(text)
    assert read["crawl_units", (("job", "progress_probe"), ("outcome", "done"))] == 4
    assert read["crawl_failures", (("job", "progress_probe"), ("reason", "http_404"))] == 2

    status, _, body = get(dash.url + "api/resources")
    resources = json.loads(body)
    assert status == 200 and resources["host"]["memory_total_bytes"] > 0
    assert [n["node"] for n in resources["nodes"]] == [node["node"]]

    status, content_type, html = get(dash.url)
    assert status == 200 and content_type.startswith("text/html")
    assert "<title>Crawls</title>" in html


def test_a_token_is_required_off_localhost_and_bad_input_is_one_line(
    dashboards, chromium, tmp_path
):
    from playwright.sync_api import sync_playwright

    env = spider_env(tmp_path / "data")
    refused = subprocess.run(
        dashboard_command("--host", "0.0.0.0"),
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: the dashboard bound to 0.0.0.0 needs a token: --token or DASHBOARD_TOKEN"
    )
    assert refused.stdout == ""

    unreachable = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    no_redis = subprocess.run(
        dashboard_command(),
        cwd=PROJECT_ROOT,
        env={**env, "TELEMETRY_REDIS_URL": unreachable},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_redis.returncode == 2
    assert no_redis.stderr.startswith("error: cannot reach Redis at redis://:***@127.0.0.1:")
    assert len(no_redis.stderr.strip().splitlines()) == 1
    assert "s3cret" not in no_redis.stderr + no_redis.stdout

    dash = dashboards(env, "--host", "0.0.0.0", "--token", "tok-123")
    local = dash.url.replace("0.0.0.0", "127.0.0.1")
    assert get(local + "api/jobs")[0] == 401
    assert get(local + "metrics")[0] == 401
    assert get(local + "?token=wrong")[0] == 401
    assert get(local + "?token=tok-123")[0] == 200
    assert get(local + "api/jobs", {"Authorization": "Bearer tok-123"})[0] == 200
    assert get(local + "api/jobs", {"Authorization": "Bearer nope"})[0] == 401
    # The page passes its token on to the API calls it makes.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        page = browser.new_page()
        page.goto(local + "?token=tok-123")
        page.wait_for_function("document.getElementById('updated').textContent !== '-'")
        assert page.locator("#status").inner_text() == ""
        assert page.locator("#jobs").inner_text() == "No crawl has reported yet."
        browser.close()


def _done(page, job: str) -> int:
    text = page.locator(f'section.job[data-job="{job}"] .job-done .v').inner_text()
    return int(text.replace(",", ""))


def test_page_shows_progress_moving_and_a_killed_node_turning_silent(
    sandbox_factory, dashboards, redis_url, chromium, tmp_path
):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    sb = sandbox_factory(["probe"], common={"latency_ms": 250})
    data = tmp_path / "data"
    env = spider_env(data, TELEMETRY_REDIS_URL=redis_url)
    # Two nodes of one job over disjoint units: each node's total is its own share.
    nodes = {}
    for name, first in (("node-a", 0), ("node-b", 1000)):
        args = {"base_url": sb.url("probe"), "units": 400, "first": first, "fail_every": 9}
        settings = {
            **FAST,
            **NO_BROWSER,
            "CONCURRENT_REQUESTS": 1,
            "CRAWL_JOB": "dash",
            "NODE_ID": name,
            "PROGRESS_TOTAL_SCOPE": "node",
        }
        nodes[name] = subprocess.Popen(
            spider_command(args, settings),
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
    dash = dashboards(env, "-s", "TELEMETRY_SILENT_AFTER=5", "-s", "DASHBOARD_REFRESH=0.5")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(**launch_options())
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(dash.url)
            job = page.locator('section.job[data-job="dash"]')
            for name in nodes:
                page.locator(f'tr.node[data-node="{name}"][data-state="running"]').wait_for(
                    timeout=90_000
                )
            first = _done(page, "dash")
            page.wait_for_function(
                """([job, n]) => {
                    const e = document.querySelector(
                        `section.job[data-job="${job}"] .job-done .v`);
                    return e && parseInt(e.textContent.replace(/,/g, "")) > n + 5;
                }""",
                arg=["dash", first],
                timeout=90_000,
            )
            assert _done(page, "dash") > first
            assert re.fullmatch(r"[\d,]+ / 800 \([\d.]+%\)", job.locator(".job-label").inner_text())
            assert job.locator(".job-rate .v").inner_text().endswith("/s")
            assert re.fullmatch(
                r"\d+(s|m\d\ds|h\d\dm|d\d\dh)", job.locator(".job-eta .v").inner_text()
            )
            page.screenshot(path=str(shots / "dashboard-running.png"), full_page=True)

            nodes["node-b"].send_signal(signal.SIGKILL)
            nodes["node-b"].wait(30)
            page.locator('tr.node[data-node="node-b"][data-state="silent"]').wait_for(
                timeout=60_000
            )
            assert page.locator('tr.node[data-node="node-a"]').get_attribute("data-state") == (
                "running"
            )
            assert "node-b" in job.locator(".silent-nodes").inner_text()
            assert job.get_attribute("data-state") == "running"
            page.screenshot(path=str(shots / "dashboard-silent-node.png"), full_page=True)

            # The same view from Python, as the cluster tools read it.
            view = read_job(redis.Redis.from_url(redis_url), "dash", silent_after=5)
            assert view["silent_nodes"] == ["node-b"]
            assert {n["node"]: n["state"] for n in view["nodes"]} == {
                "node-a": "running",
                "node-b": "silent",
            }
            assert view["progress"]["total"] == 800

            # Let node A finish: its row turns finished; the job stays flagged by node B.
            sb.set_knobs("probe", latency_ms=0)
            assert nodes["node-a"].wait(180) == 0
            page.locator('tr.node[data-node="node-a"][data-state="finished"]').wait_for(
                timeout=60_000
            )
            page.locator('section.job[data-job="dash"][data-state="silent"]').wait_for(
                timeout=60_000
            )
            browser.close()
    finally:
        for proc in nodes.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
    status, _, text = get(dash.url + "metrics")
    assert status == 200
    silent = {
        dict(labels)["node"]: value
        for (name, labels), value in scraped(text).items()
        if name == "crawl_node_silent" and dict(labels)["job"] == "dash"
    }
    assert silent["node-b"] == 1


def test_a_new_local_run_replaces_the_last_one_and_joins_the_history(
    sandbox_factory, dashboards, chromium, tmp_path
):
    """Issue 19: the dashboard added every earlier run of a job to the current one."""
    from playwright.sync_api import sync_playwright

    sb = sandbox_factory(["probe"])
    data = tmp_path / "data"
    first = run_spider(data, {"base_url": sb.url("probe"), "units": 9}, NO_BROWSER)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_spider(data, {"base_url": sb.url("probe"), "units": 4}, NO_BROWSER)
    assert second.returncode == 0, second.stderr[-3000:]

    dash = dashboards(spider_env(data))
    (job,) = json.loads(get(dash.url + "api/jobs")[2])["jobs"]
    assert (job["progress"]["total"], job["progress"]["done"]) == (4, 4)
    assert len(job["nodes"]) == 1
    status, _, body = get(dash.url + "api/jobs/progress_probe/runs")
    assert status == 200
    runs = json.loads(body)["runs"]
    assert [(r["done"], r["items"], r["state"]) for r in runs] == [
        (4, 4, "finished"),
        (9, 9, "finished"),
    ]
    assert runs[0]["run"] == job["run"] != runs[1]["run"]
    assert runs[0]["previous"] == runs[1]["run"]
    assert runs[0]["flags"][0] == "fewer items: 4 against 9"
    status, _, body = get(dash.url + f"api/jobs/progress_probe/runs/{runs[1]['run']}")
    assert status == 200 and json.loads(body)["series"][-1]["done"] == 9
    assert get(dash.url + "api/jobs/progress_probe/runs/nosuch")[0] == 404
    assert get(dash.url + "api/jobs/nosuch/runs")[0] == 404

    read = scraped(get(dash.url + "metrics")[2])
    assert read["crawl_units", (("job", "progress_probe"), ("outcome", "done"))] == 4
    assert not [labels for _, labels in read if "run" in dict(labels)]
    started = read["crawl_run_started_seconds", (("job", "progress_probe"),)]
    assert started == round(runs[0]["started"], 3)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        page = browser.new_page()
        page.goto(dash.url)
        section = page.locator('section.job[data-job="progress_probe"]')
        section.wait_for()
        assert section.locator(".job-label").inner_text() == "4 / 4 (100.0%)"
        assert section.locator(".job-nodes .v").inner_text() == "0 running / 1"
        # The finished job's memory tile shows what its node row shows, not 0 B.
        row = section.locator("tr.node td").nth(9).inner_text()
        tile = section.locator(".job-memory .v").inner_text()
        assert tile != "0 B" and row.startswith(tile + " / ")
        # The history, compared with the run before, and the current run's chart.
        runs = section.locator("tr.run")
        runs.nth(1).wait_for()
        assert runs.nth(0).get_attribute("data-flagged") == "true"
        assert (
            section.locator(".run-flags").first.inner_text().startswith("fewer items: 4 against 9")
        )
        chart = section.locator("svg.chart")
        assert chart.get_attribute("data-done") == "4"
        assert int(chart.get_attribute("data-points")) >= 2
        browser.close()
