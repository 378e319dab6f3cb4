import inspect

import pytest

from crawlers.spider_args import argument_problem, describe, spider_problem
from crawlers.spiders.businesses import BusinessesSpider
from crawlers.spiders.deals import DealsSpider
from crawlers.spiders.emails import EmailsSpider
from crawlers.spiders.vehicles import VehiclesSpider

SPIDERS = ["businesses", "deals", "emails", "vehicles"]


@pytest.mark.parametrize(
    ("typed", "closest"),
    [
        ("vehicle", "vehicles"),
        ("Emails", "emails"),
        ("deal", "deals"),
        ("bussinesses", "businesses"),
    ],
)
def test_a_misspelt_spider_gets_the_closest_name(typed, closest):
    assert spider_problem(typed, SPIDERS) == f"no spider {typed!r}; did you mean {closest!r}?"


def test_a_spider_nothing_like_any_lists_them_all():
    assert spider_problem("weather", SPIDERS) == (
        "no spider 'weather' (spiders: businesses, deals, emails, vehicles)"
    )
    assert spider_problem("deals", SPIDERS) is None


@pytest.mark.parametrize(
    ("spider", "typed", "closest"),
    [
        (EmailsSpider, "tagret", "target"),
        (EmailsSpider, "url", "urls"),
        (EmailsSpider, "urlsfile", "urls_file"),
        (VehiclesSpider, "limt", "limit"),
        (DealsSpider, "orgins", "origins"),
        (DealsSpider, "region", "regions"),
        (DealsSpider, "Top", "top"),
        (BusinessesSpider, "state", "states"),
        (BusinessesSpider, "target_file", "targets_file"),
    ],
)
def test_every_misspelt_argument_gets_did_you_mean(spider, typed, closest):
    assert argument_problem(spider, {typed: "1"}) == (
        f"{spider.name} takes no argument {typed!r}; did you mean {closest!r}?"
    )


def test_an_argument_nothing_like_any_lists_the_spider_arguments():
    assert argument_problem(VehiclesSpider, {"colour": "red"}) == (
        "vehicles takes no argument 'colour' (its arguments: limit)"
    )


def test_platform_arguments_pass_and_empty_ones_do_not():
    given = {"_job": "abc", "_version": "r1", "origins": "PHX"}
    assert argument_problem(DealsSpider, given) is None
    assert argument_problem(DealsSpider, {"origins": " "}) == (
        "-a origins= is empty: give a value, or leave it out for the default"
    )


def test_a_spider_that_declares_nothing_is_not_checked():
    class Plain:
        name = "plain"

    assert argument_problem(Plain, {"anything": ""}) is None
    assert describe(Plain) == "Arguments of plain (-a NAME=VALUE): none"


def test_every_argument_a_spider_reads_is_declared_with_a_line_of_help():
    for spider in (BusinessesSpider, DealsSpider, EmailsSpider, VehiclesSpider):
        takes = set(inspect.signature(spider.__init__).parameters) - {"self", "kwargs"}
        assert set(spider.arguments) == takes, spider.name
        assert all(len(text.split()) >= 3 for text in spider.arguments.values())
        lines = describe(spider).splitlines()
        assert lines[0] == f"Arguments of {spider.name} (-a NAME=VALUE):"
        assert [line.split()[0] for line in lines[1:]] == list(spider.arguments)
