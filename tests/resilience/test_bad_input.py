"""Invalid arguments and settings of every spider: one `error:` line, a non-zero exit, no
traceback, no secret in the message, and nothing fetched."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox.crawl import CrawlResult, run_crawl
from tests.resilience.conftest import PORTAL_PASSWORD

pytestmark = pytest.mark.integration

DB_PASSWORD = "pw-Resil-db-4411"
REDIS_PASSWORD = "pw-Resil-redis-9327"
# Nothing listens on port 9: a spider that got past its checks fails to connect, which
# these tests would see as a missing `error:` line or a zero exit.
DEAD = "http://127.0.0.1:9"
SPIDER_ENV = {
    "vehicles": {
        "VEHICLES_BASE_URL": DEAD,
        "VEHICLES_USERNAME": "dealer",
        "VEHICLES_PASSWORD": PORTAL_PASSWORD,
    },
    "deals": {"DEALS_BASE_URL": DEAD},
    "businesses": {"BUSINESSES_BASE_URL": DEAD},
    "emails": {},
}
SPIDER_ARGS = {
    "vehicles": {},
    "deals": {"origins": "PHX", "regions": "europe"},
    "businesses": {"targets_file": "{tmp}/targets.tsv"},
    "emails": {"urls": "127.0.0.1:9"},
}


def case(spider, args=None, settings=None, env=None, says=""):
    what = {**(args or {}), **(settings or {})}
    label = "-".join(f"{k}={v}"[:32] for k, v in what.items()) or "-".join(env or {})
    return pytest.param(spider, args or {}, settings or {}, env or {}, says, id=f"{spider}-{label}")


CASES = [
    case(
        "vehicles",
        settings={"VEHICLES_PER_PAGE": "many"},
        says="VEHICLES_PER_PAGE",
    ),
    case(
        "vehicles",
        settings={"VEHICLES_MAX_WALKS": "1.5x"},
        says="VEHICLES_MAX_WALKS",
    ),
    case(
        "vehicles",
        settings={"FILES_STORE": "/proc/no-such-dir/pdfs"},
        says="FILES_STORE",
    ),
    case("vehicles", settings={"RETRY_TIMES": "lots"}, says="RETRY_TIMES"),
    case("deals", {"top": "0"}, says="top"),
    case("deals", {"within": "soon"}, says="within"),
    case("deals", {"phase": "7", "origins": ""}, says="phase"),
    case(
        "deals",
        settings={"DEALS_SETTLE_SECONDS": "slow"},
        says="DEALS_SETTLE_SECONDS",
    ),
    case(
        "deals", settings={"DEALS_REGIONS_FILE": "/nonexistent/regions.json"}, says="regions file"
    ),
    case("deals", env={"DEALS_BASE_URL": "ftp://example.com"}, says="DEALS_BASE_URL"),
    case(
        "deals",
        env={"DATABASE_URL": f"postgresql://u:{DB_PASSWORD}@127.0.0.1:9/x"},
        says="PostgreSQL",
    ),
    case("businesses", {"states": "DE"}, says="not both"),
    case(
        "businesses",
        settings={"BUSINESSES_MAX_PAGES": "all"},
        says="BUSINESSES_MAX_PAGES",
    ),
    case(
        "businesses",
        settings={"BUSINESSES_LEASE_SECONDS": "-"},
        says="BUSINESSES_LEASE_SECONDS",
    ),
    case(
        "businesses", settings={"BUSINESSES_FILTER_FILE": "/nonexistent/rules.json"}, says="rules"
    ),
    case("businesses", settings={"BUSINESSES_FILTER_FILE": "{tmp}/bad.json"}, says="bad.json"),
    case(
        "businesses",
        settings={"CONCURRENT_REQUESTS": "eight"},
        says="CONCURRENT_REQUESTS",
    ),
    case("emails", {"target": "-5"}, says="target"),
    case("emails", settings={"EMAILS_MAX_DEPTH": "deep"}, says="EMAILS_MAX_DEPTH"),
    case("emails", settings={"DOWNLOAD_TIMEOUT": "never"}, says="DOWNLOAD_TIMEOUT"),
    case(
        "emails",
        settings={"LOG_LEVEL": "LOUD"},
        says="LOG_LEVEL",
    ),
    case("emails", settings={"PROXY_LIST": "/nonexistent/proxies.txt"}, says="proxies.txt"),
    case("emails", env={"DATABASE_URL": "not a database url"}, says="PostgreSQL"),
    case(
        "emails", env={"REDIS_URL": f"redis://crawler:{REDIS_PASSWORD}@127.0.0.1:9/0"}, says="Redis"
    ),
    case("emails", env={"REDIS_URL": "http://not-redis"}, says="REDIS_URL"),
]


def key(spider, args, settings, env) -> str:
    return json.dumps([spider, args, settings, env], sort_keys=True)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every case's crawl, run two at a time once for the module: each is a process
    start-up and little else, so running them side by side saves most of the wall time."""
    root = tmp_path_factory.mktemp("bad-input")
    (root / "targets.tsv").write_text("plumbers\tDover, DE\n")
    (root / "bad.json").write_text('{"reject": ')

    def fill(values: dict) -> dict:
        return {k: str(v).replace("{tmp}", str(root)) for k, v in values.items()}

    def one(n: int, values) -> tuple[str, CrawlResult]:
        spider, args, settings, env, _ = values
        result = run_crawl(
            spider,
            root / f"case{n}",
            args=fill({**SPIDER_ARGS[spider], **args}),
            settings=fill(settings),
            env={**SPIDER_ENV[spider], **env},
            timeout=300,
        )
        return key(spider, args, settings, env), result

    with ThreadPoolExecutor(2) as pool:
        done = pool.map(lambda item: one(*item), enumerate(c.values for c in CASES))
        return {**dict(done), "root": root}


@pytest.mark.parametrize(("spider", "args", "settings", "env", "says"), CASES)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    results, leaks, spider, args, settings, env, says
):
    leaks.secret(DB_PASSWORD, REDIS_PASSWORD)
    result = results[key(spider, args, settings, env)]
    leaks.text("crawl output", result.log)
    leaks.root(results["root"])  # every case's reports, stats and feeds
    assert leaks.findings() == []
    assert "Traceback" not in result.log, result.log[-3000:]
    assert result.returncode != 0, result.log[-3000:]
    last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    assert last.startswith("error: "), result.stderr[-2000:]
    assert says.lower() in last.lower(), last
    assert result.items == []
