"""HttpClient / NoNetwork against a scripted loopback server (no DNS, no traffic off 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ltv.evidence.http import HttpClient, HttpError, NoNetwork

from .conftest import ScriptedServer


def _ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra) + body


def _client(server: ScriptedServer, **kwargs: object) -> HttpClient:
    return HttpClient(
        connect_to={
            "ca.example.test:80": ("127.0.0.1", server.port),
            "ca.example.test:8080": ("127.0.0.1", server.port),
        },
        **kwargs,  # type: ignore[arg-type]
    )


def test_get_sends_url_authority_as_host_and_records_exchange(scripted: ScriptedServer) -> None:
    scripted.script = lambda sock, _r: sock.sendall(_ok(b"hello"))
    client = _client(scripted)
    response = client.request("GET", "http://ca.example.test/a/b?x=1")
    assert response.status == 200
    assert response.body == b"hello"
    head = scripted.requests[0].decode()
    assert head.startswith("GET /a/b?x=1 HTTP/1.1\r\n")
    assert "\r\nHost: ca.example.test\r\n" in head  # default port omitted
    (exchange,) = client.exchanges
    assert exchange.url == "http://ca.example.test/a/b?x=1"
    assert exchange.method == "GET"
    assert exchange.status == 200
    assert exchange.error is None
    assert exchange.bytes_sent == len(scripted.requests[0])
    assert exchange.bytes_received == len(_ok(b"hello"))
    assert 0 <= exchange.latency < 5


def test_non_default_port_is_in_host_header(scripted: ScriptedServer) -> None:
    scripted.script = lambda sock, _r: sock.sendall(_ok(b""))
    _client(scripted).request("GET", "http://ca.example.test:8080/")
    assert "\r\nHost: ca.example.test:8080\r\n" in scripted.requests[0].decode()


def test_post_body_and_headers(scripted: ScriptedServer) -> None:
    def script(sock: socket.socket, request: bytes) -> None:
        _head, _, body = request.partition(b"\r\n\r\n")
        while len(body) < 3:
            body += sock.recv(10)
        sock.sendall(_ok(body[::-1]))

    scripted.script = script
    response = _client(scripted).request(
        "POST", "http://ca.example.test/p", body=b"abc", headers={"Content-Type": "x/y"}
    )
    assert response.body == b"cba"
    head = scripted.requests[0].decode()
    assert "Content-Length: 3\r\n" in head
    assert "Content-Type: x/y\r\n" in head


def test_chunked_response(scripted: ScriptedServer) -> None:
    scripted.script = lambda sock, _r: sock.sendall(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    assert _client(scripted).request("GET", "http://ca.example.test/").body == b"abcde"


def test_http_error_status_is_classified(scripted: ScriptedServer) -> None:
    scripted.script = lambda sock, _r: sock.sendall(
        b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
    )
    client = _client(scripted)
    with pytest.raises(HttpError) as info:
        client.request("GET", "http://ca.example.test/")
    assert info.value.detail == "http-503"
    assert info.value.status == 503
    assert client.exchanges[0].status == 503
    assert client.exchanges[0].error == "http-503"
    assert scripted.connections == 1  # HTTP errors are not retried


def test_deadline_covers_a_dripping_server(scripted: ScriptedServer) -> None:
    """One byte every 0.2 s would defeat a per-recv timeout; the deadline still holds."""

    def drip(sock: socket.socket, _r: bytes) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):
            sock.sendall(b"x")
            time.sleep(0.2)

    scripted.script = drip
    client = _client(scripted, timeout=1.0)
    start = time.monotonic()
    with pytest.raises(HttpError) as info:
        client.request("GET", "http://ca.example.test/")
    elapsed = time.monotonic() - start
    assert info.value.detail == "timeout"
    assert elapsed < 1.5
    assert client.exchanges[-1].error == "timeout"
    assert client.exchanges[-1].bytes_received > 0


def test_per_call_timeout_overrides(scripted: ScriptedServer) -> None:
    scripted.script = lambda sock, _r: time.sleep(2)
    start = time.monotonic()
    with pytest.raises(HttpError, match="timeout"):
        _client(scripted, timeout=30).request("GET", "http://ca.example.test/", timeout=0.3)
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize("declare_length", [True, False])
def test_too_large(scripted: ScriptedServer, declare_length: bool) -> None:
    body = b"y" * 5000
    if declare_length:
        scripted.script = lambda sock, _r: sock.sendall(_ok(body))
    else:
        scripted.script = lambda sock, _r: sock.sendall(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body
        )
    client = _client(scripted, max_bytes=4096)
    with pytest.raises(HttpError) as info:
        client.request("GET", "http://ca.example.test/")
    assert info.value.detail == "too-large"
    assert client.exchanges[0].error == "too-large"


def test_refused_is_retried_a_bounded_number_of_times() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    client = HttpClient(connect_to={"dead.example.test:80": ("127.0.0.1", dead_port)}, retries=2)
    with pytest.raises(HttpError) as info:
        client.request("GET", "http://dead.example.test/")
    assert info.value.detail == "refused"
    assert [e.error for e in client.exchanges] == ["refused"] * 3


def test_connection_reset_before_response_is_retried(scripted: ScriptedServer) -> None:
    calls = {"n": 0}
    lock = threading.Lock()

    def flaky(sock: socket.socket, _r: bytes) -> None:
        with lock:
            calls["n"] += 1
            first = calls["n"] == 1
        if first:
            sock.close()  # nothing sent: connection-level failure
        else:
            sock.sendall(_ok(b"second"))

    scripted.script = flaky
    client = _client(scripted, retries=1)
    assert client.request("GET", "http://ca.example.test/").body == b"second"
    assert [e.error for e in client.exchanges] == ["connection-error", None]


@pytest.mark.parametrize(
    "url", ["http://nowhere.test/x", "http://a.b.invalid/", "http://pki.ltv.test:8080/"]
)
def test_reserved_names_are_never_resolved(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise AssertionError("DNS must not be asked about reserved names")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    client = HttpClient(connect_to={"pki.ltv.test:80": ("127.0.0.1", 9)})
    with pytest.raises(HttpError) as info:
        client.request("GET", url)
    assert info.value.detail == "unresolvable"
    assert client.exchanges[0].error == "unresolvable"
    assert client.exchanges[0].bytes_sent == 0


@pytest.mark.parametrize("url", ["ldap://ca.example.test/x", "file:///etc/passwd", "http:///x"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(HttpError) as info:
        HttpClient().request("GET", url)
    assert info.value.detail == "bad-url"


def test_redirect_is_followed_within_budget(scripted: ScriptedServer) -> None:
    def script(sock: socket.socket, request: bytes) -> None:
        if request.startswith(b"GET /old "):
            sock.sendall(b"HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n")
        else:
            sock.sendall(_ok(b"moved"))

    scripted.script = script
    client = _client(scripted)
    response = client.request("GET", "http://ca.example.test/old")
    assert response.body == b"moved"
    assert response.url == "http://ca.example.test/new"
    assert [(e.status, e.error) for e in client.exchanges] == [(302, None), (200, None)]


def test_exchanges_are_thread_safe(scripted: ScriptedServer) -> None:
    scripted.script = lambda sock, _r: sock.sendall(_ok(b"z"))
    client = _client(scripted)
    threads = [
        threading.Thread(target=client.request, args=("GET", "http://ca.example.test/"))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(client.exchanges) == 16
    assert all(e.status == 200 for e in client.exchanges)


def test_no_network_opens_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_socket(*args: object, **kwargs: object) -> None:
        raise AssertionError("NoNetwork must not open sockets")

    monkeypatch.setattr(socket, "socket", no_socket)
    monkeypatch.setattr(socket, "create_connection", no_socket)
    client = NoNetwork()
    with pytest.raises(HttpError) as info:
        client.request("POST", "http://pki.ltv.test/ocsp", body=b"x")
    assert info.value.detail == "network-disabled"
    assert client.exchanges == ()
    assert client.attempted == ("http://pki.ltv.test/ocsp",)


def test_argument_validation() -> None:
    with pytest.raises(ValueError):
        HttpClient(timeout=0)
    with pytest.raises(ValueError):
        HttpClient(max_bytes=0)
    with pytest.raises(ValueError):
        HttpClient(retries=-1)


@pytest.mark.parametrize("get_status", [404, 405])
def test_ocsp_get_falls_back_to_post_once(scripted: ScriptedServer, get_status: int) -> None:
    from ltv.evidence.ocsp import send_ocsp_request

    def script(sock: socket.socket, request: bytes) -> None:
        if request.startswith(b"GET "):
            sock.sendall(b"HTTP/1.1 %d No\r\nContent-Length: 0\r\n\r\n" % get_status)
        else:
            sock.sendall(_ok(b"resp", b"Content-Type: application/ocsp-response\r\n"))

    scripted.script = script
    client = _client(scripted)
    body, method = send_ocsp_request(
        client, "http://ca.example.test/ocsp", b"\x30\x00", has_nonce=False
    )
    assert (body, method) == (b"resp", "POST")
    assert [e.method for e in client.exchanges] == ["GET", "POST"]
    get_line = scripted.requests[0].split(b"\r\n")[0]
    assert get_line == b"GET /ocsp/MAA%3D HTTP/1.1"  # url-encoded base64 of the DER request
    assert b"Content-Type: application/ocsp-request" in scripted.requests[1]


def test_ocsp_get_other_errors_are_not_retried(scripted: ScriptedServer) -> None:
    from ltv.evidence.ocsp import send_ocsp_request

    scripted.script = lambda sock, _r: sock.sendall(b"HTTP/1.1 500 E\r\nContent-Length: 0\r\n\r\n")
    client = _client(scripted)
    with pytest.raises(HttpError, match="http-500"):
        send_ocsp_request(client, "http://ca.example.test/ocsp", b"\x30\x00", has_nonce=False)
    assert [e.method for e in client.exchanges] == ["GET"]
    # Large or nonced requests go straight to POST.
    scripted.script = lambda sock, _r: sock.sendall(_ok(b"r"))
    send_ocsp_request(client, "http://ca.example.test/ocsp", b"\x30\x00", has_nonce=True)
    send_ocsp_request(client, "http://ca.example.test/ocsp", b"\x00" * 256, has_nonce=False)
    assert [e.method for e in client.exchanges][1:] == ["POST", "POST"]


def test_session_budget_bounds_all_requests_of_an_operation(scripted: ScriptedServer) -> None:
    """Issue 7: --timeout is per request, so N slow responders took N x the limit. A Session
    (one per verification or signing) gives each request at most what is left of its total
    budget; once spent, requests fail at once without a connection."""
    from ltv.evidence.http import Session

    scripted.script = lambda sock, _r: time.sleep(3)
    shared = _client(scripted, timeout=1.0)  # per request: 1 s
    session = Session(shared, budget=1.6)
    start = time.monotonic()
    details = []
    for _ in range(4):  # four slow responders: 4 s without a budget
        with pytest.raises(HttpError) as info:
            session.request("GET", "http://ca.example.test/")
        details.append(info.value.detail)
    elapsed = time.monotonic() - start
    assert elapsed < 2.2, elapsed
    assert details[:2] == ["timeout", "timeout"] and details[-1] == "budget-exhausted"
    connections = len(scripted.requests)
    assert connections == 2  # the exhausted requests never reached the server
    assert [e.error for e in session.exchanges] == details
    # a second session on the same shared client has its own budget and its own record
    other = Session(shared, budget=5)
    assert other.exchanges == () and other.remaining() is not None


def test_session_records_only_its_own_requests(scripted: ScriptedServer) -> None:
    from ltv.evidence.http import Session

    scripted.script = lambda sock, _r: sock.sendall(_ok(b"x"))
    shared = _client(scripted)
    a, b = Session(shared), Session(shared)
    a.request("GET", "http://ca.example.test/a")
    b.request("GET", "http://ca.example.test/b")
    b.request("GET", "http://ca.example.test/c")
    assert [e.url for e in a.exchanges] == ["http://ca.example.test/a"]
    assert len(b.exchanges) == 2 and len(shared.exchanges) == 3
    offline = Session(NoNetwork())
    with pytest.raises(HttpError, match="disabled by policy"):
        offline.request("GET", "http://ca.example.test/")
    assert offline.exchanges == ()  # nothing was sent
