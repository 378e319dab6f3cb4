"""Hostile input: refs and file names that try to leave the PDF folder, names and
addresses with SQL, quotes, NUL bytes and huge sizes, malformed and gigantic HTML, pages
that link to themselves forever. The crawl ends, stores what is there exactly as it is
(or says why not), and writes nowhere else."""

from __future__ import annotations

import asyncio
import random
import re
import threading
from html import escape as html_escape

import psycopg
import pytest
from aiohttp import web

from sandbox.sites.businesses import Site as Directory
from sandbox.sites.vehicles import HOSTILE_REFS
from sandbox.sites.vehicles import Site as Portal
from tests.helpers import write_targets
from tests.resilience import portal
from tests.resilience.checks import assert_accounted, assert_all_done, assert_once

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SQL = "Robert'); DROP TABLE businesses;--"
HOSTILE_NAMES = [
    SQL,
    'O\'Brien & "Sons" `Plumbing` \\ Co',
    "Nul\x00Byte Dentists",
    "Huge " + "Ab" * 50_000,  # 100 KB of name
    "$$ LANGUAGE plpgsql; SELECT pg_sleep(30); -- %s %(name)s {0}",
]
HOSTILE_STREETS = ["1 Main St'; DELETE FROM business_targets; --", "2 \x00 Side St"]


class HostileDirectory(Directory):
    """The directory, with hostile names and streets on one business in three."""

    def _business(self, rng, ypid, city, state):
        business = super()._business(rng, ypid, city, state)
        n = int(ypid)
        if n % 3 == 0:
            business.name = HOSTILE_NAMES[(n // 3) % len(HOSTILE_NAMES)]
            business.street = HOSTILE_STREETS[n % 2]
        return business


def without_nul(text: str) -> set[str]:
    """What a faithful parser may make of a NUL in HTML: dropped, or U+FFFD (HTML5)."""
    return {text.replace("\x00", ""), text.replace("\x00", "\ufffd")}


def test_hostile_business_names_are_stored_as_they_are(
    swapped_sandbox, crawl, database_url, tmp_path
):
    options = {"states": "DE", "categories": "plumbers", "per_page": 10}
    sb = swapped_sandbox("businesses", HostileDirectory, {"size": 20, "options": options})
    truth = sb.truth("businesses")
    hostile = [b for b in truth["businesses"].values() if b["name"] in HOSTILE_NAMES]
    assert {b["name"] for b in hostile} == set(HOSTILE_NAMES), "every hostile name served"
    targets = write_targets(tmp_path / "targets.tsv", truth["searches"])
    result = crawl(
        "businesses",
        args={"targets_file": str(targets)},
        settings={
            "BUSINESSES_BASE_URL": sb.url("businesses"),
            "BUSINESSES_FILTER_FILE": "",
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
        },
        env={"DATABASE_URL": database_url},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.log
    assert_all_done(result.stats)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT ypid, name, street FROM businesses").fetchall()
        (targets_left,) = conn.execute("SELECT to_regclass('businesses')").fetchone()
    assert targets_left is not None
    assert_once(r[0] for r in rows)
    assert {r[0] for r in rows} == set(truth["businesses"])
    for ypid, name, street in rows:
        want = truth["businesses"][ypid]
        assert name in without_nul(want["name"]), (ypid, name[:80], want["name"][:80])
        assert street in without_nul(want["street"]), (ypid, street, want["street"])
    assert {i["ypid"] for i in result.items} == set(truth["businesses"])


class EndlessDirectory(Directory):
    """Every results page's "next" link points back at the page itself."""

    def app(self) -> web.Application:
        app = super().app()

        @web.middleware
        async def loop_back(request, handler):
            response = await handler(request)
            if request.path == "/search" and response.status == 200 and response.text:
                own = html_escape(request.path_qs)
                response.text = re.sub(
                    r'(<a class="next ajax-page" href=")[^"]*"', rf'\g<1>{own}"', response.text
                )
            return response

        app.middlewares.insert(0, loop_back)
        return app


def test_a_results_page_linking_to_itself_ends(swapped_sandbox, crawl, tmp_path):
    options = {"states": "DE", "categories": "plumbers", "per_page": 5}
    sb = swapped_sandbox("businesses", EndlessDirectory, {"size": 12, "options": options})
    truth = sb.truth("businesses")
    looping = [s for s in truth["searches"] if s["pages"] > 1]
    assert looping, "some search must have a next page"
    targets = write_targets(tmp_path / "targets.tsv", truth["searches"])
    max_pages = 6
    result = crawl(
        "businesses",
        args={"targets_file": str(targets)},
        settings={
            "BUSINESSES_BASE_URL": sb.url("businesses"),
            "BUSINESSES_FILTER_FILE": "",
            "BUSINESSES_MAX_PAGES": max_pages,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
        },
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.log
    assert_accounted(result.stats)
    served = sb.stats("businesses")["search_pages"]
    # The loop was followed (each looping search to the page limit), and no further.
    assert len(looping) * max_pages <= served <= len(truth["searches"]) * max_pages
    # What the first pages hold is kept once, and right; nothing else is invented.
    assert_once(i["ypid"] for i in result.items)
    assert {i["ypid"] for i in result.items} <= set(truth["businesses"])
    for item in result.items:
        assert item["name"] == truth["businesses"][item["ypid"]]["name"]


class HostilePortal(Portal):
    """The portal, each report's file name trying to climb out of the download folder."""

    def app(self) -> web.Application:
        app = super().app()

        @web.middleware
        async def climb(request, handler):
            response = await handler(request)
            if "Content-Disposition" in response.headers:
                response.headers["Content-Disposition"] = (
                    'attachment; filename="../../../escaped.pdf"; '
                    "filename*=UTF-8''..%2F..%2Fescaped-utf8.pdf"
                )
            return response

        app.middlewares.insert(0, climb)
        return app


def test_hostile_refs_and_file_names_never_leave_the_pdf_folder(swapped_sandbox, crawl, tmp_path):
    knobs = portal.knobs(8)
    knobs["options"]["hostile"] = len(HOSTILE_REFS)
    sb = swapped_sandbox("vehicles", HostilePortal, knobs)
    store = tmp_path / "deep" / "er" / "pdfs"
    result = crawl(
        "vehicles",
        settings={**portal.SETTINGS, "FILES_STORE": str(store)},
        env=portal.env(sb),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.log
    truth = sb.truth("vehicles")
    by_ref = portal.check_vehicles(result.items, result.stats, truth, store)
    for ref in HOSTILE_REFS:
        assert (by_ref[ref]["status"], by_ref[ref]["reason"]) == ("failed", "invalid_ref")
    assert sum(i["status"] == "downloaded" for i in by_ref.values()) == 8
    everything = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in everything if "escaped" in p.name or "passwd" in p.name]
    assert not [p for p in everything if p.suffix == ".pdf" and p.parent != store]
    assert not list(tmp_path.rglob("evil*"))


# -- web pages -------------------------------------------------------------------------------
GOOD = ["contact@example.com", "sales@example.org", "nul.ok@example.net", "deep.ok@example.com"]


class HostileWeb:
    """One site of hostile pages, on its own port. The addresses that may be found are
    GOOD; the page past DOWNLOAD_MAXSIZE holds one more that must not be."""

    def __init__(self):
        self.served = 0
        self.big_address = "too.big@example.com"
        rng = random.Random(5)
        self.noise = "".join(rng.choice("abcdefgh ") for _ in range(1 << 16))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.served += 1
        path = request.path
        if path == "/":
            links = "".join(
                f'<a href="{p}">{p}</a>'
                for p in ("/contact", "/self", "/deep/1", "/malformed", "/huge", "/bigger", "/bin")
            )
            return html(f"<html><body>{links}</body></html>")
        if path == "/contact":
            return html(
                '<p>Mail <a href="mailto:contact@example.com?subject=%27%3B%20DROP%20TABLE'
                '%20emails%3B--&body=%00">contact@example.com</a> or '
                'sales&#64;example.org; O\'Hara said "x"@example.com is no address.</p>'
            )
        if path == "/self" or path.startswith("/self/"):
            # Links to itself, deeper and with new queries, forever.
            n = int(request.query.get("n", "0"))
            return html(
                f'<a href="{path}">again</a><a href="{path}/self">deeper</a>'
                f'<a href="/self?n={n + 1}">next</a><a href="/self?n={n + 1}&b=1&c=2">q</a>'
            )
        if path.startswith("/deep/"):
            n = int(path.rsplit("/", 1)[1])
            extra = "<p>deep.ok@example.com</p>" if n == 2 else ""
            return html(f'{extra}<a href="/deep/{n + 1}">more</a>')
        if path == "/malformed":
            body = (
                b"<html><body><div><p><table><tr><td>unclosed<<<>>>&#x40&#xZZ;&#99999999;"
                b"\xff\xfe\xc3\x28 broken utf-8 \x00\x00 nul.ok@example.net \x00"
                b"<a href='javascript:alert(1)'>x</a><a href='mailto:'>empty</a>"
                b"<scr<script>ipt>@@@</script><!-- never closed"
            )
            return web.Response(body=body, content_type="text/html")
        if path == "/huge":
            # 3 MB of one text node with no tags, an address at the very end.
            body = (self.noise * 48)[: 3 * 1024 * 1024] + " deep.ok@example.com"
            return html(f"<html><body><p>{body}</p></body></html>")
        if path == "/bigger":
            body = self.noise * 200 + " " + self.big_address  # 13 MB: past DOWNLOAD_MAXSIZE
            return html(f"<html><body><p>{body}</p></body></html>")
        if path == "/bin":
            return web.Response(body=bytes(range(256)) * 4000, content_type="text/html")
        return web.Response(status=404, text="no")


def html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html")


@pytest.fixture
def hostile_web():
    site = HostileWeb()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state = {}

    async def serve():
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", site.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        state["runner"] = runner
        state["port"] = tcp._server.sockets[0].getsockname()[1]

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(state["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    site.url = f"http://127.0.0.1:{state['port']}/"
    yield site
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)


def test_hostile_pages_end_with_exactly_the_real_addresses(
    hostile_web, crawl, database_url, tmp_path
):
    max_pages = 40
    result = crawl(
        "emails",
        args={"urls": hostile_web.url},
        settings={"EMAILS_MAX_PAGES_PER_SITE": max_pages, "EMAILS_MAX_DEPTH": 6},
        env={"DATABASE_URL": database_url, "no_proxy": "*"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.log
    with psycopg.connect(database_url) as conn:
        stored = [r[0] for r in conn.execute("SELECT email FROM emails")]
    assert_once(stored, "address")
    assert sorted(stored) == sorted(GOOD)
    assert hostile_web.served <= max_pages + 1
    assert result.stats["progress/done"] == len(GOOD)
    assert_accounted(result.stats, total_known=False)
