"""Which links the emails spider follows: contact-like first, traps never."""

import pytest

from crawlers.extraction.email_links import CONTACT, PLAIN, TRAP, classify, page_links


def test_page_links_resolves_and_drops_what_is_not_a_page():
    html = """
    <a href="/contact">c</a> <a href='about#team'>a</a> <A HREF=/team/2>t</A>
    <a href="mailto:x@example.com">m</a> <a href="tel:+1555">t</a>
    <a href="javascript:void(0)">j</a>
    <a href="#top">top</a> <a href="https://other.example.org/x">o</a>
    <a href="/shop?color=red&amp;size=m">s</a> <a href="/contact">again</a>
    <link href="/style.css" rel="stylesheet">
    """
    assert page_links(html, "http://www.example.com/en/") == [
        "http://www.example.com/contact",
        "http://www.example.com/en/about",
        "http://www.example.com/team/2",
        "https://other.example.org/x",
        "http://www.example.com/shop?color=red&size=m",
    ]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://x.com/contact", CONTACT),
        ("http://x.com/en/kontakt", CONTACT),
        ("http://x.com/impressum", CONTACT),
        ("http://x.com/about-us", CONTACT),
        ("http://x.com/team/3", CONTACT),
        ("http://x.com/our-people", CONTACT),
        ("http://x.com/", PLAIN),
        ("http://x.com/blog/post-1", PLAIN),
        ("http://x.com/news?page=2", PLAIN),
        ("http://x.com/?p=12", PLAIN),
        # calendars and dated archives
        ("http://x.com/calendar", TRAP),
        ("http://x.com/events/calendar?month=2026-11", TRAP),
        ("http://x.com/calendar/2026/11/05", TRAP),
        ("http://x.com/archive/2024/05/", TRAP),
        ("http://x.com/events?date=2026-11-05", TRAP),
        # faceted search and sorting, session ids, too many parameters
        ("http://x.com/shop?color=red", TRAP),
        ("http://x.com/shop?sort=price", TRAP),
        ("http://x.com/list?sid=abc123", TRAP),
        ("http://x.com/list?a=1&b=2&c=3", TRAP),
        ("http://x.com/list?utm_source=x", TRAP),
        # relative links that nest forever, and deep paths
        ("http://x.com/docs/sub/sub/sub/", TRAP),
        ("http://x.com/a/b/c/d/e/f/g/h/i/", TRAP),
        # files and pages that never hold addresses
        ("http://x.com/brochure.pdf", TRAP),
        ("http://x.com/img/logo.PNG", TRAP),
        ("http://x.com/cart", TRAP),
        ("http://x.com/cdn-cgi/l/email-protection", TRAP),
        ("http://x.com/wp-login.php?action=register", PLAIN),
    ],
)
def test_classify(url, kind):
    assert classify(url) == kind


def test_query_parameter_limit_is_a_setting():
    url = "http://x.com/list?a=1&b=2&c=3"
    assert classify(url, max_query_params=3) == PLAIN
    assert classify(url, max_query_params=2) == TRAP
