"""Web pages with email addresses (SITES.md section 4): many small sites behind one port.

Each site has its own host name, `www.<slug>.test`, and the sandbox answers for all of them
as an HTTP forward proxy would: a client sends its requests to the sandbox's port with
`http_proxy` (Scrapy's HttpProxyMiddleware reads it), exactly as it would reach the real
web through a proxy. A spider therefore sees ordinary, separate sites and needs no
sandbox-specific code. `GET /` on the sandbox address itself lists the sites, and
`/_sandbox/emails/sites` returns their start URLs, one per line (an `urls_file`).

Knobs: `size` = number of sites (default 12); options `team_pages` (directory pages per
site, default 2), `per_page` (people per directory page, default 6), `shared` (addresses
that appear on several sites, default 4), `traps` (calendar, faceted shop, endless news,
nested relative links; default true). Everything is derived from the seed on each request:
nothing is stored, so `size=500, team_pages=10, per_page=200` serves a million addresses.

What the real web throws, each on by default:
  block_200      share of page requests answered with a Cloudflare-style block or challenge
                 page with status 200 instead of the page (default 0.03); asked again, the
                 page is served as usual (another draw)
  block_403      the same with status 403 (default 0.03)
  blocked_sites  the last N sites answer every request with a block page (default 1;
                 status 200 for the first, 403 for the second, ...): a crawler gets nothing
                 from them and must say so
The contact pages also hold the rarer forms real pages carry: a local part with `/` and
`=`, a quoted word, Devanagari with combining marks (in a percent-encoded mailto link), a
domain with `[.]` dots; and look-alikes that must give nothing (`Questions?ask@`, a VERP-
shaped `name=value@`, `{curly@}`).

Ground truth: every address on the pages a careful crawler fetches (home, contact, about,
imprint, team pages, blog) of every site that is not blocked; trap pages repeat only the
footer address. Canonical form: lower-case, NFC, Unicode domain labels. `truth()` lists
them per site up to TRUTH_LIST_LIMIT addresses, and only counts above that, and names the
blocked sites; `addresses(i)` (what site i holds, blocked or not), `all_addresses()` and
`score(items)` work at any size in Python.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from html import escape
from typing import Any
from urllib.parse import quote

import idna
from aiohttp import web

from sandbox.site import BaseSite

TRUTH_LIST_LIMIT = 200_000

WORDS = [
    "acme", "bright", "cedar", "delta", "ember", "fjord", "granite", "harbor", "iris",
    "juniper", "kestrel", "lumen", "maple", "nimbus", "orchid", "pioneer", "quartz",
    "riverside", "summit", "timber", "umber", "vertex", "willow", "zephyr",
]  # fmt: skip
TLDS = ["com", "co.uk", "de", "com.au", "org", "io", "fr", "nl", "net", "ca", "ch", "co.jp"]
# Internationalised domains (Unicode label, public suffix) for every fifth site.
IDN = [("bücher", "de"), ("пример", "рф"), ("例子", "中国"), ("café-crème", "fr")]
FIRST = [
    "maria", "john", "li", "fatima", "olga", "pierre", "sven", "amara", "kenji", "lucia",
    "josé", "zoë", "jürgen", "søren", "ana", "chloé", "björn", "noah", "emma", "raj",
]  # fmt: skip
LAST = [
    "garcia", "smith", "wang", "haddad", "ivanova", "dubois", "larsen", "okafor", "sato",
    "rossi", "müller", "núñez", "kowalski", "brown", "nguyen", "patel", "schmidt", "lópez",
]  # fmt: skip
ROLES = ["sales", "support", "press", "careers", "hello", "office", "billing", "orders"]
SHARED = [
    "press@newswire-hub.com",
    "jobs@recruit-partners.co.uk",
    "kontakt@verband-handel.de",
    "help@site-builder.io",
    "info@chamber-of-trade.org",
    "grüße@städte-netz.de",
    "events@expo-centre.com.au",
    "partners@market-alliance.net",
]


def _rng(*parts: int) -> random.Random:
    # Integers only: string hashes change between processes.
    value = 0
    for part in parts:
        value = value * 1_000_003 + part
    return random.Random(value)


def _spell(domain: str, dot: str) -> str:
    return dot.join(domain.split("."))


def _cf(address: str, key: int) -> str:
    data = address.encode("utf-8")
    return bytes([key, *(b ^ key for b in data)]).hex()


def _ascii_domain(domain: str) -> str:
    return idna.encode(domain).decode("ascii")


def _vary_case(address: str, rng: random.Random) -> str:
    local, domain = address.split("@")
    choice = rng.randrange(3)
    if choice == 0:
        return address
    if choice == 1:
        return f"{local.capitalize()}@{domain}"
    return f"{local}@{domain.upper()}"


# Each form renders one address as HTML, starting and ending at a word boundary.
def _plain(a: str, rng: random.Random) -> str:
    return f"<p>Email: {escape(_vary_case(a, rng))}</p>"


def _mailto(a: str, rng: random.Random) -> str:
    return f'<a href="mailto:{escape(a)}">Send a message</a>'


def _mailto_subject(a: str, rng: random.Random) -> str:
    return (
        f'<a href="mailto:{escape(a)}?subject=Hello%20from%20your%20site&amp;body=Hi%21">'
        "Write to us</a>"
    )


def _mailto_percent(a: str, rng: random.Random) -> str:
    local, domain = a.split("@")
    if rng.random() < 0.5 and not domain.isascii():
        domain = _ascii_domain(domain)  # the punycode form of the same address
    return f'<a href="mailto:{quote(local, safe="")}%40{quote(domain, safe=".")}">Mail</a>'


def _entity_dec(a: str, rng: random.Random) -> str:
    local, domain = a.split("@")
    return f"<span>{escape(local)}&#64;{escape(domain)}</span>"


def _entity_hex(a: str, rng: random.Random) -> str:
    local, domain = a.split("@")
    return f"<span>{escape(local)}&#x40;{escape(domain)}</span>"


def _entity_all(a: str, rng: random.Random) -> str:
    return "<span>" + "".join(f"&#{ord(c)};" for c in a) + "</span>"


def _cf_span(a: str, rng: random.Random) -> str:
    return (
        '<a href="/cdn-cgi/l/email-protection" class="__cf_email__" '
        f'data-cfemail="{_cf(a, rng.randrange(1, 256))}">[email&#160;protected]</a>'
    )


def _cf_href(a: str, rng: random.Random) -> str:
    return f'<a href="/cdn-cgi/l/email-protection#{_cf(a, rng.randrange(1, 256))}">Email</a>'


def _at_brackets(a: str, rng: random.Random) -> str:
    local, domain = a.split("@")
    return f"<p>{escape(local)} [at] {escape(_spell(domain, ' [dot] '))}</p>"


def _at_parens(a: str, rng: random.Random) -> str:
    local, domain = a.split("@")
    return f"<p>{escape(local)}(at){escape(_spell(domain, '(dot)'))}</p>"


def _at_braces(a: str, rng: random.Random) -> str:
    local, domain = a.split("@")
    return f"<p>{escape(local)} {{at}} {escape(_spell(domain, ' {dot} '))}</p>"


def _at_words(a: str, rng: random.Random) -> str:
    local, domain = a.split("@")
    return f"<p>write to {escape(local)} at {escape(_spell(domain, ' dot '))}</p>"


def _at_brackets_real_dot(a: str, rng: random.Random) -> str:
    local, domain = a.split("@")
    return f"<p>{escape(local)} [AT] {escape(domain)}</p>"


FORMS = [
    _plain,
    _mailto,
    _mailto_subject,
    _mailto_percent,
    _entity_dec,
    _entity_hex,
    _entity_all,
    _cf_span,
    _cf_href,
    _at_brackets,
    _at_parens,
    _at_braces,
    _at_words,
    _at_brackets_real_dot,
]


def look_alikes(i: int, rng: random.Random, domain: str = "example.com") -> str:
    """Strings that look like addresses and are not (none may be extracted)."""
    hex32 = f"{rng.getrandbits(128):032x}"
    hex40 = f"{rng.getrandbits(160):040x}"
    return (
        '<img src="/img/logo@2x.png" srcset="/img/logo@2x.png 2x, /img/logo@3x.png 3x" alt="">'
        f"<pre><code>npm install widget-kit@1.2.{i} &amp;&amp; npm i @scope/ui@4.17.21"
        "</code></pre>"
        f'<script>window.__STATE__ = {{"tpl": "\\u003cb\\u003e\\u003e@static-{i}.net/a.css", '
        f'"handle": "@{WORDS[i % len(WORDS)]}"}};'
        f'Sentry.init({{dsn: "https://{hex32}@o{i + 1000}.ingest.sentry.io/{i + 7}"}});'
        f'var t = "{hex40}@sentry-next.wixpress.com";</script>'
        f"<p>Visit us at {WORDS[i % len(WORDS)]}-{i}.com or meet us at the fair.</p>"
        "<style>@media (max-width: 600px) { .x { color: red } } @import url(a.css);</style>"
        "<p>Call us @ 555-0100, user@localhost and admin@intranet do not count.</p>"
        # Never a piece of a longer local part: these give no address at all.
        f"<p>Questions?ask@{escape(domain)} Bounces: bounce-news=example.org@{escape(domain)} "
        f"{{curly@{escape(domain)}}}</p>"
    )


# The sandbox's own pages in the manner of Cloudflare's: its block page and its managed
# challenge (real ones: ../shared/real-pages/businesses/block_*.html).
BLOCK_PAGES = (
    "<!DOCTYPE html><html lang='en-US'><head><title>Attention Required! | Cloudflare</title>"
    "</head><body><div id='cf-wrapper'><h1>Sorry, you have been blocked</h1><h2>You are "
    "unable to access this site</h2><p>This website is using a security service to protect "
    "itself from online attacks.</p><p>Cloudflare Ray ID: 8f2c1d0e9a7b6c5d</p></div></body>"
    "</html>",
    "<!DOCTYPE html><html lang='en-US'><head><title>Just a moment...</title><script>"
    "window._cf_chl_opt={cvId: '3', cType: 'managed', cRay: '8f2c1d0e9a7b6c5e'};</script>"
    "</head><body><noscript>Enable JavaScript and cookies to continue</noscript></body>"
    "</html>",
)


class Site(BaseSite):
    name = "emails"
    default_size = 12

    def setup(self) -> None:
        self.team_pages = max(1, self.knobs.option("team_pages", 2))
        self.per_page = max(1, self.knobs.option("per_page", 6))
        self.shared = max(0, min(len(SHARED), self.knobs.option("shared", 4)))
        self.traps = self.knobs.option("traps", True)
        self.block_rng = random.Random(self.knobs.seed * 104_729 + 3)

    @property
    def blocked(self) -> dict[int, int]:
        """Blocked sites: index -> rank among them. The last sites, so that the first ones
        (an IDN domain, every shared address) stay reachable; read from the knobs each time,
        as they can change while the sandbox runs."""
        n = max(0, min(self.size - 1, int(self.knobs.option("blocked_sites", 1))))
        return {i: rank for rank, i in enumerate(range(self.size - n, self.size))}

    # -- the sites ----------------------------------------------------------------------
    def slug(self, i: int) -> str:
        return f"{WORDS[i % len(WORDS)]}-{i}"

    def host(self, i: int) -> str:
        return f"www.{self.slug(i)}.test"

    def seeds(self) -> list[str]:
        return [f"http://{self.host(i)}/" for i in range(self.size)]

    def site_index(self, host: str) -> int | None:
        host = host.split(":")[0].lower()
        if not (host.startswith("www.") and host.endswith(".test")):
            return None
        slug = host[4:-5]
        number = slug.rpartition("-")[2]
        if not number.isdigit() or str(int(number)) != number:
            return None
        i = int(number)
        if i >= self.size or self.slug(i) != slug:
            return None
        return i

    def domain(self, i: int) -> str:
        if i % 5 == 2:
            word, suffix = IDN[(i // 5) % len(IDN)]
            return f"{word}-{i}.{suffix}"
        return f"{self.slug(i)}.{TLDS[i % len(TLDS)]}"

    # -- addresses (canonical) ------------------------------------------------------------
    def role_addresses(self, i: int) -> list[str]:
        return [f"{role}@{self.domain(i)}" for role in ROLES]

    def founder_addresses(self, i: int) -> list[str]:
        rng = _rng(self.knobs.seed, i, 7)
        return [
            f"{rng.choice(FIRST)}.{rng.choice(LAST)}.founder{n}@{self.domain(i)}" for n in (1, 2)
        ]

    def imprint_addresses(self, i: int) -> list[str]:
        return [f"{name}@{self.domain(i)}" for name in ("legal", "privacy", "dpo")]

    def person(self, i: int, j: int) -> tuple[str, str]:
        """The j-th person of site i: (display name, canonical address)."""
        # Arithmetic, not a Random per person: directory pages hold hundreds of people.
        h = (self.knobs.seed * 2_654_435_761 + i * 40_503 + j * 2_246_822_519) % 4_294_967_291
        first, last = FIRST[h % len(FIRST)], LAST[(h // len(FIRST)) % len(LAST)]
        style = j % 5
        if style == 0:
            local = f"{first}.{last}{j}"
        elif style == 1:
            local = f"{first[0]}{last}{j}"
        elif style == 2:
            local = f"{first}_{last}.{j}"
        elif style == 3:
            local = f"{first}+team{j}"
        else:
            local = f"{last}-{first}{j}"
        return f"{first.capitalize()} {last.capitalize()}", f"{local}@{self.domain(i)}"

    def team_addresses(self, i: int, page: int) -> list[tuple[str, str]]:
        start = (page - 1) * self.per_page
        return [self.person(i, j) for j in range(start, start + self.per_page)]

    def special_addresses(self, i: int) -> list[str]:
        """The rarer forms of real pages, read whole (canonical)."""
        domain = self.domain(i)
        return [
            f"user+mailbox/department=shipping@{domain}",
            f'test."desk".support@{domain}',
            f"उपयोगकर्ता@{domain}",
            f"press.office@{domain}",
        ]

    def shared_addresses(self, i: int) -> list[str]:
        return [SHARED[s] for s in range(self.shared) if (i + s) % 3 == 0]

    def addresses(self, i: int) -> list[str]:
        """Every real address of site i, canonical."""
        out = [
            *self.role_addresses(i),
            f"info@{self.domain(i)}",
            *self.founder_addresses(i),
            *self.imprint_addresses(i),
            *self.special_addresses(i),
            *self.shared_addresses(i),
        ]
        for page in range(1, self.team_pages + 1):
            out += [address for _, address in self.team_addresses(i, page)]
        return out

    def reachable(self) -> list[int]:
        """The sites a crawler can read (all but the blocked ones)."""
        blocked = self.blocked
        return [i for i in range(self.size) if i not in blocked]

    def all_addresses(self) -> Iterator[str]:
        """Every distinct real address a crawler can collect, each once."""
        shared: set[str] = set()
        for i in self.reachable():
            for address in self.addresses(i):
                if address in SHARED:
                    if address in shared:
                        continue
                    shared.add(address)
                yield address

    def count_addresses(self) -> int:
        per_site = len(ROLES) + 1 + 2 + 3 + 4 + self.team_pages * self.per_page
        reachable = self.reachable()
        # Which shared addresses a site holds depends on its index modulo 3.
        first = {i % 3: i for i in reversed(reachable)}
        shared = {a for i in first.values() for a in self.shared_addresses(i)}
        return len(reachable) * per_site + len(shared)

    def truth(self) -> dict[str, Any]:
        count = self.count_addresses()
        blocked = [self.host(i) for i in self.blocked]
        if count > TRUTH_LIST_LIMIT:
            sites = {self.host(i): None for i in self.reachable()}
        else:
            sites = {self.host(i): sorted(set(self.addresses(i))) for i in self.reachable()}
        return {"count": count, "sites": sites, "blocked_sites": blocked}

    def score(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Recall and precision of crawled items against the truth, and duplicates."""
        by_site = {self.host(i): set(self.addresses(i)) for i in self.reachable()}
        truth = set().union(*by_site.values()) if by_site else set()
        emails = [item["email"] for item in items]
        found = set(emails)
        wrong_site = [
            item for item in items if item["email"] not in by_site.get(item.get("site"), ())
        ]
        true_positive = len(found & truth)
        return {
            "truth": len(truth),
            "found": len(found),
            "recall": true_positive / len(truth) if truth else 1.0,
            "precision": true_positive / len(found) if found else 1.0,
            "duplicates": len(emails) - len(found),
            "wrong_site": len(wrong_site),
            "missed": sorted(truth - found)[:20],
            "extra": sorted(found - truth)[:20],
        }

    # -- HTTP ---------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_sandbox/emails/sites", self.sites_list),
            web.get("/{tail:.*}", self.dispatch),
        ]

    async def sites_list(self, request: web.Request) -> web.Response:
        return web.Response(text="\n".join(self.seeds()) + "\n")

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        i = self.site_index(request.host)
        if i is None:
            if request.path == "/" and request.host.split(":")[0] in ("127.0.0.1", "localhost"):
                return self.directory()
            return web.Response(status=404, text="no such site")
        self.count("pages")
        block = self.block_page(i)
        if block is not None:
            return block
        parts = [p for p in request.path.split("/") if p]
        head = parts[0] if parts else ""
        rest = parts[1:]
        if head == "kontakt" and not rest:
            raise web.HTTPMovedPermanently("/contact")
        handler = {
            "": self.home,
            "contact": self.contact,
            "about": self.about,
            "imprint": self.imprint,
            "team": self.team,
            "blog": self.blog,
            "news": self.news,
            "shop": self.shop,
            "calendar": self.calendar,
            "docs": self.docs,
            "cdn-cgi": self.cf_page,
        }.get(head)
        try:
            body = handler(i, rest, request) if handler else None
        except ValueError:  # a query value that is not a number or a month
            body = None
        if body is None:
            return web.Response(status=404, text="not found")
        if head in ("news", "shop", "calendar", "docs"):
            self.count("trap_pages")
        return web.Response(text=body, content_type="text/html")

    def block_page(self, i: int) -> web.Response | None:
        """A block or challenge page instead of the page: always on a blocked site, else
        by a draw of its own per request (so the next try may get through)."""
        n = self.blocked.get(i)
        roll, variant = self.block_rng.random(), self.block_rng.random()
        if n is not None:
            self.count("blocked_site_pages")
            status = 200 if n % 2 == 0 else 403
        else:
            share_200 = self.knobs.option("block_200", 0.03)
            if roll < share_200:
                status = 200
            elif roll < share_200 + self.knobs.option("block_403", 0.03):
                status = 403
            else:
                return None
            self.count(f"block_{status}")
        body = BLOCK_PAGES[int(variant * len(BLOCK_PAGES))]
        return web.Response(status=status, text=body, content_type="text/html")

    def directory(self) -> web.Response:
        links = "".join(f'<li><a href="{u}">{u}</a></li>' for u in self.seeds())
        return web.Response(
            text=f"<html><body><h1>{self.size} sites</h1><ul>{links}</ul></body></html>",
            content_type="text/html",
        )

    # -- pages --------------------------------------------------------------------------
    def layout(self, i: int, title: str, body: str) -> str:
        # Odd sites link with absolute URLs, even ones with relative ones.
        base = f"http://{self.host(i)}" if i % 2 else ""
        nav = ["", "about", "team", "contact", "blog", "kontakt"]
        if self.traps:
            nav += ["news", "shop", "calendar", "docs/"]
        links = "".join(f'<a href="{base}/{p}">{p or "home"}</a> ' for p in nav)
        info = f"info@{self.domain(i)}"
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)} - "
            f"{self.slug(i)}</title></head><body><nav>{links}</nav><main><h1>{escape(title)}"
            f"</h1>{body}</main><footer>Questions? {escape(info)} - "
            f'<a href="{base}/imprint">Imprint</a></footer></body></html>'
        )

    def render(self, address: str, n: int, rng: random.Random) -> str:
        return FORMS[n % len(FORMS)](address, rng)

    def home(self, i, rest, request):
        if rest:
            return None
        return self.layout(i, "Welcome", "<p>We make things. Read more about us.</p>")

    def contact(self, i, rest, request):
        if rest:
            return None
        rng = _rng(self.knobs.seed, i, 1)
        roles = self.role_addresses(i)
        # The last two roles share one mailto list link with a query.
        blocks = [self.render(a, i + n, rng) for n, a in enumerate(roles[:-2])]
        blocks.append(
            f'<a href="mailto:{escape(roles[-2])},{escape(roles[-1])}?subject=Order">'
            "Billing and orders</a>"
        )
        blocks += [self.render(a, i + n + 3, rng) for n, a in enumerate(self.shared_addresses(i))]
        slashed, quoted, devanagari, defanged = self.special_addresses(i)
        local, domain = devanagari.split("@")
        blocks += [
            f"<p>Orders: {escape(slashed)}</p>",
            f"<p>Help desk: {escape(quoted)}</p>",
            f'<a href="mailto:{quote(local, safe="")}@{quote(domain, safe=".")}">संपर्क करें</a>',
            f"<p>Press: {escape(defanged.replace('@' + self.domain(i), ''))}@"
            f"{escape(_spell(self.domain(i), ' [.] '))}</p>",
        ]
        body = "".join(f"<div class='contact'>{b}</div>" for b in blocks)
        return self.layout(i, "Contact", body + look_alikes(i, rng, self.domain(i)))

    def about(self, i, rest, request):
        if rest:
            return None
        rng = _rng(self.knobs.seed, i, 2)
        spelled = [_at_brackets, _at_words]
        body = "".join(
            f"<section><h2>Founder</h2>{spelled[(i + n) % 2](a, rng)}</section>"
            for n, a in enumerate(self.founder_addresses(i))
        )
        return self.layout(i, "About us", body + look_alikes(i, rng))

    def imprint(self, i, rest, request):
        if rest:
            return None
        rng = _rng(self.knobs.seed, i, 3)
        legal, privacy, dpo = self.imprint_addresses(i)
        body = (
            f"<p>Legal: {_cf_span(legal, rng)}</p><p>Privacy: {_entity_all(privacy, rng)}</p>"
            f"<p>Data protection officer: {_cf_href(dpo, rng)}</p>"
        )
        return self.layout(i, "Imprint", body)

    def team(self, i, rest, request):
        if len(rest) > 1 or (rest and not rest[0].isdigit()):
            return None
        page = int(rest[0]) if rest else 1
        if not 1 <= page <= self.team_pages or (rest and page == 1):
            return None
        rng = _rng(self.knobs.seed, i, 100 + page)
        people = self.team_addresses(i, page)
        start = (page - 1) * self.per_page
        rows = "".join(
            f"<li class='person'><h3>{escape(name)}</h3>{self.render(a, start + k, rng)}</li>"
            for k, (name, a) in enumerate(people)
        )
        pager = " ".join(
            f'<a href="/team{"" if p == 1 else f"/{p}"}">{p}</a>'
            for p in range(1, self.team_pages + 1)
        )
        tail = look_alikes(i, rng) if page == 1 else ""
        return self.layout(i, f"Team, page {page}", f"<ul>{rows}</ul><p>{pager}</p>{tail}")

    def blog(self, i, rest, request):
        if not rest:
            posts = "".join(f'<li><a href="/blog/post-{n}">Post {n}</a></li>' for n in (1, 2))
            return self.layout(i, "Blog", f"<ul>{posts}</ul>")
        if len(rest) == 1 and rest[0] in ("post-1", "post-2"):
            return self.layout(i, "A post", "<p>Nothing to see here, just words.</p>")
        return None

    # -- traps: endless, and nothing on them but the footer -------------------------------
    def news(self, i, rest, request):
        if rest or not self.traps:
            return None
        page = int(request.query.get("page", "1") or 1)
        return self.layout(
            i, f"News {page}", f'<p>Older news: <a href="/news?page={page + 1}">next</a></p>'
        )

    def shop(self, i, rest, request):
        if rest or not self.traps:
            return None
        query = dict(request.query)
        links = []
        for facet, values in (("color", "red green blue"), ("size", "s m l xl")):
            for value in values.split():
                links.append("&amp;".join(f"{k}={v}" for k, v in {**query, facet: value}.items()))
        links.append("&amp;".join(f"{k}={v}" for k, v in {**query, "sort": "price"}.items()))
        body = "".join(f'<a href="/shop?{q}">{escape(q)}</a> ' for q in links)
        return self.layout(i, "Shop", body)

    def calendar(self, i, rest, request):
        if not self.traps or len(rest) not in (0, 3):
            return None
        month = request.query.get("month", "2026-11")
        year, _, mon = month.partition("-")
        y, m = int(year or 2026), int(mon or 11)
        prev_m = f"{y - (m == 1)}-{12 if m == 1 else m - 1:02d}"
        next_m = f"{y + (m == 12)}-{1 if m == 12 else m + 1:02d}"
        days = "".join(f'<a href="/calendar/{y}/{m:02d}/{d:02d}">{d}</a> ' for d in range(1, 29))
        body = (
            f'<a href="/calendar?month={prev_m}">prev</a> '
            f'<a href="/calendar?month={next_m}">next</a> {days}'
        )
        return self.layout(i, "Calendar", body)

    def docs(self, i, rest, request):
        if not self.traps or any(p != "sub" for p in rest):
            return None
        return self.layout(i, "Docs", '<p><a href="sub/">more</a></p>')

    def cf_page(self, i, rest, request):
        return self.layout(i, "Email protected", "<p>Please enable JavaScript.</p>")

    # -- make demo ----------------------------------------------------------------------
    def demo(self) -> dict[str, Any]:
        def check(result) -> str:
            s = self.score(result.items)
            stats = result.stats
            return (
                f"{s['found']} distinct addresses from {self.size} sites, recall "
                f"{s['recall']:.3f}, precision {s['precision']:.3f}, duplicates "
                f"{s['duplicates']}; {stats.get('pages/rejected/blocked', 0)} block pages "
                f"retried, {stats.get('emails/sites_failed/blocked', 0)} of "
                f"{len(self.blocked)} blocked sites reported"
            )

        return {
            "spider": "emails",
            "args": {"urls": ",".join(self.seeds())},
            # The blocked site's start page is given up in seconds, not half a minute.
            "settings": {"RETRY_BACKOFF_MAX": 2},
            "env": {"http_proxy": self.url, "no_proxy": ""},
            "check": check,
        }
