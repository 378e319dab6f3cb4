"""The sandbox's forward proxies behave as their mode says and log what they did."""

import base64
import socket
import urllib.error
import urllib.request

import pytest

from sandbox.proxy import ProxyFarm

pytestmark = pytest.mark.integration


@pytest.fixture
def farm():
    proxies = ProxyFarm().start()
    yield proxies
    proxies.stop()


def fetch(proxy, url, auth=None):
    handler = urllib.request.ProxyHandler({"http": f"http://{proxy.address}"})
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(auth.encode()).decode()
        request.add_header("Proxy-Authorization", f"Basic {token}")
    try:
        with urllib.request.build_opener(handler).open(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_modes_and_log(sandbox_factory, farm, tmp_path):
    sb = sandbox_factory(["probe"])
    url = sb.url("probe") + "/status/200"
    ok = farm.add("ok", username="u", password="p")
    assert fetch(ok, url)[0] == 407
    assert fetch(ok, url, auth="u:wrong")[0] == 407
    assert fetch(ok, url, auth="u:p") == (200, b"status page")
    assert [(e.outcome, e.status) for e in ok.log()] == [
        ("407", 407),
        ("407", 407),
        ("forwarded", 200),
    ]
    assert fetch(farm.add("403"), url)[0] == 403
    assert fetch(farm.add("429"), url)[0] == 429
    status, body = fetch(farm.add("captcha"), url)
    assert status == 200 and b"unusual traffic" in body
    assert fetch(farm.add("empty"), url) == (200, b"")
    flaky = farm.add("ok", ban_first=1)
    assert [fetch(flaky, url)[0] for _ in range(2)] == [403, 200]
    assert sb.stats("probe")["requests"] == 2
    lines = farm.write_list(tmp_path / "p.txt").read_text().splitlines()
    assert lines[0] == f"{ok.address}:u:p" and lines[1] == farm.proxies[1].address


def test_dead_comes_alive_and_tunnels(sandbox_factory, farm):
    sb = sandbox_factory(["probe"])
    proxy = farm.add("dead")
    with pytest.raises(urllib.error.URLError):
        fetch(proxy, sb.url("probe") + "/")
    proxy.set_mode("ok")
    assert fetch(proxy, sb.url("probe") + "/")[0] == 200
    site = sb.url("probe").removeprefix("http://")
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as conn:
        conn.sendall(f"CONNECT {site} HTTP/1.1\r\nHost: {site}\r\n\r\n".encode())
        assert conn.recv(1024).startswith(b"HTTP/1.1 200")
        conn.sendall(
            f"GET /status/404 HTTP/1.1\r\nHost: {site}\r\nConnection: close\r\n\r\n".encode()
        )
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 404")
    assert [e.outcome for e in proxy.log()] == ["forwarded", "tunnel"]
    proxy.set_mode("dead")
    with pytest.raises(urllib.error.URLError):
        fetch(proxy, sb.url("probe") + "/")
