"""What a user reads: the one `error:` line of bad input, alone on stderr, and everything a
user needs to know in the job's own log when logging goes to a file (scrapyd's `log_url`).

Scrapy logs its banner, the overridden settings and the enabled components while the crawl
starts, before a spider argument, a proxy list or a database is found wrong. `HeldStderr`
holds that output back until the crawl has started (or `HOLD_SECONDS` have passed, so a slow
start is not silent): bad input then drops it and prints its error line alone.
"""

from __future__ import annotations

import atexit
import io
import logging
import sys
import threading
import time

logger = logging.getLogger("crawlers")

# A start that takes longer (a database that is slow to answer) shows its log after this.
HOLD_SECONDS = 10.0


class HeldStderr(io.TextIOBase):
    """Stands in for sys.stderr while a crawl starts; `release()` writes what it held and
    passes through from then on, `drop()` forgets it."""

    def __init__(self, real) -> None:
        self.real = real
        self.held: list[str] | None = []
        self.lock = threading.Lock()
        self.timer = threading.Timer(HOLD_SECONDS, self.release)
        self.timer.daemon = True

    def start(self) -> HeldStderr:
        sys.stderr = self
        self.timer.start()
        # Whatever ends the process before the crawl starts (a traceback) is still shown.
        atexit.register(self.release)
        return self

    def write(self, text: str) -> int:
        with self.lock:
            if self.held is not None:
                self.held.append(text)
                return len(text)
        self.real.write(text)
        return len(text)

    def flush(self) -> None:
        if self.held is None:
            self.real.flush()

    def isatty(self) -> bool:
        return self.real.isatty()

    def fileno(self) -> int:
        return self.real.fileno()

    # Read-only on io.TextIOBase at run time, which typeshed declares a plain attribute.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")

    def _end(self, keep: bool) -> None:
        self.timer.cancel()
        with self.lock:
            held, self.held = self.held, None
            if held and keep:
                self.real.write("".join(held))
                self.real.flush()
        if sys.stderr is self:
            sys.stderr = self.real

    def release(self, *_args, **_kwargs) -> None:
        self._end(keep=True)

    def drop(self) -> None:
        self._end(keep=False)


def error_line(message: str, log_file: str | None = None, logged: bool = False) -> None:
    """Print `error: message` on stderr, and put it in the log file when there is one.
    `logged`: logging is configured (the crawl started), so the log file's handler writes it;
    before that, the line is appended to the file directly."""
    line = f"error: {message}"
    if log_file:
        if logged:
            logger.error(message)
        else:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            try:
                with open(log_file, "a", encoding="utf-8") as fh:
                    fh.write(f"{stamp} [crawlers] ERROR: {message}\n")
            except OSError:
                pass  # stderr still has it
    stream = sys.stderr.real if isinstance(sys.stderr, HeldStderr) else sys.stderr
    print(line, file=stream, flush=True)


def tell(text: str, settings) -> None:
    """Print a report for the user, and log it when the log is a file (a scrapyd job's log,
    where stdout does not go)."""
    print(text, flush=True)
    if settings.get("LOG_FILE"):
        logger.info("%s", text)
