"""CONCURRENCY_AUTO's decisions (crawlers/extensions/autoscale.py), fed with snapshots."""

import pytest

from crawlers.extensions.autoscale import RESOURCES, Autoscaler, Snapshot
from crawlers.extensions.progress import progress_line


def room(in_flight: int) -> Snapshot:
    return Snapshot(dict.fromkeys(RESOURCES, False), in_flight)


def busy(resource: str, in_flight: int) -> Snapshot:
    return Snapshot({**dict.fromkeys(RESOURCES, False), resource: True}, in_flight)


def test_with_room_and_used_it_grows_by_its_step_and_stops_at_the_ceiling():
    scaler = Autoscaler(minimum=1, maximum=30, desired=20, step=0.05)
    seen = []
    for _ in range(20):
        scaler.add(room(scaler.desired))
        seen.append(scaler.decide()[0])
    assert seen[:4] == [21, 23, 25, 27]  # ceil(5%): 1, then 2 from 21 up
    assert max(seen) == 30 and seen[-1] == 30


def test_slots_it_does_not_use_are_no_reason_to_grow():
    scaler = Autoscaler(minimum=1, maximum=16, desired=10)
    scaler.add(room(8))  # below 90% of 10
    assert scaler.decide() == (10, [])
    scaler.add(room(9))
    assert scaler.decide() == (11, [])


def test_no_snapshot_no_change():
    scaler = Autoscaler(minimum=1, maximum=16, desired=5)
    assert scaler.decide() == (5, [])


@pytest.mark.parametrize("resource", RESOURCES)
def test_any_overloaded_resource_shrinks_it_down_to_the_minimum(resource):
    scaler = Autoscaler(minimum=2, maximum=16, desired=4)
    seen = []
    for _ in range(4):
        scaler.add(busy(resource, scaler.desired))
        seen.append(scaler.decide())
    assert seen == [(3, [resource]), (2, [resource]), (2, [resource]), (2, [resource])]


@pytest.mark.parametrize(
    ("resource", "share_busy", "over"),
    [
        ("cpu", 4, False),
        ("cpu", 5, True),
        ("memory", 2, False),
        ("memory", 3, True),
        ("event_loop", 6, False),
        ("event_loop", 7, True),
        ("client", 3, False),
        ("client", 4, True),
    ],
)
def test_crawlee_thresholds_decide_what_is_overloaded(resource, share_busy, over):
    """Of 10 snapshots, more than 40% cpu, 20% memory, 60% event loop, 30% client."""
    scaler = Autoscaler(minimum=1, maximum=16, desired=8)
    for i in range(10):
        scaler.add(busy(resource, 8) if i < share_busy else room(8))
    desired, overloaded = scaler.decide()
    assert overloaded == ([resource] if over else [])
    assert desired == (7 if over else 9)


def test_each_decision_reads_only_the_snapshots_since_the_last():
    scaler = Autoscaler(minimum=1, maximum=16, desired=8)
    scaler.add(busy("client", 8))
    assert scaler.decide() == (7, ["client"])
    scaler.add(room(7))
    assert scaler.decide() == (8, [])


def test_the_progress_line_shows_the_concurrency_when_auto():
    stats = {"concurrency/desired": 6, "concurrency/ceiling": 16}
    assert progress_line(stats, None).endswith(" | concurrency 6/16")
    assert "concurrency" not in progress_line({}, None)
