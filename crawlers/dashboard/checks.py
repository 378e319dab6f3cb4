"""What the dashboard can check of a start from where it runs (the project's own code):
the spider's arguments and each setting's value. Whether the spider exists is the nodes'
to say (listspiders.json): a node may run a newer egg than this checkout."""

from __future__ import annotations

from scrapy.spiderloader import get_spider_loader

from crawlers.setting_checks import check_overrides
from crawlers.spider_args import argument_problem


def spider_checker(settings):
    """(spider, args, overrides) -> the first problem, or None."""
    loader = get_spider_loader(settings)

    def check(spider: str, args: dict[str, str], overrides: dict[str, str]) -> str | None:
        try:
            spidercls = loader.load(spider)
        except KeyError:
            spidercls = None
        if spidercls is not None:
            problem = argument_problem(spidercls, args)
            if problem:
                return problem
        defaults = settings.copy()
        if spidercls is not None:
            defaults.setdict(spidercls.custom_settings or {}, priority="spider")
        problem = check_overrides(overrides, defaults)
        return f"setting {problem.removeprefix('-s ')}" if problem else None

    return check
