"""`scrapy crawl`, with bad input reported as one line and a non-zero exit status."""

from __future__ import annotations

import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from crawlers.errors import ConfigError


class Command(ScrapyCrawlCommand):
    def run(self, args, opts) -> None:
        if len(args) != 1:
            raise UsageError("scrapy crawl takes exactly one spider name")
        crawler = self._create_crawler(args[0])
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
        fatal = errors[0] if errors else getattr(crawler, "fatal_error", None)
        if fatal:
            message, code = fatal
            print(f"error: {message}", file=sys.stderr, flush=True)
            self.exitcode = code
        elif self.crawler_process.bootstrap_failed:
            self.exitcode = 1
