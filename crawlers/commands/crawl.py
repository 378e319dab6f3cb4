"""`scrapy crawl`, with bad input reported as one line and a non-zero exit status."""

from __future__ import annotations

import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.conf import arglist_to_dict
from scrapy.utils.project import get_project_settings

from crawlers.errors import EXIT_CONFIG, ConfigError, fatal_error
from crawlers.internals.engine import create_crawler
from crawlers.setting_checks import check_overrides


class Command(ScrapyCrawlCommand):
    def process_options(self, args, opts) -> None:
        super().process_options(args, opts)
        # Before the crawler process exists: it configures logging from these settings.
        overrides = arglist_to_dict(opts.set)
        if opts.loglevel:
            overrides["LOG_LEVEL"] = opts.loglevel
        problem = check_overrides(overrides, self._defaults(args[0] if args else None))
        if problem:
            print(f"error: {problem}", file=sys.stderr, flush=True)
            raise SystemExit(EXIT_CONFIG)

    def _defaults(self, spider_name: str | None) -> Settings:
        defaults = get_project_settings()
        if spider_name:
            try:
                spidercls = get_spider_loader(defaults).load(spider_name)
            except KeyError:
                return defaults  # Scrapy names the unknown spider itself
            defaults.setdict(spidercls.custom_settings or {}, priority="spider")
        return defaults

    def run(self, args, opts) -> None:
        if len(args) != 1:
            raise UsageError("scrapy crawl takes exactly one spider name")
        crawler = create_crawler(self, args[0])
        errors: list[tuple[str, int]] = []

        def done(task) -> None:
            if task.cancelled():
                return
            exc = task.exception()
            if isinstance(exc, ConfigError):
                errors.append((str(exc), exc.exit_code))
            elif exc is not None:
                raise exc

        task = self.crawler_process.crawl(crawler, **opts.spargs)
        task.add_done_callback(done)
        self.crawler_process.start()
        fatal = errors[0] if errors else fatal_error(crawler)
        if fatal:
            message, code = fatal
            print(f"error: {message}", file=sys.stderr, flush=True)
            self.exitcode = code
        elif self.crawler_process.bootstrap_failed:
            self.exitcode = 1
