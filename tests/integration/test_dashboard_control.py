"""The dashboard drives real scrapyd nodes: start, stop, resume and discard jobs.

Two scrapyd nodes on loopback (one behind basic auth) run the egg of this checkout, with a
private Redis in their environment; the emails spider crawls the sandbox through its proxy.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
import requests

from crawlers.browser import launch_options
from crawlers.telemetry import read_job
from sandbox.services import free_port, wait_for_port
from tests.integration.test_dashboard import Dashboard
from tests.integration.test_scrapyd import deploy

pytestmark = pytest.mark.integration

TOKEN = "tok-control-1"
SCRAPYD_PASSWORD = "node-pw-77"


def call(url: str, method: str = "GET", body=None, headers=None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def read(dash: Dashboard, path: str) -> tuple[int, dict]:
    return call(dash.url + path, headers={"Authorization": f"Bearer {TOKEN}"})


def write(dash: Dashboard, path: str, body=None, **kwargs) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
    return call(dash.url + path, "POST", body if body is not None else {}, headers)


class Nodes:
    """scrapyd nodes on free ports, each under its own folder, all with the same egg."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []
        self.egg: bytes | None = None

    def start(self, name: str, env: dict[str, str], password: str = "") -> str:
        home = self.tmp_path / name
        home.mkdir()
        port = free_port()
        auth = f"username = admin\npassword = {password}\n" if password else ""
        (home / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            f"bind_address = 127.0.0.1\nhttp_port = {port}\n{auth}"
            "poll_interval = 0.5\nmax_proc = 4\n"
            f"eggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\ndbs_dir = {home / 'dbs'}\n"
        )
        with open(home / "scrapyd.out", "w") as out:
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "scrapyd"],
                    cwd=home,
                    env={**os.environ, **env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its crawls too, to end them with it
                )
            )
        wait_for_port(port, proc=self.procs[-1])
        base = f"http://127.0.0.1:{port}"
        auth_pair = ("admin", password) if password else None
        if self.egg is None:
            if password:
                raise AssertionError("deploy to a node without auth first")
            build = self.tmp_path / f"{name}-build"
            build.mkdir()
            self.egg = deploy(base, home, build).read_bytes()
        else:
            answer = requests.post(
                f"{base}/addversion.json",
                data={"project": "crawlers", "version": "r1"},
                files={"egg": ("r1.egg", self.egg)},
                auth=auth_pair,
                timeout=60,
            ).json()
            assert answer["status"] == "ok", answer
        return base

    def stop(self) -> None:
        """Each node and the crawls it still runs: a crawl left behind would go on writing
        to the next test's Redis."""
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


@pytest.fixture
def nodes(tmp_path):
    started = Nodes(tmp_path / "nodes")
    (tmp_path / "nodes").mkdir()
    yield started
    started.stop()


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


def node_env(recipe: dict, redis_url: str, data: Path) -> dict[str, str]:
    return {**recipe["env"], "REDIS_URL": redis_url, "DATA_DIR": str(data)}


def dashboard_env(redis_url: str, node_urls: str, tmp_path: Path, **extra) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "TELEMETRY_REDIS_URL": "",
        "DATA_DIR": str(tmp_path / "dash-data"),
        "DASHBOARD_SCRAPYD_NODES": node_urls,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def wait_for(check, timeout: float = 240, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def started_job(dash: Dashboard, job: str) -> dict | None:
    _, body = read(dash, "api/started")
    return next((j for j in body["jobs"] if j["job"] == job), None)


def test_api_starts_a_job_on_both_nodes_after_checking_it(
    sandbox_factory, nodes, dashboards, redis_url, tmp_path
):
    sb = sandbox_factory(["emails"])
    recipe = sb.site("emails").demo()
    n1 = nodes.start("n1", node_env(recipe, redis_url, tmp_path / "d1"))
    n2 = nodes.start("n2", node_env(recipe, redis_url, tmp_path / "d2"), SCRAPYD_PASSWORD)
    with_auth = n2.replace("http://", f"http://admin:{SCRAPYD_PASSWORD}@")
    env = dashboard_env(redis_url, f"one={n1}, two={with_auth}", tmp_path)
    dash = dashboards(env, "--token", TOKEN)

    status, listed = read(dash, "api/nodes")
    assert status == 200
    by_name = {n["name"]: n for n in listed["nodes"]}
    assert set(by_name) == {"one", "two"}
    assert all(n["ok"] and n["version"] == "r1" for n in by_name.values()), listed
    assert "emails" in by_name["two"]["spiders"]
    assert by_name["two"]["url"] == n2
    assert SCRAPYD_PASSWORD not in json.dumps(listed)
    page = urllib.request.urlopen(dash.url + f"?token={TOKEN}", timeout=30).read().decode()
    assert 'id="start-form"' in page and SCRAPYD_PASSWORD not in page

    good = {"spider": "emails", "args": {"urls": recipe["args"]["urls"]}, "job": "mails-1"}
    # Writes: the token always, in the header, a JSON body, from the page's own origin.
    assert call(dash.url + "api/jobs", "POST", good)[0] == 401
    assert call(dash.url + f"api/jobs?token={TOKEN}", "POST", good)[0] == 401
    form = urllib.request.Request(
        dash.url + "api/jobs",
        data=b"spider=emails",
        headers={"Authorization": f"Bearer {TOKEN}"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(form, timeout=30)
    assert refused.value.code == 415
    status, body = write(dash, "api/jobs", good, headers={"Origin": "http://evil.test"})
    assert (status, body) == (403, {"error": "a write from another site is refused"})

    # Checked before anything is scheduled: one line each, nothing started.
    refusals = {
        "nosuch": ({"spider": "nosuch"}, "node one has no spider 'nosuch'"),
        "argument": ({**good, "args": {"tagret": "5"}}, "did you mean 'target'?"),
        "secret": (
            {**good, "settings": {"DATABASE_URL": "postgresql://u:pw@db/x"}},
            "setting DATABASE_URL carries a secret",
        ),
        "secret name": ({**good, "settings": {"PROXY_PASSWORD": "x"}}, "carries a secret"),
        "value": ({**good, "settings": {"DOWNLOAD_DELAY": "soon"}}, "DOWNLOAD_DELAY=soon"),
        "reserved": ({**good, "settings": {"CRAWL_JOB": "x"}}, "set by the dashboard"),
        "node": ({**good, "nodes": ["three"]}, "no node 'three' (nodes: one, two)"),
    }
    for case, (body, expected) in refusals.items():
        status, answer = write(dash, "api/jobs", body)
        assert status == 400, (case, answer)
        assert expected in answer["error"], (case, answer)
        assert "\n" not in answer["error"] and "pw@" not in answer["error"]
    assert read(dash, "api/started")[1] == {"jobs": []}

    status, job = write(dash, "api/jobs", {**good, "nodes": ["one", "two"]})
    assert status == 201, job
    assert job["job"] == "mails-1" and {n["name"] for n in job["nodes"]} == {"one", "two"}
    assert write(dash, "api/jobs", good)[0] == 409  # the same job twice

    done = wait_for(
        lambda: (j := started_job(dash, "mails-1")) and j["state"] == "finished" and j,
        what="the job to finish on both nodes",
    )
    assert all(n["state"] == "finished" and not n["error"] for n in done["nodes"]), done
    # Both nodes ran one run of the job, under the node ids the dashboard gave them.
    view = read_job(redis.Redis.from_url(redis_url), "mails-1")
    assert view["state"] == "finished"
    assert {n["node"] for n in view["nodes"]} == {n["node_id"] for n in done["nodes"]}
    assert view["counters"]["items"] > 0
    items = [
        json.loads(line)
        for folder in ("d1", "d2")
        for path in (tmp_path / folder / "out").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    score = sb.site("emails").score(items)
    assert (score["recall"], score["precision"], score["duplicates"]) == (1.0, 1.0, 0), score

    # The job's history through the API of issue 17.
    status, runs = read(dash, "api/jobs/mails-1/runs")
    assert status == 200 and [r["run"] for r in runs["runs"]] == [view["run"]]

    status, answer = write(dash, "api/jobs/mails-1/discard")
    assert status == 200 and answer["discarded"]
    assert started_job(dash, "mails-1") is None
    assert not redis.Redis.from_url(redis_url).keys("cluster:{mails-1}:*")


def test_writes_need_a_token_even_on_localhost(nodes, dashboards, redis_url, tmp_path):
    env = dashboard_env(redis_url, f"http://127.0.0.1:{free_port()}", tmp_path)
    dash = dashboards(env)
    status, body = call(dash.url + "api/jobs", "POST", {"spider": "emails"})
    assert status == 403
    assert body["error"] == (
        "writes need a token: start the dashboard with --token or DASHBOARD_TOKEN"
    )
    # A node that does not answer is shown as down with one line, not an error page.
    status, listed = call(dash.url + "api/nodes")
    (node,) = listed["nodes"]
    assert status == 200 and not node["ok"]
    assert node["error"].startswith(f"node {node['name']}: cannot reach scrapyd")


def test_page_starts_stops_and_resumes_a_job_on_two_nodes(
    sandbox_factory, nodes, dashboards, redis_url, chromium, tmp_path
):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    sb = sandbox_factory(["emails"], knobs={"emails": {"size": 60}}, common={"latency_ms": 150})
    recipe = sb.site("emails").demo()
    n1 = nodes.start("n1", node_env(recipe, redis_url, tmp_path / "d1"))
    n2 = nodes.start("n2", node_env(recipe, redis_url, tmp_path / "d2"))
    env = dashboard_env(redis_url, f"one={n1} two={n2}", tmp_path)
    dash = dashboards(
        env, "--token", TOKEN, "-s", "DASHBOARD_REFRESH=0.5", "-s", "DASHBOARD_STOP_GRACE=600"
    )
    client = redis.Redis.from_url(redis_url)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(dash.url + f"?token={TOKEN}")
        page.locator('tr.scrapyd-node[data-node="two"][data-ok="true"]').wait_for()
        page.select_option("#start-spider", "emails")
        page.fill("#start-job", "slow-mails")
        page.fill("#start-args", f"urls={recipe['args']['urls']}")
        page.fill(
            "#start-settings",
            "CONCURRENT_REQUESTS=2\nCONCURRENT_REQUESTS_PER_DOMAIN=1\n"
            "TELEMETRY_INTERVAL=1\nTELEMETRY_SERIES_INTERVAL=1",
        )
        page.click("#start-button")
        page.locator("#start-result", has_text="started slow-mails").wait_for()
        row = page.locator('tr.started[data-job="slow-mails"]')
        row.locator('.started-node[data-node="one"][data-state="running"]').wait_for(timeout=60_000)
        row.locator('.started-node[data-node="two"][data-state="running"]').wait_for(timeout=60_000)
        wait_for(
            lambda: (v := read_job(client, "slow-mails")) and v["counters"].get("items", 0) > 0,
            what="the first addresses",
        )
        # The run's chart, from the nodes' series.
        page.wait_for_function(
            "(() => { const c = document.querySelector("
            "'section.job[data-job=\"slow-mails\"] svg.chart');"
            " return c && parseInt(c.dataset.points) >= 6; })()",
            timeout=120_000,
        )
        run = read_job(client, "slow-mails")["run"]
        page.screenshot(path=str(shots / "dashboard-job-running.png"), full_page=True)

        row.locator(".act-stop").click()
        page.locator('tr.started[data-job="slow-mails"][data-state="stopped"]').wait_for(
            timeout=120_000
        )
        stopped = read_job(client, "slow-mails")
        assert stopped["state"] == "finished"
        assert {n["finish_reason"] for n in stopped["nodes"]} == {"shutdown"}
        # Stopped cleanly: the run is not over, its queue waits in Redis.
        assert client.hget("cluster:{slow-mails}:meta", "done") is None
        assert client.zcard("cluster:{slow-mails}:queue") > 0
        page.screenshot(path=str(shots / "dashboard-job-stopped.png"), full_page=True)

        page.locator('tr.started[data-job="slow-mails"] .act-resume').click()
        page.locator('tr.started[data-job="slow-mails"][data-state="running"]').wait_for(
            timeout=60_000
        )
        sb.set_knobs("emails", latency_ms=0)
        page.locator('tr.started[data-job="slow-mails"][data-state="finished"]').wait_for(
            timeout=240_000
        )
        # The same form schedules the job: listed with its next slot, paused, deleted.
        page.fill("#start-job", "nightly")
        page.fill("#schedule-cron", "0 3 * * *")
        page.click("#schedule-button")
        page.locator("#start-result", has_text="scheduled nightly").wait_for()
        nightly = page.locator('tr.schedule[data-name="nightly"]')
        assert " 03:00:00Z " in f" {nightly.locator('td').nth(3).inner_text()} "
        nightly.locator(".act-pause").click()
        page.locator('tr.schedule[data-name="nightly"][data-paused="true"]').wait_for()
        page.locator('tr.schedule[data-name="nightly"] .act-delete').click()
        page.locator("#schedules", has_text="No schedule.").wait_for()
        browser.close()
    # The resumed nodes joined the same run and finished it: every address, once.
    final = read_job(client, "slow-mails")
    assert final["run"] == run and len(final["nodes"]) == 4
    items = [
        json.loads(line)
        for folder in ("d1", "d2")
        for path in (tmp_path / folder / "out").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    score = sb.site("emails").score(items)
    assert (score["recall"], score["precision"], score["duplicates"]) == (1.0, 1.0, 0), score


def test_a_schedule_fires_once_per_slot_with_two_dashboards(
    sandbox_factory, nodes, dashboards, redis_url, tmp_path
):
    sb = sandbox_factory(["emails"])
    recipe = sb.site("emails").demo()
    n1 = nodes.start("n1", node_env(recipe, redis_url, tmp_path / "d1"))
    env = dashboard_env(redis_url, f"one={n1}", tmp_path)
    fast = ("--token", TOKEN, "-s", "DASHBOARD_SCHEDULE_CHECK=0.5")
    first, second = dashboards(env, *fast), dashboards(env, *fast)

    body = {
        "name": "every",
        "cron": "* * * * *",
        "spider": "emails",
        "args": {"urls": recipe["args"]["urls"]},
    }
    assert write(first, "api/schedules", {**body, "cron": "0 3 * *"})[1] == {
        "error": "cron '0 3 * *': five fields, minute hour day month weekday ('0 3 * * *')"
    }
    assert write(first, "api/schedules", {**body, "spider": "nosuch"})[0] == 400
    status, made = write(first, "api/schedules", body)
    assert status == 201, made
    assert made["next"] % 60 == 0 and made["next"] > made["created"]
    # The other dashboard reads the same schedules from Redis.
    (listed,) = read(second, "api/schedules")[1]["schedules"]
    assert listed["name"] == "every" and listed["next"] == made["next"]

    job = f"every-{time.strftime('%Y%m%dT%H%MZ', time.gmtime(made['next']))}"
    wait_for(lambda: started_job(second, job), timeout=150, what="the schedule to fire")
    # Both dashboards looked several times since the slot came due: one start only.
    time.sleep(3)
    assert write(first, "api/schedules/every/pause")[1]["paused"] is True
    started = read(first, "api/started")[1]["jobs"]
    assert [j["job"] for j in started] == [job]
    assert started[0]["schedule"] == "every"
    scheduled = requests.get(
        f"{n1}/listjobs.json", params={"project": "crawlers"}, timeout=30
    ).json()
    ours = [j for j in ("pending", "running", "finished") for _ in scheduled[j]]
    assert len(ours) == 1, scheduled
    (fired,) = read(first, "api/schedules")[1]["schedules"][0]["fired"]
    assert (fired["job"], fired["error"]) == (job, None)
    assert read(first, "api/schedules")[1]["schedules"][0]["next"] is None  # paused

    wait_for(
        lambda: (j := started_job(first, job)) and j["state"] == "finished",
        what="the scheduled job to finish",
    )
    assert write(first, "api/schedules/every/delete")[1] == {"name": "every", "deleted": True}
    assert read(second, "api/schedules")[1] == {"schedules": []}
    assert write(first, "api/schedules/every/delete")[0] == 404


def test_retry_failed_puts_the_failed_targets_back_and_runs_again(
    sandbox_factory, nodes, dashboards, redis_url, chromium, tmp_path
):
    from playwright.sync_api import sync_playwright

    from tests.integration.test_businesses import SETTINGS, generate, ledger_rows, site_knobs

    sb = sandbox_factory(["businesses"], knobs=site_knobs(broken="dentists|Dover, DE"))
    shared = tmp_path / "shared"  # the embedded ledger the node and the dashboard share
    env = {"DATA_DIR": str(shared)}
    generate(env, tmp_path)
    n1 = nodes.start("n1", {"REDIS_URL": redis_url, "DATA_DIR": str(shared)})
    dash = dashboards(
        dashboard_env(redis_url, f"one={n1}", tmp_path, DATA_DIR=str(shared)), "--token", TOKEN
    )
    settings = {
        **{k: str(v) for k, v in SETTINGS.items()},
        "BUSINESSES_BASE_URL": sb.url("businesses"),
    }
    status, job = write(
        dash,
        "api/jobs",
        {"spider": "businesses", "args": {"states": "DE"}, "settings": settings, "job": "biz"},
    )
    assert status == 201, job
    wait_for(lambda: (j := started_job(dash, "biz")) and j["state"] == "finished", what="biz")
    failed = [r for r in ledger_rows(env) if r["status"] == "failed"]
    assert [(r["search_terms"], r["city"]) for r in failed] == [("dentists", "Dover")]

    # The run's failed units: the broken target, with the reason its failure is counted under.
    first = read_job(redis.Redis.from_url(redis_url), "biz")
    (reason,) = first["failures"]
    status, listed = read(dash, f"api/jobs/biz/runs/{first['run']}/failures")
    assert status == 200, listed
    (unit,) = listed["failures"]
    assert (unit["unit"], unit["reason"]) == ("dentists|Dover, DE", reason)
    assert unit["node"] == first["nodes"][0]["node"] and unit["at"] >= first["started"]
    assert read(dash, "api/jobs/biz/runs/nosuch/failures")[0] == 404

    sb.set_knobs("businesses", options={"broken": ""})
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(dash.url + f"?token={TOKEN}")
        shown = page.locator('section.job[data-job="biz"] tr.failed-unit')
        shown.first.wait_for(timeout=60_000)
        assert shown.count() == 1
        assert shown.get_attribute("data-unit") == "dentists|Dover, DE"
        assert shown.get_attribute("data-reason") == reason
        shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
        page.screenshot(path=str(shots / "dashboard-failed-units.png"), full_page=True)
        (before,) = started_job(dash, "biz")["nodes"]
        page.locator('tr.started[data-job="biz"] .act-retry-failed').click()
        page.locator("#start-result", has_text="retry-failed: biz").wait_for()
        # The row was finished before the click too: the new scrapyd job must be the one.
        wait_for(
            lambda: (
                (j := started_job(dash, "biz"))
                and j["nodes"][0]["jobid"] != before["jobid"]
                and j["state"] == "finished"
            ),
            what="the retry",
        )
        page.locator('tr.started[data-job="biz"][data-state="finished"]').wait_for()
        browser.close()
    assert {r["status"] for r in ledger_rows(env)} == {"done"}
    # A new run did it, and failed nothing.
    second = read_job(redis.Redis.from_url(redis_url), "biz")
    assert second["run"] != first["run"] and second["progress"]["done"] == 1
    assert read(dash, f"api/jobs/biz/runs/{second['run']}/failures")[1]["failures"] == []

    # A spider that would redo everything says so instead.
    status, mails = write(
        dash, "api/jobs", {"spider": "emails", "args": {"urls": "http://x.test/"}, "job": "m"}
    )
    assert status == 201, mails
    wait_for(lambda: started_job(dash, "m")["state"] == "finished", what="the emails job")
    assert write(dash, "api/jobs/m/retry-failed") == (
        400,
        {"error": "emails cannot redo only its failed units: start the job again instead"},
    )


def test_a_node_that_cannot_start_its_crawl_shows_why(nodes, dashboards, redis_url, tmp_path):
    dead = f"redis://:redis-pw-9@127.0.0.1:{free_port()}/0"
    n1 = nodes.start("n1", {"REDIS_URL": dead, "DATA_DIR": str(tmp_path / "d1")})
    dash = dashboards(dashboard_env(redis_url, f"one={n1}", tmp_path), "--token", TOKEN)
    status, job = write(
        dash, "api/jobs", {"spider": "emails", "args": {"urls": "http://x.test/"}, "job": "nr"}
    )
    assert status == 201, job
    ended = wait_for(
        lambda: (j := started_job(dash, "nr")) and j["state"] == "finished" and j,
        what="the job to end",
    )
    (node,) = ended["nodes"]
    assert "ERROR: cannot reach Redis at redis://:***@127.0.0.1:" in node["error"], node
    assert "redis-pw-9" not in json.dumps(ended)


def test_a_second_stop_after_the_grace_ends_a_job_that_does_not_stop(
    sandbox_factory, nodes, dashboards, redis_url, tmp_path
):
    # Every page takes a minute: after SIGINT the crawl waits for the pages in flight.
    sb = sandbox_factory(["emails"], common={"latency_ms": 60_000})
    recipe = sb.site("emails").demo()
    n1 = nodes.start("n1", node_env(recipe, redis_url, tmp_path / "d1"))
    env = dashboard_env(redis_url, f"one={n1}", tmp_path)
    dash = dashboards(env, "--token", TOKEN, "-s", "DASHBOARD_STOP_GRACE=2")
    body = {
        "spider": "emails",
        "args": {"urls": recipe["args"]["urls"]},
        "settings": {"DOWNLOAD_TIMEOUT": "300"},
        "job": "hung",
    }
    assert write(dash, "api/jobs", body)[0] == 201
    wait_for(lambda: started_job(dash, "hung")["state"] == "running", what="the job to run")
    logs = tmp_path / "nodes" / "n1" / "logs"
    wait_for(
        lambda: any("Spider opened" in p.read_text() for p in logs.rglob("*.log")),
        what="the crawl to open its spider",
    )
    status, first = write(dash, "api/jobs/hung/stop")
    assert (status, first["signal"], first["stopping"]) == (200, "SIGINT", True)
    status, early = write(dash, "api/jobs/hung/stop")
    assert status == 409 and early["error"].startswith("job 'hung' is stopping; a second stop")
    time.sleep(2)  # DASHBOARD_STOP_GRACE
    status, second = write(dash, "api/jobs/hung/stop")
    assert (status, second["signal"]) == (200, "SIGTERM"), second
    ended = wait_for(
        lambda: (j := started_job(dash, "hung")) and j["state"] == "stopped" and j,
        what="the job to end",
    )
    (node,) = ended["nodes"]
    log = next((tmp_path / "nodes" / "n1" / "logs").rglob(f"{node['jobid']}.log")).read_text()
    assert "Received SIGINT, shutting down gracefully" in log
    assert "forcing unclean shutdown" in log
