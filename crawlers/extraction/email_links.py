"""Which links of a page the `emails` spider follows, and in which order.

Addresses live on contact, about, team and imprint pages, so those come first; link traps
(calendars, faceted search, session ids, endless archives) are recognised by the shape of
their URL and never followed. The per-site page cap in the spider bounds what slips through.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

_HREF = re.compile(r"""<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)

# Words in a path that say "people and their addresses are here" (several languages).
_CONTACT = re.compile(
    r"contact|kontakt|contatti|contacto|impressum|imprint|mentions|legal|about|ueber|uber"
    r"|team|staff|people|leadership|management|directory|employees|faculty|office"
    r"|support|press|media|careers|jobs|company|who-we-are",
    re.IGNORECASE,
)
# Path shapes of traps: calendars and dated archives, and pages that never hold addresses.
_TRAP_PATH = re.compile(
    r"calendar|kalender|agenda|/\d{4}/\d{1,2}(?:/\d{1,2})?(?:/|$)|\d{4}-\d{2}(?:-\d{2})?"
    r"|/(?:login|logout|signin|signup|register|cart|basket|checkout|account|wp-admin"
    r"|wp-json|feed|print|share|compare|wishlist|cdn-cgi)(?:/|$)",
    re.IGNORECASE,
)
# Query parameters that multiply pages without adding content.
_TRAP_QUERY = re.compile(
    r"(?:^|&)(?:date|day|month|year|week|time|cal|view|sort|order|orderby|dir|filter"
    r"|facet|color|colour|size|price|min_price|max_price|brand|sid|session|sessionid"
    r"|phpsessid|jsessionid|replytocom|share|print|format|utm_[a-z]+|ref|from|limit)"
    r"(?:\[\])?=",
    re.IGNORECASE,
)
_SKIP_EXTENSIONS = frozenset(
    re.findall(
        r"\w+",
        "png jpg jpeg gif svg webp avif ico bmp tif tiff css js mjs json xml rss atom pdf zip "
        "gz tgz rar 7z mp3 mp4 m4a wav ogg webm mov avi woff woff2 ttf eot otf exe dmg apk doc "
        "docx xls xlsx ppt pptx csv txt ics vcf",
    )
)

CONTACT, PLAIN, TRAP = 2, 1, 0


def page_links(page: str, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the page's `<a href>` links, fragments removed, in order."""
    out: dict[str, None] = {}
    for groups in _HREF.findall(page):
        href = (groups[0] or groups[1] or groups[2]).strip()
        if not href or href[0] == "#":
            continue
        if "&" in href:
            href = html.unescape(href)
        lowered = href[:11].lower()
        if lowered.startswith(("mailto:", "tel:", "javascript:", "data:", "sms:")):
            continue
        url = urljoin(base_url, href)
        hash_at = url.find("#")
        if hash_at != -1:
            url = url[:hash_at]
        if url.startswith(("http://", "https://")):
            out.setdefault(url, None)
    return list(out)


def classify(url: str, max_query_params: int = 2, max_segments: int = 8) -> int:
    """CONTACT (fetch first), PLAIN, or TRAP (never fetch)."""
    parts = urlsplit(url)
    path = parts.path
    last = path.rsplit("/", 1)[-1]
    if "." in last and last.rsplit(".", 1)[-1].lower() in _SKIP_EXTENSIONS:
        return TRAP
    segments = [s for s in path.split("/") if s]
    if len(segments) > max_segments or len(segments) - len(set(segments)) >= 2:
        return TRAP  # /a/b/a/b/...: relative links that nest forever
    query = parts.query
    if query and (query.count("&") + 1 > max_query_params or _TRAP_QUERY.search(query)):
        return TRAP
    if _TRAP_PATH.search(path):
        return TRAP
    return CONTACT if _CONTACT.search(path) else PLAIN
