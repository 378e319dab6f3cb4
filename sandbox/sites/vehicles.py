"""The dealer portal of SITES.md section 1: login with a page-computed challenge, licence,
inventory (HTML filled by page JavaScript from a JSON API), vehicle pages and signed PDFs.

Site knobs (`--set vehicles.<name>=<value>` or `knobs={"vehicles": {...}}`):
  username, password     the one account (default dealer / letmein-42)
  challenge              hash | seed | rotate: how the login page's script computes the
                         challenge (rotate alternates per login page served)
  session_requests       a session expires after this many requests (0: never)
  session_minutes        ... or after this many minutes (0: never)
  session_concurrency    requests one session may have in flight; more answer 429 (0: no limit)
  churn_every            every Nth inventory API call sells a listed vehicle on an earlier
                         page or lists a new one first, shifting the pages (0: never)
  churn_max              at most this many such changes (0: no end)
  pdf_truncated          share of PDF responses cut short of their Content-Length
  pdf_html               share of PDF responses that are an HTML error page with status 200
  pdf_swapped            share of PDF responses that carry another vehicle's report
  hostile                how many listed vehicles have a ref that is not a safe file name
  pdf_kb                 approximate size of each PDF
"""

from __future__ import annotations

import hashlib
import hmac
import html
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web

from sandbox.faults import CONTROL_PREFIX
from sandbox.site import BaseSite

COOKIE = "portal_session"
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
MAKES = {
    "Toyota": ["Corolla", "Camry", "RAV4"],
    "Ford": ["F-150", "Focus", "Transit"],
    "Škoda": ["Octavia", "Superb", "Kodiaq"],
    "Citroën": ["C3", "Berlingo", "C5 Aircross"],
    "Mercedes-Benz": ["C 200", "Sprinter", "GLC"],
    "Honda": ["Civic", "Accord", "CR-V"],
}
TRIMS = ["", "Base", "SE", "Limited", "Comfort Plus", "Édition Spéciale", "Sport"]
HOSTILE_REFS = ["../../etc/passwd", "..", "a/b/c", "x" * 40, "ref with space", "C:\\evil"]


@dataclass
class Vehicle:
    ref: str
    vin: str
    year: int
    make: str
    model: str
    trim: str
    mileage: int
    price: int
    sold: bool = False
    hostile: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "vin": self.vin,
            "year": self.year,
            "make": self.make,
            "model": self.model,
            "trim": self.trim,
            "mileage": self.mileage,
            "price": self.price,
        }


@dataclass
class Session:
    sid: str
    created: float
    csrf: str = field(default_factory=lambda: secrets.token_hex(16))
    sig_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    requests: int = 0
    accepted: bool = False
    expired: bool = False
    inflight: int = 0


def fnv1a(text: str) -> str:
    """The `hash` challenge: 32-bit FNV-1a over UTF-16 code units, as the page computes it."""
    h = 0x811C9DC5
    for unit in text.encode("utf-16-le"):
        h ^= unit
        h = (h * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


def pdf_escape(text: str) -> str:
    text = text.encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(vehicle: Vehicle, pad_kb: int) -> bytes:
    """A small, valid PDF whose text holds the ref and VIN (pypdf reads it back)."""
    lines = [
        "Vehicle valuation report",
        f"Ref: {vehicle.ref}",
        f"VIN: {vehicle.vin}",
        f"{vehicle.year} {vehicle.make} {vehicle.model} {vehicle.trim}".strip(),
        f"Mileage: {vehicle.mileage}  Price: {vehicle.price}",
    ]
    text = "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"({pdf_escape(s)}) '" for s in lines)
    content = (text + " ET").encode("latin-1")
    padding = random.Random(vehicle.ref).randbytes(max(0, pad_kb) * 1024)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        # Stands in for the images a real report carries: size without text.
        b"<< /Length %d >>\nstream\n" % len(padding) + padding + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def page(title: str, body: str, head: str = "") -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"{head}</head><body>{body}</body></html>"
    )


LOGIN_SCRIPTS = {
    # The challenge is a hash of the form's token and the user name, computed on submit.
    "hash": """<script>
function fnv(s){let h=0x811c9dc5;for(let i=0;i<s.length;i++){const c=s.charCodeAt(i);
h^=c&255;h=Math.imul(h,0x01000193)>>>0;h^=c>>8;h=Math.imul(h,0x01000193)>>>0;}
return h.toString(16).padStart(8,'0');}
document.getElementById('login').addEventListener('submit',function(){
 const f=this;f.challenge.value=fnv(f.csrf_token.value+':'+f.username.value);});
</script>""",
    # The challenge comes from the server on submit, transformed by the script.
    "seed": """<script>
document.getElementById('login').addEventListener('submit',async function(ev){
 ev.preventDefault();const f=this;
 for(let i=0;i<5;i++){try{
  const r=await fetch('/login/seed',{method:'POST',body:f.csrf_token.value});
  if(r.ok){const j=await r.json();
   f.challenge.value=j.seed.split('').reverse().join('')+'.'+f.username.value.length;break;}
 }catch(e){}await new Promise(z=>setTimeout(z,300*(i+1)));}
 f.submit();});
</script>""",
}


class Site(BaseSite):
    name = "vehicles"
    default_size = 60

    # -- data -------------------------------------------------------------------------
    def setup(self) -> None:
        self.rng = random.Random(self.knobs.seed)
        # The Nth report served draws the Nth number of this sequence, whatever the timing
        # and the faults before it: a seed decides which bad PDFs a run meets, so a test can
        # count on them (the shared fault_rng is consumed in arrival order).
        self.pdf_rng = random.Random(self.knobs.seed * 104729 + 3)
        self.vehicles: dict[str, Vehicle] = {}
        self.listing: list[str] = []  # refs, newest first
        self.serial = 0
        refs = set()
        while len(refs) < self.size:
            ref = self._new_ref()
            refs.add(ref)
            # Some refs are prefixes of others: a report for "AB12" must not pass for "AB1".
            if self.rng.random() < 0.1 and len(refs) < self.size and len(ref) < 32:
                refs.add(ref + self.rng.choice("0123456789"))
        # Sorted first: a set's order changes from one process to the next.
        ordered = sorted(refs)
        self.rng.shuffle(ordered)
        for ref in ordered:
            self._add(ref)
        hostile = self.knobs.option("hostile", 0)
        for i in range(hostile):
            ref = HOSTILE_REFS[i % len(HOSTILE_REFS)] + ("" if i < len(HOSTILE_REFS) else str(i))
            self._add(ref, hostile=True, at=self.rng.randrange(len(self.listing) + 1))
        self.sessions: dict[str, Session] = {}
        self.login_tokens: dict[str, str] = {}  # login form token -> seed ("" before asked)
        self.logins_served = 0
        self.api_calls = 0

    def _new_ref(self) -> str:
        self.serial += 1
        style = self.rng.randrange(4)
        if style == 0:
            return f"VH-{self.serial:06d}"
        if style == 1:
            return f"STK_{self.rng.randrange(10**5):05d}{self.rng.choice('ABCDEFGH')}"
        if style == 2:
            return "".join(self.rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=8))
        return f"r{self.serial}-{self.rng.choice(['a', 'b', 'c'])}"

    def _add(self, ref: str, hostile: bool = False, at: int | None = None) -> Vehicle:
        make = self.rng.choice(list(MAKES))
        vehicle = Vehicle(
            ref=ref,
            vin="" if self.rng.random() < 0.03 else "".join(self.rng.choices(VIN_ALPHABET, k=17)),
            year=self.rng.randrange(1998, 2026),
            make=make,
            model=self.rng.choice(MAKES[make]),
            trim=self.rng.choice(TRIMS),
            mileage=self.rng.randrange(0, 250_000),
            price=self.rng.randrange(15, 900) * 100,
            hostile=hostile,
        )
        self.vehicles[ref] = vehicle
        if at is None:
            self.listing.append(ref)
        else:
            self.listing.insert(at, ref)
        return vehicle

    def truth(self) -> dict[str, Any]:
        return {
            "vehicles": [
                {**v.public(), "sold": v.sold, "hostile": v.hostile} for v in self.vehicles.values()
            ],
            "listed": len(self.listing),
            "logins": self.stats["login_ok"],
        }

    def demo(self) -> dict[str, Any]:
        def check(result) -> str:
            by_status: dict[str, int] = {}
            for item in result.items:
                by_status[item["status"]] = by_status.get(item["status"], 0) + 1
            summary = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
            return f"{len(result.items)} vehicles ({summary}) of {len(self.vehicles)} listed"

        return {
            "spider": "vehicles",
            "settings": {"CONCURRENT_REQUESTS": 7},
            "env": {
                "VEHICLES_BASE_URL": self.url,
                "VEHICLES_USERNAME": self.knobs.option("username", "dealer"),
                "VEHICLES_PASSWORD": self.knobs.option("password", "letmein-42"),
            },
            "check": check,
        }

    # -- plumbing ---------------------------------------------------------------------
    def app(self) -> web.Application:
        app = super().app()
        # Outermost, so that a session's requests count as in flight while the shared
        # latency is served too: the limit then bites as it would on a real server.
        app.middlewares.insert(0, self._concurrency_gate)
        return app

    @web.middleware
    async def _concurrency_gate(self, request: web.Request, handler):
        limit = self.knobs.option("session_concurrency", 0)
        session = self.sessions.get(request.cookies.get(COOKIE, ""))
        if not limit or session is None or request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        if session.inflight >= limit:
            self.count("session_429")
            return web.Response(
                status=429,
                text="Too many requests for this session",
                headers={"Retry-After": f"{self.knobs.retry_after:g}"},
            )
        session.inflight += 1
        try:
            return await handler(request)
        finally:
            session.inflight -= 1

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.root),
            web.get("/login", self.login_form),
            web.post("/login", self.login_submit),
            web.post("/login/seed", self.login_seed),
            web.get("/license", self.license_form),
            web.post("/license", self.license_accept),
            web.get("/inventory", self.inventory),
            web.get("/api/inventory", self.api_inventory),
            web.get("/vehicle/{ref}", self.vehicle),
            web.get("/reports/{name}", self.report),
        ]

    def _session(
        self, request: web.Request, api: bool, needs_license: bool = True
    ) -> Session | web.Response:
        """The request's live session, or the answer the contract gives without one."""
        session = self.sessions.get(request.cookies.get(COOKIE, ""))
        if session is not None and not session.expired:
            session.requests += 1
            max_requests = self.knobs.option("session_requests", 0)
            max_minutes = self.knobs.option("session_minutes", 0.0)
            if (max_requests and session.requests > max_requests) or (
                max_minutes and time.monotonic() - session.created > max_minutes * 60
            ):
                session.expired = True
                self.count("session_expired")
        if session is None or session.expired:
            self.count("no_session")
            if api:
                return web.Response(status=401, text="login required")
            raise web.HTTPFound("/login?next=" + quote(request.path_qs, safe=""))
        if needs_license and not session.accepted:
            self.count("no_license")
            if api:
                return web.Response(status=403, text="licence not accepted")
            raise web.HTTPFound("/license")
        return session

    # -- login and licence ------------------------------------------------------------
    async def root(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/inventory")

    def _variant(self) -> str:
        variant = self.knobs.option("challenge", "rotate")
        if variant == "rotate":
            variant = ("hash", "seed")[self.logins_served % 2]
        self.logins_served += 1
        return variant

    def _login_page(self, next_path: str, error: str = "") -> web.Response:
        token = secrets.token_hex(12)
        self.login_tokens[token] = ""
        if len(self.login_tokens) > 10_000:  # forget the oldest unused forms
            for old in list(self.login_tokens)[:5_000]:
                del self.login_tokens[old]
        variant = self._variant()
        self.count(f"login_page_{variant}")
        err = f'<div class="error">{html.escape(error)}</div>' if error else ""
        body = (
            f"<h1>Dealer portal</h1>{err}"
            f'<form id="login" method="post" action="/login">'
            f'<input type="hidden" name="csrf_token" value="{token}">'
            f'<input type="hidden" name="challenge" value="">'
            f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
            f'<label>User <input name="username" autocomplete="username"></label>'
            f'<label>Password <input type="password" name="password"></label>'
            f'<button type="submit">Sign in</button></form>{LOGIN_SCRIPTS[variant]}'
        )
        return web.Response(text=page("Sign in", body), content_type="text/html")

    async def login_form(self, request: web.Request) -> web.Response:
        return self._login_page(request.query.get("next", ""))

    async def login_seed(self, request: web.Request) -> web.Response:
        token = (await request.text()).strip()
        if token not in self.login_tokens:
            return web.Response(status=403, text="unknown form")
        self.login_tokens[token] = seed = secrets.token_hex(6)
        return web.json_response({"seed": seed})

    async def login_submit(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = str(form.get("csrf_token", ""))
        username = str(form.get("username", ""))
        password = str(form.get("password", ""))
        next_path = str(form.get("next", ""))
        seed = self.login_tokens.pop(token, None)
        challenge = str(form.get("challenge", ""))
        expected = {fnv1a(f"{token}:{username}")}
        if seed:
            expected = {f"{seed[::-1]}.{len(username)}"}
        if seed is None or challenge not in expected:
            self.count("login_bad_challenge")
            return self._login_page(next_path, "Security check failed. Please try again.")
        good_user = hmac.compare_digest(username, self.knobs.option("username", "dealer"))
        good_pass = hmac.compare_digest(password, self.knobs.option("password", "letmein-42"))
        if not (good_user and good_pass):
            self.count("login_bad_credentials")
            return self._login_page(next_path, "Invalid username or password.")
        self.count("login_ok")
        session = Session(sid=secrets.token_urlsafe(24), created=time.monotonic())
        self.sessions[session.sid] = session
        target = next_path if next_path.startswith("/") and not next_path.startswith("//") else ""
        response = web.HTTPFound(target or "/license")
        response.set_cookie(COOKIE, session.sid, httponly=True, path="/", samesite="Lax")
        raise response

    async def license_form(self, request: web.Request) -> web.Response:
        session = self._session(request, api=False, needs_license=False)
        body = (
            "<h1>Licence agreement</h1><p>Reports are for the dealer's own use.</p>"
            '<form id="license" method="post" action="/license">'
            f'<input type="hidden" name="csrf_token" value="{session.csrf}">'
            '<button id="accept" type="submit">I accept</button></form>'
        )
        return web.Response(text=page("Licence", body), content_type="text/html")

    async def license_accept(self, request: web.Request) -> web.Response:
        session = self._session(request, api=False, needs_license=False)
        form = await request.post()
        if not hmac.compare_digest(str(form.get("csrf_token", "")), session.csrf):
            return web.Response(status=403, text="bad token")
        session.accepted = True
        self.count("license_accepted")
        raise web.HTTPFound("/inventory")

    # -- inventory --------------------------------------------------------------------
    async def inventory(self, request: web.Request) -> web.Response:
        session = self._session(request, api=False)
        try:
            number = max(1, int(request.query.get("page", "1")))
        except ValueError:
            number = 1
        per_page = 25
        pages = max(1, -(-len(self.listing) // per_page))
        nxt = (
            f'<a class="next" href="/inventory?page={number + 1}">Next</a>'
            if number < pages
            else ""
        )
        body = (
            f'<h1>Inventory</h1><p><span id="total">{len(self.listing)}</span> vehicles</p>'
            '<table id="inventory"><thead><tr><th>Ref</th><th>VIN</th><th>Year</th><th>Make</th>'
            "<th>Model</th><th>Trim</th><th>Mileage</th><th>Price</th><th></th></tr></thead>"
            f"<tbody></tbody></table>{nxt}"
            "<script>\n"
            "const fmt=new Intl.NumberFormat('en-US');\n"
            "const esc=s=>String(s).replace(/[&<>\"]/g,c=>'&#'+c.charCodeAt(0)+';');\n"
            f"fetch('/api/inventory?page={number}&per_page={per_page}',{{headers:{{'X-CSRF-Token':"
            "document.querySelector('meta[name=csrf-token]').content}})"
            ".then(r=>r.json()).then(d=>{const tb=document.querySelector('#inventory tbody');"
            'tb.innerHTML=d.vehicles.map(v=>`<tr class="vehicle" data-ref="${esc(v.ref)}">'
            '<td class="ref">${esc(v.ref)}</td><td class="vin">${esc(v.vin)}</td>'
            '<td class="year">${v.year}</td><td class="make">${esc(v.make)}</td>'
            '<td class="model">${esc(v.model)}</td><td class="trim">${esc(v.trim)}</td>'
            '<td class="mileage">${fmt.format(v.mileage)}</td>'
            '<td class="price">$${fmt.format(v.price)}</td>'
            '<td><a class="report" href="/vehicle/${encodeURIComponent(v.ref)}">Report</a>'
            "</td></tr>`).join('');});\n</script>"
        )
        head = f'<meta name="csrf-token" content="{session.csrf}">'
        return web.Response(text=page("Inventory", body, head), content_type="text/html")

    def _churn(self, offset: int) -> None:
        every = self.knobs.option("churn_every", 0)
        most = self.knobs.option("churn_max", 0)
        if not every or self.api_calls % every:
            return
        if most and self.stats["churn_sold"] + self.stats["churn_added"] >= most:
            return
        if offset > 0 and self.stats["churn_sold"] < self.stats["churn_added"]:
            # Sold from a page already walked: every later vehicle moves up one place.
            ref = self.listing.pop(self.rng.randrange(min(offset, len(self.listing))))
            self.vehicles[ref].sold = True
            self.count("churn_sold")
        else:
            # Listed first: every vehicle moves down one place.
            self._add(self._new_ref(), at=0)
            self.count("churn_added")

    async def api_inventory(self, request: web.Request) -> web.Response:
        session = self._session(request, api=True)
        if isinstance(session, web.Response):
            return session
        if not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), session.csrf):
            return web.Response(status=403, text="missing or wrong X-CSRF-Token")
        try:
            number = int(request.query.get("page", "1"))
            per_page = int(request.query.get("per_page", "25"))
        except ValueError:
            return web.Response(status=400, text="page and per_page must be integers")
        if number < 1 or not 1 <= per_page <= 100:
            return web.Response(status=400, text="page >= 1, 1 <= per_page <= 100")
        self.api_calls += 1
        self._churn((number - 1) * per_page)
        start = (number - 1) * per_page
        refs = self.listing[start : start + per_page]
        return web.json_response(
            {
                "total": len(self.listing),
                "page": number,
                "pages": -(-len(self.listing) // per_page),
                "vehicles": [self.vehicles[r].public() for r in refs],
            }
        )

    # -- vehicles and reports ---------------------------------------------------------
    def _signature(self, session: Session, ref: str) -> str:
        return hmac.new(session.sig_key, ref.encode(), hashlib.sha256).hexdigest()[:32]

    async def vehicle(self, request: web.Request) -> web.Response:
        session = self._session(request, api=False)
        vehicle = self.vehicles.get(request.match_info["ref"])
        if vehicle is None or vehicle.sold:
            return web.Response(
                status=404,
                text=page("Not found", "<h1>No such vehicle</h1>"),
                content_type="text/html",
            )
        url = f"/reports/{quote(vehicle.ref)}.pdf?sig={self._signature(session, vehicle.ref)}"
        specs = "".join(
            f"<dt>{k}</dt><dd>{html.escape(str(v))}</dd>"
            for k, v in [
                ("Ref", vehicle.ref),
                ("VIN", vehicle.vin),
                ("Year", vehicle.year),
                ("Make", vehicle.make),
                ("Model", vehicle.model),
                ("Trim", vehicle.trim),
                ("Mileage", f"{vehicle.mileage:,} mi"),
                ("Price", f"${vehicle.price:,}"),
            ]
        )
        title = html.escape(f"{vehicle.year} {vehicle.make} {vehicle.model} {vehicle.trim}".strip())
        body = (
            f'<h1 class="title">{title}</h1><dl class="specs">{specs}</dl>'
            f'<a id="download-pdf" href="{html.escape(url)}" data-report-url="{html.escape(url)}" '
            f'download="{html.escape(vehicle.ref)}.pdf">Download valuation (PDF)</a>'
        )
        return web.Response(text=page(vehicle.ref, body), content_type="text/html")

    async def report(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request, api=True)
        if isinstance(session, web.Response):
            return session
        name = request.match_info["name"]
        vehicle = self.vehicles.get(name.removesuffix(".pdf"))
        if not name.endswith(".pdf") or vehicle is None or vehicle.sold:
            return web.Response(status=404, text="no such report")
        if not hmac.compare_digest(
            request.query.get("sig", ""), self._signature(session, vehicle.ref)
        ):
            self.count("report_bad_signature")
            return web.Response(status=403, text="invalid or expired link")
        headers = {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="{vehicle.ref}.pdf"',
        }
        roll = self.pdf_rng.random()
        edge = self.knobs.option("pdf_html", 0.0)
        if roll < edge:
            self.count("pdf_html")
            return web.Response(
                body=page("Error", "<h1>Report generation failed</h1>").encode(), headers=headers
            )
        pad_kb = self.knobs.option("pdf_kb", 40)
        edge += self.knobs.option("pdf_swapped", 0.0)
        if roll < edge:
            self.count("pdf_swapped")
            return web.Response(body=make_pdf(self._lookalike(vehicle), pad_kb), headers=headers)
        body = make_pdf(vehicle, pad_kb)
        edge += self.knobs.option("pdf_truncated", 0.0)
        if roll < edge:
            self.count("pdf_truncated")
            response = web.StreamResponse(headers=headers)
            response.content_length = len(body)
            await response.prepare(request)
            await response.write(body[: len(body) // 2])
            # A graceful close: what was written arrives, the rest never does.
            if request.transport is not None:
                request.transport.close()
            return response
        self.count("pdf_ok")
        return web.Response(body=body, headers=headers)

    def _lookalike(self, vehicle: Vehicle) -> Vehicle:
        """Another vehicle's report, preferably one whose ref starts with this one's."""
        others = [v for v in self.vehicles.values() if v.ref != vehicle.ref and not v.hostile]
        longer = [v for v in others if v.ref.startswith(vehicle.ref)]
        return (longer or others)[0] if (longer or others) else vehicle
