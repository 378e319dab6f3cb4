"""Email addresses in a web page, hidden ones included, as canonical strings.

`extract_emails(html)` finds every form SITES.md section 4 lists:
  plain text;  `mailto:` links (`?subject=`/`cc=` queries, percent-encoding, `,` lists);
  HTML character references (`&#64;`, `&#x40;`, `&commat;`, fully encoded addresses);
  Cloudflare's `data-cfemail="<hex>"` and `/cdn-cgi/l/email-protection#<hex>`;
  spelled-out forms (`name [at] example [dot] com`, `(at)`, `{at}`, `name at example dot com`);
  JavaScript string escapes (`\\u0040`, `\\u003e` before an address).

It is fast because it never scans with a pattern that starts with a character class: it
looks for the rare anchors (`@`, `mailto:`, `cfemail`, ` at `) and reads around them.

Rejected look-alikes: a domain without a registrable name under a real public suffix
(`logo@2x.png`, `package@1.2.3`, `user@localhost`), retina image names (`icon@2x.app`),
escape residue (`u003e@cdn.com`), hashes as local parts (`<32 hex>@o1.ingest.sentry.io`),
tracking hosts, URL credentials (`//user@host`) and a bare ` at ` followed by a real dot
("visit us at example.com" is prose, not an address).

The public-suffix check is tldextract's bundled snapshot, never fetched (`suffix_list_urls=()`).

Canonical form (the dedupe key): Unicode NFC, the whole address lower-cased, the domain as
Unicode labels (`xn--bcher-kva.de` becomes `bücher.de`; `idna.encode(domain)` gives the
ASCII form back). Lower-casing the local part is a deliberate choice: mail systems treat
`John@` and `john@` as one mailbox in practice, and a collector that kept case would count
one person twice. Local parts are read as `[\\w.+-]` (Unicode letters included): addresses
with rarer RFC 5322 characters (`!#$%&'*/=?^{|}~`) are not read, because in HTML those
characters mostly belong to the surrounding URL or script, not to an address.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote

import idna
import tldextract

# No network, no cache folder: the Public Suffix List snapshot shipped with tldextract.
_SUFFIXES = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False
)

MAX_LOCAL = 64
MAX_ADDRESS = 254

_LOCAL_TAIL = re.compile(rf"[\w.+-]{{1,{MAX_LOCAL}}}\Z")
_LOCAL_CHAR = re.compile(r"[\w.+-]")
_DOMAIN_HEAD = re.compile(r"[\w.-]{1,253}")
_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?\Z")
_HEX_HASH = re.compile(
    r"[0-9a-f]{16,}\Z|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
)
_ESCAPE_RESIDUE = re.compile(r"u00[0-9a-f]{2}")
_RETINA = re.compile(r"\d+(?:\.\d+)?x\Z")
_USERINFO = re.compile(r"//[^\s/?#\"'<>@]*:\Z")

_MAILTO = re.compile(r"mailto:([^\"'<>\s]*)", re.IGNORECASE)
_CFEMAIL = re.compile(
    r"(?:data-cfemail\s*=\s*[\"']?|/cdn-cgi/l/email-protection#)([0-9a-fA-F]{4,})"
)
_JS_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")

# Spelled-out separators. Bracketed `at` may be followed by real or spelled dots; a bare
# ` at ` only counts when a dot is spelled out too, or prose would turn into addresses.
_OPEN, _CLOSE = r"[\[\(\{<]", r"[\]\)\}>]"
_AT = re.compile(rf"{_OPEN}\s*(?:at|@)\s*{_CLOSE}\s*|\sat\s+", re.IGNORECASE)
_SPELLED_DOT = rf"\s*{_OPEN}\s*(?:dot|\.)\s*{_CLOSE}\s*|\s+dot\s+"
_SPELLED_DOMAIN = re.compile(
    rf"[\w-]{{1,63}}(?:(?:{_SPELLED_DOT}|\.)[\w-]{{1,63}}){{1,8}}", re.IGNORECASE
)
_DOT_SEPARATOR = re.compile(rf"{_SPELLED_DOT}|\.", re.IGNORECASE)

# Error reporting and tracking services whose "addresses" are keys, not mailboxes.
TRACKING_DOMAINS = frozenset({"sentry.io", "wixpress.com", "sentry-cdn.com", "ingest.us.sentry.io"})


def extract_emails(page: str) -> list[str]:
    """Every distinct address in `page` (HTML or text), canonical, in order of appearance."""
    found: dict[str, None] = {}
    text = page
    if "cfemail" in text or "email-protection#" in text:
        for hexdata in _CFEMAIL.findall(text):
            decoded = decode_cfemail(hexdata)
            if decoded:
                _scan_plain(decoded, found)
    if "\\u" in text or "\\x" in text:
        text = _JS_ESCAPE.sub(_unescape_js, text)
    if "&" in text:
        text = html.unescape(text)
    if "mailto:" in text or "MAILTO:" in text or "Mailto:" in text:
        # Decoded on their own, then blanked: percent-encoded bytes must never be read as
        # the tail of a local part (`jos%C3%A9@x.de` would give `a9@x.de`).
        text = _MAILTO.sub(lambda m: _take_mailto(m.group(1), found), text)
    if "@" in text:
        _scan_plain(text, found)
    _scan_spelled(text, found)
    return list(found)


def decode_cfemail(hexdata: str) -> str | None:
    """Cloudflare's obfuscation: the first byte is the key, the rest XOR it, UTF-8."""
    try:
        data = bytes.fromhex(hexdata)
    except ValueError:
        return None
    if len(data) < 2:
        return None
    key = data[0]
    try:
        return bytes(b ^ key for b in data[1:]).decode("utf-8")
    except UnicodeDecodeError:
        return None


def canonical(address: str) -> str | None:
    """`address` in canonical form, or None when it is not a deliverable-looking address."""
    local, sep, domain = address.strip().rpartition("@")
    if not sep:
        return None
    return _canonical(local, domain)


def _canonical(local: str, domain: str) -> str | None:
    domain = domain.rstrip(".")
    good_domain = _canonical_domain(domain)
    if good_domain is None:
        return None
    local = unicodedata.normalize("NFC", local).lower()
    if not _good_local(local):
        return None
    address = f"{local}@{good_domain}"
    if len(address) > MAX_ADDRESS:
        return None
    return address


def _good_local(local: str) -> bool:
    if not local or len(local) > MAX_LOCAL:
        return False
    if local[0] == "." or local[-1] == "." or ".." in local:
        return False
    if _ESCAPE_RESIDUE.match(local):
        return False
    return _HEX_HASH.match(local) is None


@lru_cache(maxsize=65536)
def _canonical_domain(domain: str) -> str | None:
    if not domain or len(domain) > 253:
        return None
    if domain.isascii():
        domain = domain.lower()
        if "xn--" in domain:
            try:
                domain = idna.decode(domain)
            except (idna.IDNAError, UnicodeError, ValueError):
                return None
    else:
        try:
            # UTS 46 maps case and compatibility forms the way browsers do.
            domain = idna.decode(idna.encode(domain, uts46=True))
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    parts = _SUFFIXES(domain)
    if not parts.suffix or not parts.domain:
        return None
    if _RETINA.match(parts.domain):
        return None
    registered = f"{parts.domain}.{parts.suffix}"
    if registered in TRACKING_DOMAINS or domain in TRACKING_DOMAINS:
        return None
    return unicodedata.normalize("NFC", domain)


@lru_cache(maxsize=65536)
def registered_domain(host: str) -> str:
    """The registrable domain of `host` (`www.shop.example.co.uk` -> `example.co.uk`), or
    `host` itself when it has none (an IP address, a `.test` name)."""
    parts = _SUFFIXES(host)
    return f"{parts.domain}.{parts.suffix}" if parts.suffix and parts.domain else host


def _add(found: dict[str, None], local: str, domain: str) -> None:
    address = _canonical(local, domain)
    if address is not None:
        found.setdefault(address, None)


def _scan_plain(text: str, found: dict[str, None]) -> None:
    find = text.find
    at = find("@")
    while at != -1:
        _read_around(text, at, found)
        at = find("@", at + 1)


def _read_around(text: str, at: int, found: dict[str, None]) -> None:
    start_window = max(0, at - MAX_LOCAL)
    local_match = _LOCAL_TAIL.search(text, start_window, at)
    if local_match is None:
        return
    start = local_match.start()
    # Leading dots are punctuation ("...john@"), not part of the address.
    local = local_match.group().lstrip(".")
    if start > 0:
        before = text[start - 1]
        if _LOCAL_CHAR.match(before):
            return  # longer than any local part: not an address
        # `//user@host` is a URL's credentials; `%xx@` is the tail of percent-encoding.
        if before == "%" or (before == "/" and start > 1 and text[start - 2] == "/"):
            return
        if before == ":" and _USERINFO.search(text, max(0, start - 80), start):
            return  # scheme://user:password@host
    domain_match = _DOMAIN_HEAD.match(text, at + 1)
    if domain_match is None:
        return
    # Trailing dots and hyphens end a sentence or a phrase ("mail bob@example.com.").
    _add(found, local, domain_match.group().rstrip(".-"))


def _take_mailto(target: str, found: dict[str, None]) -> str:
    decoded = unquote(target)
    if "&" in decoded:
        decoded = html.unescape(decoded)
    # Separators of a mailto list (`,`, `;`) and of the query are boundaries already.
    _scan_plain(decoded, found)
    return " "


def _scan_spelled(text: str, found: dict[str, None]) -> None:
    for at in _AT.finditer(text):
        bare = at.group()[0].isspace()
        local_end = at.start()
        while local_end > 0 and text[local_end - 1].isspace():
            local_end -= 1
        local_match = _LOCAL_TAIL.search(text, max(0, local_end - MAX_LOCAL), local_end)
        if local_match is None:
            continue
        start = local_match.start()
        if start > 0 and _LOCAL_CHAR.match(text[start - 1]):
            continue
        domain_match = _SPELLED_DOMAIN.match(text, at.end())
        if domain_match is None:
            continue
        raw = domain_match.group()
        separators = _DOT_SEPARATOR.findall(raw)
        if bare and all(sep == "." for sep in separators):
            continue
        domain = _DOT_SEPARATOR.sub(".", raw).rstrip(".-")
        _add(found, local_match.group().lstrip("."), domain)


def _unescape_js(match: re.Match[str]) -> str:
    code = int(match.group(1) or match.group(2), 16)
    if 0xD800 <= code <= 0xDFFF:
        return match.group()  # half a surrogate pair: leave it, it is not an address
    return chr(code)
