"""Faulty responders (issue 7): loopback servers started here misbehave in every way we know;
each is ``offline`` with the right detail, within the per-request and per-document budgets
(:class:`ltv.evidence.http.Session`), with bounded memory — through the verify-side fetch
functions and pyHanko's fetcher backend alike (one client, one budget)."""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pyhanko_certvalidator.authority import AuthorityWithCert
from pyhanko_certvalidator.errors import OCSPFetchError

from ltv.evidence.crl import fetch_crl_status
from ltv.evidence.fetchers import HttpFetcherBackend
from ltv.evidence.http import HttpClient, Session
from ltv.evidence.ocsp import fetch_ocsp
from ltv.pipeline.revocation import RevocationContext, check_certificate
from ltv.policy import Online
from samples import pki
from tests.unit.evidence.conftest import ScriptedServer

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TIMEOUT = 1.0
Script = Callable[[socket.socket, bytes], None]


def _reply(status: str, body: bytes, content_type: str = "application/ocsp-response") -> Script:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return lambda sock, _r: sock.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)


def _redirect(location: str) -> Script:
    head = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
    return lambda sock, _r: sock.sendall(head.encode())


def _silent(sock: socket.socket, _r: bytes) -> None:
    time.sleep(10 * TIMEOUT)


def _slowloris(sock: socket.socket, _r: bytes) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        sock.sendall(b"0")
        time.sleep(0.05)


def _huge(sock: socket.socket, _r: bytes) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 52428800\r\n\r\n" + b"0" * 65536)


def _endless(sock: socket.socket, _r: bytes) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    chunk = b"0" * 65536
    for _ in range(2000):  # ≈ 128 MiB if nobody hangs up
        sock.sendall(chunk)


@pytest.fixture(scope="module")
def good_ocsp(pki_server: object) -> bytes:
    """A real, valid OCSP response for signer-good (the sample PKI, clock at NOW)."""
    pki_server.freeze(NOW)  # type: ignore[attr-defined]
    try:
        out = fetch_ocsp(
            HttpClient(timeout=5, connect_to=pki_server.connect_to),  # type: ignore[attr-defined]
            pki.load_cert("signer-good"),
            pki.load_cert("interm"),
        )
    finally:
        pki_server.freeze(None)  # type: ignore[attr-defined]
    assert out.status == "good" and out.raw is not None
    return out.raw


@pytest.fixture(scope="module")
def future_ocsp(pki_server: object) -> bytes:
    pki_server.freeze(datetime(2030, 1, 1, tzinfo=UTC))  # type: ignore[attr-defined]
    try:
        out = fetch_ocsp(
            HttpClient(timeout=5, connect_to=pki_server.connect_to),  # type: ignore[attr-defined]
            pki.load_cert("signer-good"),
            pki.load_cert("interm"),
        )
    finally:
        pki_server.freeze(None)  # type: ignore[attr-defined]
    assert out.raw is not None
    return out.raw


def _session(server: ScriptedServer, *, budget: float = 30.0, max_bytes: int = 1 << 20) -> Session:
    """The sample certificates name pki.ltv.test: map it to the faulty server."""
    client = HttpClient(
        timeout=TIMEOUT,
        max_bytes=max_bytes,
        retries=0,
        connect_to={"pki.ltv.test:80": ("127.0.0.1", server.port)},
    )
    return Session(client, budget=budget)


def _fetch(server: ScriptedServer, **session: object) -> tuple[object, float, Session]:
    client = _session(server, **session)  # type: ignore[arg-type]
    start = time.monotonic()
    out = fetch_ocsp(client, pki.load_cert("signer-good"), pki.load_cert("interm"))
    return out, time.monotonic() - start, client


MODES: dict[str, tuple[Callable[[bytes], Script], str]] = {
    "no-answer": (lambda _g: _silent, "timeout"),
    "slowloris": (lambda _g: _slowloris, "timeout"),
    "huge-body": (lambda _g: _huge, "too-large"),
    "endless-body": (lambda _g: _endless, "too-large"),
    "redirect-loop": (lambda _g: _redirect("/again"), "too-many-redirects"),
    "redirect-other-scheme": (lambda _g: _redirect("file:///etc/passwd"), "bad-redirect"),
    "redirect-other-host": (lambda _g: _redirect("http://elsewhere.invalid/x"), "unresolvable"),
    "wrong-content-type": (
        lambda _g: _reply("200 OK", b"<html>busy</html>", "text/html"),
        "malformed",
    ),
    "http-500": (lambda _g: _reply("500 Internal Server Error", b"oops"), "http-500"),
    "truncated-der": (lambda g: _reply("200 OK", g[: len(g) // 2]), "malformed"),
    "unknown-response-status": (lambda _g: _reply("200 OK", b"\x30\x03\x0a\x01\x04"),
                                "unknown-response-status"),
    "try-later": (lambda _g: _reply("200 OK", b"\x30\x03\x0a\x01\x03"), "try-later"),
}  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
def test_faulty_ocsp_responder_is_offline_with_the_right_detail(
    scripted: ScriptedServer, good_ocsp: bytes, mode: str
) -> None:
    make, detail = MODES[mode]
    scripted.script = make(good_ocsp)
    tracemalloc.start()
    try:
        out, elapsed, session = _fetch(scripted)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (out.status, out.detail) == ("offline", detail), out  # type: ignore[attr-defined]
    assert elapsed < TIMEOUT + 2.0, elapsed  # the per-request deadline holds (2 busy cores)
    # the size bound is 1 MiB; the endless body is 128 MiB: far below it means bounded (the
    # margin is for other threads of the test session, which tracemalloc counts too)
    assert peak < 32 << 20, peak
    last = session.exchanges[-1]
    if detail in ("malformed", "unknown-response-status", "try-later"):
        assert (last.status, last.error) == (200, None)  # delivered, but says nothing
    else:
        assert last.error == detail


def test_the_valid_response_itself_is_good(scripted: ScriptedServer, good_ocsp: bytes) -> None:
    """The control: the same server serving the real response is believed."""
    scripted.script = _reply("200 OK", good_ocsp)
    out, _, _ = _fetch(scripted)
    assert out.status == "good"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("script", "detail"),
    [
        (_reply("500 Internal Server Error", b""), "http-500"),
        (_reply("200 OK", b"\x30\x82\x10\x00\x30", "application/pkix-crl"), "malformed"),
        (_endless, "too-large"),
        (_silent, "timeout"),
    ],
    ids=["http-500", "truncated-der", "endless-body", "no-answer"],
)
def test_faulty_crl_server_is_offline(
    scripted: ScriptedServer, script: Script, detail: str
) -> None:
    scripted.script = script
    start = time.monotonic()
    out = fetch_crl_status(
        _session(scripted), pki.load_cert("signer-good"), pki.load_cert("interm")
    )
    assert (out.status, out.detail) == ("offline", detail)
    assert time.monotonic() - start < TIMEOUT + 2.0


def test_future_dated_answer_from_a_responder_is_ignored(
    scripted: ScriptedServer, future_ocsp: bytes
) -> None:
    """A responder whose answer is dated 2030: the verify-side fetch (online=always) reports
    it and ignores it (ltv.pipeline.revocation: after the moment of judgement)."""
    scripted.script = _reply("200 OK", future_ocsp)
    ctx = RevocationContext(
        evidence=[],
        client=_session(scripted),
        now=NOW,
        online=Online.ALWAYS,
        max_age=None,
        unknown_is_fatal=False,
    )
    rev = check_certificate(
        pki.load_cert("signer-good"), pki.load_cert("interm"), at=NOW, ctx=ctx
    ).report
    assert rev.status == "offline" and "future-dated" in (rev.detail or ""), rev
    assert any("future-dated evidence ignored" in w for w in rev.warnings)


def test_per_document_budget_bounds_four_slow_responders(scripted: ScriptedServer) -> None:
    """Four silent responders: without a total budget 4 times the per-request timeout; with the
    Session's budget the whole operation ends at the budget, later requests refused at once."""
    scripted.script = _silent
    session = _session(scripted, budget=1.5)
    start = time.monotonic()
    details = []
    for label in ("signer-good", "signer-revoked", "signer-unknown", "signer-expired"):
        out = fetch_ocsp(session, pki.load_cert(label), pki.load_cert("interm"))
        details.append(out.detail)
    elapsed = time.monotonic() - start
    assert elapsed < 1.5 + 1.5, elapsed  # 4 s without the budget
    assert details[:2] == ["timeout", "timeout"]
    assert details[2:] == ["budget-exhausted", "budget-exhausted"]
    assert [e.error for e in session.exchanges] == details


def test_pyhanko_fetcher_backend_goes_through_the_same_session(
    scripted: ScriptedServer, good_ocsp: bytes
) -> None:
    """pyHanko's fetchers (ltv.evidence.fetchers) and ltv's own fetch share one Session: one
    request record, one budget."""
    scripted.script = _reply("200 OK", b"\x30\x03\x0a\x01\x04")  # unknown responseStatus
    session = _session(scripted)
    ours = fetch_ocsp(session, pki.load_cert("signer-good"), pki.load_cert("interm"))
    fetchers = HttpFetcherBackend(session).get_fetchers()
    authority = AuthorityWithCert(pki.load_cert("interm"))
    with pytest.raises(OCSPFetchError, match="Malformed OCSP response"):
        asyncio.run(fetchers.ocsp_fetcher.fetch(pki.load_cert("signer-good"), authority))
    assert ours.detail == "unknown-response-status"
    assert len(session.exchanges) == 2  # both requests recorded by the one session
    scripted.script = _silent
    patient = HttpClient(
        timeout=5.0, retries=0, connect_to={"pki.ltv.test:80": ("127.0.0.1", scripted.port)}
    )
    spent = Session(patient, budget=0.5)
    start = time.monotonic()
    with pytest.raises(OCSPFetchError, match="timeout"):
        asyncio.run(
            HttpFetcherBackend(spent)
            .get_fetchers()
            .ocsp_fetcher.fetch(pki.load_cert("signer-good"), authority)
        )
    assert time.monotonic() - start < 0.5 + 2.0  # the budget, not the 5 s per request
