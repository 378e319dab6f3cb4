"""Which Chromium the browser pages run in, how it is launched, and when it is let go.

Playwright's own browser download does not work on machines without the internet, so a
Playwright-managed Chromium is used when one is installed and Debian's otherwise.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

# Without these Chromium keeps calling home (component updates, sync, field trials),
# which on a closed network means a stream of refused connections at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-dev-shm-usage",
]

SYSTEM_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def managed_chromium() -> str | None:
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or str(Path.home() / ".cache/ms-playwright")
    for pattern in (
        "chromium-*/chrome-linux*/chrome",
        "chromium_headless_shell-*/*/headless_shell",
    ):
        found = sorted(glob.glob(os.path.join(root, pattern)))
        if found:
            return found[-1]
    return None


def chromium_executable() -> str | None:
    """The Chromium to launch: CHROMIUM_PATH, a Playwright-managed one, or the system one."""
    explicit = os.environ.get("CHROMIUM_PATH", "").strip()
    if explicit:
        return explicit
    managed = managed_chromium()
    if managed:
        return managed
    for path in SYSTEM_CHROMIUMS:
        if os.path.exists(path):
            return path
    return shutil.which("chromium")


def launch_options(headless: bool = True) -> dict:
    options: dict = {"headless": headless, "args": list(CHROMIUM_ARGS)}
    executable = chromium_executable()
    if executable and executable != managed_chromium():
        options["executable_path"] = executable
    return options


BLOCKED_RESOURCE_TYPES = frozenset({"image", "media", "font", "stylesheet"})


def should_abort_request(request) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: skip what a scraper never reads (counted by scrapy-playwright)."""
    return request.resource_type in BLOCKED_RESOURCE_TYPES


# Sent (`send_catch_log_async`) when the crawl needs no browser page for now: each
# crawlers.internals.browser_handler.BrowserHandler with no page open closes its browser and stops
# Playwright. Here, not there: importing Playwright costs every crawl about 0.4 s.
browser_idle = object()
