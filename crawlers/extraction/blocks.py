"""Block and challenge pages: a site refusing the client, whatever status it came with.

Real sites often serve these with status 200 (see the README, "What the real sites throw"),
so a spider cannot tell them from a page without results by status or by the absence of
results: every spider asks `block_reason()` first, and the proxies' ban policy uses the
same markers. Only phrases of whole block pages are listed, not of pages that merely embed a
captcha widget in a form.
"""

from __future__ import annotations

BLOCKED = "blocked"
# The other reasons a page is not what was asked for (crawlers/middlewares/page_check.py).
NOT_RENDERED = "not_rendered"
UNRECOGNISED = "unrecognised_page"

# Cloudflare's block ("Sorry, you have been blocked", title "Attention Required!") and its
# managed challenge ("Just a moment...", `cf_chl_opt`); Google's "unusual traffic" page;
# PerimeterX, DataDome, Imperva, Distil.
DEFAULT_BLOCK_MARKERS = (
    "our systems have detected unusual traffic",
    "/sorry/index",
    "<title>attention required! | cloudflare</title>",
    "sorry, you have been blocked",
    "<title>just a moment...</title>",
    "cf_chl_opt",
    "px-captcha",
    "captcha-delivery.com",
    "incapsula incident id",
    "distil_r_captcha",
    "please verify you are a human",
)
# A block page says so near its top; scanning a whole large page would cost CPU per page.
SCAN_BYTES = 64 * 1024


class BlockDetector:
    def __init__(self, markers=DEFAULT_BLOCK_MARKERS):
        self.markers = tuple(m.lower().encode() for m in markers if m)

    def reason(self, body: bytes | str, url: str = "") -> str | None:
        """ "blocked" when the page is a block or challenge page, None otherwise."""
        if "/sorry/index" in url:
            return BLOCKED
        if isinstance(body, str):
            body = body[:SCAN_BYTES].encode("utf-8", "replace")
        head = body[:SCAN_BYTES].lower()
        return BLOCKED if any(m in head for m in self.markers) else None


_DEFAULT = BlockDetector()


def block_reason(body: bytes | str, url: str = "") -> str | None:
    """ "blocked" for a block or challenge page (the default markers), else None."""
    return _DEFAULT.reason(body, url)
