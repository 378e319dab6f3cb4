"""One outcome per unit in a cluster run, whichever node and request report it."""

from __future__ import annotations

import pytest
from scrapy.utils.test import get_crawler

from crawlers.cluster.reported import ReportedInRun, reported_in_run
from tests.redis_clients import redis_client

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


def test_the_first_request_to_report_a_unit_owns_it(redis_url):
    node_a = ReportedInRun(get_crawler(settings_dict={"REDIS_URL": redis_url}), "vehicles")
    node_b = ReportedInRun(get_crawler(settings_dict={"REDIS_URL": redis_url}), "vehicles")
    assert node_a.claim("AB12", "vehicle:AB12")
    # Another request (a later walk's page on another node) stays silent...
    assert not node_b.claim("AB12", "inventory:2:1")
    # ...while the same request, back after its node died, may report it again, until its
    # line is written.
    assert node_b.claim("AB12", "vehicle:AB12")
    node_b.written("AB12")
    assert not node_a.claim("AB12", "vehicle:AB12")
    assert node_b.claim("CD34", "inventory:2:1")
    assert redis_client(redis_url).ttl(node_a.key) > 0


def test_an_unreachable_redis_reports_rather_than_loses():
    crawler = get_crawler(settings_dict={"REDIS_URL": "redis://127.0.0.1:1/0"})
    crawler.stats.open_spider()
    reported = ReportedInRun(crawler, "vehicles")
    assert reported.claim("AB12", "vehicle:AB12")
    assert reported.claim("AB12", "inventory:1:1")
    reported.written("AB12")
    assert crawler.stats.get_value("vehicles/reported_set_unavailable") == 3


def test_a_single_node_keeps_no_record():
    assert reported_in_run(get_crawler(settings_dict={}), "vehicles") is None
