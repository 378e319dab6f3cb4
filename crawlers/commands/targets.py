"""`scrapy targets generate|status|reset`: the businesses target ledger.

  scrapy targets generate --states all [--min-population N] [--categories FILE]
  scrapy targets status [--states CA,MT]
  scrapy targets reset --failed | --stuck

The ledger is PostgreSQL when DATABASE_URL is set, else DATA_DIR/businesses-ledger.sqlite.
"""

from __future__ import annotations

import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawlers.env import redact_url
from crawlers.errors import EXIT_CONFIG, ConfigError
from crawlers.ledger import (
    DONE,
    FAILED,
    IN_PROGRESS,
    PLANNED,
    LedgerStatus,
    ledger_exists,
    open_ledger,
)
from crawlers.ledger.regions import (
    DEFAULT_MIN_POPULATION,
    build_targets,
    parse_states,
    read_categories,
)
from crawlers.progress_math import format_duration

ACTIONS = ("generate", "status", "reset")


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_LEVEL": "WARNING"}

    def syntax(self) -> str:
        return "generate|status|reset [options]"

    def short_desc(self) -> str:
        return "Create, show and reset the businesses target ledger"

    def add_options(self, parser) -> None:
        super().add_options(parser)
        parser.add_argument("--states", help="all, or two-letter codes like CA,MT")
        parser.add_argument(
            "--min-population",
            type=int,
            default=DEFAULT_MIN_POPULATION,
            help=f"cities at least this large (default {DEFAULT_MIN_POPULATION})",
        )
        parser.add_argument(
            "--categories",
            help="search terms, one a line (default: the shipped crawlers/data/categories.txt)",
        )
        parser.add_argument("--failed", action="store_true", help="reset: failed targets")
        parser.add_argument(
            "--stuck", action="store_true", help="reset: in progress with an expired lease"
        )
        parser.add_argument(
            "--window",
            type=float,
            default=900.0,
            help="status: seconds of recent work the rate and ETA are taken from",
        )

    def run(self, args, opts) -> None:
        if len(args) != 1 or args[0] not in ACTIONS:
            raise UsageError(f"one of: {', '.join(ACTIONS)}")
        try:
            if args[0] == "status" and not ledger_exists(self.settings):
                # A look creates nothing: no empty ledger left behind in DATA_DIR.
                print(
                    f"targets: no ledger yet in {self.where()} "
                    "(`scrapy targets generate --states ...` creates it)"
                )
                return
            ledger = open_ledger(self.settings)
            try:
                getattr(self, args[0])(ledger, opts)
            finally:
                ledger.close()
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            self.exitcode = EXIT_CONFIG

    def where(self) -> str:
        assert self.settings is not None  # set by scrapy.cmdline before it runs a command
        url = self.settings.get("DATABASE_URL")
        return redact_url(url) if url else f"{self.settings.get('DATA_DIR')} (embedded)"

    def generate(self, ledger, opts) -> None:
        if not opts.states:
            raise ConfigError("generate needs --states all, or --states CA,MT,...")
        states = parse_states(opts.states)
        categories = read_categories(opts.categories)
        targets = build_targets(states, opts.min_population, categories)
        added = ledger.generate(targets)
        print(
            f"targets: {added} new, {len(targets) - added} already there "
            f"({len(targets) // len(categories)} cities x {len(categories)} categories) "
            f"in {self.where()}"
        )

    def status(self, ledger, opts) -> None:
        print(format_status(ledger.status(parse_states(opts.states), window=opts.window)))

    def reset(self, ledger, opts) -> None:
        if not (opts.failed or opts.stuck):
            raise ConfigError("reset needs --failed and/or --stuck")
        n = ledger.reset(failed=opts.failed, stuck=opts.stuck)
        print(f"targets: {n} put back to planned")


def format_status(status: LedgerStatus) -> str:
    header = ("state", PLANNED, IN_PROGRESS, "stuck", DONE, FAILED, "total", "finished", "kept")
    rows: list[tuple[str, ...]] = [header]
    for name, counts in [*status.states.items(), ("all", status.overall)]:
        finished = counts.counts[DONE] + counts.counts[FAILED]
        share = f"{100.0 * finished / counts.total:.1f}%" if counts.total else "-"
        rows.append(
            (
                name,
                *(str(counts.counts[s]) for s in (PLANNED, IN_PROGRESS)),
                str(counts.stuck),
                *(str(counts.counts[s]) for s in (DONE, FAILED)),
                str(counts.total),
                share,
                f"{counts.accepted}/{counts.accepted + counts.rejected}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    eta = status.eta_seconds
    minutes = status.window / 60
    lines.append(
        f"rate: {status.per_minute:.1f} targets/min over the last {minutes:g} min; "
        f"ETA: {format_duration(eta) if eta is not None else 'unknown (nothing finished lately)'}"
    )
    if status.failure_reasons:
        reasons = ", ".join(f"{r} {n}" for r, n in status.failure_reasons.items())
        lines.append(f"failed by reason: {reasons}")
    return "\n".join(lines)
