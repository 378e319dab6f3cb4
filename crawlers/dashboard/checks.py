"""What the dashboard can check of a start from where it runs (the project's own code):
the spider's arguments and each setting's value. Whether the spider exists is the nodes'
to say (listspiders.json): a node may run a newer egg than this checkout."""

from __future__ import annotations

from scrapy.spiderloader import get_spider_loader

from crawlers.dashboard.control import StartError, Unavailable
from crawlers.errors import ConfigError
from crawlers.ledger import open_ledger
from crawlers.setting_checks import check_overrides
from crawlers.spider_args import argument_problem

# How a spider's failed units can be redone by a new run. businesses: its target ledger
# (shared with the nodes: DATABASE_URL, or the DATA_DIR they share) puts failed targets back
# to planned; vehicles: a new run fetches only the reports not saved yet. The others redo
# everything in a new run, which is a start, not a retry of what failed.
REDO = {"businesses": "ledger", "vehicles": "new run"}


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


def failed_redoer(settings):
    """spider -> how many failed units were put back (None: a new run finds them itself)."""

    def redo(spider: str) -> int | None:
        how = REDO.get(spider)
        if how is None:
            raise StartError(
                f"{spider} cannot redo only its failed units: start the job again instead"
            )
        if how == "new run":
            return None
        try:
            ledger = open_ledger(settings)
        except ConfigError as exc:
            raise Unavailable(f"the businesses ledger: {exc}") from None
        try:
            return ledger.reset(failed=True, stuck=False)
        finally:
            ledger.close()

    return redo
