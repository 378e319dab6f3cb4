"""Small pieces of the businesses spider and its output that need no crawl."""

import json

import pytest
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.internet import error as net_errors
from twisted.python.failure import Failure
from twisted.web.client import ResponseNeverReceived

from crawlers.errors import ConfigError
from crawlers.pipelines.businesses import UnbufferedFileFeedStorage
from crawlers.spiders.businesses import BusinessesSpider, failure_reason


def failure_of(exc):
    try:
        raise exc
    except Exception:
        return Failure()


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (HttpError(Response("http://x/", status=503, request=Request("http://x/"))), "http_503"),
        (net_errors.TimeoutError(), "timeout"),
        (net_errors.DNSLookupError(), "dns"),
        (net_errors.ConnectionRefusedError(), "connection"),
        (net_errors.ConnectionLost(), "connection"),
        (ResponseNeverReceived([]), "connection"),
        (defer.TimeoutError(), "timeout"),
        (ValueError("odd"), "ValueError"),
    ],
)
def test_failure_reasons(exc, reason):
    assert failure_reason(failure_of(exc)) == reason


def test_states_and_targets_file_exclude_each_other(tmp_path):
    with pytest.raises(ConfigError, match="not both"):
        BusinessesSpider(states="CA", targets_file=str(tmp_path / "t.tsv"))
    with pytest.raises(ConfigError, match="unknown state ZZ"):
        BusinessesSpider(states="ZZ")


def test_feed_lines_reach_the_file_before_it_is_closed(tmp_path):
    path = tmp_path / "out" / "businesses.jsonl"
    storage = UnbufferedFileFeedStorage(str(path))
    handle = storage.open(None)
    handle.write(b'{"ypid": "1"}\n')
    # Another reader (or what is left after a SIGKILL) sees the line at once.
    assert json.loads(path.read_text()) == {"ypid": "1"}
    handle.write(b'{"ypid": "2"}\n')
    storage.store(handle)
    assert len(path.read_text().splitlines()) == 2
    again = UnbufferedFileFeedStorage(str(path)).open(None)  # appends by default
    again.write(b'{"ypid": "3"}\n')
    again.close()
    assert len(path.read_text().splitlines()) == 3
