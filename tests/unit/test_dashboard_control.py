"""What the dashboard reads of a node's crawl from the end of its scrapyd log, and which
settings it refuses to send through schedule.json."""

from __future__ import annotations

import pytest

from crawlers.dashboard.control import FileJobs, log_error, secret_problem
from crawlers.dashboard.schedules import FileSchedules
from crawlers.dashboard.scrapyd import parse_nodes
from crawlers.errors import ConfigError

CLOSED = "2026-12-07 01:46:53 [scrapy.core.engine] INFO: Spider closed ({})\n"
PAGE_ERROR = "2026-12-07 01:46:40 [crawlers.spiders.emails] ERROR: site x.test failed: blocked\n"


def test_a_crawl_that_ended_well_has_no_error_even_with_errors_on_the_way():
    assert log_error(PAGE_ERROR + CLOSED.format("finished")) is None
    assert log_error(PAGE_ERROR + CLOSED.format("shutdown")) is None  # stopped


def test_a_crawl_that_could_not_start_or_closed_badly_says_why():
    start = "2026-12-07 01:39:06 [crawlers] ERROR: cannot reach Redis at redis://:***@h:1/0\n"
    assert log_error("banner\n" + start) == start.strip()
    assert log_error("error: -a tagret=5: did you mean 'target'?\n") == (
        "error: -a tagret=5: did you mean 'target'?"
    )
    assert log_error("banner\n" + CLOSED.format("closespider_timeout")) == (
        "the crawl closed: closespider_timeout"
    )
    assert log_error("banner only\n").startswith("the crawl ended before its spider closed")


def test_settings_carrying_secrets_are_refused():
    assert secret_problem({"DOWNLOAD_DELAY": "1", "CRAWL_NOTE": "x"}) is None
    for settings in (
        {"PROXY_PASSWORD": "x"},
        {"API_KEY": "x"},
        {"SOME_TOKEN": "x"},
        {"DATABASE_URL": "postgresql://user:pw@db/crawl"},
        {"PROXY_LIST_URL": "http://u:p@lists.test/p.txt"},
    ):
        assert secret_problem(settings).startswith(f"setting {next(iter(settings))} carries")


def test_node_urls_keep_their_credentials_out_of_sight():
    one, two = parse_nodes("one=http://admin:pw%40x@10.0.0.5:6800/, http://10.0.0.6:6800")
    assert (one.name, one.url) == ("one", "http://10.0.0.5:6800")
    assert one.headers == {"Authorization": "Basic YWRtaW46cHdAeA=="}  # admin:pw@x
    assert (two.name, two.url, two.headers) == ("10.0.0.6-6800", "http://10.0.0.6:6800", {})
    assert "pw" not in repr(one) + repr(one.public()) and "YWRt" not in repr(one)


def test_bad_node_lists_are_one_line_without_credentials():
    for value, message in (
        ("ftp://admin:pw@x", "DASHBOARD_SCRAPYD_NODES: node 1 is not an http(s) URL of scrapyd"),
        ("a=http://x:1 a=http://y:2", "DASHBOARD_SCRAPYD_NODES: two nodes are named 'a'"),
    ):
        with pytest.raises(ConfigError) as error:
            parse_nodes(value)
        assert str(error.value) == message


def test_without_redis_jobs_and_schedules_are_kept_in_files(tmp_path):
    jobs = FileJobs(tmp_path / "dashboard" / "jobs.json")
    record = {"job": "j", "created": 1.0, "nodes": {}}
    assert jobs.add(record) and not jobs.add(record)
    jobs.put({**record, "stops": [2.0]})
    assert FileJobs(tmp_path / "dashboard" / "jobs.json").get("j")["stops"] == [2.0]
    jobs.delete("j")
    assert jobs.all() == [] and jobs.forget_job_state("j") == 0

    schedules = FileSchedules(tmp_path / "dashboard" / "schedules.json")
    assert schedules.add({"name": "s", "cron": "0 3 * * *"})
    assert schedules.claim("s", 600.0) and not schedules.claim("s", 600.0)
    assert not schedules.claim("s", 540.0) and schedules.claim("s", 660.0)
    assert [s["name"] for s in schedules.all()] == ["s"]
