"""The address extractor against the real thing: 155 cases from seven other extractors'
test suites (../shared/real-pages/emails/cases.json) scored for precision and recall, and
real Cloudflare-protected pages, whose addresses were read off the pages by hand."""

from __future__ import annotations

import json
import re
import unicodedata

import idna
import pytest

from crawlers.env import PROJECT_ROOT
from crawlers.extraction.emails import decode_cfemail, extract_emails
from tests.real_pages import real_page, real_path

# Addresses a suite expects that the extractor does not give, by policy (README.md,
# "### emails", the table of excluded cases, which must list exactly these).
POLICIES = {
    "ip": "an IP address or IP literal as domain",
    "suffix": "a domain without a public suffix",
    "assignment": "name=value@domain outside a URL",
    "spaced-at": "a spaced @ before plain dots",
}
EXCLUDED = {
    ("gchq/CyberChef", "internationalized", "john@192.168.10.100"): "ip",
    ("fhightower/ioc-finder", "email_1", "test@[192.168.0.1]"): "ip",
    ("fhightower/ioc-finder", "ip-literal-1", "test@[192.168.2.1]"): "ip",
    ("fhightower/ioc-finder", "ip-literal-2", "bad@[192.168.7.3]"): "ip",
    ("fhightower/ioc-finder", "ip-literal-3", "bad@[192.168.7.3]"): "ip",
    ("fhightower/ioc-finder", "ipv6-literal", "jsmith@[ipv6:2001:db8::1]"): "ip",
    ("InQuest/iocextract", "valid-9", "a@127.0.0.1"): "ip",
    ("gchq/CyberChef", "internationalized", "伊昭傑@郵件.商務"): "suffix",
    ("gchq/CyberChef", "internationalized", "ाम@मोहन.ईन्फो"): "suffix",
    ("gchq/CyberChef", "internationalized", "θσερ@εχαμπλε.ψομ"): "suffix",
    ("gchq/CyberChef", "internationalized", "用户@例子.广告"): "suffix",
    ("eldoy/ekstrakt", "invalid-tld-kept", "mail@example.png"): "suffix",
    ("markdown-it/linkify-it", "mailto-no-tld", "foo@bar"): "suffix",
    **{
        ("InQuest/iocextract", f"refang-{n}", "myuser@example.com.tld"): "suffix" for n in range(17)
    },
    ("fhightower/ioc-finder", "smtp-header", "example@example.com"): "assignment",
    ("InQuest/iocextract", "valid-14", "myuser@example.com"): "spaced-at",
}


def same_form(address: str) -> str:
    """The project's canonical form, computed independently of the extractor: NFC, lower
    case, internationalised domain labels in Unicode."""
    local, _, domain = address.rpartition("@")
    labels = [
        idna.decode(label) if label.lower().startswith("xn--") else label
        for label in domain.split(".")
    ]
    return unicodedata.normalize("NFC", f"{local}@{'.'.join(labels)}").lower()


def load_cases() -> list[dict]:
    return json.loads(real_path("emails/cases.json").read_text(encoding="utf-8"))


def case_text(case: dict) -> str:
    if "input" in case:
        return case["input"]
    return real_page(f"emails/{case['file']}").decode("utf-8")


def test_cases_score_precision_1_and_recall_at_least_095():
    cases = load_cases()
    assert len(cases) == 155
    true_pos = false_pos = false_neg = 0
    failing = []
    excluded_found = []
    excluded_seen = set()
    for case in cases:
        key = (case["source"], case["id"])
        expected = {same_form(a) for a in case["expected"]}
        excluded = {a for a in expected if (*key, a) in EXCLUDED}
        excluded_seen |= {(*key, a) for a in excluded}
        found = set(extract_emails(case_text(case)))
        excluded_found += [(*key, a) for a in found & excluded]
        scored_found, scored_expected = found - excluded, expected - excluded
        true_pos += len(scored_found & scored_expected)
        false_pos += len(scored_found - scored_expected)
        false_neg += len(scored_expected - scored_found)
        if scored_found != scored_expected:
            failing.append(
                (
                    *key,
                    sorted(scored_expected - scored_found),
                    sorted(scored_found - scored_expected),
                )
            )
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    print(
        f"\n{len(cases)} cases, {true_pos + false_neg} expected addresses scored "
        f"({len(EXCLUDED)} excluded): precision {precision:.3f}, recall {recall:.3f}"
    )
    for source, case_id, missed, extra in failing:
        print(f"  {source} {case_id}: missed {missed} extra {extra}")
    assert excluded_seen == set(EXCLUDED), "an exclusion names no expected address of a case"
    assert not excluded_found, f"excluded by policy, yet extracted: {excluded_found}"
    assert precision == 1.0, failing
    assert recall >= 0.95, failing


def readme_exclusions() -> dict[tuple[str, str, str], str]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n### emails", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\S+) \| (\S+) \| `([^`]+)` \| (\S+) \|$", section, re.MULTILINE)
    return {(source, case_id, address): policy for source, case_id, address, policy in rows}


def test_readme_lists_exactly_the_excluded_cases():
    assert readme_exclusions() == EXCLUDED
    assert set(EXCLUDED.values()) <= set(POLICIES)


# -- real Cloudflare-protected pages ----------------------------------------------------
# Read off each page: every data-cfemail value XOR-decoded by hand (first byte the key),
# plus its mailto links and plain text. Case as on the page; compared in canonical form.
PAGES = {
    "alifhossain_index.html": ["contact@mannanarefinsharif.com", "alifakonda@gmail.com"],
    "anthrocon_charity.html": ["charity@anthrocon.org"],
    "anthrocon_contact.html": [
        "info@anthrocon.org", "alley@anthrocon.org", "artshow@anthrocon.org",
        "publications@anthrocon.org", "charity@anthrocon.org", "dance@anthrocon.org",
        "dealers@anthrocon.org", "photo@anthrocon.org", "pr@anthrocon.org",
        "operations@anthrocon.org", "programming@anthrocon.org", "registration@anthrocon.org",
        "refunds@anthrocon.org", "safety@anthrocon.org", "volunteer@anthrocon.org",
        "webmaster@anthrocon.org", "social-media@anthrocon.org",
    ],
    "anthrocon_dealers2020.html": ["dealers@anthrocon.org"],
    "calebandbrown_licenses.html": [
        "dbs.licensing@alaska.gov", "support@calebandbrown.com",
        "ASDInfo@securities.arkansas.gov", "disbcomplaints@dc.gov", "complaints@osbckansas.org",
    ],
    "cobinhood_ja.html": ["support@cobinhood.com"],
    "gopaintball.html": ["info@gopaintball.co.za"],
    "hidromobile_author.html": ["ventas@hidromobile.cl"],
    "spacebarcounter_contact.html": ["admin@spacebarcounter.org"],
    "sprout_blackseed.html": ["blackseed@anarchyplanet.org"],
    "wickbot_privacy.html": ["team@wickbot.com"],
}  # fmt: skip
# The same pages as Cloudflare serves them live, `href="/cdn-cgi/l/email-protection#<hex>"`
# (the mirrors renamed the path to `email-protection.html`), with every data-cfemail
# attribute renamed: what the links alone hold. alifhossain's one link sits in a commented-
# out template whose placeholder is example@example.com.
LINKS_ONLY = {
    "alifhossain_index.html": ["alifakonda@gmail.com", "example@example.com"],
    "anthrocon_charity.html": ["charity@anthrocon.org"],
    "anthrocon_contact.html": PAGES["anthrocon_contact.html"],
    "anthrocon_dealers2020.html": ["dealers@anthrocon.org"],  # a plain mailto link
    "calebandbrown_licenses.html": PAGES["calebandbrown_licenses.html"],
    "cobinhood_ja.html": ["support@cobinhood.com"],
    "gopaintball.html": [],
    "hidromobile_author.html": ["ventas@hidromobile.cl"],
    "spacebarcounter_contact.html": [],
    "sprout_blackseed.html": ["blackseed@anarchyplanet.org"],
    "wickbot_privacy.html": [],
}


def page_text(name: str) -> str:
    return real_page(f"emails/pages/{name}").decode("utf-8")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_real_page_every_address_and_nothing_else(name):
    assert sorted(extract_emails(page_text(name))) == sorted(same_form(a) for a in PAGES[name])


@pytest.mark.parametrize("name", sorted(LINKS_ONLY))
def test_real_page_as_served_live_from_its_links_alone(name):
    text = page_text(name).replace("data-cfemail=", "data-gone=")
    text = re.sub(
        r"(?:\.\./)*cdn-cgi/l/email-protection\.html#", "/cdn-cgi/l/email-protection#", text
    )
    assert "cfemail" not in text
    expected = sorted(same_form(a) for a in LINKS_ONLY[name])
    assert sorted(extract_emails(text)) == expected


def test_cloudflare_read_a_sentence_into_the_address():
    # calebandbrown: "...by email at <span data-cfemail=...> is important": Cloudflare's
    # obfuscator took the next sentence's "It" into the domain; the address is the rest.
    page = page_text("calebandbrown_licenses.html")
    glued = "2c5f595c5c435e586c4f4d40494e4d42484e5e435b42024f4341026558"
    assert f'data-cfemail="{glued}"' in page
    assert decode_cfemail(glued) == "support@calebandbrown.com.It"
    assert extract_emails(f'<span data-cfemail="{glued}"></span>') == ["support@calebandbrown.com"]


def test_defanged_forms_excluded_for_their_made_up_suffix_are_read_with_a_real_one():
    refang = [c for c in load_cases() if c["id"].startswith("refang-")]
    assert len(refang) == 17
    for case in refang:
        assert "tld" in case["input"]
        text = case["input"].replace("tld", "org")
        # refang-2, `myuser @ example.com.tld`, is a spaced @ before plain dots as well.
        expected = [] if case["id"] == "refang-2" else ["myuser@example.com.org"]
        assert extract_emails(text) == expected, case["input"]
