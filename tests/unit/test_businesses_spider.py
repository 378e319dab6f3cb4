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
from crawlers.ledger import IN_PROGRESS, Target
from crawlers.ledger.sqlite import SqliteLedger
from crawlers.outcomes import PageRejected, failure_reason
from crawlers.pipelines.businesses import UnbufferedFileFeedStorage
from crawlers.spiders.businesses import BusinessesSpider, TargetClaimer


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
        (PageRejected("blocked", "http://x/"), "blocked"),
        (RuntimeError("page.goto: net::ERR_TIMED_OUT at http://x/"), "err_timed_out"),
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


class CountingLedger(SqliteLedger):
    """The real embedded ledger, counting its claim round trips."""

    claims = 0

    def claim(self, *args, **kwargs):
        self.claims += 1
        return super().claim(*args, **kwargs)


def test_a_free_slot_starts_a_target_at_once_with_few_ledger_round_trips(tmp_path):
    ledger = CountingLedger(tmp_path / "ledger.sqlite")
    ledger.generate([Target("DE", f"City{i}", "plumbers", priority=100 - i) for i in range(40)])
    claimer = TargetClaimer(ledger, "node", 60, None, ahead=8)
    running: dict[int, Target] = {}

    first, claimed = claimer.take(16, running)
    assert (len(first), claimed, ledger.claims) == (16, 24, 1)
    running.update((t.id, t) for t in first)
    # In progress in the ledger while held ready: no other node can take them.
    assert ledger.status().overall.counts[IN_PROGRESS] == 24

    started = []
    for _ in range(20):  # targets finish one at a time; each frees one slot
        del running[next(iter(running))]
        (target,), _ = claimer.take(16 - len(running), running)
        running[target.id] = target
        started.append(target)
    assert len({t.id for t in started} | {t.id for t in first}) == 36
    # 20 targets started one by one, from 2 more claims of 9 (1 needed + 8 ahead)...
    assert ledger.claims == 3
    # ...until the ledger ran short: the last 4 were given out, nothing is hoarded.
    assert claimer.drained
    assert len(claimer.ready) + len(started) + len(first) == 40
    assert ledger.pending() == 0


def test_no_claim_ahead_claims_only_what_the_free_slots_need(tmp_path):
    ledger = CountingLedger(tmp_path / "ledger.sqlite")
    ledger.generate([Target("DE", f"City{i}", "plumbers") for i in range(10)])
    claimer = TargetClaimer(ledger, "node", 60, None, ahead=0)
    targets, claimed = claimer.take(3, {})
    assert (len(targets), claimed, ledger.pending()) == (3, 3, 7)
    assert not claimer.ready
