"""`scrapy describe <spider>`: the spider's arguments, a line each (as `scrapy crawl
<spider> -h` ends)."""

from __future__ import annotations

import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader

from crawlers.errors import EXIT_CONFIG
from crawlers.spider_args import describe, spider_problem


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "<spider>"

    def short_desc(self) -> str:
        return "List a spider's arguments (-a NAME=VALUE)"

    def run(self, args, opts) -> None:
        if len(args) != 1:
            raise UsageError("scrapy describe takes one spider name")
        assert self.settings is not None  # set by scrapy.cmdline before it runs a command
        loader = get_spider_loader(self.settings)
        problem = spider_problem(args[0], loader.list())
        if problem:
            print(f"error: {problem}", file=sys.stderr, flush=True)
            self.exitcode = EXIT_CONFIG
            return
        spidercls = loader.load(args[0])
        doc = (spidercls.__doc__ or "").strip().splitlines()
        if doc:
            print(f"{spidercls.name}: {doc[0]}")
        print(describe(spidercls))
