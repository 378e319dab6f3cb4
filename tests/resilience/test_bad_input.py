"""Invalid arguments and settings of every spider: one `error:` line alone on stderr (no
banner or settings dump before it), a non-zero exit, no traceback, no secret in the message,
and nothing fetched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from crawlers.env import PROJECT_ROOT
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
    case("deals", {"phase": "7", "origins": None}, says="phase"),
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
    # -s values of every type a setting has: booleans (yes/no/on/off are true/false), whole
    # numbers, numbers, lists and dicts, each given something it cannot be.
    case("emails", settings={"AUTOTHROTTLE_ENABLED": "perhaps"}, says="AUTOTHROTTLE_ENABLED"),
    case("emails", settings={"PROXY_ENABLED": "perhaps"}, says="PROXY_ENABLED"),
    case("deals", settings={"REPORT_ENABLED": "nope"}, says="REPORT_ENABLED"),
    case("vehicles", settings={"VEHICLES_BROWSER_PAGES": "sometimes"}, says="true or false"),
    case("emails", env={"PROXY_ENABLED": "perhaps"}, says="PROXY_ENABLED"),
    case("emails", settings={"RETRY_TIMES": "1.5"}, says="whole number"),
    case("businesses", settings={"BUSINESSES_CLAIM_BATCH": "8.5"}, says="BUSINESSES_CLAIM_BATCH"),
    case("deals", settings={"AUTOTHROTTLE_MAX_DELAY": "long"}, says="AUTOTHROTTLE_MAX_DELAY"),
    case("emails", settings={"RETRY_HTTP_CODES": "foo"}, says="RETRY_HTTP_CODES"),
    case("vehicles", settings={"RETRY_HTTP_CODES": "[500, "}, says="RETRY_HTTP_CODES"),
    case("businesses", settings={"RETRY_HTTP_CODES": '{"a": 1}'}, says="RETRY_HTTP_CODES"),
    case("emails", settings={"FEEDS": "out.jsonl"}, says="FEEDS"),
    case("deals", settings={"PLAYWRIGHT_LAUNCH_OPTIONS": "[1]"}, says="PLAYWRIGHT_LAUNCH_OPTIONS"),
    # Every file input, given bytes that are not UTF-8.
    case("businesses", {"targets_file": "{tmp}/latin1-targets.tsv"}, says="not UTF-8"),
    case("emails", {"urls": None, "urls_file": "{tmp}/latin1-urls.txt"}, says="not UTF-8"),
    case("emails", settings={"PROXY_LIST": "{tmp}/latin1-proxies.txt"}, says="not UTF-8"),
    case(
        "businesses",
        settings={"BUSINESSES_FILTER_FILE": "{tmp}/latin1-rules.json"},
        says="not UTF-8",
    ),
    case("deals", settings={"DEALS_REGIONS_FILE": "{tmp}/latin1-regions.json"}, says="not UTF-8"),
    # Misspelt and empty arguments.
    case("emails", {"tagret": "10"}, says="did you mean 'target'?"),
    case("vehicles", {"limt": "5"}, says="did you mean 'limit'?"),
    case("deals", {"orgins": "PHX"}, says="did you mean 'origins'?"),
    case("businesses", {"state": "DE", "targets_file": None}, says="did you mean 'states'?"),
    case("deals", {"origins": ""}, says="-a origins= is empty"),
    case("emails", {"urls": ""}, says="-a urls= is empty"),
    case("deals", {"origins": "PHX,XQZ"}, says="XQZ"),
]


# Files saved in Latin-1 (as a spreadsheet or an old editor would), each otherwise valid.
LATIN1 = {
    "latin1-targets.tsv": "caf\xe9s\tDover, DE\n",
    "latin1-urls.txt": "caf\xe9.example\n",
    "latin1-proxies.txt": "gw.example:80:jos\xe9:pw\n",
    "latin1-rules.json": '{"reject": {"name_words": ["caf\xe9"]}}',
    "latin1-regions.json": '{"europe": "/m/02j9z", "am\xe9rique": "/m/0dg3n1"}',
}


def key(spider, args, settings, env) -> str:
    return json.dumps([spider, args, settings, env], sort_keys=True)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every case's crawl, run two at a time once for the module: each is a process
    start-up and little else, so running them side by side saves most of the wall time."""
    root = tmp_path_factory.mktemp("bad-input")
    (root / "targets.tsv").write_text("plumbers\tDover, DE\n")
    (root / "bad.json").write_text('{"reject": ')
    for name, text in LATIN1.items():
        (root / name).write_bytes(text.encode("latin-1"))

    def fill(values: dict) -> dict:
        # None: the argument is left out (a case replacing one of SPIDER_ARGS).
        return {k: str(v).replace("{tmp}", str(root)) for k, v in values.items() if v is not None}

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
    lines = result.stderr.strip().splitlines()
    # Alone: Scrapy's banner and settings dumps, logged while the crawl started, held back.
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("error: "), result.stderr[-2000:]
    assert says.lower() in lines[0].lower(), lines[0]
    assert result.items == []


def scrapy(*argv: str, env: dict | None = None, cwd=PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *argv],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("vehicle", "no spider 'vehicle'; did you mean 'vehicles'?"),
        ("email", "no spider 'email'; did you mean 'emails'?"),
        ("Deals", "no spider 'Deals'; did you mean 'deals'?"),
        ("busineses", "no spider 'busineses'; did you mean 'businesses'?"),
        ("weather", "no spider 'weather' (spiders: businesses, deals, emails, vehicles)"),
    ],
)
def test_a_misspelt_spider_is_one_line_with_the_closest_name(tmp_path, typed, says):
    result = scrapy("crawl", typed, env={"DATA_DIR": str(tmp_path)})
    assert (result.returncode, result.stderr) == (2, f"error: {says}\n")
    assert result.stdout == ""


def test_the_arguments_scrapyd_adds_are_accepted(tmp_path):
    # Run as scrapyd would: `_job` and `_version` beside the spider's own arguments. The
    # crawl gets past the argument checks and stops at the dead URL's missing site instead.
    result = run_crawl(
        "deals",
        tmp_path,
        args={"_job": "0123abcd", "_version": "r1", "origins": "PHX,XQZ"},
        env=SPIDER_ENV["deals"],
    )
    assert result.returncode == 2, result.log[-3000:]
    assert result.stderr == "error: unknown IATA airport code(s): XQZ\n"


def test_boolean_words_are_booleans_everywhere(tmp_path):
    """yes/no/on/off (any case) mean true/false for every boolean setting: Scrapy's own
    (AUTOTHROTTLE_ENABLED, read with getbool, which refuses them) and the project's."""
    result = run_crawl(
        "emails",
        tmp_path,
        args={"urls": "127.0.0.1:9"},
        settings={
            "AUTOTHROTTLE_ENABLED": "yes",
            "PROXY_ENABLED": "Off",
            "REPORT_ENABLED": "no",
            "RETRY_ENABLED": "ON",
            "RETRY_TIMES": "0",
            "RETRY_HTTP_CODES": "[503, 429]",
            "LOG_LEVEL": "info",
        },
        env={"HEADLESS": "yes"},
    )
    assert result.returncode == 0, result.log[-3000:]
    assert "Traceback" not in result.log
    assert result.stats["finish_reason"] == "finished"
    # REPORT_ENABLED=no took effect: no report was written.
    assert not (tmp_path / "data" / "reports").exists() or not list(
        (tmp_path / "data" / "reports").iterdir()
    )


def test_crawl_help_and_describe_list_the_spider_arguments(tmp_path):
    env = {"DATA_DIR": str(tmp_path)}
    helped = scrapy("crawl", "emails", "-h", env=env)
    assert helped.returncode == 0, helped.stderr
    tail = helped.stdout.split("Arguments of emails (-a NAME=VALUE):\n", 1)[1].splitlines()
    assert [line.split()[0] for line in tail if line.strip()] == ["urls", "urls_file", "target"]
    assert all(len(line.split()) > 2 for line in tail if line.strip())  # a line of help each
    for spider, names in {
        "vehicles": ["limit"],
        "deals": ["origins", "phase", "regions", "top", "within"],
        "businesses": ["states", "targets_file"],
        "emails": ["urls", "urls_file", "target"],
    }.items():
        described = scrapy("describe", spider, env=env)
        assert described.returncode == 0, described.stderr
        listed = described.stdout.split("(-a NAME=VALUE):\n", 1)[1].splitlines()
        assert [line.split()[0] for line in listed] == names
    wrong = scrapy("describe", "vehicle", env=env)
    assert (wrong.returncode, wrong.stderr) == (
        2,
        "error: no spider 'vehicle'; did you mean 'vehicles'?\n",
    )


def test_a_categories_file_that_is_not_utf8_is_one_line(tmp_path):
    categories = tmp_path / "categories.txt"
    categories.write_bytes("plumbers\ncaf\xe9s\n".encode("latin-1"))
    result = scrapy(
        "targets",
        "generate",
        "--states",
        "DE",
        "--categories",
        str(categories),
        env={"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": ""},
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr == (
        f"error: cannot read {categories}: not UTF-8 text (byte 12); save it as UTF-8\n"
    )


def test_spiders_are_looked_for_where_spider_modules_says(tmp_path):
    # -s SPIDER_MODULES applies to the name check as it does to the crawl.
    result = scrapy(
        "crawl", "catalg", "-s", "SPIDER_MODULES=tests.spiders", env={"DATA_DIR": str(tmp_path)}
    )
    assert (result.returncode, result.stderr) == (
        2,
        "error: no spider 'catalg'; did you mean 'catalog'?\n",
    )
