"""The proxy list: the three common forms, and malformed lines named by number only."""

from pathlib import Path

import pytest

from crawlers.errors import ConfigError
from crawlers.proxies.proxylist import Proxy, load_proxies, parse_line, parse_proxies


def test_host_port():
    proxy = parse_line("10.0.0.1:8080")
    assert proxy == Proxy("http", "10.0.0.1", 8080)
    assert proxy.url == "http://10.0.0.1:8080"
    assert proxy.playwright() == {"server": "http://10.0.0.1:8080"}


def test_webshare_form_keeps_colons_in_the_password():
    proxy = parse_line("p.webshare.io:80:user-1:pa:ss")
    assert (proxy.host, proxy.port, proxy.username, proxy.password) == (
        "p.webshare.io",
        80,
        "user-1",
        "pa:ss",
    )
    assert proxy.url == "http://user-1:pa%3Ass@p.webshare.io:80"
    assert proxy.playwright() == {
        "server": "http://p.webshare.io:80",
        "username": "user-1",
        "password": "pa:ss",
    }


def test_url_form_decodes_credentials():
    proxy = parse_line("HTTPS://us%40er:p%2Fw@proxy.example:3128")
    assert (proxy.scheme, proxy.host, proxy.port) == ("https", "proxy.example", 3128)
    assert (proxy.username, proxy.password) == ("us@er", "p/w")
    assert proxy.server == "https://proxy.example:3128"


@pytest.mark.parametrize(
    "line",
    [
        "justahost",
        "host:",
        "host:notaport",
        "host:70000",
        "host:80:user",
        "host:80:user:",
        "socks5://u:p@host:1080",
        "http://host",
        "http://user@host:80",
        "http://host:80/path",
        "ftp://host:21",
        "bad host:80",
    ],
)
def test_malformed_lines(line):
    assert parse_line(line) is None


def test_error_names_the_line_number_never_the_line():
    lines = ["# comment", "", "1.2.3.4:80", "host:80:alice:s3cret-pass:", "oops:s3cret-pass"]
    with pytest.raises(ConfigError) as err:
        parse_proxies(lines, source="proxy list x.txt")
    message = str(err.value)
    assert message.startswith("proxy list x.txt line 5: not a proxy")
    assert "s3cret" not in message
    assert "\n" not in message


def test_comments_blank_lines_and_duplicates():
    proxies = parse_proxies(["# ours", "", "a:1", "a:1", "  b:2:u:p  ", "b:2:v:p"])
    assert [(p.host, p.username) for p in proxies] == [("a", ""), ("b", "u"), ("b", "v")]


def test_id_is_stable_distinct_per_account_and_free_of_the_password():
    one = parse_line("gw:80:user-1:secret")
    assert one.id == parse_line("http://user-1:other@gw:80").id
    assert one.id != parse_line("gw:80:user-2:secret").id
    assert "secret" not in repr(one) and "secret" not in one.label
    assert one.label.startswith("gw:80")


def test_label_tells_accounts_on_one_gateway_apart():
    assert parse_line("gw:80:user-1:x").label != parse_line("gw:80:user-2:x").label
    assert parse_line("gw:80").label == "gw:80"


def test_load_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_proxies(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(ConfigError, match="holds no proxy"):
        load_proxies(empty)
    good = tmp_path / "good.txt"
    good.write_text("a:1\nb:2:u:p\nhttp://u:p@c:3\n")
    assert [p.host for p in load_proxies(good)] == ["a", "b", "c"]


def test_the_readme_example_with_its_inline_comments(tmp_path):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("<!-- section:proxies -->", 1)[1]
    example = section.split("```\n", 2)[1]  # the first code block of the section
    assert "# host:port" in example
    listed = tmp_path / "proxies.txt"
    listed.write_text(example)
    proxies = load_proxies(listed)
    assert [(p.scheme, p.host, p.port, p.username, p.password) for p in proxies] == [
        ("http", "203.0.113.7", 8080, "", ""),
        ("http", "p.webshare.io", 80, "user-rotate-1", "secret"),
        ("http", "proxy.example", 3128, "user", "secret"),
    ]


def test_a_hash_inside_the_proxy_is_not_a_comment():
    # Only a `#` that begins the line or follows whitespace starts a comment.
    proxies = parse_proxies(
        [
            "gw:80:alice:pa#ss   # office",
            "gw:80:bob:#1secret",
            "http://carol:p%23w@gw:81\t# the URL form encodes it",
            "   # indented comment",
        ]
    )
    assert [(p.username, p.password) for p in proxies] == [
        ("alice", "pa#ss"),
        ("bob", "#1secret"),
        ("carol", "p#w"),
    ]


def test_a_bare_hash_in_a_url_password_is_refused_by_line_number_only():
    # It would start the URL's fragment: the proxy would lose its port and half its password.
    with pytest.raises(ConfigError) as err:
        parse_proxies(["http://carol:p#w-s3cret@gw:81"], source="proxy list x.txt")
    assert str(err.value).startswith("proxy list x.txt line 1: not a proxy")
    assert "s3cret" not in str(err.value)


def test_a_list_that_is_not_utf8_is_one_clean_error(tmp_path):
    listed = tmp_path / "latin1.txt"
    listed.write_bytes("gw:80:jos\xe9:secret\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"cannot be read: not UTF-8 text \(byte 9\)"):
        load_proxies(listed)
