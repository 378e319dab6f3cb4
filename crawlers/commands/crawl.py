"""`scrapy crawl`, with bad input reported as one line and a non-zero exit status.

The spider's name, its `-a` arguments (crawlers/spider_args.py) and every `-s` value
(crawlers/setting_checks.py) are checked before Scrapy logs anything; what the spider and its
components find wrong while the crawl starts is reported the same way, the start-up log held
back (crawlers/console.py). `scrapy crawl <spider> -h` lists the spider's arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import cast

from scrapy import signals
from scrapy.commands import ScrapyHelpFormatter
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.conf import arglist_to_dict
from scrapy.utils.project import get_project_settings

from crawlers.console import HeldStderr, error_line
from crawlers.env import ENV_PROBLEMS
from crawlers.errors import EXIT_CONFIG, ConfigError, fatal_error
from crawlers.internals.engine import create_crawler
from crawlers.setting_checks import SettingError, convert_overrides
from crawlers.spider_args import argument_problem, describe, spider_problem

# Options of `scrapy crawl` followed by a value, to find the spider's name in the command
# line before argparse has read it (for -h).
VALUE_OPTIONS = frozenset(
    {"-a", "-s", "--set", "-o", "--output", "-O", "--overwrite-output", "-t",
     "--output-format", "-L", "--loglevel", "--logfile", "--pidfile", "--profile"}
)  # fmt: skip


class KeepLines(ScrapyHelpFormatter):
    """The help's description and epilog as written: the argument table keeps its lines."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


def spider_in(argv: list[str]) -> str | None:
    """The first word of `argv` that is not an option or an option's value."""
    words = iter(argv)
    for word in words:
        if word in VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


class Command(ScrapyCrawlCommand):
    held: HeldStderr | None = None

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        assert self.settings is not None  # set by scrapy.cmdline before it calls this
        if not {"-h", "--help"} & set(sys.argv):
            return
        name = spider_in(sys.argv[1:])
        parser.epilog = "A spider's arguments: scrapy crawl <spider> -h or scrapy describe <spider>"
        try:
            spidercls = get_spider_loader(self.settings).load(name) if name else None
        except KeyError:
            return
        if spidercls is not None:
            parser.formatter_class = KeepLines
            parser.epilog = describe(spidercls)

    def process_options(self, args, opts) -> None:
        assert self.settings is not None  # set by scrapy.cmdline before it calls this
        try:
            parsed = arglist_to_dict(opts.spargs), arglist_to_dict(opts.set)
        except ValueError:
            parsed = None  # not NAME=VALUE: Scrapy's own usage error follows
        if parsed is not None:
            spargs, overrides = parsed
            if opts.loglevel:
                overrides["LOG_LEVEL"] = opts.loglevel
            try:
                converted = self._check(args, spargs, overrides)
            except ConfigError as exc:
                log_file = opts.logfile or overrides.get("LOG_FILE")
                log_file = log_file or self.settings.get("LOG_FILE")
                error_line(str(exc), log_file)
                raise SystemExit(EXIT_CONFIG) from None
            # Converted, so that every component reads the same value; set before Scrapy's
            # own handling, whose -o then replaces FEEDS as it would a -s FEEDS.
            self.settings.setdict(converted, priority="cmdline")
            opts.set, given = [], opts.set
            try:
                super().process_options(args, opts)
            finally:
                opts.set = given
            if opts.loglevel:  # Scrapy sets it as typed, and logging knows only capitals
                self.settings.set("LOG_LEVEL", converted["LOG_LEVEL"], priority="cmdline")
        else:
            super().process_options(args, opts)
        if not self.settings.get("LOG_FILE") and self.settings.getbool("LOG_ENABLED"):
            # Before the crawler process exists: its log handler is bound to sys.stderr.
            self.held = HeldStderr(sys.stderr).start()

    def _check(self, args, spargs, overrides) -> dict:
        """The overrides converted to their settings' types; ConfigError for bad input."""
        if ENV_PROBLEMS:
            raise ConfigError(ENV_PROBLEMS[0])
        # Where spiders are found may itself be given with -s (SPIDER_MODULES).
        assert self.settings is not None
        where = self.settings.copy()
        where.setdict({k: v for k, v in overrides.items() if k.startswith("SPIDER_")}, "cmdline")
        loader = get_spider_loader(where)
        spidercls = None
        if len(args) == 1:
            try:
                spidercls = loader.load(args[0])
            except KeyError:
                # The list only now: it imports every spider's module (crawlers/spider_loader.py).
                raise ConfigError(spider_problem(args[0], loader.list())) from None
            problem = argument_problem(spidercls, spargs)
            if problem:
                raise ConfigError(problem)
        try:
            return convert_overrides(overrides, self._defaults(spidercls))
        except SettingError as exc:
            raise ConfigError(str(exc)) from None

    def _defaults(self, spidercls) -> Settings:
        defaults = get_project_settings()
        if spidercls is not None:
            defaults.setdict(spidercls.custom_settings or {}, priority="spider")
        return defaults

    def run(self, args, opts) -> None:
        try:
            self._run(args, opts)
        finally:
            if self.held is not None:
                self.held.release()

    def _run(self, args, opts) -> None:
        if len(args) != 1:
            raise UsageError("scrapy crawl takes exactly one spider name")
        crawler = create_crawler(self, args[0])
        if self.held is not None:
            crawler.signals.connect(self.held.release, signal=signals.engine_started)
        errors: list[tuple[str, int]] = []

        def done(task) -> None:
            if task.cancelled():
                return
            exc = task.exception()
            if isinstance(exc, ConfigError):
                errors.append((str(exc), exc.exit_code))
            elif exc is not None:
                raise exc

        assert self.crawler_process is not None and self.settings is not None
        # TWISTED_REACTOR is asyncio's (settings.py), so scrapy.cmdline made an
        # AsyncCrawlerProcess, whose crawl() returns a Task.
        task = cast(asyncio.Task[None], self.crawler_process.crawl(crawler, **opts.spargs))
        task.add_done_callback(done)
        self.crawler_process.start()
        fatal = errors[0] if errors else fatal_error(crawler)
        if fatal:
            message, code = fatal
            if self.held is not None:
                self.held.drop()
            error_line(message, self.settings.get("LOG_FILE"), logged=True)
            self.exitcode = code
        elif self.crawler_process.bootstrap_failed:
            self.exitcode = 1
