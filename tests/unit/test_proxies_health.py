"""Bans in a row send a proxy to rest, rests double, a good answer clears everything."""

import pytest

from crawlers.proxies.health import ALIVE, BANNED, RESTING, LocalHealth, rest_seconds


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def health(clock, threshold=3, ids=("a", "b")):
    return LocalHealth(list(ids), threshold=threshold, rest_base=60, rest_max=200, clock=clock)


def test_rest_lengths_double_up_to_the_cap():
    assert [rest_seconds(n, 60, 200) for n in range(4)] == [60, 120, 200, 200]
    assert rest_seconds(10_000, 1, 50) == 50


def test_threshold_bans_in_a_row_start_a_rest(clock):
    h = health(clock)
    assert h.ban("a") is None
    assert h.ban("a") is None
    assert h.status("a") == BANNED
    assert h.ban("a") == 60
    assert h.status("a") == RESTING
    assert h.usable() == ["b"]
    assert h.next_return() == 60


def test_a_good_answer_resets_the_count(clock):
    h = health(clock)
    h.ban("a")
    h.ban("a")
    h.good("a")
    assert h.status("a") == ALIVE
    assert h.ban("a") is None
    assert h.ban("a") is None


def test_back_from_rest_on_probation_then_longer_rests(clock):
    h = health(clock)
    for _ in range(3):
        h.ban("a")
    clock.now += 60
    assert h.status("a") == BANNED  # back, on probation
    assert h.usable() == ["a", "b"]
    assert h.ban("a") == 120  # one ban is enough now
    clock.now += 120
    assert h.ban("a") == 200
    clock.now += 200
    h.good("a")
    assert h.status("a") == ALIVE
    assert h.ban("a") is None  # the full threshold again


def test_answers_arriving_during_a_rest_change_nothing(clock):
    h = health(clock, threshold=1)
    assert h.ban("a") == 60
    clock.now += 10
    assert h.ban("a") is None  # a request sent before the rest began
    h.good("a")
    assert h.status("a") == RESTING
    assert h.next_return() == 50


def test_counts_partition_the_proxies(clock):
    h = health(clock, threshold=2, ids=("a", "b", "c", "d"))
    h.ban("a")
    h.ban("b")
    h.ban("b")
    assert h.counts() == {ALIVE: 2, BANNED: 1, RESTING: 1}
    clock.now += 61
    assert h.counts() == {ALIVE: 2, BANNED: 2, RESTING: 0}


def test_all_resting_then_the_first_comes_back(clock):
    h = health(clock, threshold=1)
    h.ban("a")
    clock.now += 30
    h.ban("b")
    assert h.usable() == []
    assert h.next_return() == 30
    clock.now += 30
    assert h.usable() == ["a"]
