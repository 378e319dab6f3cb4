"""Email addresses in a web page, hidden ones included, as canonical strings.

`extract_emails(html)` finds every form SITES.md section 4 lists:
  plain text;  `mailto:` links (`?subject=`/`cc=` queries, percent-encoding, `,` lists);
  HTML character references (`&#64;`, `&#x40;`, `&commat;`, fully encoded addresses);
  Cloudflare's `data-cfemail="<hex>"` and `/cdn-cgi/l/email-protection#<hex>`;
  spelled-out and defanged forms (`name [at] example [dot] com`, `(at)`, `{at}`, `[@]`,
  `name at example dot com`, `name@example [.] com`, `name/at/example/dot/com`, letter-
  spaced `m a i l [at] e x a m p l e [dot] c o m`);
  JavaScript string escapes (`\\u0040`, `\\u003e` before an address).

It is fast because it looks for the rare anchors (`@`, `mailto:`, `cfemail`, ` at `) and
reads around them (a local part backwards, in one pass over the reversed window), and
reads a local part's wider context only when a rare character asks for it.

Local parts: letters of any script with their combining marks (Devanagari vowel signs),
digits and `._+-` are read directly. The rarer RFC 5322 characters (`!#$%&'*/=?^`{|}~`)
and quoted words (`test."foo".bar`) are read with their context, and an address is never
cut out of a longer local part: the whole run is the address (`user+mailbox/department=
shipping@`), or a context holds one (a URL's last path segment or query value, after an
opening quote: `x='john@`), or there is none (`name=value@`, `Questions?john@`, `{john@`).
Leading dots and dashes are punctuation (`-----foo@` is `foo@`).

Rejected look-alikes: a domain without a registrable name under a real public suffix
(`logo@2x.png`, `package@1.2.3`, `user@localhost`, IP addresses), retina image names
(`icon@2x.app`), escape residue (`u003e@cdn.com`), hashes as local parts (`<32 hex>@o1.
ingest.sentry.io`), tracking hosts, URL credentials (`//user@host`) and a bare ` at ` or a
spaced ` @ ` followed by a real dot ("visit us at example.com" is prose, not an address).

The public-suffix check is tldextract's bundled snapshot, never fetched (`suffix_list_urls=()`).

Canonical form (the dedupe key): Unicode NFC, the whole address lower-cased, the domain as
Unicode labels (`xn--bcher-kva.de` becomes `bücher.de`; `idna.encode(domain)` gives the
ASCII form back). Lower-casing the local part is a deliberate choice: mail systems treat
`John@` and `john@` as one mailbox in practice, and a collector that kept case would count
one person twice.
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
# How far back the context of a local part with rare characters is read: a URL's path and
# query in front of an address can be long, and must be seen whole to be recognised.
MAX_RUN = 256


def _mark_ranges() -> str:
    """Combining marks (Devanagari vowel signs and viramas, Arabic harakat, ...) as ranges of
    a character class: `\\w` leaves them out, and a word without them is not the word."""
    ranges: list[list[int]] = []
    for code in range(0x300, 0x20000):
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    ranges.append([0xE0100, 0xE01EF])  # variation selectors supplement
    return "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


_MARKS = _mark_ranges()
_WORD = rf"\w{_MARKS}"  # inside a class: letters, digits, `_` and combining marks

_LOCAL_RUN = re.compile(rf"[{_WORD}.+-]+")
_LOCAL_CHAR = re.compile(rf"[{_WORD}.+-]")
# RFC 5322 atext beyond `[\w.+-]`: read only with their context (see `_context_local`).
_RARE = frozenset("!#$%&'*/=?^`{|}~")
_QTEXT = re.compile(rf"[{_WORD}.+\-!#$%&'*/=?^`{{|}}~,:;()\[\]]{{1,62}}\Z")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_DOMAIN_HEAD = re.compile(rf"[{_WORD}.-]{{1,253}}")
_LABEL = re.compile(rf"(?!-)(?:[^\W_]|[{_MARKS}]|-){{1,63}}(?<!-)\Z")
_HEX_HASH = re.compile(
    r"[0-9a-f]{16,}\Z|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
)
_ESCAPE_RESIDUE = re.compile(r"u00[0-9a-f]{2}")
_RETINA = re.compile(r"\d+(?:\.\d+)?x\Z")
_USERINFO = re.compile(r"//[^\s/?#\"'<>@]*:\Z")

# A link's target ends at a quote, but `'` goes on (`href="mailto:o'brien@..."`): a closing
# `'` of a single-quoted attribute then trails the target, after its domain, harmless.
_MAILTO = re.compile(r"mailto:([^\"'<>\s]*(?:'[^\"'<>\s]*)*)", re.IGNORECASE)
_CFEMAIL = re.compile(
    r"(?:data-cfemail\s*=\s*[\"']?|/cdn-cgi/l/email-protection#)([0-9a-fA-F]{4,})"
)
_JS_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")

# Spelled-out and defanged separators. An `at` in brackets (any mix: `{ @ )`), a bare ` at `
# or `/at/`; a dot as `[.]`, `(dot)`, `[[ . ])`, an unclosed `[.`, ` dot ` or `/dot/`.
# A bare ` at ` (and a spaced ` @ `) only counts when a dot is spelled out too, or prose
# ("visit us at example.com", "find us @ example.com") would turn into addresses.
_OPEN, _CLOSE = r"[\[\(\{<]", r"[\]\)\}>]"
# One character class first, then which of the three it was: faster to scan for than an
# alternation of three patterns.
_AT = re.compile(
    rf"[\s\[\(\{{</](?:(?<={_OPEN})\s*(?:at|@)\s*{_CLOSE}\s*|(?<=\s)at\s+|(?<=/)at/)",
    re.IGNORECASE,
)
_BRACKET_DOT = rf"\s*(?:{_OPEN}\s*)+(?:dot|\.)\s*(?:{_CLOSE}\s*)*"
_SEP = rf"{_BRACKET_DOT}|\s+dot\s+|/dot/|\."
_LABEL_TEXT = rf"[{_WORD}-]{{1,63}}"
_SPELLED_DOMAIN = re.compile(
    rf"\s*({_LABEL_TEXT}(?:(?:{_SEP}){_LABEL_TEXT}){{1,8}})", re.IGNORECASE
)
# Letter-spaced labels (`e x a m p l e [dot] c o m`), only after a bracketed `at`.
_SPACED_LABEL = rf"[^\W_](?![{_WORD}])(?: [^\W_](?![{_WORD}]))+"
_SPACED_DOMAIN = re.compile(
    rf"\s*((?:{_SPACED_LABEL}|{_LABEL_TEXT})"
    rf"(?:(?:{_BRACKET_DOT}|\s+dot\s+)(?:{_SPACED_LABEL}|{_LABEL_TEXT})){{1,8}})",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(_SEP, re.IGNORECASE)
_DEFANGED_NEXT = re.compile(rf"\s*(?:{_OPEN}[\s\[\(\{{<]*(?:\.|dot)|dot\s)", re.IGNORECASE)

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
    if at == 0:
        return
    local = _local_before(text, at)
    if local is None:
        if text[at - 1] not in " \t":
            return
        # `name @ example [.] com`: only with a defanged domain.
        end = at - 1
        while end > at - 4 and text[end - 1] in " \t":
            end -= 1
        local = _local_before(text, end)
        domain = None if local is None else _defanged_domain(text, at + 1)
        if local is not None and domain is not None:
            _add(found, local, domain)
        return
    domain_match = _DOMAIN_HEAD.match(text, at + 1)
    if domain_match is None:  # `name@ example[.]com`
        domain = _defanged_domain(text, at + 1)
        if domain is not None:
            _add(found, local, domain)
        return
    # Trailing dots and hyphens end a sentence or a phrase ("mail bob@example.com.").
    domain = domain_match.group().rstrip(".-")
    after = domain_match.end()
    # Nearly every address is followed by a space or a tag: one look, then a cheap match.
    if after < len(text) and text[after] in " \t[({<" and _DEFANGED_NEXT.match(text, after):
        domain = _defanged_domain(text, at + 1) or domain
    if not domain.islower():
        # `example.com.It is ...`: a sentence glued on after the address (Cloudflare's
        # obfuscator reads it so too). A capitalised last label after lower-case ones is
        # that sentence when what is left is an address by itself.
        head, dot, last = domain.rpartition(".")
        if dot and len(last) > 1 and last[0].isupper() and last[1:].islower() and head.islower():
            address = _canonical(local, head)
            if address is not None:
                found.setdefault(address, None)
                return
    _add(found, local, domain)


def _defanged_domain(text: str, pos: int) -> str | None:
    """A domain at `pos` whose dots are defanged (`example [.] com`, `example(dot)com`) at
    least once, with the dots restored; None otherwise."""
    match = _SPELLED_DOMAIN.match(text, pos)
    if match is None:
        return None
    raw = match.group(1)
    if not any(sep != "." and "/" not in sep for sep in _SEPARATOR.findall(raw)):
        return None
    return _SEPARATOR.sub(".", raw).rstrip(".-")


def _local_before(text: str, end: int) -> str | None:
    """The local part ending at `end`, or None when there is none, or when the characters
    before it leave it uncertain where it starts (never a part of a longer local part)."""
    # Read backwards (the run, reversed, matched from its start): one pass, where a
    # search for a run that ends at `end` tries every start in the window.
    match = _LOCAL_RUN.match(text[max(0, end - MAX_LOCAL - 1) : end][::-1])
    if match is None:
        return None
    if match.end() > MAX_LOCAL:
        return None  # longer than any local part: not an address
    start = end - match.end()
    local = text[start:end]
    if start > 0:
        before = text[start - 1]
        if before in _RARE or (before == '"' and local[0] == "."):
            return _context_local(text, start, end)
        if before == ":" and _USERINFO.search(text, max(0, start - 80), start):
            return None  # scheme://user:password@host
    # Leading dots and dashes are punctuation ("...john@", "-----john@").
    return local.lstrip(".-")


def _is_local_char(char: str) -> bool:
    return char in _RARE or _LOCAL_CHAR.match(char) is not None


def _context_local(text: str, start: int, end: int) -> str | None:
    """A local part that goes on, before `start`, with RFC 5322 characters beyond `[\\w.+-]`
    (or a quoted word): the whole run is the address, or a recognised context holds one
    (a URL, an opening quote), or there is none. Never a piece cut out of a local part."""
    limit = max(0, end - MAX_RUN)
    pos = start
    while pos > limit and _is_local_char(text[pos - 1]):
        pos -= 1
    quoted = False
    # RFC 5322 dotted words, some quoted: `test."foo".bar@`.
    while pos > 0 and text[pos - 1] == '"' and text[pos] == ".":
        opening = text.rfind('"', max(0, pos - 2 - MAX_LOCAL), pos - 1)
        if opening == -1 or not _QTEXT.match(text, opening + 1, pos - 1):
            return None
        quoted = True
        pos = opening
        if pos > 0 and text[pos - 1] == ".":
            while pos > limit and _is_local_char(text[pos - 1]):
                pos -= 1
    if pos == limit and pos > 0 and _is_local_char(text[pos - 1]):
        return None  # longer than any context worth reading
    run = text[pos:end]
    if quoted:
        # Quoted words inside a dotted local part; one that starts with a quote is more
        # likely a quotation glued to an address than an address.
        return None if run[0] == '"' else run
    if _PERCENT.search(run):
        return None  # percent-encoding: its bytes are not characters of the address
    # An opening quote (first, or after punctuation) starts the value: `x='john@`.
    for i in range(len(run) - 1, -1, -1):
        if run[i] in "'`" and (i == 0 or not run[i - 1].isalnum()):
            return run[i + 1 :].lstrip(".-") if i + 1 < len(run) else None
    if run[0] == "/" or "//" in run or _query_like(run):
        # A URL: the address is the last path segment or query value.
        cut = max(run.rfind(c) for c in "/?&=#")
        if cut > 0 and run[cut] == "/" and run[cut - 1] == "/":
            return None  # `//user@host`: a URL's credentials
        return run[cut + 1 :].lstrip(".-") or None
    head = run.lstrip(".-")
    if not head or head[0] in _RARE:
        return None  # `{john@`, `#john@`, `**john@`: decoration, or an address unread
    if "?" in head or "!" in head:
        return None  # sentence punctuation glued on ("Questions?john@"), or unreadable
    key, equals, _ = head.rpartition("=")
    if equals and _NAME.match(key):
        return None  # `name=value@`: an assignment or a VERP address, never known which
    return head


def _query_like(run: str) -> bool:
    for mark in "?&":
        i = run.find(mark)
        if i != -1 and "=" in run[i:]:
            return True
    return False


def _take_mailto(target: str, found: dict[str, None]) -> str:
    decoded = unquote(target)
    if "&" in decoded:
        decoded = html.unescape(decoded)
    # Separators of a mailto list (`,`, `;`) and of the query are boundaries already.
    _scan_plain(decoded, found)
    return " "


def _scan_spelled(text: str, found: dict[str, None]) -> None:
    for at in _AT.finditer(text):
        token = at.group()
        slash, bare = token[0] == "/", token[0].isspace()
        local_end = at.start()
        while local_end > 0 and text[local_end - 1].isspace():
            local_end -= 1
        if local_end == 0 or not _LOCAL_CHAR.match(text[local_end - 1]):
            continue
        local = _local_before(text, local_end)
        if local is None:
            continue
        if not (slash or bare) and len(local) == 1:
            local = _spaced_local(text, local_end)
        match = _SPELLED_DOMAIN.match(text, at.end())
        if match is None and not (slash or bare):
            match = _SPACED_DOMAIN.match(text, at.end())
        if match is None:
            continue
        raw = match.group(1)
        separators = _SEPARATOR.findall(raw)
        if slash and not all(sep.lower() == "/dot/" for sep in separators):
            continue  # `/at/` in a URL's path, unless its dots are `/dot/` too
        if bare and all(sep == "." or "/" in sep for sep in separators):
            continue
        domain = _SEPARATOR.sub(".", raw).replace(" ", "").rstrip(".-")
        _add(found, local, domain)


def _spaced_local(text: str, end: int) -> str:
    """`m a i l` before a bracketed `at`: the letters of a letter-spaced local part."""
    pos = end - 1
    while (
        pos >= 2
        and text[pos - 1] == " "
        and text[pos - 2].isalnum()
        and (pos == 2 or not text[pos - 3].isalnum())
    ):
        pos -= 2
    return text[pos:end].replace(" ", "")


def _unescape_js(match: re.Match[str]) -> str:
    code = int(match.group(1) or match.group(2), 16)
    if 0xD800 <= code <= 0xDFFF:
        return match.group()  # half a surrogate pair: leave it, it is not an address
    return chr(code)
