"""When a walk through the inventory's pages can be trusted to have seen every vehicle."""

from scrapy.exceptions import IgnoreRequest
from twisted.python.failure import Failure

from crawlers.outcomes import PageRejected
from crawlers.spiders.vehicles import VehiclesSpider, Walk


def walk(new=0, refs=("a", "b", "c"), totals=(3,), incomplete=False) -> Walk:
    return Walk(new=new, refs=set(refs), totals=set(totals), incomplete=incomplete)


def test_a_quiet_walk_that_found_nothing_new_settles():
    assert walk().settled()


def test_new_vehicles_call_for_another_walk():
    assert not walk(new=1).settled()


def test_a_listing_that_changed_between_pages_calls_for_another_walk():
    assert not walk(totals=(3, 4)).settled()


def test_a_shift_under_the_walk_shows_as_a_count_that_does_not_match():
    # A sale and an arrival between two pages: the total holds, one vehicle was missed.
    assert not walk(refs=("a", "b"), totals=(3,)).settled()


def test_an_unread_page_calls_for_another_walk():
    assert not walk(incomplete=True).settled()
    assert not Walk().settled()  # a walk this node never saw a page of


def test_a_rejected_page_fails_its_vehicle_with_the_pages_reason():
    def failure(exc):
        try:
            raise exc
        except Exception:
            return Failure()

    assert (
        VehiclesSpider._reason(failure(PageRejected("blocked", "http://p/vehicle/a"))) == "blocked"
    )
    assert VehiclesSpider._reason(failure(IgnoreRequest("session lost 3 times"))) == "session_lost"
