"""Secrets: crawls handed every kind of credential at once (the portal's password, proxy
passwords, PostgreSQL's and Redis' passwords), logging at DEBUG, writing reports and
telemetry snapshots. The suite-wide scan (conftest `leaks`) then reads every log, stats
dump, report, snapshot and item they left: none may hold a secret. The scanner itself is
tested first, so a silent scan cannot pass for a clean one."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.proxy import ProxyFarm
from sandbox.services import free_port, wait_for_port
from tests.helpers import write_targets
from tests.resilience import portal
from tests.resilience.leaks import LeakScanner

pytestmark = pytest.mark.integration

PROXY_USERS = {"alice-res": "pw-Resil-proxy-a1c3", "bob-res": "pw-Resil-proxy-b0b7"}
REDIS_PASSWORD = "pw-Resil-redis-5e1f"


def test_the_scanner_finds_a_planted_secret_in_every_form(tmp_path):
    scanner = LeakScanner()
    scanner.root(tmp_path)
    scanner.basic_auth("user", "planted-secret-1")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "stats.json").write_text(json.dumps({"x": "..planted-secret-1.."}))
    (tmp_path / "utf16.txt").write_bytes("planted-secret-1".encode("utf-16-le"))
    (tmp_path / "headers.log").write_text("Proxy-Authorization: Basic dXNlcjpwbGFudGVkLXNlY3JldC0x")
    (tmp_path / "clean.txt").write_text("nothing here")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "proxies.txt").write_text("127.0.0.1:1:user:planted-secret-1\n")
    scanner.exclude(inputs)
    scanner.text("stderr", "error: ... planted-secret-1 ...")
    found = scanner.findings()
    assert scanner.scanned_files == 4
    assert len(found) == 4, found
    assert all("planted-secret-1" not in f for f in found)  # the report leaks nothing itself
    assert not any("clean.txt" in f or "inputs" in f for f in found)
    with pytest.raises(ValueError):
        scanner.secret("short")


@pytest.fixture
def farm():
    proxies = ProxyFarm().start()
    yield proxies
    proxies.stop()


@pytest.fixture
def proxy_list(farm, leaks, tmp_path) -> Path:
    for user, password in PROXY_USERS.items():
        farm.add("ok", username=user, password=password)
        leaks.basic_auth(user, password)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    leaks.exclude(inputs)  # the list itself holds them, of course
    return farm.write_list(inputs / "proxies.txt")


@pytest.fixture
def redis_with_password(leaks, tmp_path):
    leaks.secret(REDIS_PASSWORD)
    port = free_port()
    proc = subprocess.Popen(
        [
            shutil.which("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            REDIS_PASSWORD,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc=proc)
    yield f"redis://default:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


DEBUG = {"LOG_LEVEL": "DEBUG", "TELEMETRY_INTERVAL": 1, "RESOURCES_INTERVAL": 1}


def test_vehicles_through_proxies_at_debug_leak_nothing(
    sandbox_factory, crawl, proxy_list, chromium, tmp_path
):
    sb = sandbox_factory(["vehicles"], knobs={"vehicles": portal.knobs(4)})
    store = tmp_path / "pdfs"
    result = crawl(
        "vehicles",
        settings={
            **portal.SETTINGS,
            **DEBUG,
            "FILES_STORE": str(store),
            "PROXY_LIST": str(proxy_list),
        },
        env=portal.env(sb),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    portal.check_vehicles(result.items, result.stats, sb.truth("vehicles"), store)
    assert result.stats.get("proxies/total") == len(PROXY_USERS)
    assert list((tmp_path / "crawl0" / "data" / "reports").glob("*.json"))


def test_businesses_with_postgres_proxies_and_redis_at_debug_leak_nothing(
    sandbox_factory, crawl, database_url, proxy_list, redis_with_password, tmp_path
):
    options = {"states": "DE", "categories": "plumbers", "per_page": 10}
    sb = sandbox_factory(["businesses"], knobs={"businesses": {"size": 12, "options": options}})
    truth = sb.truth("businesses")
    targets = write_targets(tmp_path / "targets.tsv", truth["searches"])
    result = crawl(
        "businesses",
        args={"targets_file": str(targets)},
        settings={
            **DEBUG,
            "BUSINESSES_BASE_URL": sb.url("businesses"),
            "BUSINESSES_FILTER_FILE": "",
            "DOWNLOAD_DELAY": 0,
            "PROXY_LIST": str(proxy_list),
        },
        env={"DATABASE_URL": database_url, "TELEMETRY_REDIS_URL": redis_with_password},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert {i["ypid"] for i in result.items} == set(truth["businesses"])
    assert result.stats.get("proxies/total") == len(PROXY_USERS)


def test_emails_cluster_with_passwords_at_debug_leaks_nothing(
    sandbox_factory, crawl, database_url, redis_with_password
):
    sb = sandbox_factory(["emails"], knobs={"emails": {"size": 3}})
    site = sb.site("emails")
    result = crawl(
        "emails",
        args={"urls": ",".join(site.seeds())},
        settings={**DEBUG, "CLUSTER_IDLE_GRACE": 1},
        env={
            "http_proxy": sb.url("emails"),
            "no_proxy": "",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_with_password,
        },
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stats["progress/done"] == len(set(site.all_addresses()))


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://crawler:{pg}@127.0.0.1:9/x",
        pytest.param(
            "postgresql://127.0.0.1:9/x?user=crawler&password={pg}", id="password-in-query"
        ),
    ],
)
def test_unreachable_services_name_no_password(crawl, leaks, url):
    secret = "pw-Resil-unreach-77aa"
    leaks.secret(secret)
    result = crawl(
        "emails",
        args={"urls": "127.0.0.1:9"},
        env={"DATABASE_URL": url.format(pg=secret), "REDIS_URL": ""},
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot reach PostgreSQL")
    assert leaks.findings() == []
