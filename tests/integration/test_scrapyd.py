"""Deploy to a real scrapyd with scrapyd-deploy, schedule spiders against the sandbox, read
what they collected; the inputs shipped in the package work from the egg."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest

from crawlers.env import PROJECT_ROOT
from crawlers.ledger.regions import read_categories
from crawlers.pipelines.businesses import ListingFilter
from sandbox.services import free_port, wait_for_port

pytestmark = pytest.mark.integration

# What scrapyd-deploy needs of a checkout to build the egg.
PROJECT_FILES = ["scrapy.cfg", "setup.py", "pyproject.toml", "README.md"]


def api(base: str, endpoint: str, **params) -> dict:
    url = f"{base}/{endpoint}"
    if params:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def post(base: str, endpoint: str, fields: list[tuple[str, str]]) -> dict:
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(f"{base}/{endpoint}", data=data, timeout=30) as resp:
        return json.load(resp)


def deploy(base: str, home: Path, tmp_path: Path) -> Path:
    """scrapyd-deploy a copy of the checkout to `base` as version r1; the egg scrapyd stored."""
    # Build from a copy of the checkout: setup.py's egg build writes build/ beside it.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(PROJECT_ROOT / name, checkout / name)
    shutil.copytree(
        PROJECT_ROOT / "crawlers",
        checkout / "crawlers",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # A deploy target of this machine's own, as a user keeps one in ~/.config/scrapy.cfg.
    config_home = tmp_path / "config"
    config_home.mkdir()
    (config_home / "scrapy.cfg").write_text(f"[deploy:test]\nurl = {base}/\nproject = crawlers\n")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "scrapyd-deploy"), "test", "--version", "r1"],
        cwd=checkout,
        env={"PATH": str(Path(sys.executable).parent), "XDG_CONFIG_HOME": str(config_home)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert json.loads(result.stdout)["status"] == "ok"
    return home / "eggs" / "crawlers" / "r1.egg"


def wait_finished(base: str, jobid: str) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        jobs = api(base, "listjobs.json", project="crawlers")
        if any(j["id"] == jobid for j in jobs["finished"]):
            return
        time.sleep(0.5)
    pytest.fail(f"scrapyd job still running: {jobs}")


@pytest.fixture
def scrapyd(tmp_path):
    """`start(env)`: a scrapyd on a free port, everything under tmp_path/scrapyd."""
    home = tmp_path / "scrapyd"
    home.mkdir()
    procs = []

    def start(env: dict[str, str]) -> str:
        port = free_port()
        (home / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
            "poll_interval = 0.5\nmax_proc = 2\n"
            f"eggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\ndbs_dir = {home / 'dbs'}\n"
        )
        with open(home / "scrapyd.out", "w") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "scrapyd"],
                    cwd=home,
                    env={**os.environ, **env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        wait_for_port(port, proc=procs[-1])
        return f"http://127.0.0.1:{port}"

    yield start, home
    for proc in procs:
        proc.terminate()
        proc.wait(20)


def test_deploy_schedule_and_read_results(scrapyd, sandbox_factory, redis_url, tmp_path):
    start_scrapyd, home = scrapyd
    # The emails spider reaches the sandbox's sites through a proxy given by the
    # environment, which scrapyd hands down to its jobs (as it would REDIS_URL and secrets).
    sb = sandbox_factory(["emails"])
    recipe = sb.site("emails").demo()
    base = start_scrapyd(recipe["env"])
    egg = deploy(base, home, tmp_path)
    with zipfile.ZipFile(egg) as zf:
        names = zf.namelist()
        assert zf.read("EGG-INFO/entry_points.txt").decode().split() == [
            "[scrapy]",
            "settings",
            "=",
            "crawlers.settings",
        ]
    assert {n.split("/")[0] for n in names} == {"crawlers", "EGG-INFO"}
    assert "crawlers/cluster/scheduler.py" in names

    spiders = api(base, "listspiders.json", project="crawlers")["spiders"]
    assert {"vehicles", "deals", "businesses", "emails"} <= set(spiders)

    # The emails spider's sandbox recipe: its arguments and settings through schedule.json,
    # in cluster mode (REDIS_URL) as a scrapyd node of a cluster runs it.
    out = tmp_path / "out"
    settings = {
        **recipe.get("settings", {}),
        "REDIS_URL": redis_url,
        "DATA_DIR": str(out / "data"),
        "STATS_FILE": str(out / "stats.json"),
        "FEEDS": json.dumps({str(out / "items.jsonl"): {"format": "jsonlines"}}),
    }
    fields = [("project", "crawlers"), ("spider", recipe["spider"])]
    fields += list(recipe["args"].items())
    fields += [("setting", f"{key}={value}") for key, value in settings.items()]
    job = post(base, "schedule.json", fields)
    assert job["status"] == "ok", job
    wait_finished(base, job["jobid"])

    log = (home / "logs" / "crawlers" / recipe["spider"] / f"{job['jobid']}.log").read_text()
    stats = json.loads((out / "stats.json").read_text())
    assert stats["finish_reason"] == "finished", log[-3000:]
    assert stats["scheduler/dequeued/redis"] > 0  # the shared queue ran inside scrapyd
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    score = sb.site("emails").score(items)
    assert (score["recall"], score["precision"], score["duplicates"]) == (1.0, 1.0, 0), score


def test_shipped_inputs_are_read_from_the_egg(scrapyd, sandbox_factory, tmp_path):
    start_scrapyd, home = scrapyd
    # "Government Offices" is a category the shipped filter rejects: the sandbox gives it to
    # every business a search for it lists.
    sb = sandbox_factory(
        ["businesses"],
        knobs={
            "businesses": {"options": {"states": "DE", "categories": "plumbers,government offices"}}
        },
    )
    truth = sb.truth("businesses")
    base = start_scrapyd({})
    egg = deploy(base, home, tmp_path)

    # A businesses job with no BUSINESSES_FILTER_FILE: the rules shipped in the egg apply.
    targets = tmp_path / "targets.tsv"
    targets.write_text(
        "".join(f"{s['search_terms']}\t{s['location']}\n" for s in truth["searches"])
    )
    out = tmp_path / "out"
    settings = {
        "BUSINESSES_BASE_URL": sb.url("businesses"),
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "DATA_DIR": str(out / "data"),
        "STATS_FILE": str(out / "stats.json"),
        "FEEDS": json.dumps({str(out / "items.jsonl"): {"format": "jsonlines"}}),
    }
    fields = [("project", "crawlers"), ("spider", "businesses"), ("targets_file", str(targets))]
    fields += [("setting", f"{key}={value}") for key, value in settings.items()]
    job = post(base, "schedule.json", fields)
    assert job["status"] == "ok", job
    wait_finished(base, job["jobid"])

    log = (home / "logs" / "crawlers" / "businesses" / f"{job['jobid']}.log").read_text()
    # A job that stops on a bad input says why on stderr, which scrapyd keeps in its own log.
    assert (out / "stats.json").exists(), (home / "scrapyd.out").read_text()[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["finish_reason"] == "finished", log[-3000:]
    assert stats["progress/done"] == len(truth["searches"])
    rules = ListingFilter.from_file(PROJECT_ROOT / "crawlers" / "data" / "business_filter.json")
    rejected = {
        ypid for ypid, b in truth["businesses"].items() if rules.reason(b["name"], b["categories"])
    }
    assert rejected, "the site should list businesses the shipped rules reject"
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert {i["ypid"] for i in items} == set(truth["businesses"]) - rejected
    assert stats["businesses/rejected"] > 0

    # The other shipped inputs, read the way the job above read its rules: scrapyd imports the egg
    # as a zip file (zipimport), not unpacked, and the defaults come out of it all the same.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys\n"
            "sys.path.insert(0, sys.argv[1])\n"
            "import crawlers\n"
            "from crawlers.ledger.regions import read_categories\n"
            "from crawlers.deals.places import choose_regions\n"
            "print(json.dumps({\n"
            "    'module': crawlers.__file__,\n"
            "    'regions': choose_regions('all', None),\n"
            "    'categories': read_categories(None),\n"
            "}))\n",
            str(egg),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    shipped = json.loads(loaded.stdout)
    assert shipped["module"].startswith(str(egg) + os.sep)
    regions = json.loads((PROJECT_ROOT / "crawlers" / "data" / "regions.json").read_text())
    assert dict(shipped["regions"]) == {k: v for k, v in regions.items() if k[0] != "_"}
    assert shipped["categories"] == read_categories(
        PROJECT_ROOT / "crawlers" / "data" / "categories.txt"
    )


def job_log(home: Path, spider: str, jobid: str) -> str:
    return (home / "logs" / "crawlers" / spider / f"{jobid}.log").read_text()


def test_a_job_that_stops_on_bad_input_says_why_in_its_own_log(scrapyd, tmp_path):
    """scrapyd's `log_url` is all a user sees of a job: the reason is there, not only in
    scrapyd's daemon log (where a job's stderr goes)."""
    start_scrapyd, home = scrapyd
    base = start_scrapyd({})
    deploy(base, home, tmp_path)
    data = str(tmp_path / "data")
    cases = [
        # An argument the spider checks itself, while the crawl starts.
        ("deals", [("phase", "9")], "phase must be 1, 2 or 3, got '9'"),
        # Checked before Scrapy starts logging at all.
        ("emails", [("tagret", "10")], "emails takes no argument 'tagret'; did you mean 'target'?"),
        (
            "emails",
            [("urls", "127.0.0.1:9"), ("setting", "REPORT_ENABLED=perhaps")],
            "-s REPORT_ENABLED=perhaps: not true or false",
        ),
    ]
    jobs = []
    for spider, fields, says in cases:
        given = [("project", "crawlers"), ("spider", spider), ("setting", f"DATA_DIR={data}")]
        job = post(base, "schedule.json", [*given, *fields])
        assert job["status"] == "ok", job
        jobs.append((spider, job["jobid"], says))
    for spider, jobid, says in jobs:
        wait_finished(base, jobid)
        log = job_log(home, spider, jobid)
        errors = [line for line in log.splitlines() if " ERROR: " in line]
        assert errors, log[-3000:]
        assert errors[-1].split(" ERROR: ", 1)[1].startswith(says), log[-3000:]
        assert "Traceback" not in log


def test_deals_under_scrapyd_takes_boolean_words_and_logs_its_capacity_report(
    scrapyd, sandbox_factory, chromium, tmp_path
):
    start_scrapyd, home = scrapyd
    sb = sandbox_factory(
        ["deals"],
        knobs={"deals": {"destinations": 3, "price_levels": 6, "first_ms": 50, "card_ms": 30}},
    )
    base = start_scrapyd({"DEALS_BASE_URL": sb.url("deals")})
    deploy(base, home, tmp_path)
    out = tmp_path / "out"
    settings = {
        # Booleans as a user types them: Scrapy's getbool refuses yes/no/on/off.
        "AUTOTHROTTLE_ENABLED": "yes",
        "PROXY_ENABLED": "no",
        "REPORT_ENABLED": "on",
        "DEALS_SETTLE_SECONDS": 0.6,
        "DEALS_RENDER_TIMEOUT": 10,
        "DATA_DIR": str(out / "data"),
        "STATS_FILE": str(out / "stats.json"),
        "FEEDS": json.dumps({str(out / "items.jsonl"): {"format": "jsonlines"}}),
    }
    fields = [("project", "crawlers"), ("spider", "deals")]
    fields += [("origins", "PHX"), ("regions", "anywhere"), ("top", "2")]
    fields += [("setting", f"{key}={value}") for key, value in settings.items()]
    job = post(base, "schedule.json", fields)
    assert job["status"] == "ok", job
    wait_finished(base, job["jobid"])

    log = job_log(home, "deals", job["jobid"])
    assert (out / "stats.json").exists(), log[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["finish_reason"] == "finished", log[-3000:]
    assert "Traceback" not in log
    # The capacity summary the spider prints is in the job's own log too.
    assert "deals: 1 origins x 1 regions, top 2 (finished)" in log, log[-3000:]
    assert "100 origins at concurrency 1:" in log
    assert f"deals: capacity report saved to {stats['deals/capacity_report']}" in log
