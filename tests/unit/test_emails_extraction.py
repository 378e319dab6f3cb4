"""The address extractor: every form SITES.md section 4 lists, every look-alike, and
property tests that it never crashes and only returns canonical addresses."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawlers.extraction.emails import canonical, decode_cfemail, extract_emails


def cf(address: str, key: int) -> str:
    return bytes([key, *(b ^ key for b in address.encode())]).hex()


# -- forms ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("Write to john.smith@example.com.", ["john.smith@example.com"]),
        ("<p>Email:jane@example.org</p>", ["jane@example.org"]),
        ('<a href="mailto:sales@acme.co.uk">x</a>', ["sales@acme.co.uk"]),
        (
            '<a href="mailto:sales@acme.co.uk?subject=Hi%20there&amp;cc=boss@acme.co.uk">x</a>',
            ["sales@acme.co.uk", "boss@acme.co.uk"],
        ),
        ('<a href="mailto:info%40acme.com">x</a>', ["info@acme.com"]),
        ('<a href="MAILTO:Info%40Acme.com">x</a>', ["info@acme.com"]),
        (
            '<a href="mailto:a@x.com,b@y.de;%20c@z.fr?subject=x">x</a>',
            ["a@x.com", "b@y.de", "c@z.fr"],
        ),
        ("press&#64;acme.com", ["press@acme.com"]),
        ("press&#x40;acme.com", ["press@acme.com"]),
        ("press&commat;acme.com", ["press@acme.com"]),
        ("".join(f"&#{ord(c)};" for c in "all@encoded.com"), ["all@encoded.com"]),
        ("anna [at] example [dot] com", ["anna@example.com"]),
        ("anna[at]example[dot]co[dot]uk", ["anna@example.co.uk"]),
        ("jean(at)example(dot)fr", ["jean@example.fr"]),
        ("li {at} example {dot} com", ["li@example.com"]),
        ("li <at> example <dot> com", ["li@example.com"]),
        ("mail raj at example dot com today", ["raj@example.com"]),
        ("RAJ AT EXAMPLE DOT COM", ["raj@example.com"]),
        ("ops [AT] example.com", ["ops@example.com"]),
        ("ops (@) example (.) com", ["ops@example.com"]),
        ('"\\u003ejohn@example.com\\u003c"', ["john@example.com"]),
        ("name\\u0040example.com", ["name@example.com"]),
        # RFC 5322 local parts beyond [\w.+-], read whole
        (
            "user+mailbox/department=shipping@example.com",
            ["user+mailbox/department=shipping@example.com"],
        ),
        ("<p>o'brien@example.ie</p>", ["o'brien@example.ie"]),
        (
            "SRS0=HHH=TT=example.org=john@srs.example.com",
            ["srs0=hhh=tt=example.org=john@srs.example.com"],
        ),
        ('test."foo".bar@gmail.co.uk!', ['test."foo".bar@gmail.co.uk']),
        # ... and in the contexts that hold an address: a URL's path or query, a quote
        ('<a href="/share?u=1&amp;to=john@example.com">', ["john@example.com"]),
        ("https://example.com/people/jane.doe@example.com", ["jane.doe@example.com"]),
        ("var contact='sales@example.com';", ["sales@example.com"]),
        ("{email:`ops@example.com`}", ["ops@example.com"]),
        # scripts with combining marks (Devanagari vowel signs and virama)
        ("संपर्क: उपयोगकर्ता@उदाहरण.कॉम", ["उपयोगकर्ता@उदाहरण.कॉम"]),
        # punctuation in front: a rule line, a sentence
        ("-----foo@bar.com", ["foo@bar.com"]),
        ("Write to bob@example.com.It is quick.", ["bob@example.com"]),
        # defanged dots after a real or a spaced @
        ("myuser@example [.] com", ["myuser@example.com"]),
        ("myuser@example  [[[[ [ [ [ . )]) com", ["myuser@example.com"]),
        ("myuser @ example[.]com", ["myuser@example.com"]),
        ("myuser[@]example[.com[.org]", ["myuser@example.com.org"]),
        ("myuser { at ) example {  doT ])] com [dot org", ["myuser@example.com.org"]),
        ("myuser/AT/example/DOT/com", ["myuser@example.com"]),
        # letter-spaced, after a bracketed at
        ("foo m a i l [at] e x a m p l e   [dot]   c o m bar", ["mail@example.com"]),
    ],
)
def test_forms(html, expected):
    assert extract_emails(html) == expected


def test_cloudflare_span_and_href():
    html = (
        f'<a class="__cf_email__" data-cfemail="{cf("legal@acme.com", 0x42)}">[email'
        f'&#160;protected]</a> <a href="/cdn-cgi/l/email-protection#{cf("dpo@acme.com", 0x9)}">'
        "mail</a>"
    )
    assert extract_emails(html) == ["legal@acme.com", "dpo@acme.com"]


def test_cloudflare_decoding_is_utf8():
    assert decode_cfemail(cf("jürgen@bücher.de", 0xAB)) == "jürgen@bücher.de"
    assert decode_cfemail("zz") is None
    assert decode_cfemail("42") is None
    assert decode_cfemail("42ff") is None  # not UTF-8 once decoded


def test_internationalised_addresses_are_one_canonical_form():
    html = (
        '<a href="mailto:j%C3%BCrgen@xn--bcher-kva.de">x</a> JÜRGEN@BÜCHER.DE '
        "info@пример.рф 用户@例子.中国 info@xn--e1afmkfd.xn--p1ai"
    )
    assert extract_emails(html) == [
        "jürgen@bücher.de",
        "info@пример.рф",
        "用户@例子.中国",
    ]


def test_case_and_duplicates_fold():
    assert extract_emails("A@Example.COM a@example.com <a href='mailto:A@EXAMPLE.com'>") == [
        "a@example.com"
    ]


def test_trailing_punctuation_is_not_part_of_the_address():
    assert extract_emails("(mail: bob@example.com), or ...alice@example.net.") == [
        "bob@example.com",
        "alice@example.net",
    ]


def test_percent_encoded_mailto_never_leaks_a_tail():
    # Read naively, `jos%C3%A9@x.de` gives "a9@x.de".
    assert extract_emails('<a href="mailto:jos%C3%A9@example.de">') == ["josé@example.de"]


# -- look-alikes ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "html",
    [
        '<img src="/img/logo@2x.png">',
        '<img srcset="a@3x.jpg 3x, b@1.5x.webp">',
        "icon@2x.app",  # .app is a real TLD; `2x` is a retina suffix
        "npm install package@1.2.3",
        "npm i @scope/ui@4.17.21",
        "lodash@4.17.21",
        '"\\u003e@static-cdn.net/app.css"',
        "u003e@static-cdn.net",
        "u003cjohn@example.com",
        "https://0f4e6c1d2b3a49587766554433221100@o447951.ingest.sentry.io/5428493",
        "5d41402abc4b2a76b9719d911017c592@sentry-next.wixpress.com",
        "8a5d5b8e-3f1c-4a43-9e39-6b1f0b7f4e11@events.example.com",
        "0123456789abcdef01@example.com",
        "Visit us at example.com",
        "meet us at the fair dot",
        "@media screen and (max-width: 600px) @import url(a.css) @font-face",
        "Follow @example on social media",
        "2 for $5 @ the shop",
        "user@localhost admin@intranet x@y.c a@b name@example.invalidtld",
        "ftp://anonymous:guest@files.example.com/pub/",
        "http://proxyuser@proxy.example.com:8080/",
        "john..doe@example.com john.@example.com",
        "a" * 65 + "@example.com",
        "x@" + "a" * 64 + ".com",
        "user@exa_mple.com user@-example.com",
        # never a piece of a longer local part: whole or nothing
        "questions?john@example.com hello!jane@example.com",
        "{john@example.com} #team@example.com **bold@example.com**",
        "bounce-user=example.org@lists.example.com",  # VERP, or key=value: unknown
        "jos%C3%A9@example.de",
        "https://www.google.com/maps/@40.70,-73.99,11z",
        '"John..Doe"@example.com',
        # a spaced @ or a bare at with real dots is prose
        "find us @ example.com",
        "myuser@example . com myuser@example .]com",
        "https://example.com/at/home.com",
    ],
)
def test_look_alikes_are_rejected(html):
    assert extract_emails(html) == []


def test_saved_page_with_every_form(saved_page):
    found = extract_emails(saved_page("emails/all_forms.html"))
    assert sorted(found) == sorted(
        [
            "legal@example-widgets.com",
            "privacy@example-widgets.com",
            "json.escaped@example-widgets.com",
            "sales@example-widgets.com",
            "support@example-widgets.com",
            "billing@example-widgets.com",
            "orders@example-widgets.com",
            "refunds@example-widgets.com",
            "accounts@example-widgets.com",
            "jürgen.müller@bücher.de",
            "info@example-widgets.com",
            "press@example-widgets.com",
            "careers@example-widgets.com",
            "office@example-widgets.com",
            "info@пример.рф",
            "partners@example.co.jp",
            "anna.schmidt@example-widgets.com",
            "jean.dupont@example-widgets.co.uk",
            "li.wang@example-widgets.com",
            "raj.patel@example-widgets.com",
            "ops@example-widgets.com",
        ]
    )


def test_saved_page_with_the_rare_forms_of_the_real_web(saved_page):
    # Written by hand: every address a reader of the page would write to, and nothing of
    # the look-alikes around them (font axes, asset versions, map coordinates, a template,
    # a placeholder, an address percent-encoded inside a share link, glued punctuation).
    found = extract_emails(saved_page("emails/rare_forms.html"))
    assert sorted(found) == sorted(
        [
            "hello@example-trading.com",
            "support@example-trading.com",
            "desk@example-trading.com",
            "help@example-trading.com",
            "news@example-trading.com",
            "user+mailbox/department=shipping@example-trading.com",
            "o'brien@example-trading.com",
            'test."desk".support@example-trading.com',
            "उपयोगकर्ता@example-trading.com",
            "press.office@example-trading.com",
            "fax@extrade.com",
            "legal@example-trading.com",
            "info@example-trading.com",
        ]
    )


# -- canonical form ---------------------------------------------------------------------
def test_canonical():
    assert canonical(" John.Smith@Example.COM ") == "john.smith@example.com"
    assert canonical("info@xn--bcher-kva.de") == "info@bücher.de"
    assert canonical("Info@BÜCHER.de") == "info@bücher.de"
    assert canonical("straße@straße.de") == "straße@straße.de"  # no ß -> ss folding
    assert canonical("no-at-sign") is None
    assert canonical("a@b") is None
    assert canonical("a@xn--invalid-punycode-.com") is None


# -- properties -------------------------------------------------------------------------
_pieces = st.sampled_from(
    [
        "@", ".", " at ", " dot ", "[at]", "(dot)", "mailto:", "%40", "%C3", "&#64;", "&#x",
        "\\u0040", "\\u003e", "\\x40", "data-cfemail=\"", "/cdn-cgi/l/email-protection#", "com",
        "co.uk", "xn--", "ü", "例", "\x00", "\ud800", "<", ">", '"', "'", ",", ";", "?", "=",
        "\n", "\t", "-", "_", "+", "0", "ff", "a" * 70,
    ]
)  # fmt: skip
_texts = st.one_of(
    st.text(),
    st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=40).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_never_crashes_and_returns_canonical_distinct_addresses(text):
    found = extract_emails(text)
    assert len(found) == len(set(found))
    for address in found:
        assert address.count("@") == 1
        assert canonical(address) == address  # already canonical: idempotent


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_cloudflare_decoding_never_crashes(data):
    decoded = decode_cfemail(data.hex())
    assert decoded is None or isinstance(decoded, str)


_local = st.from_regex(r"[a-z0-9](?:[a-z0-9._+-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda s: ".." not in s
)
_domain = st.sampled_from(
    ["example.com", "acme.co.uk", "bücher.de", "пример.рф", "shop.example.io"]
)


@settings(max_examples=200, deadline=None)
@given(_local, _domain, st.sampled_from(["plain", "mailto", "entity", "cf", "spelled"]))
def test_any_valid_address_survives_every_form(local, domain, form):
    from hypothesis import assume

    assume(len(local) < 16 or not all(c in "0123456789abcdef" for c in local))
    address = f"{local}@{domain}"
    if form == "plain":
        html = f"<p>{address}</p>"
    elif form == "mailto":
        html = f'<a href="mailto:{address}?subject=x">x</a>'
    elif form == "entity":
        html = "".join(f"&#{ord(c)};" for c in address)
    elif form == "cf":
        html = f'<span data-cfemail="{cf(address, 0x5A)}"></span>'
    else:
        html = f"<p>{local} [at] {domain.replace('.', ' [dot] ')}</p>"
    assert extract_emails(html) == [address]


_rare_local = st.from_regex(
    r"[a-z0-9]{1,6}(?:[/'][a-z0-9]{1,6}){1,2}|[a-z]{1,5}\+[a-z]{1,5}/[a-z]{1,5}=[a-z]{1,5}",
    fullmatch=True,
)


@settings(max_examples=200, deadline=None)
@given(_rare_local, _domain, st.sampled_from(["plain", "mailto", "entity", "cf", "spelled"]))
def test_local_parts_with_rfc_5322_characters_come_out_whole(local, domain, form):
    address = f"{local}@{domain}"
    if form == "plain":
        html = f"<p>Write to {address} today</p>"
    elif form == "mailto":
        html = f'<a href="mailto:{address}?subject=x">x</a>'
    elif form == "entity":
        html = "".join(f"&#{ord(c)};" for c in address)
    elif form == "cf":
        html = f'<span data-cfemail="{cf(address, 0x5A)}"></span>'
    else:
        html = f"<p>{local} [at] {domain.replace('.', ' [dot] ')}</p>"
    assert extract_emails(html) == [address]
