"""The foundation itself: sandbox faults, private Redis/PostgreSQL, a real browser crawl."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
import redis

from crawlers.env import PROJECT_ROOT

pytestmark = pytest.mark.integration


def fetch(url: str, timeout: float = 5.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def test_sandbox_serves_truth_and_changes_knobs_live(sandbox_factory):
    sb = sandbox_factory(["probe"])
    assert sb.truth("probe") == {"rendered_text": "rendered 42"}
    assert fetch(sb.url("probe") + "/")[0] == 200
    sb.set_knobs("probe", fault_429=1.0, retry_after=7)
    status, headers, _ = fetch(sb.url("probe") + "/")
    assert status == 429
    assert headers["Retry-After"] == "7"
    sb.set_knobs("probe", fault_429=0.0, fault_5xx=1.0)
    assert fetch(sb.url("probe") + "/")[0] in {500, 502, 503}
    stats = sb.stats("probe")
    assert stats["fault_429"] == 1
    assert stats["requests"] == 3


def test_sandbox_resets_and_hangs(sandbox_factory):
    sb = sandbox_factory(["probe"], common={"fault_reset": 1.0})
    with pytest.raises((ConnectionError, urllib.error.URLError)):
        fetch(sb.url("probe") + "/")
    sb.set_knobs("probe", fault_reset=0.0, fault_hang=1.0, hang_seconds=4)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        fetch(sb.url("probe") + "/", timeout=1.0)


def test_sandbox_command_line_prints_its_sites(tmp_path):
    ports_file = tmp_path / "ports.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--sites", "probe", "--ports-file", str(ports_file)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("sandbox: probe")
        url = json.loads(ports_file.read_text())["probe"]
        assert fetch(url + "/")[0] == 200
    finally:
        proc.terminate()
        proc.wait(10)
    bad = subprocess.run(
        [sys.executable, "-m", "sandbox", "--sites", "nosuch"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0
    assert "unknown sandbox site 'nosuch'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_private_redis(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.set("k", "v")
    assert client.get("k") == b"v"
    assert "127.0.0.1" in redis_url


def test_private_postgres_with_password(database_url, postgres_server):
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE t (n int, s text)")
        with conn.cursor().copy("COPY t (n, s) FROM STDIN") as copy:
            for n in range(100):
                copy.write_row((n, f"row {n}"))
        assert conn.execute("SELECT count(*), sum(n) FROM t").fetchone() == (100, 4950)
    wrong = database_url.replace(postgres_server.password, "wrong")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(wrong, connect_timeout=5)


KILLED_OWNER = """
import os, signal
from sandbox.services import PostgresServer, RedisServer
r, p = RedisServer(durable=True).start(), PostgresServer().start()
print(r.port, p.port, r.dir, p.dir, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_servers_of_a_killed_test_process_are_stopped_and_removed():
    from sandbox.services import ServiceError, wait_for_port

    run = subprocess.run(
        [sys.executable, "-c", KILLED_OWNER], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert run.returncode == -9, run.stderr[-2000:]
    redis_port, pg_port, *folders = run.stdout.split()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        alive = []
        for port in (redis_port, pg_port):
            try:
                wait_for_port(int(port), timeout=0.2)
                alive.append(port)
            except ServiceError:
                pass
        left = [f for f in folders if Path(f).exists()]
        if not alive and not left:
            break
        time.sleep(0.5)
    assert not alive and not left, (alive, left)


def test_browser_crawl_with_project_settings(sandbox_factory, chromium, tmp_path):
    """scrapy-playwright renders with our Chromium; a 429 is retried after Retry-After."""
    sb = sandbox_factory(["probe"])
    out = tmp_path / "items.jsonl"
    stats = tmp_path / "stats.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "runspider",
            "tests/spiders/probe_spider.py",
            "-a",
            f"base_url={sb.url('probe')}",
            "-o",
            f"{out}:jsonlines",
            "-s",
            f"STATS_FILE={stats}",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    items = {i["kind"]: i for i in map(json.loads, out.read_text().splitlines())}
    assert items["browser"]["text"] == "rendered 42"
    assert items["flaky"] == {"kind": "flaky", "status": 200, "text": "ok a"}
    crawl_stats = json.loads(stats.read_text())
    assert crawl_stats["retry/retry_after_honoured"] == 2
    assert crawl_stats["retry/backoff_seconds"] >= 2
    assert crawl_stats["playwright/page_count"] >= 1
    assert sb.stats("probe")["flaky:a"] == 3


def test_refused_pipeline_gives_one_line_and_no_traceback(crawl, free_tcp_port):
    """A pipeline refusing to open (unreachable PostgreSQL) ends the crawl with one line."""
    secret = "pw-not-to-be-seen"
    result = crawl(
        "deals",
        args={"origins": "PHX"},
        settings={
            "DEALS_BASE_URL": f"http://127.0.0.1:{free_tcp_port}",
            "DATABASE_URL": f"postgresql://crawler:{secret}@127.0.0.1:{free_tcp_port}/crawl",
        },
        timeout=180,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "cannot reach PostgreSQL at postgresql://crawler:***@127.0.0.1" in errors[0]
    assert "Traceback" not in result.log
    assert secret not in result.log


def test_sandbox_command_line_says_how_to_crawl_each_site(tmp_path):
    """What a user needs to try a spider on the sandbox: the portal's account, what the
    directory holds, and a command line per site."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--sites", "vehicles,businesses,emails"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        while sum("try:" in line for line in lines) < 3:
            line = proc.stdout.readline()
            assert line, "the sandbox stopped before printing a try line per site"
            lines.append(line)
    finally:
        proc.terminate()
        proc.wait(10)
    text = "".join(lines)
    vehicles_url = lines[0].split()[-1]
    assert f"VEHICLES_BASE_URL={vehicles_url} VEHICLES_USERNAME=dealer" in text
    assert "VEHICLES_PASSWORD=letmein-42 scrapy crawl vehicles" in text
    assert "holds 462 cities" in text and "in CA,DE,MT" in text
    targets = text.split("-a targets_file=")[1].split()[0]
    assert Path(targets).read_text(encoding="utf-8").count("\t") >= 1
    urls_file = text.split("-a urls_file=")[1].split()[0]
    assert Path(urls_file).read_text().splitlines()[0].startswith("http://www.")
